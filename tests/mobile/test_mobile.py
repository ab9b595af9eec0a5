"""The field page (/m/): page, service worker, queued clue and photo submissions (idempotent,
CSRF-protected, JSON errors)."""
import hashlib
import io
import uuid

from sqlalchemy import func, select

from caseflow.cases.models import Case
from caseflow.evidence.models import Evidence
from caseflow.extensions import db
from caseflow.core.timeutil import today_local
from caseflow.inspections.models import Inspection
from tests.api.test_field import drawn  # noqa: F401 (fixture)
from tests.conftest import clue_payload
from tests.inspections.test_inspections import setup  # noqa: F401 (fixture)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def count(model) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model))


def test_page_and_service_worker(app, world, login_as):
    c = login_as(app.test_client(), "inspector")
    r = c.get("/m/")
    assert r.status_code == 200
    assert 'id="clue-form"' in r.text and 'lang="zh-CN"' in r.text
    assert "现场线索" in r.text and "登记线索" in r.text  # Chinese by default
    assert 'src="/static/mobile.js"' in r.text and 'name="viewport"' in r.text
    sw = c.get("/m/sw.js")
    assert sw.status_code == 200 and sw.mimetype == "text/javascript"
    assert sw.headers["Service-Worker-Allowed"] == "/m/" and "caches.open" in sw.text
    assert c.get("/m/csrf").json["token"]
    # a user without case roles may not use it; a logged-out one is sent to the login page
    assert login_as(app.test_client(), "auditor").get("/m/").status_code == 403
    assert app.test_client().get("/m/").status_code == 302


def test_clue_is_created_once_however_often_it_is_sent(app, world, login_as):
    c = login_as(app.test_client(), "inspector")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = c.post("/m/clues", json=clue_payload(), headers=key)
    assert first.status_code == 201, first.text
    for _ in range(5):
        again = c.post("/m/clues", json=clue_payload(), headers=key)
        assert again.status_code == 201 and again.data == first.data
    assert count(Case) == 1
    case = db.session.get(Case, first.json["id"])
    assert case.created_by_id == world.inspector.id and first.json["url"] == f"/cases/{case.id}"
    # a photo of it, also sent twice
    data = {"sha256": hashlib.sha256(PNG).hexdigest(), "captured_at": "2026-01-05T09:00:00+08:00",
            "place": "松江区"}
    pkey = {"Idempotency-Key": key["Idempotency-Key"] + ":photo:0"}
    for _ in range(2):
        r = c.post(f"/m/cases/{case.id}/evidence", headers=pkey,
                   data={**data, "file": (io.BytesIO(PNG), "p.png")}, content_type="multipart/form-data")
        assert r.status_code == 201, r.text
    assert count(Evidence) == 1


def test_refused_clue_answers_json_errors_and_writes_nothing(app, world, login_as):
    c = login_as(app.test_client(), "inspector")
    r = c.post("/m/clues", json=clue_payload(title="x", channel="nope"),
               headers={"Idempotency-Key": "k1"})
    assert r.status_code == 422
    assert set(r.json["errors"]) >= {"title", "channel"}
    r = c.post("/m/clues", data="not json", content_type="application/json",
               headers={"Idempotency-Key": "k2"})
    assert r.status_code == 422 and r.json["message"]
    assert count(Case) == 0
    # a hash mismatch of a photo is refused with the field named
    ok = c.post("/m/clues", json=clue_payload(), headers={"Idempotency-Key": "k3"})
    r = c.post(f"/m/cases/{ok.json['id']}/evidence", headers={"Idempotency-Key": "k3:photo:0"},
               data={"sha256": "0" * 64, "captured_at": "2026-01-05T09:00:00+08:00",
                     "file": (io.BytesIO(PNG), "p.png")}, content_type="multipart/form-data")
    assert r.status_code == 422 and "sha256" in r.json["errors"] and count(Evidence) == 0


def test_csrf_is_required(app, world, login_as, monkeypatch):
    c = login_as(app.test_client(), "inspector")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    r = c.post("/m/clues", json=clue_payload(), headers={"Idempotency-Key": "k"})
    assert r.status_code == 400 and r.is_json
    token = c.get("/m/csrf").json["token"]
    r = c.post("/m/clues", json=clue_payload(), headers={"Idempotency-Key": "k", "X-CSRFToken": token})
    assert r.status_code == 201
    assert count(Case) == 1


def test_other_agency_cannot_attach_to_a_case(app, world, login_as, make_case):
    case = make_case()
    c = login_as(app.test_client(), "other")
    r = c.post(f"/m/cases/{case.id}/evidence", headers={"Idempotency-Key": "x"},
               data={"sha256": hashlib.sha256(PNG).hexdigest(), "captured_at": "2026-01-05T09:00:00+08:00",
                     "file": (io.BytesIO(PNG), "p.png")}, content_type="multipart/form-data")
    assert r.status_code == 404 and count(Evidence) == 0



def test_inspection_result_from_the_field(app, drawn, login_as):
    world, insp = drawn
    who = insp.inspectors[0]
    c = login_as(app.test_client(), who.username)
    page = c.get("/m/")
    assert f'data-inspection="{insp.id}"' in page.text
    body = {"result": "未发现问题", "note": "", "inspected_on": today_local().isoformat()}
    key = {"Idempotency-Key": f"r-{insp.id}"}
    first = c.post(f"/m/inspections/{insp.id}/result", json=body, headers=key)
    assert first.status_code == 200, first.text
    assert c.post(f"/m/inspections/{insp.id}/result", json=body, headers=key).data == first.data
    db.session.expire_all()
    assert db.session.get(Inspection, insp.id).state == "done"
    assert f'data-inspection="{insp.id}"' not in c.get("/m/").text  # done: no longer to do
    bad = c.post(f"/m/inspections/{insp.id}/result", json={"result": "x"},
                 headers={"Idempotency-Key": "b"})
    assert bad.status_code == 422 and "inspected_on" in bad.json["errors"]
    other = next(u for u in (world.officer, world.inspector) if u not in insp.inspectors)
    c2 = login_as(app.test_client(), other.username)
    r = c2.post(f"/m/inspections/{insp.id}/result", json=body, headers={"Idempotency-Key": "o"})
    assert r.status_code == 403 and r.is_json
