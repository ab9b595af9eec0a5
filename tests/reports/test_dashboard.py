"""Dashboards (issue "Dashboards", SPEC §7): every figure is recomputed here independently (plain
SQL and Python over the rows, never caseflow.reports), and every figure's link lists exactly
the cases it counts. Then the pages: the dashboard, bad periods, who may see what, and the
district view (aggregate numbers only, never case details)."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from types import SimpleNamespace

import pytest
from sqlalchemy import JSON, Date, text

from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import LOCAL_TZ, today_local, utcnow
from caseflow.extensions import db
from caseflow.reports import operations as ops
from caseflow.reports.rules import Period
from tests.reports.conftest import (MARK, api_list, case_links, html_list, months_of,
                                    reference_percentile)

#: the referral outcome groups the dashboard shows, as the issue defines them
OUTCOME_OF = {
    "proposed": "preparing", "pending_approval": "preparing", "approved": "preparing",
    "refused": "refused",
    "sent": "with_police", "received": "with_police",
    "filed": "police_filed", "handed_over": "police_filed",
    "not_filed": "not_filed", "reconsideration": "not_filed", "upheld": "not_filed",
    "supervision": "not_filed",
    "returned": "returned",
}
OUTCOMES = ("preparing", "refused", "with_police", "police_filed", "not_filed", "returned")
CLASSES = ("on_time", "late", "overdue", "pending")
PLATFORM_RULE_CHANGE = dt.date(2026, 4, 1)  # SPEC §4: from then on 轻微 is not on the platform


# ----------------------------------------------------------------------------- the oracle

def expected(viewer, P, T) -> SimpleNamespace:
    """Every dashboard figure of ``viewer``'s agency for period P, as the set of case ids it
    counts, computed from raw rows."""
    me = viewer.agency_id
    cases = db.session.execute(text(
        "SELECT id, owner_agency_id, state, ip_type, channel, received_on, next_due_on "
        "FROM case_record").columns(received_on=Date, next_due_on=Date)).all()
    own = [c for c in cases if c.owner_agency_id == me]
    own_ids = {c.id for c in own}
    received = [c for c in own if P.start <= c.received_on <= P.end]
    e = SimpleNamespace(received={c.id for c in received}, own_ids=own_ids)

    e.by_state = defaultdict(set)
    for c in received:
        e.by_state[c.state].add(c.id)
    e.months = months_of(P.start, P.end)
    e.ip, e.channel = defaultdict(lambda: [set() for _ in e.months]), \
        defaultdict(lambda: [set() for _ in e.months])
    for c in received:
        i = next(i for i, (a, b) in enumerate(e.months) if a <= c.received_on <= b)
        e.ip[c.ip_type][i].add(c.id)
        e.channel[c.channel][i].add(c.id)

    # time in each stage: walk each case's events in order; a stage begins on the effective day
    # of the step that entered it and ends on the effective day of the step that left it
    events = db.session.execute(text(
        "SELECT case_id, id, effective_on, from_state, to_state FROM case_event "
        "ORDER BY case_id, id").columns(effective_on=Date)).all()
    entered: dict[int, dt.date] = {}
    e.stage_days, e.stage_cases = defaultdict(list), defaultdict(set)
    for case_id, _id, on, frm, to in events:
        if to is None:
            continue
        if frm is not None and frm != to and case_id in own_ids and P.start <= on <= P.end:
            e.stage_days[frm].append(max((on - entered[case_id]).days, 0))
            e.stage_cases[frm].add(case_id)
        entered[case_id] = on

    sunday = T + dt.timedelta(days=6 - T.weekday())
    e.due_week = {c.id for c in own if c.next_due_on and T <= c.next_due_on <= sunday}
    e.overdue = {c.id for c in own if c.next_due_on and c.next_due_on < T}

    # referrals: the agency made, received or was copied; created (local day) in P; among the
    # cases the viewer sees (its own and those shared with it by an active grant)
    now = utcnow()
    grants = db.session.execute(text(
        "SELECT case_id, agency_id, expires_at, revoked_at FROM share_grant").columns(
        expires_at=UTCDateTime, revoked_at=UTCDateTime)).all()
    visible = own_ids | {g.case_id for g in grants if g.agency_id == me and g.revoked_at is None
                         and (g.expires_at is None or g.expires_at > now)}
    e.visible = visible
    refs = db.session.execute(text(
        "SELECT case_id, agency_id, police_agency_id, procuratorate_id, state, created_at "
        "FROM referral").columns(created_at=UTCDateTime)).all()
    e.referrals = {g: set() for g in OUTCOMES}
    for r in refs:
        day = r.created_at.astimezone(LOCAL_TZ).date()
        if me in (r.agency_id, r.police_agency_id, r.procuratorate_id) \
                and P.start <= day <= P.end and r.case_id in visible:
            e.referrals[OUTCOME_OF[r.state]].add(r.case_id)

    # publication: deadlines 7 WD (platform) and 20 WD (enterprise; 10 + 10 for another
    # province) on the official calendar
    from caseflow.core.models import load_calendar

    cal = load_calendar()
    e.publication = {ch: {c: set() for c in CLASSES} for ch in ("platform", "enterprise")}
    rows = db.session.execute(text(
        "SELECT case_id, agency_id, decision_date, categories, severity, simple_procedure, "
        "other_province, platform_published_on, enterprise_published_on FROM penalty_decision"
    ).columns(decision_date=Date, categories=JSON, platform_published_on=Date,
              enterprise_published_on=Date)).all()

    def klass(published, deadline):
        if published is not None:
            return "on_time" if published <= deadline else "late"
        return "overdue" if T > deadline else "pending"

    for r in rows:
        cats = set(r.categories or [])
        if r.agency_id != me or not P.start <= r.decision_date <= P.end:
            continue
        if r.simple_procedure or not cats or cats == {"警告"}:
            continue
        platform_dl = cal.add_working_days(r.decision_date, 7)
        enterprise_dl = (cal.add_working_days(cal.add_working_days(r.decision_date, 10), 10)
                         if r.other_province else cal.add_working_days(r.decision_date, 20))
        if r.decision_date < PLATFORM_RULE_CHANGE or r.severity != "minor":
            e.publication["platform"][klass(r.platform_published_on, platform_dl)].add(r.case_id)
        e.publication["enterprise"][klass(r.enterprise_published_on, enterprise_dl)].add(r.case_id)

    # the yearly target: drawn plan items and completed joint actions (led or joined)
    year = P.end.year
    params = {"a": me, "y": year, "y0": dt.date(year, 1, 1), "y1": dt.date(year, 12, 31)}
    drawn = db.session.scalar(text(
        "SELECT count(DISTINCT pi.id) FROM plan_item pi JOIN draw d ON d.plan_item_id = pi.id "
        "JOIN inspection_plan p ON p.id = pi.plan_id "
        "WHERE p.agency_id = :a AND d.state = 'drawn' AND p.year = :y"), params)
    actions = db.session.execute(text(
        "SELECT kind FROM joint_action WHERE state = 'completed' "
        "AND completed_on >= :y0 AND completed_on <= :y1 AND (lead_agency_id = :a OR id IN "
        "(SELECT action_id FROM joint_action_participant WHERE agency_id = :a))"), params
    ).scalars().all()
    e.pace_done = drawn + len(actions)
    e.g60_done = sum(1 for k in actions if k == "g60")
    return e


def share(classes: dict) -> float | None:
    due = sum(len(classes[c]) for c in ("on_time", "late", "overdue"))
    return len(classes["on_time"]) / due if due else None


def figure_sets(d, e) -> list[tuple[str, dict, int, set]]:
    """(name, list args, the dashboard's number, the oracle's case ids) for every figure."""
    out = [("received", {"own": "1", "received_from": d.period.start.isoformat(),
                         "received_to": d.period.end.isoformat()}, d.received, e.received)]
    out += [(f"state {f.key}", f.args, f.n, e.by_state[f.key]) for f in d.by_state]
    for k, figs in d.ip_by_month.items():
        out += [(f"ip {k} {i}", f.args, f.n, e.ip[k][i]) for i, f in enumerate(figs)]
    for k, figs in d.channel_by_month.items():
        out += [(f"channel {k} {i}", f.args, f.n, e.channel[k][i]) for i, f in enumerate(figs)]
    out += [(f"stage {s.stage}", s.args, s.cases, e.stage_cases[s.stage]) for s in d.stages]
    out += [("due this week", d.due_this_week.args, d.due_this_week.n, e.due_week),
            ("overdue", d.overdue.args, d.overdue.n, e.overdue)]
    out += [(f"referral {f.key}", f.args, f.n, e.referrals[f.key]) for f in d.referrals]
    for chan, figs in d.publication.items():
        out += [(f"publication {chan} {f.key}", f.args, f.n, e.publication[chan][f.key])
                for f in figs]
    return out


def assert_dashboard_matches(d, e, P):
    assert (d.period.start, d.period.end) == (P.start, P.end)
    assert d.received == len(e.received)
    assert {f.key: f.n for f in d.by_state} == {k: len(v) for k, v in e.by_state.items() if v}
    assert sum(f.n for f in d.by_state) == d.received
    assert [(m.start, m.end) for m in d.months] == e.months
    assert {k: [f.n for f in v] for k, v in d.ip_by_month.items()} == \
        {k: [len(s) for s in v] for k, v in e.ip.items() if any(v)}
    assert {k: [f.n for f in v] for k, v in d.channel_by_month.items()} == \
        {k: [len(s) for s in v] for k, v in e.channel.items() if any(v)}
    assert sum(d.ip_totals.values()) == sum(d.channel_totals.values()) == d.received
    # stages: every stage left in the period, its intervals, cases, median and P90
    got = {s.stage: s for s in d.stages}
    assert set(got) == set(e.stage_days)
    for stage, days in e.stage_days.items():
        s = got[stage]
        assert s.intervals == len(days), stage
        assert s.cases == len(e.stage_cases[stage]), stage
        assert s.median == pytest.approx(reference_percentile(days, 0.5)), (stage, sorted(days))
        assert s.p90 == pytest.approx(reference_percentile(days, 0.9)), (stage, sorted(days))
    assert d.due_this_week.n == len(e.due_week)
    assert d.overdue.n == len(e.overdue)
    assert {f.key: f.n for f in d.referrals} == {g: len(v) for g, v in e.referrals.items()}
    for chan in ("platform", "enterprise"):
        assert {f.key: f.n for f in d.publication[chan]} == \
            {c: len(v) for c, v in e.publication[chan].items()}, chan
        if share(e.publication[chan]) is None:
            assert d.on_time_share[chan] is None
        else:
            assert d.on_time_share[chan] == pytest.approx(share(e.publication[chan]))
    assert d.pace.done == e.pace_done
    assert d.g60_done == e.g60_done


def period_of(dash) -> Period:
    return Period(dash.P.start, dash.P.end)


# ----------------------------------------------------------------------------- a. and b.

def test_amr_figures_match_an_independent_computation(dash):
    w, P = dash.w, period_of(dash)
    d = ops.dashboard(w.officer, P)
    e = expected(w.officer, P, dash.T)
    assert_dashboard_matches(d, e, P)
    c = dash.cases
    # the scenario is not vacuous: it exercises every kind of figure
    assert c["closed_old"].id not in e.received and c["filed"].id in e.received  # period start
    assert c["c_shared"].id not in e.received | e.due_week  # shared with amr, not amr's own
    assert {c["due_today"].id, c["due_sunday"].id} <= e.due_week
    assert c["due_next_week"].id not in e.due_week
    assert {c["filed"].id, c["verifying"].id} <= e.overdue
    assert all(len(e.referrals[g]) == 1 for g in OUTCOMES)
    assert e.referrals["preparing"] == {c["r_prep"].id}  # r_old was created a second too early
    assert all(len(e.publication[ch][k]) >= 1 for ch in e.publication for k in CLASSES)
    assert c["warning"].id not in set().union(*e.publication["enterprise"].values())
    assert c["minor"].id in e.publication["enterprise"]["overdue"]
    assert 0 < d.on_time_share["platform"] < 1 and 0 < d.on_time_share["enterprise"] < 1
    medians = {s.stage: s.median for s in d.stages}
    assert len(set(medians.values())) >= 4  # stages of different lengths
    assert len(d.stages) >= 8 and max(s.intervals for s in d.stages) >= 10
    # the back-dated step after the police returned the case counts as 0 days, not negative
    assert 0 in e.stage_days["referred"] and min(min(v) for v in e.stage_days.values()) >= 0
    assert len(d.months) == len(e.months) >= 5
    assert d.pace.target == 10 and d.pace.done == 2 and d.g60_done == 1


@pytest.mark.parametrize("viewers", [("officer",), ("other", "cop", "prosecutor")])
def test_every_figure_lists_exactly_the_cases_it_counts(dash, app, login_as, api_headers,
                                                        viewers):
    """Each figure's args, given to the case list (HTML and API), list exactly the cases the
    oracle counts; the dashboard page shows the numbers and links only to those lists. Run for
    amr, for the culture squad (which must never count amr's cases) and for the police and the
    procuratorate (who see amr's referrals only)."""
    w, P = dash.w, period_of(dash)
    amr_ids = {c.id for c in dash.cases.values() if c.owner_agency_id == w.amr.id}
    for who in viewers:
        viewer = getattr(w, who)
        d = ops.dashboard(viewer, P)
        e = expected(viewer, P, dash.T)
        assert_dashboard_matches(d, e, P)
        client = login_as(app.test_client(), who)
        headers = api_headers(app.test_client(), who)
        figures = figure_sets(d, e)
        for name, args, n, ids in figures:
            assert n == len(ids), name
            assert html_list(client, args) == ids, name
            if n or not name.startswith(("ip ", "channel ")):  # (empty months: HTML only)
                assert api_list(client, headers, args) == ids, name
        # nothing another agency owns is counted, except the referrals made to this agency
        counted = set().union(*(ids for name, _a, _n, ids in figures
                                if not name.startswith("referral")))
        assert counted <= e.own_ids
        if who == "other":
            assert not amr_ids & set().union(*(ids for _n, _a, _c, ids in figures))
            assert d.received == 3 and d.publication["platform"][0].n == 1  # culture's own
            # the case culture shares with amr, due today, is counted by its owner only
            assert e.due_week == {dash.cases["c_shared"].id}
        if who in ("cop", "prosecutor"):
            assert d.received == 0 and sum(f.n for f in d.referrals) >= 3
        # the page: the numbers, and every link to the case list is one of the figures' lists
        page = client.get("/reports/", query_string={"from": P.start.isoformat(),
                                                     "to": P.end.isoformat()})
        assert page.status_code == 200
        assert re.search(r'id="kpi-received"[^>]*><b>%d</b>' % d.received, page.text)
        assert re.search(r'id="kpi-overdue"[^>]*><b>%d</b>' % d.overdue.n, page.text)
        assert re.search(r'id="kpi-due-week"[^>]*><b>%d</b>' % d.due_this_week.n, page.text)
        linked = {frozenset(a.items()) for a in case_links(page.text)}
        known = {frozenset(args.items()) for _n, args, _c, _i in figures}
        assert linked <= known
        must_link = {frozenset(args.items()) for name, args, n, _i in figures
                     if n or not name.startswith(("ip ", "channel "))}
        assert must_link <= linked


def test_referral_figures_follow_the_police_grants(dash, app, login_as):
    """The police count a referral only while amr's grant of its case is active: the figure
    and the list behind it both drop the case whose grant was revoked and the one whose grant
    expired (the dashboard reads the grants directly, the list through its visibility rule)."""
    from caseflow.sharing.models import ShareGrant
    from caseflow.sharing.operations import revoke_share

    w, P = dash.w, period_of(dash)
    before = {f.key: f.n for f in ops.dashboard(w.cop, P).referrals}
    grants = list(db.session.scalars(db.select(ShareGrant).where(
        ShareGrant.agency_id == w.cop.agency_id, ShareGrant.revoked_at.is_(None))
        .order_by(ShareGrant.id)))
    assert len({g.case_id for g in grants}) >= 2
    revoked = grants[0].case_id
    expired = next(g.case_id for g in grants if g.case_id != revoked)
    for g in grants:
        if g.case_id == revoked:
            revoke_share(w.officer, g.id)
        elif g.case_id == expired:
            g.expires_at = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()
    d = ops.dashboard(w.cop, P)
    e = expected(w.cop, P, dash.T)
    assert_dashboard_matches(d, e, P)
    assert sum(f.n for f in d.referrals) == sum(before.values()) - 2
    client = login_as(app.test_client(), "cop")
    for f in d.referrals:
        listed = html_list(client, f.args)
        assert len(listed) == f.n and not listed & {revoked, expired}, f.key


# ----------------------------------------------------------------------------- c. the pages

STATE_ZH = {"clue": "线索登记", "verifying": "核查中", "rejected": "不予立案", "filed": "已立案",
            "investigating": "调查取证", "notified": "已告知", "decided": "已作出处罚决定",
            "executing": "执行中", "referred": "已移送公安", "closed": "已结案"}


def _svg_in(html: str, section: str) -> ET.Element:
    part = html.split(f'id="{section}"', 1)[1]
    svg = re.search(r"<svg.*?</svg>", part, re.S).group(0)
    return ET.fromstring(svg)


@pytest.fixture()
def light(world, make_case, drive, make_user, make_agency):
    """A small district: three amr cases, two of the culture squad, one of an IP office, one of
    another region's agency; an IP office and a joint-meeting office in amr's region."""
    from tests.reports.conftest import case_payload, new_case

    w, T = world, today_local()

    def ago(n):
        return T - dt.timedelta(days=n)

    w.amr.region = w.culture.region = "上海市松江区"
    w.other2 = make_user(w.culture, "other2", ["case_officer", "inspector"])
    qp = make_agency("qp-amr", "market_supervision", "上海市青浦区市场监督管理局", "沪市监青处")
    w.ipo = make_agency("sj-ipo", "ip_office", "上海市松江区知识产权局", "沪松知")
    w.joint = make_agency("sj-joint", "joint_office", "松江区知识产权联席会议办公室", "沪松联")
    qp.region = "上海市青浦区"
    w.ipo.region = w.joint.region = "上海市松江区"
    db.session.commit()
    qp_users = [make_user(qp, f"qp{i}", ["case_officer", "inspector"]) for i in (1, 2)]
    w.ipo_user = make_user(w.ipo, "ipo_user", ["case_officer", "inspector"])
    w.ipo_user2 = make_user(w.ipo, "ipo_user2", ["case_officer"])
    w.joint_user = make_user(w.joint, "joint_user", ["coordinator"])
    cases = {
        "filed": make_case(**case_payload("filed", 1, ago(10), "report", "trademark")),
        "rejected": make_case(**case_payload("rejected", 2, ago(6), "complaint", "patent")),
        "clue": make_case(**case_payload("clue", 3, ago(1), "inspection", "copyright")),
        "x1": new_case(w.other, w.other2, "x1", 4, ago(3), "report", "copyright"),
        "x2": new_case(w.other, w.other2, "x2", 5, ago(20), "report", "trademark"),
        "ipo": new_case(w.ipo_user, w.ipo_user2, "ipo", 6, ago(2), "rights_holder", "patent"),
        "qp": new_case(*qp_users, "qp", 7, ago(2), "report", "trademark"),
    }
    drive(cases["filed"], "accept", today=ago(9))
    drive(cases["filed"], "file", today=ago(8))
    drive(cases["rejected"], "accept", today=ago(5))
    drive(cases["rejected"], "reject", today=ago(4))
    return SimpleNamespace(w=w, T=T, P=Period(ago(30), T), cases=cases)


def test_dashboard_page_shows_charts_in_chinese(light, app, login_as):
    P = light.P
    client = login_as(app.test_client(), "officer")
    r = client.get("/reports/", query_string={"from": P.start.isoformat(), "to": P.end.isoformat()})
    assert r.status_code == 200
    html = r.text
    assert html.count("<svg") >= 7
    d = ops.dashboard(light.w.officer, P)
    assert d.received == 3
    assert re.search(r'id="kpi-received"[^>]*><b>3</b>', html)
    # the state chart: every state in Chinese, its number beside the bar
    svg = _svg_in(html, "chart-state")
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert {f.key: f.n for f in d.by_state} == {"clue": 1, "filed": 1, "rejected": 1}
    for f in d.by_state:
        label = STATE_ZH[f.key]
        assert label in texts, label
        assert texts[texts.index(label) + 1] == str(f.n), label
    # the stage table: one row per stage left, the number of cases linked
    assert {s.stage for s in d.stages} == {"clue", "verifying"}
    for s in d.stages:
        assert f'data-stage="{s.stage}"' in html
    assert "按状态统计案件" in html  # the chart titles are Chinese too
    # every chart is well-formed SVG
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)


@pytest.mark.parametrize("query, field", [
    ({"from": "bad"}, "from"),
    ({"from": "2026-05-01", "to": "2026-01-01"}, "to"),
    ({"from": "2020-01-01", "to": "2024-01-01"}, "to"),
    ({"from": "1999-12-31", "to": "2000-06-30"}, "from"),
    ({"to": "2026-02-30"}, "to"),
])
def test_bad_period_is_a_422_with_the_value_kept(world, app, login_as, query, field):
    client = login_as(app.test_client(), "officer")
    r = client.get("/reports/", query_string=query)
    assert r.status_code == 422, query
    assert f'id="{field}-error"' in r.text
    assert f'aria-describedby="{field}-error"' in r.text
    for name, value in query.items():  # what was typed is kept
        assert f'name="{name}" type="date" value="{value}"' in r.text
    assert "<svg" in r.text  # this year is shown instead


def test_bad_period_messages(world, app, login_as):
    from caseflow.cases import messages

    client = login_as(app.test_client(), "officer")
    with app.test_request_context():
        long_msg, reversed_msg = messages.text("period_too_long"), messages.text("period_reversed")
        date_msg = messages.text("date_parsing")
    assert long_msg in client.get("/reports/?from=2020-01-01&to=2024-01-01").text
    assert reversed_msg in client.get("/reports/?from=2026-05-01&to=2026-01-01").text
    assert date_msg in client.get("/reports/?from=bad").text


def test_year_parameter(world, app, login_as):
    client = login_as(app.test_client(), "officer")
    T = today_local()
    r = client.get(f"/reports/?year={T.year - 1}")
    assert r.status_code == 200
    assert f'value="{T.year - 1}-01-01"' in r.text and f'value="{T.year - 1}-12-31"' in r.text
    assert client.get(f"/reports/?year={T.year + 1}").status_code == 422
    assert client.get("/reports/?year=abcd").status_code == 422


def test_who_may_see_the_dashboard(world, app, client, login_as):
    assert login_as(app.test_client(), "auditor").get("/reports/").status_code == 403
    assert login_as(app.test_client(), "auditor").get("/reports/district").status_code == 403
    r = client.get("/reports/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert login_as(app.test_client(), "inspector").get("/reports/").status_code == 200


# ----------------------------------------------------------------------------- d. district view

def _row(html: str, code: str) -> str | None:
    m = re.search(r'<tr data-agency="%s">(.*?)</tr>' % re.escape(code), html, re.S)
    return m.group(1) if m else None


def _cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]


def test_district_view(light, app, login_as):
    w, P, c = light.w, light.P, light.cases
    q = {"from": P.start.isoformat(), "to": P.end.isoformat()}
    for who in ("officer", "other", "approver"):  # market supervision, culture: no district view
        assert login_as(app.test_client(), who).get("/reports/district").status_code == 403
    numbers = [x.number for x in c.values() if x.number]
    assert numbers  # the filed case has one
    for who, own_code in (("ipo_user", "sj-ipo"), ("joint_user", None)):
        client = login_as(app.test_client(), who)
        r = client.get("/reports/district", query_string=q)
        assert r.status_code == 200, who
        html = r.text
        # the agencies of the district; not another region's, not the joint office itself
        assert _row(html, "sj-amr") and _row(html, "sj-culture") and _row(html, "sj-ipo")
        assert _row(html, "qp-amr") is None and "上海市青浦区市场监督管理局" not in html
        assert _row(html, "sj-joint") is None
        # other agencies' aggregate numbers: received, open now, filed
        for code, owner, received, open_now, filed in (("sj-amr", w.amr, 3, 2, 1),
                                                       ("sj-culture", w.culture, 2, 2, 0),
                                                       ("sj-ipo", w.ipo, 1, 1, 0)):
            cells = _cells(_row(html, code))
            assert cells[0] == owner.name
            assert [int(x) for x in cells[1:4]] == [received, open_now, filed], (who, code)
        # no case details of any agency
        assert MARK not in html
        for number in numbers:
            assert number not in html
        for case in c.values():
            assert case.title not in html and case.parties[0].name not in html
            assert case.parties[0].credit_code not in html
        # only the viewer's own row links to cases; the list behind it is its own cases
        links = case_links(html)
        if own_code is None:
            assert links == []
            continue
        for code in ("sj-amr", "sj-culture"):
            assert "/cases/" not in _row(html, code)
        assert "/cases/?" in _row(html, own_code)
        assert links
        for args in links:
            assert args.get("own") == "1"
            assert html_list(client, args) == {c["ipo"].id}
    # a bad period: 422, the error shown, the typed value kept
    ipo = login_as(app.test_client(), "ipo_user")
    r = ipo.get("/reports/district?from=2026-05-01&to=2026-01-01")
    assert r.status_code == 422 and 'id="to-error"' in r.text
    assert 'name="to" type="date" value="2026-01-01"' in r.text and _row(r.text, "sj-amr")
    # the IP office's own dashboard, with its mediation figures
    d = ops.dashboard(w.ipo_user, P)
    assert d.received == 1 and d.mediation is not None
    assert ipo.get("/reports/").status_code == 200
    assert login_as(app.test_client(), "joint_user").get("/reports/").status_code == 200


# ----------------------------------------------------------------------------- e. list filters

@pytest.mark.parametrize("args, field, code", [
    ({"due": "month"}, "due", "due_filter"),
    ({"stage": "nonsense"}, "stage", "enum"),
    ({"referral": "sent"}, "referral", "enum"),
    ({"publication": "platform_soon"}, "publication", "publication_filter"),
    ({"publication": "fax_on_time"}, "publication", "publication_filter"),
    ({"publication": "platform"}, "publication", "publication_filter"),
    ({"received_from": "2026-13-01"}, "received_from", "date_parsing"),
    ({"received_to": "yesterday"}, "received_to", "date_parsing"),
    ({"stage": "filed", "stage_from": "01/02/2026"}, "stage_from", "date_parsing"),
    ({"referral": "returned", "referred_to": "2026-02-30"}, "referred_to", "date_parsing"),
    ({"decided_from": "x"}, "decided_from", "date_parsing"),
])
def test_bad_dashboard_filters_are_a_422_with_a_message(world, app, login_as, api_headers, args,
                                                        field, code):
    from caseflow.cases import messages

    with app.test_request_context():
        message = messages.text(code)
    client = login_as(app.test_client(), "officer")
    r = client.get("/cases/", query_string=args)
    assert r.status_code == 422, args
    assert 'role="alert"' in r.text and message in r.text
    r = client.get("/api/v1/cases", query_string=args,
                   headers=api_headers(app.test_client(), "officer"))
    assert r.status_code == 422
    assert r.json["errors"][field] == message


def test_good_dashboard_filters_are_accepted(world, app, login_as):
    client = login_as(app.test_client(), "officer")
    T = today_local().isoformat()
    for args in ({"due": "week"}, {"stage": "filed", "stage_from": T, "stage_to": T},
                 {"referral": "with_police"}, {"publication": "enterprise_pending"},
                 {"own": "1", "received_from": T, "received_to": T}):
        r = client.get("/cases/", query_string=args)
        assert r.status_code == 200, args
        assert "figure-filter" in r.text
