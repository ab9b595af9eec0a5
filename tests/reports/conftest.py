"""Fixtures for the dashboard tests: a realistic mix of cases, referrals, penalty decisions and
joint actions, driven through the real operations with back-dated steps (``today=``) so the
time spent in each stage differs from case to case.

``dash`` builds it and returns a namespace: ``T`` (today), ``P`` (the reporting period, the last
150 days), ``cases`` (key -> Case), ``referrals`` (key -> Referral) and the users.

Every case title and party name carries the marker ``ZQX`` so a page that must not show case
details can be checked for it.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from html import unescape
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest

from caseflow.core.timeutil import LOCAL_TZ, today_local
from caseflow.extensions import db
from tests.conftest import clue_payload, valid_credit_code
# the referral tests' fixtures and helpers, reused: police, procuratorate, a referral builder
from tests.referrals.conftest import agencies, referral_of, step  # noqa: F401

MARK = "ZQX"
OVER = {"sales_amount": "60000", "illegal_gains": "20000"}  # above the 214 threshold
PERIOD_DAYS = 150

#: the workflow defaults of tests/conftest.py's ``drive``, for agencies other than amr
DEFAULTS = {
    "reject": {"reason": "证据不足"},
    "suspend": {"reason": "等待鉴定"},
    "record_statement": {"reason": "当事人放弃陈述申辩"},
    "decide_penalty": {"fine_amount": "20000", "penalty_kinds": ["罚款"],
                       "decision_summary": "罚款20000元"},
    "notify": {"proposed_fine": "20000", "proposed_penalties": ["罚款"]},
}


# ----------------------------------------------------------------------------- reference maths

def reference_percentile(values, p: float):
    """Linear interpolation between closest ranks over the sorted values (numpy's default,
    PostgreSQL's percentile_cont), written out by hand; None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    pos = p * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def months_of(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The calendar months from start to end, each cut to [start, end] (written independently
    of caseflow.reports.rules.Period.months)."""
    out = []
    first = start
    while first <= end:
        if first.month == 12:
            next_first = dt.date(first.year + 1, 1, 1)
        else:
            next_first = dt.date(first.year, first.month + 1, 1)
        out.append((first, min(next_first - dt.timedelta(days=1), end)))
        first = next_first
    return out


# ----------------------------------------------------------------------------- case lists

_H1_TOTAL = re.compile(r"<h1>[^<]*<small>\((\d+)\)</small></h1>")


def html_list(client, args: dict) -> set[int]:
    """The ids of the cases the HTML list shows for ``args``; checks the list's own totals
    (the h1, and the state chip when filtering by state) say the same."""
    r = client.get("/cases/", query_string=args)
    assert r.status_code == 200, (args, r.status_code, r.text[:300])
    body = r.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in r.text else ""
    ids = {int(i) for i in re.findall(r'href="/cases/(\d+)"', body)}
    if "state" in args:
        chip = re.search(r'data-state="%s">[^<]*<b>(\d+)</b>' % re.escape(args["state"]), r.text)
        assert (int(chip.group(1)) if chip else 0) == len(ids), (args, ids)
    shown = int(_H1_TOTAL.search(r.text).group(1))
    assert shown == len(ids), (args, shown, ids)
    return ids


def api_list(client, headers, args: dict) -> set[int]:
    """The ids the JSON API lists for ``args`` (one page of up to 200)."""
    r = client.get("/api/v1/cases", query_string={**args, "limit": "200"}, headers=headers)
    assert r.status_code == 200, (args, r.text[:300])
    assert r.json["next_cursor"] is None
    ids = {item["id"] for item in r.json["items"]}
    if "state" not in args:
        assert sum(r.json["counts"].values()) == len(ids), args
    return ids


def case_links(html: str) -> list[dict]:
    """Every link to the case list in a page, as its query arguments."""
    out = []
    for href in re.findall(r'href="(/cases/\?[^"]*)"', html):
        out.append(dict(parse_qsl(urlsplit(unescape(href)).query)))
    return out


# ----------------------------------------------------------------------------- seeding

def _local_midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, LOCAL_TZ).astimezone(dt.timezone.utc)


def case_payload(key: str, seed: int, received: dt.date, channel: str, ip_type: str,
                 amounts=None) -> dict:
    """``make_case`` arguments of a case whose title and party carry the marker."""
    over = {"title": f"涉嫌侵权案{MARK}{key}", "received_at": received.isoformat(),
            "channel": channel, "ip_type": ip_type,
            "parties": [{"kind": "business", "name": f"上海{MARK}{key}商行",
                         "credit_code": valid_credit_code(1000 + seed)}]}
    if amounts:
        over["amounts"] = amounts
    return over


def new_case(officer, officer2, key: str, seed: int, received: dt.date, channel: str,
             ip_type: str):
    """A clue of any agency (``make_case`` only makes amr's), with two officers."""
    from caseflow.cases import operations as cops
    from caseflow.cases.schemas import ClueIn, OfficersIn

    case = cops.create_clue(officer, ClueIn.model_validate(clue_payload(
        **case_payload(key, seed, received, channel, ip_type))))
    cops.assign_officers(officer, case, OfficersIn(version=case.version,
                                                   officer_ids=[officer.id, officer2.id]))
    db.session.commit()
    return case


@pytest.fixture()
def dash(world, agencies, referral_of, make_case, drive, make_user, make_agency):
    from caseflow.actions.models import JointAction
    from caseflow.cases import operations as cops
    from caseflow.cases.schemas import TransitionIn
    from caseflow.penalties import operations as pops
    from caseflow.sharing.operations import grant_share
    from tests.penalties.test_publication import decision_form

    T = today_local()
    S = T - dt.timedelta(days=PERIOD_DAYS)
    P = SimpleNamespace(start=S, end=T)

    def ago(n: int) -> dt.date:
        return T - dt.timedelta(days=n)

    w = agencies
    w.publisher = make_user(w.amr, "publisher", ["publisher"])
    w.coord = make_user(w.amr, "coord", ["coordinator"])
    w.other2 = make_user(w.culture, "other2", ["case_officer", "inspector"])
    w.other_boss = make_user(w.culture, "other_boss", ["approver"])
    w.other_pub = make_user(w.culture, "other_pub", ["publisher"])
    w.amr.region = w.culture.region = "上海市松江区"
    w.qp = make_agency("qp-amr", "market_supervision", "上海市青浦区市场监督管理局", "沪市监青处")
    w.qp.region = "上海市青浦区"
    w.qp_off = make_user(w.qp, "qp_off", ["case_officer", "inspector"])
    w.qp_off2 = make_user(w.qp, "qp_off2", ["case_officer", "inspector"])
    db.session.commit()

    cases, refs, decisions = {}, {}, {}
    seed = iter(range(1000))

    def amr_case(key, received_days_ago, channel, ip_type, amounts=None):
        cases[key] = make_case(**case_payload(key, next(seed), ago(received_days_ago), channel,
                                              ip_type, amounts))
        return cases[key]

    def other_case(key, officer, officer2, received_days_ago, channel, ip_type):
        cases[key] = new_case(officer, officer2, key, next(seed), ago(received_days_ago),
                              channel, ip_type)
        return cases[key]

    def steps(case, *plan, **extra):
        """plan: (action, days ago) pairs, each step effective on that day."""
        for action, n in plan:
            drive(case, action, today=ago(n), **extra)

    def culture_steps(case, *plan):
        for action, n in plan:
            payload = {"action": action, **DEFAULTS.get(action, {})}
            cops.perform(w.other, case, TransitionIn.model_validate(payload), today=ago(n))
            if case.pending_action:
                cops.perform(w.other_boss, case, TransitionIn(action="approve"), today=ago(n))
            db.session.commit()

    def decide(key, days_ago, number, **over):
        case = cases[key]
        d = pops.record_decision(w.officer, case, decision_form(
            case, number=number, decision_date=ago(days_ago).isoformat(), **over))
        db.session.commit()
        decisions[key] = d
        return d

    def publish(key, channel, days_ago, user=None):
        pops.publish(user or w.publisher, decisions[key], channel, on=ago(days_ago))
        db.session.commit()

    # --- amr: the administrative workflow, stages of different lengths -----------------------
    amr_case("closed_old", PERIOD_DAYS + 20, "report", "trademark")  # received before the period
    steps(cases["closed_old"], ("accept", PERIOD_DAYS + 18), ("file", PERIOD_DAYS + 1),
          ("investigate", PERIOD_DAYS), ("notify", 100), ("record_statement", 99),
          ("decide_penalty", 95), ("serve", 90), ("record_payment", 80), ("close", 70))
    amr_case("filed", PERIOD_DAYS, "complaint", "patent")  # received on the first day
    steps(cases["filed"], ("accept", PERIOD_DAYS - 2), ("file", 140))  # decision clock overdue
    amr_case("rejected", 120, "hotline_12315", "trademark")
    steps(cases["rejected"], ("accept", 119), ("reject", 100))
    amr_case("suspended", 110, "report", "copyright")
    steps(cases["suspended"], ("accept", 108), ("file", 100), ("investigate", 99),
          ("suspend", 95), ("resume", 75), ("notify", 66), ("record_statement", 65),
          ("decide_penalty", 60))
    amr_case("minor", 85, "inspection", "trademark")
    steps(cases["minor"], ("accept", 84), ("file", 75), ("investigate", 74), ("notify", 62),
          ("record_statement", 61), ("decide_penalty", 60), ("serve", 55))
    amr_case("reviewed", 70, "online_monitoring", "trademark")
    steps(cases["reviewed"], ("accept", 69), ("file", 66), ("investigate", 65),
          ("submit_review", 58), ("pass_review", 55), ("notify", 54),
          ("record_statement", 53), ("decide_penalty", 50))
    amr_case("pending", 20, "rights_holder", "geographical_indication")
    steps(cases["pending"], ("accept", 19), ("file", 10), ("investigate", 9), ("notify", 5),
          ("record_statement", 4), ("decide_penalty", 1))
    amr_case("warning", 60, "report", "trademark")
    steps(cases["warning"], ("accept", 59), ("file", 55), ("investigate", 54), ("notify", 45),
          ("record_statement", 44))
    drive(cases["warning"], "decide_penalty", today=ago(40), fine_amount="0",
          penalty_kinds=["警告"], decision_summary="警告")
    amr_case("unpublished", 55, "complaint", "copyright")
    steps(cases["unpublished"], ("accept", 54), ("file", 52), ("investigate", 51), ("notify", 48),
          ("record_statement", 47), ("decide_penalty", 45))
    amr_case("clue", 2, "complaint", "trademark")
    amr_case("verifying", 35, "g60_partner", "patent")
    steps(cases["verifying"], ("accept", 33))  # verification clock overdue
    for key, n in (("due_today", 3), ("due_sunday", 4), ("due_next_week", 5)):
        amr_case(key, n, "report", "commercial_mark_confusion")

    # --- amr: criminal referrals in every outcome ---------------------------------------------
    for key, n in (("r_prep", 130), ("r_police", 100), ("r_returned", 95), ("r_filed", 80),
                   ("r_refused", 75), ("r_notfiled", 65), ("r_old", PERIOD_DAYS + 10)):
        amr_case(key, n, "police_reverse" if key == "r_prep" else "complaint",
                 "copyright" if key == "r_returned" else "trademark", OVER)
        steps(cases[key], ("accept", n - 2), ("file", n - 8), ("investigate", n - 10))
        refs[key] = referral_of(cases[key])
    for key in ("r_police", "r_returned", "r_filed", "r_notfiled", "r_refused"):
        step(w.officer, refs[key], "submit")
    step(w.approver, refs["r_refused"], "refuse", reason="证据尚不足以证明涉嫌犯罪")
    for key in ("r_police", "r_returned", "r_filed", "r_notfiled"):
        step(w.approver, refs[key], "approve")
        step(w.officer, refs[key], "send")  # the case waits as "referred", from today
        step(w.cop, refs[key], "receive")
    step(w.cop, refs["r_filed"], "police_file", police_case_number="松公经立字〔2026〕7号")
    for key in ("r_returned", "r_notfiled"):
        step(w.cop, refs[key], "police_decline", reason="现有证据不足以证明达到立案标准")
    step(w.officer, refs["r_returned"], "accept_decline")
    db.session.refresh(cases["r_returned"])
    # back to the administrative case; the next step is back-dated before the return (0 days)
    steps(cases["r_returned"], ("notify", 3))
    # created exactly at the period's first local midnight: in; one second earlier: out
    refs["r_prep"].created_at = _local_midnight_utc(S)
    refs["r_old"].created_at = _local_midnight_utc(S) - dt.timedelta(seconds=1)

    # --- amr: penalty decisions and their publication ------------------------------------------
    decide("closed_old", PERIOD_DAYS + 5, "沪市监松处罚〔2026〕1号")  # dated before the period
    publish("closed_old", "platform", PERIOD_DAYS + 3)
    publish("closed_old", "enterprise", PERIOD_DAYS + 3)
    decide("suspended", 60, "沪市监松处罚〔2026〕2号")
    publish("suspended", "platform", 58)  # on time
    publish("suspended", "enterprise", 5)  # late
    decide("minor", 60, "沪市监松处罚〔2026〕3号", severity="minor")  # nothing published: overdue
    decide("reviewed", 50, "沪市监松处罚〔2026〕4号")
    publish("reviewed", "enterprise", 45)  # on time
    publish("reviewed", "platform", 2)  # late
    decide("unpublished", 45, "沪市监松处罚〔2026〕7号")  # both deadlines passed: overdue
    decide("pending", 1, "沪市监松处罚〔2026〕5号")  # deadlines still ahead
    decide("warning", 40, "沪市监松处罚〔2026〕6号", categories=["警告"], fine_amount="0",
           confiscated_amount="0", content="警告")  # warning only: never published

    # --- the culture squad: its own cases, one shared with amr, one decision ------------------
    c = other_case("c_decided", w.other, w.other2, 70, "report", "copyright")
    culture_steps(c, ("accept", 69), ("file", 62), ("investigate", 60), ("notify", 55),
                  ("record_statement", 54), ("decide_penalty", 50))
    d = pops.record_decision(w.other, c, decision_form(
        c, number="沪松文执罚〔2026〕1号", decision_date=ago(50).isoformat()))
    pops.publish(w.other_pub, d, "platform", on=ago(49))
    db.session.commit()
    c = other_case("c_shared", w.other, w.other2, 40, "complaint", "trademark")
    grant_share(w.other, c, w.amr.id, "联合执法协查", ["parties"], None)
    c = other_case("c_verifying", w.other, w.other2, 100, "report", "trademark")
    culture_steps(c, ("accept", 99))
    # --- another district's agency --------------------------------------------------------------
    other_case("qp_case", w.qp_off, w.qp_off2, 10, "report", "trademark")

    # --- deadlines this week (the clocks of fresh clues are set directly) ----------------------
    sunday = T + dt.timedelta(days=6 - T.weekday())
    cases["due_today"].next_due_on = T
    cases["due_sunday"].next_due_on = sunday
    cases["due_next_week"].next_due_on = sunday + dt.timedelta(days=1)
    cases["c_shared"].next_due_on = T  # another agency's, shared with amr: never amr's figure

    # --- joint actions toward the yearly target --------------------------------------------------
    def action(name, kind, lead, state, completed_on, participants=()):
        a = JointAction(name=name, kind=kind, lead_agency_id=lead.id, state=state,
                        period_start=ago(30), period_end=T, completed_on=completed_on,
                        created_by_id=w.coord.id)
        a.participants = list(participants)
        db.session.add(a)

    action("G60联合执法", "g60", w.amr, "completed", T)
    action("文化专项", "special", w.culture, "completed", T, [w.amr])
    action("去年的行动", "g60", w.amr, "completed", dt.date(T.year - 1, 12, 31))
    action("进行中", "special", w.amr, "open", None)
    action("文化G60", "g60", w.culture, "completed", T)
    db.session.commit()

    return SimpleNamespace(w=w, T=T, P=P, S=S, cases=cases, refs=refs, decisions=decisions,
                           sunday=sunday)
