"""Ledgers (台账) over HTTP: GET /reports/ledgers/export?kind=…&from=…&to=…&format=csv|xlsx.

Every ledger is compared with an independent query of the records it should list (one row per
record of the user's agency in the period), its Chinese headers with the spec's, its values
(ISO dates, money with two decimals, Chinese labels) and, for XLSX, with the CSV of the same
request. Also: formula injection, bad input (422, values kept), the audit row, permissions.
"""
from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, or_, select

from caseflow.actions import operations as aops
from caseflow.actions.models import ActionTask, JointAction, TaskReport, action_participant
from caseflow.cases.models import Case
from caseflow.core.audit import AuditEvent
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import local_date, today_local
from caseflow.extensions import db
from caseflow.inspections import operations as iops
from caseflow.inspections.models import Inspection
from caseflow.penalties import operations as pops
from caseflow.penalties.models import PenaltyDecision
from caseflow.referrals.models import Referral, ReferralEvent
from caseflow.reports import ledgers
from tests.actions.conftest import action, action_data, g60  # noqa: F401  (fixtures)
from tests.actions.test_views import assign, report_and_verify
from tests.conftest import VALID_ID, valid_credit_code
from tests.inspections.test_inspections import setup  # noqa: F401  (fixture)
from tests.penalties.test_publication import decision_form
from tests.referrals.conftest import agencies, referral_of, step  # noqa: F401  (fixtures)

BOM = b"\xef\xbb\xbf"
URL = "/reports/ledgers/export"

# The column headers of each ledger, as the spec (and ledgers.py) has them.
HEADERS = {
    "cases": ["案件编号", "案件名称", "来源渠道", "知识产权类型", "当事人", "当事人统一社会信用代码",
              "受理日期", "立案日期", "案件状态", "承办人", "涉案货值（元）", "罚款金额（元）", "专项行动",
              "是否移送公安"],
    "referrals": ["案件编号", "案件名称", "移送机关", "涉嫌罪名", "移送状态", "结果", "提出日期", "移送日期",
                  "接收公安机关", "公安立案号", "抄送检察院"],
    "penalties": ["行政处罚决定书文号", "案件编号", "行政相对人名称", "处罚类别", "违法行为类型",
                  "罚款金额（元）", "没收金额（元）", "处罚决定日期", "信用中国公示期限", "信用中国公示日期",
                  "按期公示", "企业信用公示日期", "撤下日期"],
    "inspections": ["抽查计划", "抽查事项", "检查对象", "统一社会信用代码", "检查人员", "应完成日期",
                    "检查日期", "检查结果", "公示日期"],
    "actions": ["行动名称", "类型", "牵头单位", "开始日期", "结束日期", "状态", "完成日期", "本单位任务数",
                "本单位已核实任务", "检查场所（户次）", "立案数（上报）", "查扣货值（元）", "移送公安（上报）"],
}
SHEET_TITLES = {"cases": "案件台账", "referrals": "移送台账", "penalties": "行政处罚台账",
                "inspections": "双随机抽查台账", "actions": "专项行动台账"}

# Chinese labels, written out here so the test does not read them from the code it checks.
CHANNEL_ZH = {"complaint": "投诉", "report": "举报", "inspection": "检查发现"}
IP_ZH = {"trademark": "商标", "patent": "专利", "copyright": "著作权"}
STATE_ZH = {"clue": "线索登记", "verifying": "核查中", "rejected": "不予立案", "filed": "已立案",
            "investigating": "调查取证", "legal_review": "法制审核", "notified": "已告知",
            "hearing": "听证", "decided": "已作出处罚决定", "no_penalty": "不予处罚",
            "executing": "执行中", "closed": "已结案", "suspended": "中止", "terminated": "终止",
            "referred": "已移送公安"}
REFERRAL_STATE_ZH = {"proposed": "准备移送中", "pending_approval": "待负责人审批", "approved": "已批准，待移送",
                     "sent": "已移送，待签收", "received": "公安机关已签收", "filed": "公安机关已立案"}
#: referral states in which a case counts as referred to the police (sent and after)
REFERRED = {"sent", "received", "filed", "handed_over", "not_filed", "reconsideration", "upheld",
            "supervision", "returned"}

FORMULAS = ['=HYPERLINK("http://evil.example/x","点我")', "+1", "-2+3", "@x"]


# ----------------------------------------------------------------------------- helpers

def guarded(text: str) -> str:
    """A text as a spreadsheet-safe cell: a leading ' before = + - @ (plain numbers excepted)."""
    if text and text[0] in "=+-@\t\r\n" and not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        return "'" + text
    return text


def iso(day) -> str:
    return day.isoformat() if day else ""


def money(v) -> str:
    return "" if v is None else f"{Decimal(v):.2f}"


def export(client, kind, fmt="csv", start=None, end=None, **extra):
    args = {"kind": kind, "format": fmt, **extra}
    if start:
        args["from"] = start.isoformat()
    if end:
        args["to"] = end.isoformat()
    return client.get(URL, query_string=args)


def csv_table(resp) -> tuple[list[str], list[list[str]]]:
    assert resp.status_code == 200, resp.text[:800]
    assert resp.mimetype == "text/csv"
    raw = resp.get_data()
    assert raw.startswith(BOM), raw[:20]
    text = raw[len(BOM):].decode("utf-8")
    assert "\ufeff" not in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def xlsx_sheet(resp):
    assert resp.status_code == 200, resp.text[:800]
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = load_workbook(io.BytesIO(resp.get_data()))
    assert len(wb.worksheets) == 1
    return wb.worksheets[0]


def xlsx_text(cell, kind: str) -> str:
    """An XLSX cell as the CSV shows it."""
    v = cell.value
    if v is None:
        return ""
    if kind == "date":
        assert cell.is_date, (cell.coordinate, v)
        return (v.date() if isinstance(v, dt.datetime) else v).isoformat()
    if kind == "money":
        assert cell.data_type == "n", (cell.coordinate, v)
        return f"{v:.2f}"
    if kind == "int":
        assert cell.data_type == "n" and float(v).is_integer(), (cell.coordinate, v)
        return str(int(v))
    assert cell.data_type == "s", (cell.coordinate, v)
    return v


def column_kinds(kind: str) -> list[str]:
    return [c.kind for c in ledgers._LEDGERS[kind][0]]


def audits(kind: str | None = None) -> list[AuditEvent]:
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report.ledger_export")
                              .order_by(AuditEvent.id)).all()
    return [e for e in rows if kind is None or e.data.get("kind") == kind]


@pytest.fixture()
def span():
    """The reporting period of the tests: the last 60 days up to today."""
    today = today_local()
    return today - dt.timedelta(days=60), today


@pytest.fixture()
def browser(app, login_as):
    return lambda user: login_as(app.test_client(), user.username)


# ----------------------------------------------------------------------------- cases

@pytest.fixture()
def cases_seed(g60, action, make_case, drive, span):
    """Songjiang AMR's cases in and out of the period, with goods, a fine, a linked action;
    and one case of the culture squad."""
    start, today = span
    w = g60
    decided = make_case(
        title="松江某商行销售假冒耐克运动鞋案", received_at=(today - dt.timedelta(days=40)).isoformat(),
        ip_type="trademark", channel="report",
        parties=[{"kind": "business", "name": "上海松台商贸有限公司", "credit_code": valid_credit_code(11)},
                 {"kind": "person", "name": "李某某", "id_number": VALID_ID}],
        goods=[{"name": "运动鞋", "quantity": "120", "unit": "双", "value": "1234.5"},
               {"name": "鞋盒", "quantity": "10", "unit": "个", "value": "100"}])
    drive(decided, "accept", "file", "investigate", "notify", "record_statement", "decide_penalty")
    linked = make_case(title="专项行动中发现的侵犯著作权案",
                       received_at=(today - dt.timedelta(days=3)).isoformat(),
                       ip_type="copyright", channel="inspection", joint_action_id=action.id,
                       parties=[{"kind": "person", "name": "=cmd|' /C calc'!A0",
                                 "id_number": VALID_ID}])
    drive(linked, "accept")
    clue = make_case(title="某网店销售侵犯专利权产品", received_at=today.isoformat(), ip_type="patent",
                     channel="complaint")
    formulas = [make_case(title=t, received_at=(today - dt.timedelta(days=10)).isoformat())
                for t in FORMULAS]
    edge = make_case(title="期间首日受理的案件", received_at=start.isoformat())
    old = make_case(title="期间之前受理的旧案件甲乙丙", received_at=(start - dt.timedelta(days=1)).isoformat(),
                    parties=[{"kind": "business", "name": "期前某旧公司",
                              "credit_code": valid_credit_code(12)}])
    other = make_case(user=w.other, officers=False, title="文化执法大队的独有案件丁戊",
                      received_at=(today - dt.timedelta(days=5)).isoformat(),
                      parties=[{"kind": "business", "name": "文化某音像制品店",
                                "credit_code": valid_credit_code(13)}])
    return type("Seed", (), {"decided": decided, "linked": linked, "clue": clue,
                             "formulas": formulas, "edge": edge, "old": old, "other": other,
                             "action": action, "w": w})


def expected_case_rows(agency_id: int, start: dt.date, end: dt.date) -> list[list[str]]:
    out = []
    for c in db.session.scalars(select(Case).where(
            Case.owner_agency_id == agency_id, Case.received_on >= start, Case.received_on <= end)
            .order_by(Case.received_on, Case.id)):
        states = set(db.session.scalars(select(Referral.state).where(Referral.case_id == c.id)))
        ja = db.session.get(JointAction, c.joint_action_id) if c.joint_action_id else None
        action_name = ja.name if ja else ""
        out.append([
            c.number or f"#{c.id}", guarded(c.title), CHANNEL_ZH[c.channel], IP_ZH[c.ip_type],
            guarded("、".join(p.name for p in c.parties)),
            "、".join(p.credit_code for p in c.parties if p.credit_code),
            iso(c.received_on), iso(c.filed_on), STATE_ZH[c.state],
            "、".join(u.display_name for u in c.officers),
            money(sum((g.value for g in c.goods), Decimal(0))), money(c.fine_amount),
            guarded(action_name), "是" if states & REFERRED else "否"])
    return out


def test_cases_csv_rows_headers_and_values(app, cases_seed, browser, span):
    s, (start, end) = cases_seed, span
    w = s.w
    r = export(browser(w.officer), "cases", "csv", start, end)
    assert "attachment" in r.headers["Content-Disposition"]
    assert r.headers["Content-Disposition"].endswith(".csv")
    header, rows = csv_table(r)
    assert header == HEADERS["cases"] == [c.header for c in ledgers.CASE_COLUMNS]
    expected = expected_case_rows(w.amr.id, start, end)
    n = db.session.scalar(select(func.count(Case.id)).where(
        Case.owner_agency_id == w.amr.id, Case.received_on.between(start, end)))
    assert len(rows) == len(expected) == n == 8  # decided, linked, clue, 4 formulas, edge
    assert rows == expected
    by_title = {row[1]: row for row in rows}
    # spot values, written out
    d = by_title["松江某商行销售假冒耐克运动鞋案"]
    assert d[0] == s.decided.number and d[0].startswith("沪市监松")
    assert d[2:4] == ["举报", "商标"]
    assert d[4] == "上海松台商贸有限公司、李某某" and d[5] == valid_credit_code(11)
    assert d[6] == (end - dt.timedelta(days=40)).isoformat()
    assert d[7] == s.decided.filed_on.isoformat()
    assert d[8] == "已作出处罚决定" and d[9] == "officer、officer2"
    assert d[10] == "1334.50" and d[11] == "20000.00" and d[12] == "" and d[13] == "否"
    lk = by_title["专项行动中发现的侵犯著作权案"]
    assert lk[2:4] == ["检查发现", "著作权"] and lk[8] == "核查中"
    assert lk[4] == "'=cmd|' /C calc'!A0"  # a party name is guarded too
    assert lk[7] == "" and lk[10] == "0.00" and lk[11] == "" and lk[12] == s.action.name
    cl = by_title["某网店销售侵犯专利权产品"]
    assert cl[0] == f"#{s.clue.id}" and cl[2:4] == ["投诉", "专利"] and cl[8] == "线索登记"
    assert by_title["期间首日受理的案件"][6] == start.isoformat()  # both ends included
    # nothing received outside the period, nothing of another agency
    body = r.get_data().decode("utf-8")
    for absent in ("期间之前受理的旧案件甲乙丙", "期前某旧公司", "文化执法大队的独有案件丁戊", "文化某音像制品店",
                   valid_credit_code(13)):
        assert absent not in body
    # a user reading the English interface gets the same (Chinese) ledger
    w.officer.locale = "en"
    db.session.commit()
    assert csv_table(export(browser(w.officer), "cases", "csv", start, end)) == (header, rows)
    # the culture squad's ledger: its own case only
    header, rows = csv_table(export(browser(w.other), "cases", "csv", start, end))
    assert [row[1] for row in rows] == ["文化执法大队的独有案件丁戊"]
    assert rows == expected_case_rows(w.culture.id, start, end)


def test_formula_injection_guarded_in_csv_and_xlsx(app, cases_seed, browser, span):
    s, (start, end) = cases_seed, span
    client = browser(s.w.officer)
    _h, rows = csv_table(export(client, "cases", "csv", start, end))
    titles = [row[1] for row in rows]
    for t in FORMULAS:
        assert "'" + t in titles, t
        assert t not in titles, t
    r = export(client, "cases", "xlsx", start, end)
    ws = xlsx_sheet(r)
    cells = {c.value: c for c in ws["B"][1:]}
    for t in FORMULAS:
        c = cells["'" + t]
        assert c.data_type == "s", (t, c.data_type)
    party = next(c for c in ws["E"][1:] if c.value and "calc" in c.value)
    assert party.value == "'=cmd|' /C calc'!A0" and party.data_type == "s"
    # no formula anywhere in the workbook
    with zipfile.ZipFile(io.BytesIO(r.get_data())) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                xml = z.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml, name


# ----------------------------------------------------------------------------- referrals

@pytest.fixture()
def referrals_seed(agencies, referral_of, make_case, drive, span):
    """A referral filed by the police, one still being prepared, and a case of another agency."""
    w = agencies
    over = {"amounts": {"sales_amount": "60000", "illegal_gains": "20000"}}
    sent_case = make_case(title="销售假冒注册商标的商品涉嫌犯罪案", **over)
    drive(sent_case, "accept", "file", "investigate")
    sent = referral_of(sent_case)
    step(w.officer, sent, "submit")
    step(w.approver, sent, "approve")
    step(w.officer, sent, "send")
    step(w.cop, sent, "receive")
    step(w.cop, sent, "police_file", police_case_number="松公经立字〔2026〕88号")
    prep_case = make_case(title="=SUM(A1:A9) 拟移送案件", **over)
    drive(prep_case, "accept", "file", "investigate")
    prep = referral_of(prep_case)
    return type("Seed", (), {"w": w, "sent": sent, "prep": prep, "sent_case": sent_case,
                             "prep_case": prep_case})


def expected_referral_rows(agency_id: int, start: dt.date, end: dt.date) -> list[list[str]]:
    out = []
    refs = db.session.scalars(select(Referral).where(or_(
        Referral.agency_id == agency_id, Referral.police_agency_id == agency_id,
        Referral.procuratorate_id == agency_id)).order_by(Referral.created_at, Referral.id)).all()
    unsent = {"proposed", "pending_approval", "approved"}
    for ref in refs:
        if not start <= local_date(ref.created_at) <= end:
            continue
        if ref.agency_id != agency_id and ref.state in unsent:
            continue  # the police and the procuratorate see a referral once it is sent
        sent_at = db.session.scalar(select(func.min(ReferralEvent.at)).where(
            ReferralEvent.referral_id == ref.id, ReferralEvent.action == "send"))
        if isinstance(sent_at, str):
            sent_at = dt.datetime.fromisoformat(sent_at)
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=dt.timezone.utc)
        out.append([ref.case.number or f"#{ref.case.id}", guarded(ref.case.title), ref.agency.name,
                    f"刑法第{ref.suspected_crime}条" if ref.suspected_crime else "",
                    REFERRAL_STATE_ZH[ref.state], None,  # the outcome: checked on its own
                    iso(local_date(ref.created_at)), iso(local_date(sent_at) if sent_at else None),
                    ref.police_agency.name if ref.police_agency else "", ref.police_case_number,
                    ref.procuratorate.name if ref.procuratorate else ""])
    return out


def _without_outcome(rows):
    return [row[:5] + [None] + row[6:] for row in rows]


def test_referrals_csv_for_referring_agency_police_and_outsider(app, referrals_seed, browser, span):
    s, (start, end) = referrals_seed, span
    w = s.w
    header, rows = csv_table(export(browser(w.officer), "referrals", "csv", start, end))
    assert header == HEADERS["referrals"]
    expected = expected_referral_rows(w.amr.id, start, end)
    assert len(rows) == len(expected) == 2
    assert _without_outcome(rows) == expected
    sent = next(row for row in rows if row[1] == "销售假冒注册商标的商品涉嫌犯罪案")
    assert sent[2] == "上海市松江区市场监督管理局" and sent[3] == "刑法第214条"
    assert sent[4] == "公安机关已立案" and sent[5] == "公安机关已立案"
    assert sent[6] == today_local().isoformat() and sent[7] == today_local().isoformat()
    assert sent[8] == "上海市公安局松江分局经济犯罪侦查支队" and sent[9] == "松公经立字〔2026〕88号"
    assert sent[10] == "上海市松江区人民检察院"
    prep = next(row for row in rows if row[1] == "'=SUM(A1:A9) 拟移送案件")
    assert prep[4] == "准备移送中" and prep[7] == "" and prep[9] == ""
    # the other police unit and the culture squad: nothing
    assert csv_table(export(browser(w.cop2), "referrals", "csv", start, end))[1] == []
    assert csv_table(export(browser(w.other), "referrals", "csv", start, end))[1] == []
    # the case ledger says which case went to the police
    _h, case_rows = csv_table(export(browser(w.officer), "cases", "csv", start, end))
    referred = {row[1]: row[13] for row in case_rows}
    assert referred == {"销售假冒注册商标的商品涉嫌犯罪案": "是", "'=SUM(A1:A9) 拟移送案件": "否"}
    # a period that ended yesterday: no referral made today
    day = today_local() - dt.timedelta(days=1)
    assert csv_table(export(browser(w.officer), "referrals", "csv", start, day))[1] == []


def test_referral_period_is_counted_in_beijing_days(app, referrals_seed, browser, span):
    """A referral proposed at 00:30 Beijing time (16:30 UTC the day before) belongs to the
    Beijing day; one proposed at 23:30 Beijing time to that day, not the next."""
    from caseflow.core.timeutil import LOCAL_TZ

    s, (start, _end) = referrals_seed, span
    today = today_local()
    yesterday = today - dt.timedelta(days=1)
    s.sent.created_at = dt.datetime.combine(today, dt.time(0, 30), LOCAL_TZ)
    s.prep.created_at = dt.datetime.combine(yesterday, dt.time(23, 30), LOCAL_TZ)
    db.session.commit()
    client = browser(s.w.officer)
    _h, rows = csv_table(export(client, "referrals", "csv", start, yesterday))
    assert [(row[1], row[6]) for row in rows] == [("'=SUM(A1:A9) 拟移送案件", yesterday.isoformat())]
    _h, rows = csv_table(export(client, "referrals", "csv", today, today))
    assert [(row[1], row[6]) for row in rows] == [("销售假冒注册商标的商品涉嫌犯罪案", today.isoformat())]


def test_police_and_procuratorate_list_a_referral_only_once_sent(app, referrals_seed, browser,
                                                                 span):
    """The police unit and the procuratorate see a referral once it is sent, never while the
    referring agency prepares it (referrals.operations.visible_referrals): their ledgers must
    not list the case number and title of a referral still in preparation."""
    s, (start, end) = referrals_seed, span
    w = s.w
    for user, agency in ((w.cop, w.police), (w.prosecutor, w.proc)):
        _h, rows = csv_table(export(browser(user), "referrals", "csv", start, end))
        titles = [row[1] for row in rows]
        assert "销售假冒注册商标的商品涉嫌犯罪案" in titles, user.username
        assert "'=SUM(A1:A9) 拟移送案件" not in titles, \
            f"{user.username} lists a referral not yet sent: {rows}"
        assert _without_outcome(rows) == expected_referral_rows(agency.id, start, end)


def test_referral_outcomes_are_written_in_chinese(app, referrals_seed, browser, span):
    """A ledger is an official record with Chinese values (views.ledger_export): the 结果
    column must not fall back to English labels."""
    s, (start, end) = referrals_seed, span
    _h, rows = csv_table(export(browser(s.w.officer), "referrals", "csv", start, end))
    outcomes = {row[1]: row[5] for row in rows}
    english = {t: o for t, o in outcomes.items() if re.search(r"[A-Za-z]{3,}", o)}
    assert not english, f"English outcome labels in the Chinese ledger: {english}"


# ----------------------------------------------------------------------------- penalties

@pytest.fixture()
def penalties_seed(world, make_case, drive, make_user, span):
    """Three decisions of Songjiang AMR: published late, not yet due, not published (minor)."""
    today = today_local()
    w = world
    publisher = make_user(w.amr, "publisher", ["publisher"])
    out = []
    specs = [("沪市监松处罚〔2026〕101号", 30, "general", "20000", "3500.5"),  # published late
             ("沪市监松处罚〔2026〕102号", 3, "general", "8000", "0"),
             ("沪市监松处罚〔2026〕103号", 2, "minor", "500", "0")]
    for i, (number, ago, severity, fine, confiscated) in enumerate(specs):
        case = make_case(title=f"处罚台账案件{i}",
                         received_at=(today - dt.timedelta(days=40)).isoformat(),
                         parties=[{"kind": "business", "name": f"上海某某商行{i}",
                                   "credit_code": valid_credit_code(20 + i)}])
        drive(case, "accept", "file", "investigate", "notify", "record_statement", "decide_penalty")
        d = pops.record_decision(w.officer, case, decision_form(
            case, number=number, decision_date=(today - dt.timedelta(days=ago)).isoformat(),
            severity=severity, fine_amount=fine, confiscated_amount=confiscated,
            subject_name=f"上海某某商行{i}", credit_code=valid_credit_code(20 + i)))
        db.session.commit()
        out.append(d)
    pops.publish(publisher, out[0], "platform", on=today)
    pops.publish(publisher, out[0], "enterprise", on=today)
    db.session.commit()
    return type("Seed", (), {"w": w, "decisions": out})


def expected_penalty_rows(agency_id: int, start: dt.date, end: dt.date) -> list[list[str]]:
    cal, today = load_calendar(), today_local()
    out = []
    for d in db.session.scalars(select(PenaltyDecision).where(
            PenaltyDecision.agency_id == agency_id,
            PenaltyDecision.decision_date.between(start, end))
            .order_by(PenaltyDecision.decision_date, PenaltyDecision.id)):
        if d.severity == "minor":  # 规则变更后：轻微失信不在信用中国公示
            deadline, timely = None, "不公示"
        else:
            deadline = cal.add_working_days(d.decision_date, 7)  # 7 working days
            if d.platform_published_on:
                timely = "按期" if d.platform_published_on <= deadline else "逾期公示"
            else:
                timely = "逾期未公示" if today > deadline else "未到期"
        out.append([d.number, d.case.number, d.subject_name, "、".join(d.categories),
                    d.violation_type, money(d.fine_amount), money(d.confiscated_amount),
                    iso(d.decision_date), iso(deadline), iso(d.platform_published_on), timely,
                    iso(d.enterprise_published_on), iso(d.withdrawn_on)])
    return out


def test_penalties_csv(app, penalties_seed, browser, span):
    s, (start, end) = penalties_seed, span
    header, rows = csv_table(export(browser(s.w.officer), "penalties", "csv", start, end))
    assert header == HEADERS["penalties"]
    assert rows == expected_penalty_rows(s.w.amr.id, start, end)
    assert [row[0] for row in rows] == ["沪市监松处罚〔2026〕101号", "沪市监松处罚〔2026〕102号",
                                        "沪市监松处罚〔2026〕103号"]
    late, pending, minor = rows
    assert late[3] == "罚款、没收违法所得" and late[5:7] == ["20000.00", "3500.50"]
    assert late[9] == today_local().isoformat() and late[10] == "逾期公示" and late[11] == late[9]
    assert pending[6] == "0.00" and pending[9] == "" and pending[10] == "未到期"
    assert minor[8] == "" and minor[10] == "不公示"
    # a period before the decisions: none; another agency: none
    early = start - dt.timedelta(days=200)
    assert csv_table(export(browser(s.w.officer), "penalties", "csv", early, start))[1] == []
    assert csv_table(export(browser(s.w.other), "penalties", "csv", start, end))[1] == []


# ----------------------------------------------------------------------------- inspections

@pytest.fixture()
def inspections_seed(setup, span):  # noqa: F811
    world, _report, item, plan = setup
    today = today_local()
    due_on = min(today + dt.timedelta(days=10), plan.period_end)
    pi = iops.add_plan_item(world.approver, plan, {"item_id": str(item.id), "count": "3",
                                                   "due_date": due_on.isoformat()})
    d = iops.commit_draw(world.approver, pi)
    iops.run_draw(world.approver, d)
    db.session.commit()
    first = db.session.scalars(select(Inspection).order_by(Inspection.id)).first()
    iops.enter_result(first.inspectors[0], first, "发现问题已责令改正", "责令改正", today)
    iops.publish_result(first.inspectors[0], first)
    db.session.commit()
    return type("Seed", (), {"w": world, "due_on": due_on, "first": first})


def expected_inspection_rows(agency_id: int, start: dt.date, end: dt.date) -> list[list[str]]:
    return [[i.plan_item.plan.name, i.plan_item.item.name, guarded(i.business.name),
             i.business.credit_code, "、".join(u.display_name for u in i.inspectors),
             iso(i.due_date),
             iso(i.inspected_on), i.result or "", iso(i.published_on)]
            for i in db.session.scalars(select(Inspection).where(
                Inspection.agency_id == agency_id, Inspection.due_date.between(start, end))
                .order_by(Inspection.due_date, Inspection.id))]


def test_inspections_csv(app, inspections_seed, browser, span):
    s = inspections_seed
    start, end = span[0], s.due_on
    header, rows = csv_table(export(browser(s.w.officer), "inspections", "csv", start, end))
    assert header == HEADERS["inspections"]
    assert len(rows) == 3
    assert rows == expected_inspection_rows(s.w.amr.id, start, end)
    done = next(row for row in rows if row[3] == s.first.business.credit_code)
    assert done[0] == "年度双随机抽查计划" and done[1] == "商标使用行为检查"
    assert done[5] == s.due_on.isoformat() and done[6] == today_local().isoformat()
    assert done[7] == "发现问题已责令改正" and done[8] == today_local().isoformat()
    assert len(done[4].split("、")) == 2
    # due after the period: not listed; another agency: nothing
    assert csv_table(export(browser(s.w.officer), "inspections", "csv", start,
                            s.due_on - dt.timedelta(days=1)))[1] == []
    assert csv_table(export(browser(s.w.other), "inspections", "csv", start, s.due_on))[1] == []


# ----------------------------------------------------------------------------- actions

@pytest.fixture()
def actions_seed(g60, action, span):
    """The open G60 action (tasks reported and verified) and a completed special action."""
    w = g60
    (own,) = assign(w, action, "检查松江某市场", f"user:{w.officer.id}")
    report_and_verify(w, own, w.officer, places_inspected=5, cases_filed=2, goods_seized=30,
                      goods_value="1234.5", referrals=1)
    (jx,) = assign(w, action, "排查嘉兴小商品市场", f"agency:{w.jx.id}")
    report_and_verify(w, jx, w.jx_insp2, places_inspected=7)
    (pending,) = assign(w, action, "检查松江某商场", f"user:{w.officer2.id}")
    special = aops.create_action(w.coord, action_data(w, name="+松江区知识产权专项行动", kind="special",
                                                      participants=[]))
    db.session.commit()
    aops.complete_action(w.coord, special, {"summary": "专项行动已全部完成，成效明显。"})
    db.session.commit()
    return type("Seed", (), {"w": w, "g60": action, "special": special})


def expected_action_rows(agency_id: int, start: dt.date, end: dt.date) -> list[list[str]]:
    kinds = {"g60": "G60科创走廊跨区域联合执法", "special": "专项行动", "joint": "联合执法"}
    states = {"open": "进行中", "completed": "已完成", "cancelled": "已撤销"}
    part = select(action_participant.c.action_id).where(action_participant.c.agency_id == agency_id)
    out = []
    for a in db.session.scalars(select(JointAction).where(
            or_(JointAction.lead_agency_id == agency_id, JointAction.id.in_(part)),
            JointAction.period_start <= end, JointAction.period_end >= start)
            .order_by(JointAction.period_start, JointAction.id)):
        tasks = db.session.scalars(select(ActionTask).where(
            ActionTask.action_id == a.id, ActionTask.assignee_agency_id == agency_id)).all()
        reps = db.session.scalars(select(TaskReport).join(ActionTask).where(
            ActionTask.action_id == a.id, TaskReport.agency_id == agency_id,
            TaskReport.status == "verified")).all()
        out.append([guarded(a.name), kinds[a.kind], a.lead_agency.name, iso(a.period_start),
                    iso(a.period_end), states[a.state], iso(a.completed_on), str(len(tasks)),
                    str(sum(t.state == "verified" for t in tasks)),
                    str(sum(x.places_inspected for x in reps)),
                    str(sum(x.cases_filed for x in reps)),
                    money(sum((x.goods_value for x in reps), Decimal(0))),
                    str(sum(x.referrals for x in reps))])
    return out


def test_actions_csv(app, actions_seed, browser, span):
    s, (start, end) = actions_seed, span
    w = s.w
    header, rows = csv_table(export(browser(w.officer), "actions", "csv", start, end))
    assert header == HEADERS["actions"]
    assert rows == expected_action_rows(w.amr.id, start, end)
    by_name = {row[0]: row for row in rows}
    g = by_name[s.g60.name]
    assert g[1] == "G60科创走廊跨区域联合执法" and g[2] == "上海市松江区市场监督管理局" and g[5] == "进行中"
    assert g[6] == "" and g[7:] == ["2", "1", "5", "2", "1234.50", "1"]
    sp = by_name["'+松江区知识产权专项行动"]
    assert sp[1] == "专项行动" and sp[5] == "已完成" and sp[6] == today_local().isoformat()
    assert sp[7:] == ["0", "0", "0", "0", "0.00", "0"]
    # Jiaxing (participant) sees its own figures only; Jiading (not taking part) nothing
    _h, jx_rows = csv_table(export(browser(w.jx_coord), "actions", "csv", start, end))
    assert jx_rows == expected_action_rows(w.jx.id, start, end)
    assert [row[7:] for row in jx_rows] == [["1", "1", "7", "0", "0.00", "0"]]
    assert csv_table(export(browser(w.jd_coord), "actions", "csv", start, end))[1] == []
    # a period that ended before the actions started: nothing
    early_end = s.g60.period_start - dt.timedelta(days=1)
    assert csv_table(export(browser(w.officer), "actions", "csv", start, early_end))[1] == []


# ----------------------------------------------------------------------------- XLSX = CSV

@pytest.mark.parametrize("kind", ledgers.KINDS)
def test_xlsx_matches_csv(app, cases_seed, referrals_seed, penalties_seed, inspections_seed,
                          actions_seed, browser, span, kind):
    start, end = span[0], max(span[1], inspections_seed.due_on)
    client = browser(cases_seed.w.officer)
    header, rows = csv_table(export(client, kind, "csv", start, end))
    assert rows, f"the {kind} ledger is empty: the comparison would prove nothing"
    r = export(client, kind, "xlsx", start, end)
    assert "attachment" in r.headers["Content-Disposition"]
    assert r.headers["Content-Disposition"].endswith(".xlsx")
    ws = xlsx_sheet(r)
    assert ws.title == SHEET_TITLES[kind]
    sheet = list(ws.iter_rows())
    assert [c.value for c in sheet[0]] == header == HEADERS[kind]
    kinds = column_kinds(kind)
    assert len(sheet) - 1 == len(rows)
    for i, (cells, row) in enumerate(zip(sheet[1:], rows), start=2):
        assert len(cells) == len(header), i
        assert [xlsx_text(c, k) for c, k in zip(cells, kinds)] == row, f"row {i}"


# ----------------------------------------------------------------------------- bad input, audit

def test_bad_input_is_422_with_the_error_and_the_values_kept(app, world, browser):
    client = browser(world.officer)
    r = export(client, "bogus", "csv", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert r.status_code == 422 and r.mimetype == "text/html"
    assert 'id="kind-error"' in r.text
    assert 'name="from" type="date" value="2026-01-01"' in r.text
    assert 'name="to" type="date" value="2026-03-31"' in r.text
    assert 'value="csv" checked' in r.text

    r = export(client, "penalties", "pdf", dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert r.status_code == 422 and 'id="format-error"' in r.text
    assert 'id="kind-error"' not in r.text
    assert '<option value="penalties" selected>' in r.text
    assert 'value="2026-02-01"' in r.text and 'value="2026-02-28"' in r.text

    r = client.get(URL, query_string={"kind": "cases", "format": "xlsx", "from": "2026-13-01",
                                      "to": "2026-12-31"})
    assert r.status_code == 422 and 'id="from-error"' in r.text
    assert '<option value="cases" selected>' in r.text and 'value="xlsx" checked' in r.text
    assert 'value="2026-13-01"' in r.text  # what was typed stays in the field

    r = export(client, "inspections", "csv", dt.date(2026, 5, 1), dt.date(2026, 4, 1))
    assert r.status_code == 422 and 'id="to-error"' in r.text and 'id="from-error"' not in r.text
    assert '<option value="inspections" selected>' in r.text
    assert 'value="2026-05-01"' in r.text and 'value="2026-04-01"' in r.text

    # a period starting before 2000, or longer than three years
    r = export(client, "cases", "csv", dt.date(1999, 12, 31), dt.date(2000, 1, 31))
    assert r.status_code == 422 and 'id="from-error"' in r.text
    r = export(client, "cases", "csv", dt.date(2020, 1, 1), dt.date(2026, 1, 1))
    assert r.status_code == 422 and 'id="to-error"' in r.text

    # the messages, as the user reads them
    from flask_babel import force_locale

    from caseflow.cases import messages

    with app.test_request_context(), force_locale("zh_Hans_CN"):
        words = {k: messages.text(k) for k in ("ledger_kind", "ledger_format", "date_parsing",
                                               "period_reversed")}
    pages = [export(client, "bogus", "csv"), export(client, "cases", "pdf"),
             client.get(URL, query_string={"kind": "cases", "from": "2026-13-01"}),
             export(client, "cases", "csv", dt.date(2026, 5, 1), dt.date(2026, 4, 1))]
    for page, key in zip(pages, ("ledger_kind", "ledger_format", "date_parsing",
                                 "period_reversed")):
        assert page.status_code == 422
        assert words[key] in html.unescape(page.text), key
    assert audits() == []  # a refused request exports nothing, records nothing


def test_each_export_writes_one_audit_row(app, cases_seed, browser, span):
    s, (start, end) = cases_seed, span
    client = browser(s.w.officer)
    assert audits() == []
    _h, rows = csv_table(export(client, "cases", "csv", start, end))
    (ev,) = audits()
    assert ev.user_id == s.w.officer.id and ev.agency_id == s.w.amr.id
    assert ev.data["kind"] == "cases" and ev.data["format"] == "csv"
    assert ev.data["rows"] == len(rows) == 8
    assert ev.data["period_from"] == start.isoformat() and ev.data["period_to"] == end.isoformat()
    xlsx_sheet(export(client, "cases", "xlsx", start, end))
    assert len(audits()) == 2
    ev = audits()[-1]
    assert (ev.data["kind"], ev.data["format"], ev.data["rows"]) == ("cases", "xlsx", 8)
    csv_table(export(client, "penalties", "csv", start, end))
    assert len(audits()) == 3
    ev = audits()[-1]
    assert (ev.data["kind"], ev.data["format"], ev.data["rows"]) == ("penalties", "csv", 0)


# ----------------------------------------------------------------------------- permissions

def test_auditor_forbidden_and_anonymous_sent_to_login(app, world, browser, make_user):
    auditor = browser(world.auditor)
    for kind in ledgers.KINDS:
        for fmt in ledgers.FORMATS:
            r = export(auditor, kind, fmt)
            assert r.status_code == 403, (kind, fmt)
    assert auditor.get("/reports/ledgers").status_code == 403
    sysadm = browser(make_user(world.amr, "sysadm", ["sys_admin"]))
    assert export(sysadm, "cases").status_code == 403
    anonymous = app.test_client()
    r = export(anonymous, "cases", "csv")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert audits() == []
    # a case worker may
    assert export(browser(world.inspector), "cases", "csv").status_code == 200
