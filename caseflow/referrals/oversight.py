"""The procuratorate's oversight view: referrals and outcomes, over-threshold cases decided
without referral (with the written reason), overdue police decisions, referral → filing rate.

Over-threshold administrative decisions are shown to every procuratorate user as the
number, title, agency, rule and reason only (not the case file).
"""
from __future__ import annotations

from sqlalchemy import func, select

from caseflow.accounts.models import Agency
from caseflow.cases.models import Case
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db
from caseflow.referrals.models import Referral
from caseflow.referrals.operations import load_rules, threshold_matches
from caseflow.referrals.rules import RState, referral_clocks
from caseflow.referrals.operations import facts_of


def oversight_figures(user) -> dict:
    now = utcnow()
    mine = list(db.session.scalars(select(Referral).where(
        Referral.procuratorate_id == user.agency_id,
        Referral.state.notin_([RState.PROPOSED.value, RState.PENDING_APPROVAL.value,
                               RState.APPROVED.value, RState.REFUSED.value]))))
    by_state: dict[str, int] = {}
    for r in mine:
        by_state[r.state] = by_state.get(r.state, 0) + 1
    decided = [r for r in mine if r.state in (RState.FILED, RState.HANDED_OVER, RState.NOT_FILED,
                                              RState.RECONSIDERATION, RState.UPHELD,
                                              RState.SUPERVISION, RState.RETURNED)]
    filed = [r for r in mine if r.state in (RState.FILED, RState.HANDED_OVER)]
    overdue_police = []
    for r in mine:
        for c in referral_clocks(facts_of(r)):
            if c.party == "police" and c.done_at is None and c.overdue(now):
                overdue_police.append((r, c))
    rules = load_rules()
    without_referral = []
    for case in db.session.scalars(select(Case).where(Case.no_referral_reason.is_not(None))):
        matches = threshold_matches(case, rules=rules)
        if matches:
            without_referral.append((case, matches))
    agencies = {a.id: a.name for a in db.session.scalars(select(Agency))}
    return {
        "total": len(mine), "by_state": by_state, "decided": len(decided), "filed": len(filed),
        "filing_rate": (len(filed) / len(decided)) if decided else None,
        "overdue_police": overdue_police, "without_referral": without_referral,
        "agencies": agencies,
    }
