"""Ledgers (台账) per agency and period: cases, referrals, penalties, inspections, actions.

Each ledger is a list of columns (Chinese header, type) and rows of typed values. The CSV
(UTF-8 with BOM, for Excel) and the XLSX (openpyxl, write-only: constant memory) are written
from the same rows, so they always agree; texts are formula-guarded in both.
"""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterator

from sqlalchemy import func, or_, select

from caseflow.accounts.models import User
from caseflow.cases import messages
from caseflow.cases.models import Case, Goods
from caseflow.core.timeutil import local_date
from caseflow.extensions import db
from caseflow.penalties.rules import cell
from caseflow.reports import rules as r

KINDS = ("cases", "referrals", "penalties", "inspections", "actions")
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"  # text | date | money | int


@dataclass
class Ledger:
    kind: str
    columns: list[Column]
    rows: Iterator[list]


def _yes(v: bool) -> str:
    return "是" if v else "否"


def _label(labels: dict, key) -> str:
    return str(labels.get(key, key)) if key else ""


# ----------------------------------------------------------------------------- the five ledgers

CASE_COLUMNS = [Column("案件编号"), Column("案件名称"), Column("来源渠道"), Column("知识产权类型"),
                Column("当事人"), Column("当事人统一社会信用代码"), Column("受理日期", "date"),
                Column("立案日期", "date"), Column("案件状态"), Column("承办人"),
                Column("涉案货值（元）", "money"), Column("罚款金额（元）", "money"),
                Column("专项行动"), Column("是否移送公安")]


def _case_rows(user, agency_id: int, period: r.Period) -> Iterator[list]:
    from caseflow.actions.models import JointAction
    from caseflow.referrals.models import Referral

    goods = (select(func.coalesce(func.sum(Goods.value), 0)).where(Goods.case_id == Case.id)
             .scalar_subquery())
    referred = (select(func.count(Referral.id)).where(
        Referral.case_id == Case.id,
        Referral.state.notin_(r.REFERRAL_OUTCOMES["preparing"] + r.REFERRAL_OUTCOMES["refused"]))
        .scalar_subquery())
    stmt = (select(Case, goods, referred, JointAction.name)
            .outerjoin(JointAction, JointAction.id == Case.joint_action_id)
            .where(Case.owner_agency_id == agency_id, Case.received_on >= period.start,
                   Case.received_on <= period.end)
            .order_by(Case.received_on, Case.id).execution_options(yield_per=500))
    for case, goods_value, n_referred, action_name in db.session.execute(stmt):
        parties = case.parties
        yield [case.display_number, case.title, _label(messages.CHANNEL_LABELS, case.channel),
               _label(messages.IP_TYPE_LABELS, case.ip_type),
               "、".join(p.name for p in parties),
               "、".join(p.credit_code for p in parties if p.credit_code),
               case.received_on, case.filed_on, _label(messages.STATE_LABELS, case.state),
               "、".join(u.display_name for u in case.officers),
               Decimal(goods_value or 0), case.fine_amount, action_name or "", _yes(n_referred > 0)]


REFERRAL_COLUMNS = [Column("案件编号"), Column("案件名称"), Column("移送机关"), Column("涉嫌罪名"),
                    Column("移送状态"), Column("结果"), Column("提出日期", "date"),
                    Column("移送日期", "date"), Column("接收公安机关"), Column("公安立案号"),
                    Column("抄送检察院")]


def _referral_rows(user, agency_id: int, period: r.Period) -> Iterator[list]:
    """Referrals the agency made, received or was copied, of cases it may see (a referral
    still being prepared stays with the referring agency)."""
    from caseflow.cases.permissions import visibility_clause
    from caseflow.referrals.models import Referral, ReferralEvent
    from caseflow.reports.operations import _utc_bounds

    start, end = _utc_bounds(period)
    sent = (select(func.min(ReferralEvent.at)).where(ReferralEvent.referral_id == Referral.id,
                                                      ReferralEvent.action == "send")
            .scalar_subquery())
    stmt = (select(Referral, sent).where(
        or_(Referral.agency_id == agency_id, Referral.police_agency_id == agency_id,
            Referral.procuratorate_id == agency_id),
        Referral.created_at >= start, Referral.created_at < end,
        Referral.case_id.in_(select(Case.id).where(visibility_clause(user))))
        .order_by(Referral.created_at, Referral.id).execution_options(yield_per=500))
    for ref, sent_at in db.session.execute(stmt):
        if isinstance(sent_at, str):  # SQLite returns min() of a timestamp as text
            sent_at = dt.datetime.fromisoformat(sent_at)
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=dt.timezone.utc)
        yield [ref.case.display_number, ref.case.title, ref.agency.name,
               f"刑法第{ref.suspected_crime}条" if ref.suspected_crime else "",
               _label(messages.REFERRAL_STATE_LABELS, ref.state),
               _outcome_label(ref.state), local_date(ref.created_at),
               local_date(sent_at) if sent_at else None,
               ref.police_agency.name if ref.police_agency else "", ref.police_case_number,
               ref.procuratorate.name if ref.procuratorate else ""]


def _outcome_label(state: str) -> str:
    from caseflow.reports.labels import referral_outcome_label

    return referral_outcome_label(r.referral_outcome(state))


PENALTY_COLUMNS = [Column("行政处罚决定书文号"), Column("案件编号"), Column("行政相对人名称"),
                   Column("处罚类别"), Column("违法行为类型"), Column("罚款金额（元）", "money"),
                   Column("没收金额（元）", "money"), Column("处罚决定日期", "date"),
                   Column("信用中国公示期限", "date"), Column("信用中国公示日期", "date"),
                   Column("按期公示"), Column("企业信用公示日期", "date"), Column("撤下日期", "date")]


def _penalty_rows(user, agency_id: int, period: r.Period) -> Iterator[list]:
    from caseflow.core.models import load_calendar
    from caseflow.core.timeutil import today_local
    from caseflow.penalties import rules as pr
    from caseflow.penalties.models import PenaltyDecision
    from caseflow.penalties.operations import facts_of, params

    cal, p, today = load_calendar(), params(), today_local()
    words = {"on_time": "按期", "late": "逾期公示", "overdue": "逾期未公示", "pending": "未到期"}
    stmt = (select(PenaltyDecision).where(PenaltyDecision.agency_id == agency_id,
                                          PenaltyDecision.decision_date >= period.start,
                                          PenaltyDecision.decision_date <= period.end)
            .order_by(PenaltyDecision.decision_date, PenaltyDecision.id).execution_options(yield_per=500))
    for d in db.session.scalars(stmt):
        f = facts_of(d)
        deadline, timely = None, "不公示"
        if pr.is_published(f) and pr.platform_period(f, p).published:
            deadline = pr.publication_deadlines(f, cal, p).platform
            timely = words[r.timeliness(d.platform_published_on, deadline, today)]
        yield [d.number, d.case.display_number, d.subject_name, "、".join(d.categories or ()),
               d.violation_type, d.fine_amount, d.confiscated_amount, d.decision_date, deadline,
               d.platform_published_on, timely, d.enterprise_published_on, d.withdrawn_on]


INSPECTION_COLUMNS = [Column("抽查计划"), Column("抽查事项"), Column("检查对象"),
                      Column("统一社会信用代码"), Column("检查人员"), Column("应完成日期", "date"),
                      Column("检查日期", "date"), Column("检查结果"), Column("公示日期", "date")]


def _inspection_rows(user, agency_id: int, period: r.Period) -> Iterator[list]:
    from caseflow.inspections.models import Inspection

    stmt = (select(Inspection).where(Inspection.agency_id == agency_id,
                                     Inspection.due_date >= period.start,
                                     Inspection.due_date <= period.end)
            .order_by(Inspection.due_date, Inspection.id).execution_options(yield_per=500))
    for i in db.session.scalars(stmt):
        yield [i.plan_item.plan.name, i.plan_item.item.name, i.business.name, i.business.credit_code,
               "、".join(u.display_name for u in i.inspectors), i.due_date, i.inspected_on,
               i.result or "", i.published_on]


ACTION_COLUMNS = [Column("行动名称"), Column("类型"), Column("牵头单位"), Column("开始日期", "date"),
                  Column("结束日期", "date"), Column("状态"), Column("完成日期", "date"),
                  Column("本单位任务数", "int"), Column("本单位已核实任务", "int"),
                  Column("检查场所（户次）", "int"), Column("立案数（上报）", "int"),
                  Column("查扣货值（元）", "money"), Column("移送公安（上报）", "int")]


def _action_rows(user, agency_id: int, period: r.Period) -> Iterator[list]:
    from caseflow.actions.labels import ACTION_KIND_LABELS, ACTION_STATE_LABELS
    from caseflow.actions.models import JointAction, action_participant
    from caseflow.actions.operations import action_figures

    part = select(action_participant.c.action_id).where(action_participant.c.agency_id == agency_id)
    stmt = (select(JointAction).where(
        or_(JointAction.lead_agency_id == agency_id, JointAction.id.in_(part)),
        JointAction.period_start <= period.end, JointAction.period_end >= period.start)
        .order_by(JointAction.period_start, JointAction.id))
    for a in db.session.scalars(stmt):
        row = next((x for x in action_figures(a).rows if x.agency.id == agency_id), None)
        v = row.verified if row else None
        yield [a.name, _label(ACTION_KIND_LABELS, a.kind), a.lead_agency.name, a.period_start,
               a.period_end, _label(ACTION_STATE_LABELS, a.state), a.completed_on,
               row.tasks if row else 0, row.states.get("verified", 0) if row else 0,
               v.places_inspected if v else 0, v.cases_filed if v else 0,
               v.goods_value if v else Decimal(0), v.referrals if v else 0]


_LEDGERS: dict[str, tuple[list[Column], Callable]] = {
    "cases": (CASE_COLUMNS, _case_rows),
    "referrals": (REFERRAL_COLUMNS, _referral_rows),
    "penalties": (PENALTY_COLUMNS, _penalty_rows),
    "inspections": (INSPECTION_COLUMNS, _inspection_rows),
    "actions": (ACTION_COLUMNS, _action_rows),
}


def ledger(user: User, kind: str, period: r.Period) -> Ledger:
    """The agency's ledger of ``kind`` for the period (permission checked by
    ``export_ledger``, the operation that uses it)."""
    columns, rows = _LEDGERS[kind]
    return Ledger(kind, columns, rows(user, user.agency_id, period))


# ----------------------------------------------------------------------------- writing

def text_value(value, kind: str) -> str:
    """A value as the CSV shows it: ISO dates, money with two decimals, guarded text."""
    if value is None or value == "":
        return ""
    if kind == "date":
        return value.isoformat()
    if kind == "money":
        return f"{Decimal(value):.2f}"
    if kind == "int":
        return str(int(value))
    return cell(str(value))


def write_csv(led: Ledger, out) -> int:
    """Write the ledger to a text stream; returns the number of rows."""
    out.write("\ufeff")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([c.header for c in led.columns])
    n = 0
    for row in led.rows:
        w.writerow([text_value(v, c.kind) for v, c in zip(row, led.columns)])
        n += 1
    return n


def write_xlsx(led: Ledger, path, title: str) -> int:
    """Write the ledger as an XLSX workbook (one sheet); returns the number of rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    for i, c in enumerate(led.columns):
        ws.column_dimensions[_col(i)].width = 14 if c.kind != "text" else 22
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for c in led.columns:
        x = WriteOnlyCell(ws, value=c.header)
        x.font = bold
        head.append(x)
    ws.append(head)
    n = 0
    for row in led.rows:
        cells = []
        for v, c in zip(row, led.columns):
            if v is None or v == "":
                cells.append(None)
            elif c.kind == "date":
                x = WriteOnlyCell(ws, value=v)
                x.number_format = "yyyy-mm-dd"
                cells.append(x)
            elif c.kind == "money":
                x = WriteOnlyCell(ws, value=Decimal(v).quantize(Decimal("0.01")))
                x.number_format = "#,##0.00"
                cells.append(x)
            elif c.kind == "int":
                cells.append(int(v))
            else:
                # a text cell, never a formula (openpyxl reads "=…" as one)
                x = WriteOnlyCell(ws, value=cell(str(v)))
                x.data_type = "s"
                cells.append(x)
        ws.append(cells)
        n += 1
    wb.save(path)
    return n


def _col(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


# ----------------------------------------------------------------------------- the operation

ZH_KINDS = {"cases": "案件", "referrals": "移送", "penalties": "行政处罚", "inspections": "双随机抽查",
            "actions": "专项行动"}
MIMETYPES = {"csv": "text/csv",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def choice_errors(kind: str, fmt: str) -> dict[str, str]:
    """What is wrong with the ledger and format asked for (empty: nothing)."""
    errors = {}
    if kind not in KINDS:
        errors["kind"] = messages.text("ledger_kind")
    if fmt not in FORMATS:
        errors["format"] = messages.text("ledger_format")
    return errors


@dataclass
class Export:
    body: bytes
    mimetype: str
    rows: int
    title: str  # the file's name without extension


def export_ledger(user: User, kind: str, fmt: str, period: r.Period) -> Export:
    """One ledger download: checks the user may see the agency's figures and what was asked
    for, writes the file with Chinese values whatever the UI language (an official record),
    and its audit record. The caller commits."""
    import io
    import tempfile
    from pathlib import Path

    from flask_babel import force_locale

    from caseflow.core import audit
    from caseflow.core.errors import InvalidInput, PermissionDenied
    from caseflow.reports.operations import can_view_dashboard

    if not can_view_dashboard(user):
        raise PermissionDenied(messages.text("forbidden"))
    errors = choice_errors(kind, fmt)
    if errors:
        raise InvalidInput(errors)
    title = f"{user.agency.name}-{ZH_KINDS[kind]}台账-{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    with force_locale("zh_Hans_CN"):
        led = ledger(user, kind, period)
        if fmt == "csv":
            buf = io.StringIO()
            n = write_csv(led, buf)
            body = buf.getvalue().encode("utf-8")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "ledger.xlsx"
                n = write_xlsx(led, path, ZH_KINDS[kind] + "台账")
                body = path.read_bytes()
    audit.record("report.ledger_export", user=user, obj_type="agency", obj_id=user.agency_id,
                 kind=kind, format=fmt, rows=n, period_from=period.start.isoformat(),
                 period_to=period.end.isoformat())
    return Export(body, MIMETYPES[fmt], n, title)
