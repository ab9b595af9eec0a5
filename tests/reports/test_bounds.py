"""Dates far outside what the system holds are refused (422), never a server error."""
import pytest

from tests.conftest import clue_payload  # noqa: F401  (fixtures come from tests/conftest.py)


@pytest.mark.parametrize("query", [
    "received_from=9999-12-31", "received_to=0001-01-01", "referral=returned&referred_to=9999-12-31",
    "stage=clue&stage_from=1900-01-01", "publication=platform_late&decided_to=9999-12-31",
])
def test_case_list_refuses_dates_out_of_range(client, world, login_as, query):
    login_as(client, "officer")
    r = client.get(f"/cases/?{query}")
    assert r.status_code == 422
    assert "2000-01-01" in r.text  # the message names the range
    r = client.get(f"/api/v1/cases?{query}", headers=_token(client))
    assert r.status_code == 422


def _token(client):
    from tests.conftest import PASSWORD

    r = client.post("/api/v1/auth/token", json={"username": "officer", "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json['token']}"}


@pytest.mark.parametrize("query", ["from=9999-01-01&to=9999-12-31", "from=2099-06-01&to=2100-01-01",
                                   "year=9999"])
def test_dashboard_refuses_periods_out_of_range(client, world, login_as, query):
    login_as(client, "officer")
    assert client.get(f"/reports/?{query}").status_code == 422
    assert client.get(f"/reports/ledgers/export?kind=cases&format=csv&{query}").status_code == 422
