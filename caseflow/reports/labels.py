"""User-facing words of dashboards, ledgers and the yearly report, translated by Flask-Babel."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

REFERRAL_OUTCOME_LABELS = {
    "preparing": _l("Being prepared or approved"),
    "refused": _l("Not referred (refused or withdrawn)"),
    "with_police": _l("With the police, awaiting a decision"),
    "police_filed": _l("Filed by the police"),
    "not_filed": _l("Not filed (reconsideration, supervision)"),
    "returned": _l("Returned to the administrative case"),
}
PUBLICATION_CHANNEL_LABELS = {
    "platform": _l("Credit platform (7 working days)"),
    "enterprise": _l("Enterprise credit publicity (20 working days)"),
}
PUBLICATION_CLASS_LABELS = {
    "on_time": _l("Published on time"),
    "late": _l("Published late"),
    "overdue": _l("Not published, deadline passed"),
    "pending": _l("Not yet due"),
}
LEDGER_LABELS = {
    "cases": _l("Cases"),
    "referrals": _l("Criminal referrals"),
    "penalties": _l("Penalty decisions"),
    "inspections": _l("Dual-random inspections"),
    "actions": _l("Joint actions"),
}


def referral_outcome_label(key: str) -> str:
    return str(REFERRAL_OUTCOME_LABELS.get(key, key))


def publication_label(key: str) -> str:
    chan, _, cls = key.partition("_")
    return f"{PUBLICATION_CHANNEL_LABELS.get(chan, chan)}: {PUBLICATION_CLASS_LABELS.get(cls, cls)}"
