"""The system administrator keeps the criminal-threshold table (new versions, never edits)."""
import datetime as dt

from sqlalchemy import func, select

from caseflow.extensions import db
from caseflow.referrals import operations as rops
from caseflow.referrals.models import CriminalThreshold
from caseflow.core.timeutil import today_local  # legal dates are Beijing dates

FORM = {"crime": "214", "metric": "sales_amount", "level": "entry", "condition": "",
        "amount": "40000", "effective_from": "", "source": "测试用新解释", "verified": "y"}


def count():
    return db.session.scalar(select(func.count()).select_from(CriminalThreshold))


def test_only_sys_admin(client, world, login_as):
    login_as(client, "officer")
    assert client.get("/admin/thresholds").status_code == 403
    assert client.post("/admin/thresholds", data=FORM).status_code == 403


def test_new_version_changes_the_guard_from_its_date(client, world, make_user, login_as,
                                                     make_case):
    make_user(world.amr, "sysadmin", ["sys_admin"])
    login_as(client, "sysadmin")
    page = client.get("/admin/thresholds")
    assert page.status_code == 200 and page.text.count('class="in-force"') >= 30
    case = make_case(amounts={"sales_amount": "45000"})
    assert not rops.threshold_matches(case)
    n = count()
    today = today_local().isoformat()
    r = client.post("/admin/thresholds", data=dict(FORM, effective_from=today))
    assert r.status_code == 302 and count() == n + 1
    assert {m.rule.crime for m in rops.threshold_matches(case)} == {"214"}
    assert not rops.threshold_matches(case, on=today_local() - dt.timedelta(days=1))


def test_bad_input_kept_and_nothing_saved(client, world, make_user, login_as):
    make_user(world.amr, "sysadmin", ["sys_admin"])
    login_as(client, "sysadmin")
    n = count()
    for field, bad in (("crime", "999"), ("metric", "weight"), ("level", "extreme"),
                       ("amount", "lots"), ("amount", "-5"), ("effective_from", "2026-02-30"),
                       ("source", " "), ("condition", "full_moon"), ("amount", "NaN")):
        form = dict(FORM, effective_from="2027-01-01")
        form[field] = bad
        r = client.post("/admin/thresholds", data=form)
        assert r.status_code == 422, (field, bad)
        assert f'id="{field}-error"' in r.text, (field, bad)
        assert "测试用新解释" in r.text or field == "source"
    assert count() == n
