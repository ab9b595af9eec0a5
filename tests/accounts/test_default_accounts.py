"""No default accounts (等保2.0: 身份鉴别): a fresh install has no user until the demo or an
administrator makes one, and generic names (admin, root, test…) are refused in any spelling."""
import pytest

from caseflow.accounts import operations as accounts
from caseflow.accounts.models import User
from caseflow.core.errors import InvalidInput
from caseflow.extensions import db
from tests.conftest import PASSWORD


def test_a_fresh_database_has_no_account(app, db):
    assert db.session.query(User).count() == 0  # migrations create no user


@pytest.mark.parametrize("name", ["admin", "ROOT", "Ｔｅｓｔ", " administrator ", "guest", "sa"])
def test_generic_account_names_are_refused(world, name):
    with pytest.raises(InvalidInput) as e:
        accounts.create_user(world.amr, name, PASSWORD, ["sys_admin"])
    assert "username" in e.value.errors
    db.session.rollback()


def test_the_demo_has_no_generic_account(app, db):
    from caseflow.demo import USERS

    names = {accounts.normalize_username(u[0]) for u in USERS}
    assert not names & accounts.RESERVED_USERNAMES
