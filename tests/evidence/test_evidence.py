"""Evidence files with a chain of custody (SPEC §9.4, §9.7): upload through the case page and
the API, checks by content / hash / capture facts, all-or-nothing storage, visibility,
downloads as attachments, hand-over with a criminal referral, `flask caseflow evidence verify`
and the OpenAPI description."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import shutil
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from caseflow.api.idempotency import IdempotencyKey
from caseflow.cases import messages
from caseflow.core.audit import AuditEvent
from caseflow.core.timeutil import utcnow
from caseflow.evidence import operations as evops
from caseflow.evidence.models import CustodyEntry, Evidence
from caseflow.extensions import db
from tests.referrals.conftest import agencies, referral_of, step  # noqa: F401 (fixtures)

BEIJING = dt.timezone(dt.timedelta(hours=8))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
JPEG2 = b"\xff\xd8\xff\xe1" + b"second photo" * 300
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 12 + b"moov" + bytes(range(200)) * 5
MOV = b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 8 + b"moov" + bytes(range(200)) * 5
PDF = b"%PDF-1.7\n" + b"1 0 obj << >> endobj\n" * 50
OVER = {"amounts": {"sales_amount": "60000", "illegal_gains": "20000"}}
AMR_NAME = "上海市松江区市场监督管理局"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def moment(minutes_ago: int = 90) -> dt.datetime:
    """A capture moment before now, in Beijing time, to the second."""
    return (utcnow() - dt.timedelta(minutes=minutes_ago)).astimezone(BEIJING).replace(microsecond=0)


def form(content: bytes = JPEG, name: str = "scene-01.jpg", *, with_file: bool = True, **over):
    data = {"sha256": sha(content), "captured_at": moment().isoformat(), "place": "松江区中山中路100号店内",
            "latitude": "31.03", "longitude": "121.22", "description": "货架上的涉嫌侵权运动鞋"}
    if with_file:
        data["file"] = (io.BytesIO(content), name)
    data.update(over)
    return data


def evidence_dir(app) -> Path:
    return Path(app.instance_path) / "uploads" / "evidence"


def stored(app) -> set[str]:
    d = evidence_dir(app)
    return {p.name for p in d.iterdir()} if d.exists() else set()


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audits(action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def add(user, case, content: bytes = JPEG, name: str = "scene-01.jpg", **over) -> Evidence:
    """Store evidence through the operations (as the views do) and commit."""
    data = form(content, name, with_file=False, **over)
    ev = evops.add_evidence(user, case, FileStorage(io.BytesIO(content), filename=name), data)
    evops.commit_or_discard(ev)
    return ev


def custody(ev_id: int) -> list[CustodyEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(CustodyEntry).where(CustodyEntry.evidence_id == ev_id)
                                   .order_by(CustodyEntry.id)))


def evidence_row(html: str, ev_id: int) -> str:
    m = re.search(rf'<tr data-evidence="{ev_id}">(.*?)</tr>', html, re.S)
    assert m, f"evidence {ev_id} not listed"
    return m.group(1)


@pytest.fixture(autouse=True)
def clean_evidence_dir(app):
    """The instance folder lives for the whole session: start and end with no evidence files."""
    shutil.rmtree(evidence_dir(app), ignore_errors=True)
    yield
    shutil.rmtree(evidence_dir(app), ignore_errors=True)


@pytest.fixture()
def officer(app, world, login_as):
    return login_as(app.test_client(), "officer")


@pytest.fixture()
def case(make_case):
    return make_case()


def post(client, case_id, data):
    return client.post(f"/cases/{case_id}/evidence", data=data, content_type="multipart/form-data")


# ----------------------------------------------------------------------------- HTML upload


def test_upload_through_the_case_page(app, officer, case, world):
    captured = moment(45)
    data = form(captured_at=captured.isoformat())
    r = post(officer, case.id, data)
    assert r.status_code == 303, r.text[:2000]
    assert r.headers["Location"].endswith(f"/cases/{case.id}#evidence")

    db.session.rollback()
    [ev] = db.session.scalars(select(Evidence)).all()
    h = sha(JPEG)
    assert (ev.case_id, ev.kind, ev.content_type, ev.size, ev.sha256, ev.filename) == \
        (case.id, "photo", "image/jpeg", len(JPEG), h, "scene-01.jpg")
    assert ev.captured_at == captured.astimezone(dt.timezone.utc)
    assert (ev.latitude, ev.longitude) == (Decimal("31.030000"), Decimal("121.220000"))
    assert (ev.place, ev.description) == ("松江区中山中路100号店内", "货架上的涉嫌侵权运动鞋")
    assert ev.uploaded_by_id == world.officer.id
    assert re.fullmatch(r"[0-9a-f]{32}", ev.stored_name)

    entries = custody(ev.id)
    assert [c.action for c in entries] == ["captured", "received"]
    assert all((c.user_id, c.agency_id) == (world.officer.id, world.amr.id) for c in entries)
    assert entries[0].at == ev.captured_at
    assert entries[0].data == {"place": "松江区中山中路100号店内", "latitude": "31.030000",
                               "longitude": "121.220000", "sha256": h}
    assert entries[1].data == {"sha256": h, "size": len(JPEG), "hash_check": "match"}
    assert entries[1].at == ev.uploaded_at

    # the file, under its generated name, outside the web root, with that hash
    assert stored(app) == {ev.stored_name}
    assert sha((evidence_dir(app) / ev.stored_name).read_bytes()) == h

    [a] = audits("evidence.add")
    assert (a.user_id, a.agency_id, a.object_type, a.object_id) == \
        (world.officer.id, world.amr.id, "evidence", str(ev.id))
    assert a.data == {"case_id": case.id, "sha256": h, "size": len(JPEG)}

    page = officer.get(f"/cases/{case.id}")
    assert page.status_code == 200
    row = evidence_row(page.text, ev.id)
    assert f'<code class="hash">{h}</code>' in row
    assert f'href="/evidence/{ev.id}/download">scene-01.jpg</a>' in row
    assert row.count("<li>") == 2
    assert "31.030000, 121.220000" in row


BAD_INPUTS = [
    ("file", {"with_file": False}),
    ("file", {"file": (io.BytesIO(b""), "")}),  # an empty file input, as browsers send it
    ("file", {"file": (io.BytesIO(b""), "empty.jpg")}),
    ("file", {"file": (io.BytesIO(b"<html><script>alert(1)</script>"), "photo.jpg"),
              "sha256": sha(b"<html><script>alert(1)</script>")}),
    ("sha256", {"sha256": "z" * 64}),
    ("sha256", {"sha256": sha(JPEG)[:63]}),
    ("sha256", {"sha256": sha(JPEG) + "0"}),
    ("sha256", {"sha256": ""}),
    ("captured_at", {"captured_at": "2026-11-20T09:30:00"}),
    ("captured_at", {"captured_at": "future"}),
    ("captured_at", {"captured_at": "20 Nov 2026 9:30"}),
    ("captured_at", {"captured_at": "1999-12-31T23:00:00+08:00"}),
    ("latitude", {"latitude": "91"}),
    ("latitude", {"latitude": "NaN"}),
    ("longitude", {"longitude": "abc"}),
    ("longitude", {"longitude": "-180.5"}),
    ("place", {"place": "店内\x07"}),
]


@pytest.mark.parametrize("field, over", BAD_INPUTS,
                         ids=[f"{f}-{i}" for i, (f, _o) in enumerate(BAD_INPUTS)])
def test_bad_input_keeps_what_was_typed_and_writes_nothing(app, officer, case, field, over):
    over = dict(over)
    if over.get("captured_at") == "future":
        over["captured_at"] = (utcnow() + dt.timedelta(minutes=10)).astimezone(BEIJING) \
            .replace(microsecond=0).isoformat()
    with_file = over.pop("with_file", True)
    data = form(with_file=with_file, **over)
    typed = {k: v for k, v in data.items() if k != "file"}
    r = post(officer, case.id, data)
    assert r.status_code == 422, r.text[:2000]
    html = r.text
    assert re.findall(r'id="([a-z_0-9]+)-error"', html) == [field]
    assert 'class="evidence-form"' in html and "<details open>" in html
    for name in ("sha256", "captured_at", "latitude", "longitude", "place"):
        assert f'name="{name}" type="text" value="{escape(typed[name])}"' in html, name
    assert f">{escape(typed['description'])}</textarea>" in html
    assert count(Evidence) == 0 and count(CustodyEntry) == 0
    assert audits("evidence.add") == []
    assert stored(app) == set()


def test_html_file_with_a_jpg_name_is_refused_with_the_evidence_message(app, officer, case):
    evil = b"<html><script>alert(1)</script>"
    r = post(officer, case.id, form(evil, "photo.jpg"))
    assert r.status_code == 422
    m = re.search(r'<p class="error" id="file-error" role="alert">(.*?)</p>', r.text, re.S)
    assert m and m.group(1) == str(escape(messages.text("evidence_type")))
    assert count(Evidence) == 0 and stored(app) == set()


def test_hash_mismatch_is_refused_and_leaves_no_file(app, officer, case):
    other = sha(b"the bytes the phone hashed")
    r = post(officer, case.id, form(JPEG, sha256=other))
    assert r.status_code == 422
    assert re.findall(r'id="([a-z_0-9]+)-error"', r.text) == ["sha256"]
    m = re.search(r'id="sha256-error" role="alert">(.*?)</p>', r.text, re.S)
    assert m and m.group(1) == str(escape(messages.text("sha256_mismatch", got=sha(JPEG))))
    assert f'name="sha256" type="text" value="{other}"' in r.text
    assert stored(app) == set()
    assert count(Evidence) == 0 and count(CustodyEntry) == 0 and audits("evidence.add") == []


@pytest.mark.parametrize("size", [5_000, 200_000])  # refused in the first chunk / a later one
def test_oversized_upload_is_refused_and_leaves_no_file(app, officer, case, monkeypatch, size):
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 4_096 if size < 10_000 else 100_000)
    big = (JPEG * (size // len(JPEG) + 1))[:size]
    r = post(officer, case.id, form(big, "big.jpg"))
    assert r.status_code == 422
    assert re.findall(r'id="([a-z_0-9]+)-error"', r.text) == ["file"]
    assert stored(app) == set()
    assert count(Evidence) == 0
    # at the limit itself it is accepted
    exact = big[:app.config["EVIDENCE_MAX_BYTES"]]
    assert post(officer, case.id, form(exact, "exact.jpg")).status_code == 303
    assert count(Evidence) == 1 and len(stored(app)) == 1


@pytest.mark.parametrize("name, shown", [("../../etc/passwd.jpg", "passwd.jpg"),
                                         ("./..//uploads/../evil.jpg", "evil.jpg"),
                                         ("/abs/olute/现场.jpg", "现场.jpg")])
def test_path_in_the_filename_is_dropped_and_the_file_stays_inside(app, officer, case, name,
                                                                   shown):
    instance = Path(app.instance_path)
    before = {p for p in instance.parent.rglob("*")}
    r = post(officer, case.id, form(JPEG, name))
    assert r.status_code == 303, r.text[:2000]
    db.session.rollback()
    ev = db.session.scalars(select(Evidence)).one()
    assert ev.filename == shown
    assert re.fullmatch(r"[0-9a-f]{32}", ev.stored_name)
    assert stored(app) == {ev.stored_name}
    new = {p for p in instance.parent.rglob("*")} - before
    assert new <= {evidence_dir(app), evidence_dir(app).parent, evidence_dir(app) / ev.stored_name}
    assert evidence_dir(app) / ev.stored_name in new
    assert not list(instance.parent.rglob(shown))
    page = officer.get(f"/cases/{case.id}").text
    row = evidence_row(page, ev.id)
    assert f">{escape(shown)}</a>" in row
    assert "etc/" not in page and "uploads/" not in page and "olute" not in page
    dl = officer.get(f"/evidence/{ev.id}/download")
    assert dl.headers["Content-Disposition"].startswith("attachment;")
    assert "etc" not in dl.headers["Content-Disposition"]


@pytest.mark.parametrize("content, ctype", [(MP4, "video/mp4"), (MOV, "video/quicktime")])
def test_phone_videos_are_accepted_by_their_ftyp_box(app, officer, case, content, ctype):
    r = post(officer, case.id, form(content, "clip." + ctype.split("/")[1]))
    assert r.status_code == 303, r.text[:2000]
    db.session.rollback()
    ev = db.session.scalars(select(Evidence)).one()
    assert (ev.kind, ev.content_type, ev.size, ev.sha256) == ("video", ctype, len(content),
                                                              sha(content))
    dl = officer.get(f"/evidence/{ev.id}/download")
    assert dl.headers["Content-Type"] == ctype and dl.data == content


def test_pdf_is_a_document(app, world, case):
    ev = add(world.officer, case, PDF, "询问笔录.pdf")
    assert (ev.kind, ev.content_type) == ("document", "application/pdf")


def test_uppercase_hash_is_accepted_and_stored_lowercase(app, world, case):
    ev = add(world.officer, case, JPEG, sha256=sha(JPEG).upper())
    assert ev.sha256 == sha(JPEG)


@pytest.mark.parametrize("brand", [b"heic", b"M4A "])
def test_other_iso_media_brands_are_not_stored_as_mp4_video(app, world, case, brand):
    content = b"\x00\x00\x00\x18ftyp" + brand + b"\x00" * 12 + bytes(range(200)) * 3
    from caseflow.core.errors import InvalidInput

    try:
        ev = add(world.officer, case, content, "IMG_0001.HEIC")
    except InvalidInput as e:  # refused: fine
        db.session.rollback()
        assert set(e.errors) == {"file"}
        return
    assert ev.content_type != "video/mp4" and ev.kind != "video"


# ----------------------------------------------------------------------------- all or nothing


def test_failure_after_the_file_was_stored_leaves_neither_file_nor_row(app, officer, case,
                                                                       monkeypatch):
    from caseflow.core import audit

    calls = []

    def broken(action, **kw):
        calls.append(action)
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError, match="audit log unavailable"):
        post(officer, case.id, form())
    db.session.rollback()
    monkeypatch.undo()
    assert calls == ["evidence.add"]
    assert stored(app) == set()
    assert count(Evidence) == 0 and count(CustodyEntry) == 0


def test_flush_failure_inside_add_evidence_removes_the_file(app, world, case, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from caseflow.core import uploads

    seen = {}
    real_store = uploads.store

    def spy_store(*a, **kw):
        s = real_store(*a, **kw)
        seen["name"] = s.stored_name
        assert (evidence_dir(app) / s.stored_name).exists()
        return s

    def boom(*a, **kw):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(uploads, "store", spy_store)
    monkeypatch.setattr(db.session, "flush", boom)
    with pytest.raises(OperationalError):
        add(world.officer, case)
    monkeypatch.undo()
    db.session.rollback()
    assert seen["name"] and stored(app) == set()
    assert count(Evidence) == 0


def test_commit_or_discard_removes_the_file_when_the_commit_fails(app, world, case, monkeypatch):
    from sqlalchemy.exc import OperationalError

    ev = evops.add_evidence(world.officer, case, FileStorage(io.BytesIO(JPEG), filename="a.jpg"),
                            form(with_file=False))
    name = ev.stored_name
    assert stored(app) == {name}
    real_commit = db.session.commit
    failures = []

    def commit_once_broken():
        if not failures:
            failures.append(1)
            raise OperationalError("COMMIT", {}, Exception("connection lost"))
        return real_commit()

    monkeypatch.setattr(db.session, "commit", commit_once_broken)
    with pytest.raises(OperationalError):
        evops.commit_or_discard(ev)
    monkeypatch.undo()
    assert failures == [1]
    assert stored(app) == set()
    assert count(Evidence) == 0 and count(CustodyEntry) == 0
    # a second attempt works normally
    ev = add(world.officer, case)
    assert stored(app) == {ev.stored_name} and count(Evidence) == 1


def test_a_download_of_a_missing_file_records_no_access(app, officer, world, case):
    ev = add(world.officer, case)
    (evidence_dir(app) / ev.stored_name).unlink()
    assert officer.get(f"/evidence/{ev.id}/download").status_code == 404
    assert [c.action for c in custody(ev.id)] == ["captured", "received"]
    assert audits("evidence.access") == []


# ----------------------------------------------------------------------------- permissions


def test_download_is_an_attachment_with_hash_and_an_access_entry(app, officer, world, case):
    ev = add(world.officer, case, JPEG, "scene-01.jpg")
    for n in (1, 2):
        r = officer.get(f"/evidence/{ev.id}/download")
        assert r.status_code == 200
        assert r.headers["Content-Disposition"] == "attachment; filename=scene-01.jpg"
        assert "inline" not in r.headers["Content-Disposition"]
        assert r.headers["X-Content-SHA256"] == sha(JPEG)
        assert r.headers["Content-Type"] == "image/jpeg"
        assert r.headers["Cache-Control"] == "private, no-store"
        assert r.data == JPEG
        entries = custody(ev.id)
        assert [c.action for c in entries] == ["captured", "received"] + ["accessed"] * n
        assert (entries[-1].user_id, entries[-1].agency_id, entries[-1].data) == \
            (world.officer.id, world.amr.id, {"how": "download"})
        acc = audits("evidence.access")
        assert len(acc) == n
        assert (acc[-1].user_id, acc[-1].object_type, acc[-1].object_id, acc[-1].data) == \
            (world.officer.id, "evidence", str(ev.id), {"case_id": case.id, "how": "download"})
    # the owner's own downloads are no shared reads
    assert audits("case.shared_evidence") == []


def test_download_of_a_chinese_filename_keeps_it_as_attachment(app, officer, world, case):
    ev = add(world.officer, case, JPEG, "现场照片.jpg")
    r = officer.get(f"/evidence/{ev.id}/download")
    cd = r.headers["Content-Disposition"]
    assert cd.startswith("attachment;") and f"filename*=UTF-8''{quote('现场照片.jpg')}" in cd


def test_another_agency_sees_nothing(app, world, case, api_headers, login_as):
    ev = add(world.officer, case)
    other = login_as(app.test_client(), "other")
    assert other.get(f"/evidence/{ev.id}/download").status_code == 404
    assert other.get(f"/cases/{case.id}").status_code == 404
    assert post(other, case.id, form()).status_code == 404
    api = app.test_client()
    h = api_headers(api, "other")
    assert api.get(f"/api/v1/evidence/{ev.id}/content", headers=h).status_code == 404
    assert api.get(f"/api/v1/cases/{case.id}/evidence", headers=h).status_code == 404
    r = api.post(f"/api/v1/cases/{case.id}/evidence", headers=h, data=form(),
                 content_type="multipart/form-data")
    assert r.status_code == 404
    for bad_id in (ev.id + 1000, 2**31, 0):
        assert other.get(f"/evidence/{bad_id}/download").status_code == 404
    assert [c.action for c in custody(ev.id)] == ["captured", "received"]
    assert audits("evidence.access") == []
    assert count(Evidence) == 1 and len(stored(app)) == 1


def test_a_share_without_the_evidence_part_shows_the_case_but_not_its_evidence(app, world, case,
                                                                              api_headers,
                                                                              login_as):
    from caseflow.sharing.operations import grant_share

    ev = add(world.officer, case)
    grant_share(world.officer, case, world.culture.id, "联合执法核查", ["details"], None)
    db.session.commit()
    other = login_as(app.test_client(), "other")
    page = other.get(f"/cases/{case.id}")
    assert page.status_code == 200 and 'id="evidence"' not in page.text
    assert other.get(f"/evidence/{ev.id}/download").status_code == 404
    api = app.test_client()
    h = api_headers(api, "other")
    r = api.get(f"/api/v1/cases/{case.id}/evidence", headers=h)
    assert r.status_code == 200 and r.json == {"items": []}
    assert api.get(f"/api/v1/evidence/{ev.id}/content", headers=h).status_code == 404
    assert [c.action for c in custody(ev.id)] == ["captured", "received"]


def test_users_without_case_roles_get_403(app, world, case, login_as):
    ev = add(world.officer, case)
    auditor = login_as(app.test_client(), "auditor")
    assert auditor.get(f"/evidence/{ev.id}/download").status_code == 403
    assert post(auditor, case.id, form()).status_code == 403
    assert count(Evidence) == 1 and len(stored(app)) == 1
    assert [c.action for c in custody(ev.id)] == ["captured", "received"]


def test_legal_reviewer_downloads_but_cannot_upload(app, world, case, login_as, api_headers):
    ev = add(world.officer, case)
    reviewer = login_as(app.test_client(), "reviewer")
    r = post(reviewer, case.id, form(JPEG2, "x.jpg"))
    assert r.status_code == 403
    assert 'class="evidence-form"' not in r.text
    api = app.test_client()
    h = api_headers(api, "reviewer")
    r = api.post(f"/api/v1/cases/{case.id}/evidence", headers=h, data=form(JPEG2, "x.jpg"),
                 content_type="multipart/form-data")
    assert r.status_code == 403 and r.json["message"] == messages.text("forbidden")
    assert count(Evidence) == 1 and stored(app) == {ev.stored_name}
    page = reviewer.get(f"/cases/{case.id}").text
    assert f'data-evidence="{ev.id}"' in page and 'class="evidence-form"' not in page
    dl = reviewer.get(f"/evidence/{ev.id}/download")
    assert dl.status_code == 200 and dl.data == JPEG
    last = custody(ev.id)[-1]
    assert (last.action, last.user_id) == ("accessed", world.reviewer.id)


@pytest.mark.parametrize("actions", [
    ("terminate",), ("reject",),
    ("accept", "file", "investigate", "notify", "record_statement", "decide_no_penalty", "close")],
    ids=["terminated", "rejected", "closed"])
def test_a_closed_case_refuses_new_evidence(app, world, make_case, drive, officer, api_headers,
                                            actions):
    case = make_case()
    ev = add(world.officer, case)
    drive(case, *actions)
    assert case.state == {"terminate": "terminated", "reject": "rejected",
                          "close": "closed"}[actions[-1]]
    r = post(officer, case.id, form(JPEG2, "late.jpg"))
    assert r.status_code == 403
    api = app.test_client()
    r = api.post(f"/api/v1/cases/{case.id}/evidence", headers=api_headers(api, "officer"),
                 data=form(JPEG2, "late.jpg"), content_type="multipart/form-data")
    assert r.status_code == 403
    assert count(Evidence) == 1 and stored(app) == {ev.stored_name}
    # what is there can still be read
    assert officer.get(f"/evidence/{ev.id}/download").data == JPEG


# ----------------------------------------------------------------------------- referral


@pytest.fixture()
def referred(agencies, make_case, drive, referral_of):
    case = make_case(**OVER)
    drive(case, "accept", "file", "investigate")
    evs = [add(agencies.officer, case, JPEG, "scene-01.jpg"),
           add(agencies.officer, case, MP4, "clip.mp4")]
    return case, referral_of(case), evs


def test_sending_a_referral_hands_the_evidence_over(app, agencies, referred, login_as):
    from caseflow.sharing.operations import reads_of

    case, r, evs = referred
    cop = login_as(app.test_client(), "cop")
    for ev in evs:
        assert cop.get(f"/evidence/{ev.id}/download").status_code == 404
    step(agencies.officer, r, "submit")
    step(agencies.approver, r, "approve")
    for ev in evs:  # not before it is sent
        assert cop.get(f"/evidence/{ev.id}/download").status_code == 404
        assert [c.action for c in custody(ev.id)] == ["captured", "received"]
    step(agencies.officer, r, "send")

    for ev in evs:
        entries = custody(ev.id)
        assert [c.action for c in entries] == ["captured", "received", "handed_over",
                                               "handed_over"]
        h, copy = entries[-2], entries[-1]
        assert (h.user_id, h.agency_id) == (agencies.officer.id, agencies.amr.id)
        assert h.data == {"to_agency_id": agencies.police.id, "sha256": ev.sha256,
                          "referral_id": r.id}
        # the procuratorate receives its copy of the referral (检察监督)
        assert copy.data == {"to_agency_id": agencies.proc.id, "sha256": ev.sha256,
                             "referral_id": r.id, "copy": True}

    ev = evs[0]
    dl = cop.get(f"/evidence/{ev.id}/download")
    assert dl.status_code == 200 and dl.data == JPEG
    assert dl.headers["X-Content-SHA256"] == sha(JPEG)
    last = custody(ev.id)[-1]
    assert (last.action, last.user_id, last.agency_id, last.data) == \
        ("accessed", agencies.cop.id, agencies.police.id, {"how": "download"})
    reads = [a for a in reads_of(case) if a.action == "case.shared_evidence"]
    assert len(reads) == 1
    assert (reads[0].user_id, reads[0].agency_id, reads[0].data) == \
        (agencies.cop.id, agencies.police.id, {"owner_agency_id": agencies.amr.id})
    page = cop.get(f"/cases/{case.id}").text
    assert f'data-evidence="{ev.id}"' in page and 'class="evidence-form"' not in page
    # another police agency still sees nothing
    cop2 = login_as(app.test_client(), "cop2")
    assert cop2.get(f"/evidence/{ev.id}/download").status_code == 404


def test_forwarding_hands_the_evidence_over_again(app, agencies, referred, login_as):
    case, r, evs = referred
    for user, action in ((agencies.officer, "submit"), (agencies.approver, "approve"),
                         (agencies.officer, "send"), (agencies.cop, "receive")):
        step(user, r, action)
    step(agencies.cop, r, "forward", reason="不属本局管辖", police_agency_id=agencies.police2.id)
    for ev in evs:
        last = custody(ev.id)[-1]
        assert (last.action, last.user_id, last.agency_id) == \
            ("handed_over", agencies.cop.id, agencies.police.id)
        assert last.data == {"to_agency_id": agencies.police2.id, "sha256": ev.sha256,
                             "referral_id": r.id, "forwarded": True}
    cop2 = login_as(app.test_client(), "cop2")
    assert cop2.get(f"/evidence/{evs[1].id}/download").data == MP4
    cop = login_as(app.test_client(), "cop")
    assert cop.get(f"/evidence/{evs[1].id}/download").status_code == 404


# ----------------------------------------------------------------------------- API

EVIDENCE_KEYS = {"id", "case_id", "kind", "filename", "content_type", "size", "sha256",
                 "captured_at", "latitude", "longitude", "place", "description", "uploaded_by",
                 "uploaded_at", "custody"}


def z(moment_: dt.datetime) -> str:
    return moment_.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture()
def api(app, world, api_headers):
    client = app.test_client()
    return client, api_headers(client, "officer")


def multipart(fields: dict, content: bytes, name: str, boundary: str = "caseflow-test-boundary"):
    """A fixed multipart body, as a field app sends it again after a lost answer."""
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                     .encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode() + content
                 + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_api_upload_returns_evidence_out(app, api, world, case):
    client, h = api
    captured = moment(30)
    r = client.post(f"/api/v1/cases/{case.id}/evidence", headers=h, content_type="multipart/form-data",
                    data=form(JPEG, "scene-01.jpg", captured_at=captured.isoformat()))
    assert r.status_code == 201, r.text
    out = r.json
    db.session.rollback()
    ev = db.session.scalars(select(Evidence)).one()
    assert set(out) == EVIDENCE_KEYS
    assert {k: v for k, v in out.items() if k not in ("custody", "uploaded_at")} == {
        "id": ev.id, "case_id": case.id, "kind": "photo", "filename": "scene-01.jpg",
        "content_type": "image/jpeg", "size": len(JPEG), "sha256": sha(JPEG),
        "captured_at": z(captured), "latitude": "31.030000", "longitude": "121.220000",
        "place": "松江区中山中路100号店内", "description": "货架上的涉嫌侵权运动鞋",
        "uploaded_by": "officer"}
    assert dt.datetime.fromisoformat(out["uploaded_at"]) == ev.uploaded_at
    assert out["custody"] == [
        {"at": z(captured), "action": "captured", "agency": AMR_NAME, "user": "officer",
         "data": {"place": "松江区中山中路100号店内", "latitude": "31.030000",
                  "longitude": "121.220000", "sha256": sha(JPEG)}},
        {"at": out["uploaded_at"], "action": "received", "agency": AMR_NAME, "user": "officer",
         "data": {"sha256": sha(JPEG), "size": len(JPEG), "hash_check": "match"}}]
    assert stored(app) == {ev.stored_name}
    assert len(audits("evidence.add")) == 1


def test_api_upload_without_coordinates(app, api, case):
    client, h = api
    r = client.post(f"/api/v1/cases/{case.id}/evidence", headers=h, content_type="multipart/form-data",
                    data=form(PDF, "笔录.pdf", latitude="", longitude="", place="", description=""))
    assert r.status_code == 201, r.text
    out = r.json
    assert (out["kind"], out["latitude"], out["longitude"], out["place"]) == \
        ("document", None, None, "")
    assert out["custody"][0]["data"] == {"place": "", "latitude": None, "longitude": None,
                                         "sha256": sha(PDF)}


def test_api_idempotent_upload_replayed_20_times(app, api, case):
    client, h = api
    headers = {**h, "Idempotency-Key": str(uuid.uuid4())}
    fields = form(with_file=False)
    body, ctype = multipart(fields, JPEG, "scene-01.jpg")
    first = client.post(f"/api/v1/cases/{case.id}/evidence", headers=headers, data=body,
                        content_type=ctype)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    replays = [client.post(f"/api/v1/cases/{case.id}/evidence", headers=headers, data=body,
                           content_type=ctype) for _ in range(20)]
    assert {r.status_code for r in replays} == {201}
    assert {r.data for r in replays} == {first.data}
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in replays)
    assert count(Evidence) == 1 and count(CustodyEntry) == 2 and count(IdempotencyKey) == 1
    assert len(stored(app)) == 1 and len(audits("evidence.add")) == 1
    # the same key with another file is refused, and nothing is stored
    body2, ctype2 = multipart({**fields, "sha256": sha(JPEG2)}, JPEG2, "scene-02.jpg")
    r = client.post(f"/api/v1/cases/{case.id}/evidence", headers=headers, data=body2,
                    content_type=ctype2)
    assert r.status_code == 422 and set(r.json["errors"]) == {"Idempotency-Key"}
    assert count(Evidence) == 1 and len(stored(app)) == 1


def test_api_idempotent_retry_with_a_new_multipart_boundary_replays(app, api, case):
    client, h = api
    headers = {**h, "Idempotency-Key": str(uuid.uuid4())}
    fields = form(with_file=False)
    answers = []
    for boundary in ("boundary-first-attempt", "boundary-after-lost-answer"):
        body, ctype = multipart(fields, JPEG, "scene-01.jpg", boundary)
        answers.append(client.post(f"/api/v1/cases/{case.id}/evidence", headers=headers,
                                   data=body, content_type=ctype))
    assert answers[0].status_code == 201
    assert answers[1].status_code == 201, answers[1].text
    assert answers[1].data == answers[0].data
    assert count(Evidence) == 1


def test_api_hash_mismatch_is_422_and_stores_nothing(app, api, case):
    client, h = api
    headers = {**h, "Idempotency-Key": "retry-me-1"}
    data = form(JPEG, sha256=sha(b"what the phone hashed"))
    r = client.post(f"/api/v1/cases/{case.id}/evidence", headers=headers, data=data,
                    content_type="multipart/form-data")
    assert r.status_code == 422
    assert r.json["errors"] == {"sha256": messages.text("sha256_mismatch", got=sha(JPEG))}
    assert stored(app) == set()
    assert count(Evidence) == 0 and count(IdempotencyKey) == 0
    # a corrected retry with the same key goes ahead (the failure was not stored)
    r = client.post(f"/api/v1/cases/{case.id}/evidence", headers=headers, data=form(JPEG),
                    content_type="multipart/form-data")
    assert r.status_code == 201 and count(Evidence) == 1


def test_api_validation_errors_by_field(app, api, case):
    client, h = api
    data = form(with_file=False, sha256="nothex", captured_at="2026-11-20T09:30:00",
                latitude="91", longitude="abc")
    r = client.post(f"/api/v1/cases/{case.id}/evidence", headers=h, data=data,
                    content_type="multipart/form-data")
    assert r.status_code == 422
    assert r.json["errors"] == {
        "sha256": messages.text("sha256_invalid"),
        "captured_at": messages.text("datetime_offset"),
        "latitude": messages.text("coordinate_invalid", limit=90),
        "longitude": messages.text("coordinate_invalid", limit=180),
        "file": messages.text("field_required")}
    assert count(Evidence) == 0 and stored(app) == set()


def test_api_upload_needs_a_token(app, case):
    client = app.test_client()
    r = client.post(f"/api/v1/cases/{case.id}/evidence", data=form(),
                    content_type="multipart/form-data")
    assert r.status_code == 401
    assert count(Evidence) == 0 and stored(app) == set()


def test_api_list_and_content(app, api, world, case):
    client, h = api
    ev1 = add(world.officer, case, JPEG, "a.jpg")
    ev2 = add(world.officer, case, MOV, "b.mov")
    r = client.get(f"/api/v1/cases/{case.id}/evidence", headers=h)
    assert r.status_code == 200
    items = r.json["items"]
    assert [(i["id"], i["kind"], i["content_type"], i["sha256"]) for i in items] == [
        (ev1.id, "photo", "image/jpeg", sha(JPEG)), (ev2.id, "video", "video/quicktime", sha(MOV))]
    assert [[c["action"] for c in i["custody"]] for i in items] == [["captured", "received"]] * 2

    c = client.get(f"/api/v1/evidence/{ev2.id}/content", headers=h)
    assert c.status_code == 200 and c.data == MOV
    assert c.headers["Content-Disposition"] == "attachment; filename=b.mov"
    assert c.headers["X-Content-SHA256"] == sha(MOV)
    items = client.get(f"/api/v1/cases/{case.id}/evidence", headers=h).json["items"]
    assert [c["action"] for c in items[1]["custody"]] == ["captured", "received", "accessed"]
    assert items[1]["custody"][-1]["data"] == {"how": "api"}
    assert items[1]["custody"][-1]["user"] == "officer"
    assert [c["action"] for c in items[0]["custody"]] == ["captured", "received"]
    [a] = audits("evidence.access")
    assert (a.object_id, a.data) == (str(ev2.id), {"case_id": case.id, "how": "api"})
    assert client.get(f"/api/v1/evidence/{ev2.id + 100}/content", headers=h).status_code == 404
    assert client.get(f"/api/v1/evidence/{ev2.id}/content").status_code == 401


def test_api_police_read_after_the_referral(app, agencies, referred, api_headers):
    case, r, evs = referred
    client = app.test_client()
    h = api_headers(client, "cop")
    assert client.get(f"/api/v1/cases/{case.id}/evidence", headers=h).status_code == 404
    for user, action in ((agencies.officer, "submit"), (agencies.approver, "approve"),
                         (agencies.officer, "send")):
        step(user, r, action)
    items = client.get(f"/api/v1/cases/{case.id}/evidence", headers=h).json["items"]
    assert [i["id"] for i in items] == [e.id for e in evs]
    assert all([(c["action"], c["data"].get("to_agency_id")) for c in i["custody"][-2:]]
               == [("handed_over", agencies.police.id), ("handed_over", agencies.proc.id)]
               for i in items)
    c = client.get(f"/api/v1/evidence/{evs[1].id}/content", headers=h)
    assert c.status_code == 200 and c.data == MP4
    last = custody(evs[1].id)[-1]
    assert (last.action, last.agency_id, last.data) == ("accessed", agencies.police.id,
                                                        {"how": "api"})
    assert len(audits("case.shared_evidence")) == 1


# ----------------------------------------------------------------------------- CLI


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["caseflow", *args])


def test_cli_verify(app, world, case):
    r = invoke(app, "evidence", "verify")
    assert r.exit_code == 0, r.output
    assert "0 evidence files checked, 0 problems" in r.output

    ev1 = add(world.officer, case, JPEG, "a.jpg")
    ev2 = add(world.officer, case, MP4, "b.mp4")
    ev3 = add(world.officer, case, PDF, "c.pdf")
    r = invoke(app, "evidence", "verify")
    assert r.exit_code == 0, r.output
    assert "3 evidence files checked, 0 problems" in r.output
    assert "mismatch" not in r.output and "missing" not in r.output

    tampered = JPEG[:-1] + b"\x00"
    (evidence_dir(app) / ev1.stored_name).write_bytes(tampered)
    r = invoke(app, "evidence", "verify")
    assert r.exit_code == 1
    assert f"evidence {ev1.id}: mismatch {sha(tampered)}" in r.output
    assert "3 evidence files checked, 1 problems" in r.output

    (evidence_dir(app) / ev2.stored_name).unlink()
    r = invoke(app, "evidence", "verify")
    assert r.exit_code == 1
    assert f"evidence {ev1.id}: mismatch {sha(tampered)}" in r.output
    assert f"evidence {ev2.id}: missing" in r.output
    assert f"evidence {ev3.id}" not in r.output
    assert "3 evidence files checked, 2 problems" in r.output


# ----------------------------------------------------------------------------- OpenAPI


def _resolve(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root["components"]["schemas"][name]
    return schema


def _validate(value, schema: dict, root: dict, path: str = "$") -> list[str]:
    """A small JSON-Schema check (type, anyOf, required, properties, items, pattern) — the
    project's .venv has no jsonschema."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        if any(not _validate(value, s, root, path) for s in schema["anyOf"]):
            return []
        return [f"{path}: {value!r} matches no anyOf branch"]
    errors = []
    types = {"integer": int, "string": str, "object": dict, "array": list, "boolean": bool,
             "null": type(None), "number": (int, float)}
    t = schema.get("type")
    if t is not None:
        ok = isinstance(value, types[t]) and not (t in ("integer", "number")
                                                  and isinstance(value, bool))
        if not ok:
            return [f"{path}: {value!r} is not {t}"]
    if t == "string" and schema.get("format") == "date-time":
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            errors.append(f"{path}: {value!r} is not date-time")
    if t == "string" and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if t == "object":
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key}")
        props = schema.get("properties", {})
        for key, v in value.items():
            if key in props:
                errors += _validate(v, props[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {key}")
    if t == "array" and "items" in schema:
        for i, v in enumerate(value):
            errors += _validate(v, schema["items"], root, f"{path}[{i}]")
    return errors


def test_openapi_describes_the_evidence_endpoints(app, api, world, case):
    client, h = api
    spec = client.get("/api/v1/openapi.json").json
    ev_path = spec["paths"]["/cases/{id}/evidence"]
    assert set(ev_path) == {"get", "post"}
    body = ev_path["post"]["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    assert body["multipart/form-data"]["schema"]["required"] == ["file", "sha256", "captured_at"]
    assert set(body["multipart/form-data"]["schema"]["properties"]) == {
        "file", "sha256", "captured_at", "latitude", "longitude", "place", "description"}
    assert ev_path["post"]["responses"]["201"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/EvidenceOut"}
    assert "Idempotency-Key" in [p["name"] for p in ev_path["post"]["parameters"]]
    assert ev_path["get"]["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/EvidenceListOut"}
    content = spec["paths"]["/evidence/{id}/content"]
    assert set(content) == {"get"}
    assert "application/octet-stream" in content["get"]["responses"]["200"]["content"]

    out_schema = spec["components"]["schemas"]["EvidenceOut"]
    assert set(out_schema["required"]) == EVIDENCE_KEYS

    r = client.post(f"/api/v1/cases/{case.id}/evidence", headers=h, data=form(),
                    content_type="multipart/form-data")
    assert r.status_code == 201
    assert set(r.json) == set(out_schema["properties"])
    assert _validate(r.json, {"$ref": "#/components/schemas/EvidenceOut"}, spec) == []
    r2 = client.post(f"/api/v1/cases/{case.id}/evidence", headers=h, content_type="multipart/form-data",
                     data=form(MP4, "v.mp4", latitude="", longitude=""))
    assert _validate(r2.json, {"$ref": "#/components/schemas/EvidenceOut"}, spec) == []
    listing = client.get(f"/api/v1/cases/{case.id}/evidence", headers=h).json
    assert _validate(listing, {"$ref": "#/components/schemas/EvidenceListOut"}, spec) == []
    assert len(listing["items"]) == 2
    # the validator itself catches a wrong shape
    broken = {**r.json, "size": "12"}
    del broken["sha256"]
    assert len(_validate(broken, {"$ref": "#/components/schemas/EvidenceOut"}, spec)) == 2
    # the multipart schema's hash pattern accepts the API's sha256
    assert re.search(body["multipart/form-data"]["schema"]["properties"]["sha256"]["pattern"],
                     r.json["sha256"])
