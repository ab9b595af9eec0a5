"""Charts of a dashboard with their links, and the yearly report (年度报告) PDF.

Flask-aware (``url_for``, translations, templates); the figures come from ``operations``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app, url_for
from flask_babel import force_locale, gettext as _
from sqlalchemy import select

from caseflow.cases import messages as m
from caseflow.core import audit
from caseflow.core.uploads import path_of, upload_dir
from caseflow.extensions import db
from caseflow.reports import charts, labels
from caseflow.reports import operations as ops
from caseflow.reports import rules as r
from caseflow.reports.models import YearlyReport


def _href(args: dict, links: bool) -> str | None:
    return url_for("cases.list_cases", **args) if links else None


def _days(v: float | None) -> str:
    if v is None:
        return "—"
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def dashboard_charts(d: ops.Dashboard, links: bool = True) -> dict:
    """Every chart of a dashboard as SVG; bars link to their case lists when ``links``."""
    out = {}
    out["state"] = charts.bar_chart(_("Cases by state"), [
        charts.Bar(str(m.STATE_LABELS.get(f.key, f.key)), f.n, _href(f.args, links))
        for f in d.by_state])
    month_names, axis = _month_labels(d)
    out["ip_months"] = charts.stacked_columns(_("Cases by IP type and month received"), month_names, [
        charts.Series(str(m.IP_TYPE_LABELS.get(k, k)), [f.n for f in v],
                      [_href(f.args, links) if f.n else None for f in v])
        for k, v in d.ip_by_month.items()], axis_labels=axis)
    out["channel_months"] = charts.stacked_columns(_("Cases by channel and month received"), month_names, [
        charts.Series(str(m.CHANNEL_LABELS.get(k, k)), [f.n for f in v],
                      [_href(f.args, links) if f.n else None for f in v])
        for k, v in d.channel_by_month.items()], axis_labels=axis)
    out["stages"] = charts.bar_chart(_("Days in each stage (median)"), [
        charts.Bar(str(m.STATE_LABELS.get(s.stage, s.stage)), s.median or 0, _href(s.args, links),
                   text=_("median %(median)s · P90 %(p90)s days · %(n)s cases",
                          median=_days(s.median), p90=_days(s.p90), n=s.cases))
        for s in d.stages], width=620)
    out["referrals"] = charts.bar_chart(_("Referred cases by outcome"), [
        charts.Bar(labels.referral_outcome_label(f.key), f.n, _href(f.args, links))
        for f in d.referrals], label_width=230)
    for chan, figs in d.publication.items():
        share = d.on_time_share.get(chan)
        title = str(labels.PUBLICATION_CHANNEL_LABELS[chan])
        out[f"publication_{chan}"] = charts.bar_chart(title, [
            charts.Bar(str(labels.PUBLICATION_CLASS_LABELS[f.key]), f.n, _href(f.args, links))
            for f in figs], label_width=190)
        out[f"share_{chan}"] = share
    p = d.pace
    out["pace"] = charts.progress(
        _("Special actions and dual-random inspections against the yearly target"), p.done, p.target,
        p.expected_by_today,
        href=url_for("inspections.index") if links else None,
        text=_("%(done)s of %(target)s · expected by now %(expected)s · projected %(projected)s",
               done=p.done, target=p.target, expected=p.expected_by_today, projected=p.projected))
    return out


def _month_labels(d: ops.Dashboard) -> tuple[list[str], list[str]]:
    """Full month names (tooltips) and the axis labels: every month within one year ("3月"),
    over longer periods the year at each January and every third month between."""
    one_year = d.period.start.year == d.period.end.year
    names = [f"{p.start.month}月" if one_year else f"{p.start.year}年{p.start.month}月"
             for p in d.months]
    if len(d.months) <= 12:
        return names, [f"{p.start.month}月" for p in d.months]
    axis = [f"{p.start.year}年" if (p.start.month == 1 or i == 0) else
            (f"{p.start.month}月" if p.start.month % 3 == 1 else "") for i, p in enumerate(d.months)]
    return names, axis


# ----------------------------------------------------------------------------- yearly report

def targets(d: ops.Dashboard) -> list[r.Target]:
    """The district work plans' targets for the year and what the year reached."""
    cfg = current_app.config
    share = d.on_time_share.get("platform")
    return [
        r.Target("actions_and_inspections", cfg["YEARLY_ACTION_TARGET"], d.pace.done, "count"),
        r.Target("g60_actions", cfg["G60_YEARLY_TARGET"], d.g60_done, "count"),
        r.Target("publication_on_time", cfg["PUBLICATION_ON_TIME_TARGET"],
                 None if share is None else round(share * 100, 1), "percent"),
    ]


TARGET_LABELS = {
    "actions_and_inspections": "专项行动和双随机检查（项）",
    "g60_actions": "长三角G60科创走廊跨区域联合执法（次）",
    "publication_on_time": "行政处罚信息7个工作日内在信用中国公示率（%）",
}


def render_yearly_report(user, agency_id: int, year: int) -> bytes:
    """The agency's yearly report PDF for ``year``: figures, charts and targets, in Chinese."""
    from caseflow.accounts.models import Agency
    from caseflow.core.pdf import render_pdf
    from caseflow.core.timeutil import today_local

    today = today_local()
    agency = db.session.get(Agency, agency_id)
    period = r.Period(dt.date(year, 1, 1), min(dt.date(year, 12, 31), today))
    viewer = user or _AgencyViewer(agency)
    with force_locale("zh_Hans_CN"):
        d = ops.dashboard(viewer, period, today)
        return render_pdf("pdf/yearly_report.html", d=d, year=year, agency=agency,
                          charts=dashboard_charts(d, links=False), targets=targets(d),
                          target_labels=TARGET_LABELS, complete=period.end == dt.date(year, 12, 31),
                          referral_outcome_label=labels.referral_outcome_label,
                          class_labels=labels.PUBLICATION_CLASS_LABELS,
                          channel_labels=labels.PUBLICATION_CHANNEL_LABELS, days=_days)


class _AgencyViewer:
    """The scheduler's stand-in for a user of the agency: sees what the agency sees."""

    is_authenticated = True
    works_cases = True
    id = None

    def __init__(self, agency):
        self.agency = agency
        self.agency_id = agency.id
        from caseflow.accounts.models import CASE_ROLES

        self.roles = set(CASE_ROLES)

    def has_role(self, *roles) -> bool:
        return True


def store_yearly_report(user, agency_id: int, year: int, scheduled: bool = False) -> YearlyReport:
    """Render and keep a yearly report; the caller commits."""
    pdf = render_yearly_report(user, agency_id, year)
    name = secrets.token_hex(16)
    with open(upload_dir("reports") / name, "xb") as out:
        out.write(pdf)
    rep = YearlyReport(agency_id=agency_id, year=year, scheduled=scheduled,
                       generated_by_id=getattr(user, "id", None), stored_name=name, size=len(pdf),
                       sha256=hashlib.sha256(pdf).hexdigest())
    db.session.add(rep)
    db.session.flush()
    ev = audit.record("report.yearly_generate", user=user, obj_type="yearly_report",
                      obj_id=rep.id, year=year, scheduled=scheduled)
    ev.agency_id = agency_id  # also when the scheduler made it (no user)
    return rep


def report_path(rep: YearlyReport):
    return path_of("reports", rep.stored_name)


def generate_due_reports(today: dt.date | None = None) -> list[YearlyReport]:
    """Scheduler job: from the first working day of a year, each agency's report for the year
    before, made once (a restart or a second scheduler finds it made and does nothing)."""
    from caseflow.accounts.models import Agency, AgencyKind
    from caseflow.core.models import load_calendar
    from caseflow.core.timeutil import today_local

    today = today or today_local()
    year = r.yearly_report_due(today, load_calendar())
    if year is None:
        return []
    made = []
    agencies = db.session.scalars(select(Agency).where(
        Agency.kind != AgencyKind.JOINT_OFFICE.value).order_by(Agency.id)).all()
    for a in agencies:
        exists = db.session.scalar(select(YearlyReport.id).where(
            YearlyReport.agency_id == a.id, YearlyReport.year == year, YearlyReport.scheduled.is_(True)))
        if exists:
            continue
        made.append(store_yearly_report(None, a.id, year, scheduled=True))
        db.session.commit()
    return made
