"""The field-app API: my work (tasks, inspections, inbox), inspection results, API tokens."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from caseflow.accounts.models import ApiToken
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from caseflow.inspections import operations as iops
from caseflow.inspections.models import Inspection
from tests.conftest import PASSWORD
from tests.inspections.test_inspections import YEAR, setup  # noqa: F401 (fixture)


@pytest.fixture()
def drawn(setup):
    world, _report, item, plan = setup
    pi = iops.add_plan_item(world.approver, plan, {"item_id": str(item.id), "ratio": "0.1",
                                                   "due_date": f"{YEAR}-12-31"})
    iops.run_draw(world.approver, iops.commit_draw(world.approver, pi))
    db.session.commit()
    insp = db.session.scalars(select(Inspection).order_by(Inspection.id)).first()
    return world, insp


def test_my_work_lists_my_inspections_tasks_and_inbox(app, drawn, api_headers):
    world, insp = drawn
    who = insp.inspectors[0]
    client = app.test_client()
    r = client.get("/api/v1/me/work", headers=api_headers(client, who.username))
    assert r.status_code == 200, r.text
    mine = {i["id"] for i in r.json["inspections"]}
    expected = {i.id for i in db.session.scalars(iops.my_inspections(who))}
    assert mine == expected and insp.id in mine
    assert r.json["tasks"] == [] and r.json["inbox"] == []
    one = next(i for i in r.json["inspections"] if i["id"] == insp.id)
    assert one["credit_code"] == insp.business.credit_code and one["state"] == "scheduled"


def test_inspection_result_by_api_is_idempotent_and_checked(app, drawn, api_headers):
    world, insp = drawn
    who = insp.inspectors[0]
    client = app.test_client()
    h = api_headers(client, who.username)
    today = today_local().isoformat()
    bad = client.post(f"/api/v1/inspections/{insp.id}/result",
                      json={"result": "随便", "inspected_on": today}, headers=h)
    assert bad.status_code == 422 and "result" in bad.json["errors"]
    future = client.post(f"/api/v1/inspections/{insp.id}/result",
                         json={"result": "未发现问题",
                               "inspected_on": (today_local() + dt.timedelta(days=2)).isoformat()},
                         headers=h)
    assert future.status_code == 422 and "inspected_on" in future.json["errors"]
    body = {"result": "未发现问题", "note": "", "inspected_on": today}
    key = {**h, "Idempotency-Key": f"insp-{insp.id}"}
    first = client.post(f"/api/v1/inspections/{insp.id}/result", json=body, headers=key)
    assert first.status_code == 200, first.text
    assert first.json["state"] == "done" and first.json["result"] == "未发现问题"
    again = client.post(f"/api/v1/inspections/{insp.id}/result", json=body, headers=key)
    assert again.data == first.data and again.headers["Idempotent-Replayed"] == "true"
    # someone not drawn for it may not enter it (谁检查、谁录入)
    other = next(u for u in (world.officer, world.inspector) if u not in insp.inspectors)
    c2 = app.test_client()
    r = c2.post(f"/api/v1/inspections/{insp.id}/result", json=body,
                headers=api_headers(c2, other.username))
    assert r.status_code == 403


def test_tokens_listed_and_revoked_by_owner_and_agency_admin(app, world, make_user, api_headers):
    admin = make_user(world.amr, "amr_admin", ["agency_admin"])
    foreign_admin = make_user(world.culture, "culture_admin", ["agency_admin"])
    phone = app.test_client()
    r = phone.post("/api/v1/auth/token", json={"username": "officer", "password": PASSWORD,
                                               "label": "执法记录仪 A"})
    assert r.status_code == 201, r.text
    token = {"Authorization": f"Bearer {r.json['token']}"}
    second = api_headers(app.test_client(), "officer")
    listed = phone.get("/api/v1/tokens", headers=token)
    assert listed.status_code == 200
    labels = [t["label"] for t in listed.json["items"]]
    assert "执法记录仪 A" in labels and len(labels) == 2
    # the agency admin sees the agency's tokens; another agency's admin cannot revoke them
    c_admin = app.test_client()
    h_admin = api_headers(c_admin, "amr_admin")
    agency = c_admin.get("/api/v1/tokens?scope=agency", headers=h_admin)
    assert agency.status_code == 200 and len(agency.json["items"]) == 3  # two + the admin's own
    tok_id = next(t["id"] for t in listed.json["items"] if t["label"] == "执法记录仪 A")
    c_foreign = app.test_client()
    h_foreign = api_headers(c_foreign, "culture_admin")
    assert c_foreign.delete(f"/api/v1/tokens/{tok_id}", headers=h_foreign).status_code == 404
    assert c_foreign.get("/api/v1/tokens?scope=agency", headers=h_foreign).json["items"] != []
    assert phone.get("/api/v1/cases", headers=token).status_code == 200
    r = c_admin.delete(f"/api/v1/tokens/{tok_id}", headers=h_admin)
    assert r.status_code == 200 and r.json["revoked_at"]
    assert phone.get("/api/v1/cases", headers=token).status_code == 401  # at once
    assert phone.get("/api/v1/cases", headers=second).status_code == 200  # the other one lives
    # a plain user may not list the agency's tokens
    assert phone.get("/api/v1/tokens?scope=agency", headers=second).status_code == 403
    assert foreign_admin.agency_id != admin.agency_id


def test_token_page_revokes_own_token(app, world, api_headers, login_as):
    h = api_headers(app.test_client(), "officer")
    browser = login_as(app.test_client(), "officer")
    page = browser.get("/account/tokens")
    assert page.status_code == 200 and 'id="my-tokens"' in page.text
    token_id = db.session.scalar(select(func.max(ApiToken.id)))
    assert f'data-token="{token_id}"' in page.text
    other = login_as(app.test_client(), "officer2")
    assert other.post(f"/account/tokens/{token_id}/revoke").status_code == 404
    r = browser.post(f"/account/tokens/{token_id}/revoke")
    assert r.status_code == 303
    assert app.test_client().get("/api/v1/cases", headers=h).status_code == 401
