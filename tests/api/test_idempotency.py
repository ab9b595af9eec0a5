"""Idempotency-Key on API create requests: retries return the same answer and create nothing
new, also when they arrive concurrently; keys are kept at least 7 days."""
import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import func, select

from caseflow.api.idempotency import IdempotencyKey, purge
from caseflow.cases.models import Case, CaseEvent
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db
from tests.conftest import clue_payload


def count(model) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def api(app, world, api_headers):
    client = app.test_client()
    return client, api_headers(client, "officer")


def test_1000_sequential_replays_create_one_case_with_identical_answers(api):
    client, h = api
    key = {**h, "Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v1/cases", json=clue_payload(), headers=key)
    assert first.status_code == 201, first.text
    replays = [client.post("/api/v1/cases", json=clue_payload(), headers=key) for _ in range(1000)]
    assert {r.status_code for r in replays} == {201}
    assert {r.data for r in replays} == {first.data}
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in replays)
    assert "Idempotent-Replayed" not in first.headers
    assert count(Case) == 1 and count(CaseEvent) == 1 and count(IdempotencyKey) == 1
    print(f"\nidempotency: 1000 sequential replays, {count(Case) - 1} duplicates")


PER_THREAD = 125


def test_1000_concurrent_replays_create_one_case(app, api):
    _client, h = api
    key = {**h, "Idempotency-Key": str(uuid.uuid4())}
    answers, errors = [], []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(n: int):
        client = app.test_client()
        start.wait()
        for _ in range(n):
            try:
                r = client.post("/api/v1/cases", json=clue_payload(), headers=key)
                with lock:
                    answers.append((r.status_code, r.data))
            except Exception as exc:  # noqa: BLE001 (reported below)
                with lock:
                    errors.append(repr(exc))

    db.session.close()  # the test's own session must not hold SQLite's write lock
    threads = [threading.Thread(target=worker, args=(PER_THREAD,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(answers) == 1000
    assert {s for s, _ in answers} == {201}
    assert len({body for _, body in answers}) == 1  # every answer identical
    assert count(Case) == 1 and count(IdempotencyKey) == 1
    print(f"\nidempotency: 1000 concurrent replays (8 threads), {count(Case) - 1} duplicates")


def test_transition_retry_does_not_apply_twice(api, make_case):
    client, h = api
    case = make_case()
    key = {**h, "Idempotency-Key": "accept-" + str(case.id)}
    first = client.post(f"/api/v1/cases/{case.id}/transitions", json={"action": "accept"}, headers=key)
    assert first.status_code == 200, first.text
    again = client.post(f"/api/v1/cases/{case.id}/transitions", json={"action": "accept"}, headers=key)
    assert again.status_code == 200 and again.data == first.data
    # without the key the same step is refused: the case is no longer a clue
    plain = client.post(f"/api/v1/cases/{case.id}/transitions", json={"action": "accept"}, headers=h)
    assert plain.status_code == 409
    assert count(CaseEvent) == 3  # create, assign officers, accept — once


def test_same_key_with_another_body_is_refused(api):
    client, h = api
    key = {**h, "Idempotency-Key": "k-1"}
    assert client.post("/api/v1/cases", json=clue_payload(), headers=key).status_code == 201
    r = client.post("/api/v1/cases", json=clue_payload(title="另一条线索的标题"), headers=key)
    assert r.status_code == 422 and "Idempotency-Key" in r.json["errors"]
    assert count(Case) == 1


def test_failed_request_is_not_stored_and_a_corrected_retry_runs(api):
    client, h = api
    key = {**h, "Idempotency-Key": "k-2"}
    bad = client.post("/api/v1/cases", json=clue_payload(title=""), headers=key)
    assert bad.status_code == 422
    assert count(IdempotencyKey) == 0 and count(Case) == 0
    # the same (bad) request again runs again and fails the same way
    assert client.post("/api/v1/cases", json=clue_payload(title=""), headers=key).status_code == 422
    ok = client.post("/api/v1/cases", json=clue_payload(), headers=key)
    assert ok.status_code == 201 and count(Case) == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "中文"])
def test_malformed_key_is_refused(api, key):
    client, h = api
    r = client.post("/api/v1/cases", json=clue_payload(),
                    headers={**h, "Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    assert r.status_code == 422 and "Idempotency-Key" in r.json["errors"]
    assert count(Case) == 0


def test_keys_are_per_user(app, api, api_headers):
    client, h = api
    other = app.test_client()
    h2 = api_headers(other, "officer2")
    assert client.post("/api/v1/cases", json=clue_payload(), headers={**h, "Idempotency-Key": "same"}).status_code == 201
    r = other.post("/api/v1/cases", json=clue_payload(), headers={**h2, "Idempotency-Key": "same"})
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert count(Case) == 2


def test_keys_are_kept_at_least_seven_days(api, app):
    client, h = api
    key = {**h, "Idempotency-Key": "k-week"}
    first = client.post("/api/v1/cases", json=clue_payload(), headers=key)
    row = db.session.scalar(select(IdempotencyKey))
    created = row.created_at
    assert purge(created + dt.timedelta(days=7, hours=23)) == 0
    db.session.commit()
    assert client.post("/api/v1/cases", json=clue_payload(), headers=key).data == first.data
    assert purge(created + dt.timedelta(days=8, seconds=1)) == 1
    db.session.commit()
    assert count(IdempotencyKey) == 0
    assert created <= utcnow()


def test_multipart_part_without_a_name_is_no_server_error(api, make_case):
    client, h = api
    case = make_case()
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nnameless\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"place\"\r\n\r\nx\r\n"
            f"--{boundary}--\r\n").encode()
    r = client.post(f"/api/v1/cases/{case.id}/evidence", data=body,
                    headers={**h, "Idempotency-Key": "nameless",
                             "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 422 and "file" in r.json["errors"]
