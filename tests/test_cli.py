"""Bootstrap and demo commands."""
from sqlalchemy import func, select

from caseflow.accounts.models import Agency, User
from caseflow.cases.models import Case
from caseflow.extensions import db


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["caseflow", *args])


def test_create_agency_and_user(app, db):
    r = invoke(app, "create-agency", "--code", "jaa-amr", "--kind", "market_supervision",
               "--name", "上海市静安区市场监督管理局", "--case-prefix", "沪市监静处")
    assert r.exit_code == 0, r.output
    r = invoke(app, "create-user", "--agency", "jaa-amr", "--username", "li", "--password",
               "Long-enough-1", "--role", "case_officer", "--role", "inspector")
    assert r.exit_code == 0, r.output
    user = db.session.scalar(select(User).where(User.username == "li"))
    assert user.roles == {"case_officer", "inspector"}
    assert user.password_hash.startswith("$argon2id$")


def test_create_agency_rejects_bad_kind_and_duplicates(app, db):
    r = invoke(app, "create-agency", "--code", "x", "--kind", "bank", "--name", "X")
    assert r.exit_code == 2 and "kind" in r.output
    invoke(app, "create-agency", "--code", "x", "--kind", "other", "--name", "X")
    r = invoke(app, "create-agency", "--code", "x", "--kind", "other", "--name", "X")
    assert r.exit_code == 2 and "already exists" in r.output
    assert db.session.scalar(select(func.count()).select_from(Agency)) == 1


def test_create_user_validation(app, db):
    invoke(app, "create-agency", "--code", "a", "--kind", "other", "--name", "A")
    r = invoke(app, "create-user", "--agency", "nope", "--username", "u", "--password",
               "Long-enough-1", "--role", "inspector")
    assert r.exit_code == 2
    r = invoke(app, "create-user", "--agency", "a", "--username", "u", "--password", "short",
               "--role", "inspector")
    assert r.exit_code == 2 and "password" in r.output
    r = invoke(app, "create-user", "--agency", "a", "--username", "u", "--password",
               "Long-enough-1", "--role", "wizard")
    assert r.exit_code == 2 and "role" in r.output
    # 三员分立: the administrators' roles are never combined
    r = invoke(app, "create-user", "--agency", "a", "--username", "u", "--password",
               "Long-enough-1", "--role", "sys_admin", "--role", "auditor")
    assert r.exit_code == 2
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_seed_demo_covers_states_and_prints_logins(app, db):
    r = invoke(app, "seed-demo")  # the default 300 cases
    assert r.exit_code == 0, r.output
    assert "sj_officer" in r.output and "sj_approver" in r.output
    states = set(db.session.scalars(select(Case.state).distinct()))
    assert {"clue", "verifying", "filed", "investigating", "legal_review", "notified", "decided",
            "executing", "closed", "rejected"} <= states
    numbers = db.session.scalars(select(Case.number).where(Case.number.is_not(None))).all()
    assert len(numbers) == len(set(numbers)) and numbers
    agencies = set(db.session.scalars(select(Agency.kind)))
    assert agencies == {"market_supervision", "police_econ", "cultural_enforcement", "ip_office",
                        "procuratorate", "joint_office"}
    r = invoke(app, "seed-demo", "--if-empty")
    assert "not seeded" in r.output
