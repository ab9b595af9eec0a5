"""Referral files: upload checks, access, the dossier PDF and the manifest CSV."""
import csv
import hashlib
import io
import subprocess

import pytest
from sqlalchemy import func, select

from caseflow.core.audit import AuditEvent
from caseflow.extensions import db
from caseflow.referrals import operations as rops
from caseflow.referrals.models import ReferralDocument
from tests.referrals.conftest import step

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture()
def prepared(app, agencies, make_case, drive, referral_of, login_as):
    case = make_case(amounts={"sales_amount": "60000"})
    drive(case, "accept", "file", "investigate")
    referral = referral_of(case)
    officer = login_as(app.test_client(), "officer")
    return case, referral, officer


def upload(client, referral, data, name="移送书.pdf", item="transfer_letter"):
    return client.post(f"/referrals/{referral.id}/documents",
                       data={"item": item, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def stored_files(app) -> set:
    from pathlib import Path

    folder = Path(app.instance_path) / "uploads" / "referrals"
    return set(folder.iterdir()) if folder.exists() else set()


def test_upload_checks_content_size_and_keeps_hash(app, prepared):
    case, referral, officer = prepared
    before = stored_files(app)  # other tests of this worker may have stored files
    r = upload(officer, referral, b"<html><script>alert(1)</script></html>", "evil.pdf")
    assert r.status_code == 422 and 'id="file-error"' in r.text
    r = upload(officer, referral, b"", "empty.pdf")
    assert r.status_code == 422
    app.config["UPLOAD_MAX_BYTES"] = 100
    try:
        r = upload(officer, referral, PDF + b"x" * 200)
        assert r.status_code == 422 and 'id="file-error"' in r.text
    finally:
        app.config["UPLOAD_MAX_BYTES"] = 20 * 1024 * 1024
    assert db.session.scalar(select(func.count()).select_from(ReferralDocument)) == 0
    assert stored_files(app) == before  # refused files are not kept
    r = upload(officer, referral, PDF, "../../etc/移送书.pdf")
    assert r.status_code == 302
    doc = db.session.scalar(select(ReferralDocument))
    assert doc.sha256 == hashlib.sha256(PDF).hexdigest() and doc.filename == "移送书.pdf"
    assert doc.content_type == "application/pdf"
    r = officer.get(f"/referrals/{referral.id}/documents/{doc.id}")
    assert r.status_code == 200 and r.data == PDF
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_files_follow_the_referral_visibility(app, prepared, agencies, login_as):
    case, referral, officer = prepared
    assert upload(officer, referral, PNG, "现场照片.png", "other_materials").status_code == 302
    doc = db.session.scalar(select(ReferralDocument))
    cop = login_as(app.test_client(), "cop")
    assert cop.get(f"/referrals/{referral.id}/documents/{doc.id}").status_code == 404
    for user, action in ((agencies.officer, "submit"), (agencies.approver, "approve"),
                         (agencies.officer, "send")):
        step(user, referral, action)
    assert cop.get(f"/referrals/{referral.id}/documents/{doc.id}").status_code == 200
    other = login_as(app.test_client(), "cop2")
    assert other.get(f"/referrals/{referral.id}/documents/{doc.id}").status_code == 404
    assert other.get(f"/referrals/{referral.id}/dossier.pdf").status_code == 404
    assert other.get(f"/referrals/{referral.id}/manifest.csv").status_code == 404
    # the owner sees that the police downloaded it
    n = db.session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "case.shared_export"))
    assert n == 1
    # files can no longer be added once sent
    assert upload(officer, referral, PDF).status_code == 409


def test_dossier_pdf_and_manifest_csv(app, prepared, tmp_path):
    case, referral, officer = prepared
    upload(officer, referral, PDF, "涉嫌犯罪案件移送书.pdf")
    upload(officer, referral, PNG, "=cmd|calc.png", "items_list")
    r = officer.get(f"/referrals/{referral.id}/manifest.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "材料类别", "文件名", "大小（字节）", "SHA-256", "上传时间", "上传人"]
    assert rows[1][2] == "涉嫌犯罪案件移送书.pdf" and rows[1][4] == hashlib.sha256(PDF).hexdigest()
    assert rows[2][2] == "'=cmd|calc.png"  # no formula injection
    r = officer.get(f"/referrals/{referral.id}/dossier.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    pdf = tmp_path / "dossier.pdf"
    pdf.write_bytes(r.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    flat = "".join(text.split())
    assert "涉嫌犯罪案件移送案卷" in flat
    assert hashlib.sha256(PDF).hexdigest() in flat and hashlib.sha256(PNG).hexdigest() in flat
    assert "上海某某商行" in flat and "销售假冒注册商标的商品罪" in flat


def test_dossier_lists_evidence_with_hash_capture_and_custody(app, prepared):
    from caseflow.evidence.operations import add_evidence
    from werkzeug.datastructures import FileStorage

    case, referral, officer = prepared
    ev = add_evidence(referral.case.officers[0], case, FileStorage(io.BytesIO(PNG), filename="现场.png"),
                      {"sha256": hashlib.sha256(PNG).hexdigest(),
                       "captured_at": "2026-01-05T09:30:00+08:00", "place": "松江区中山中路100号"})
    db.session.commit()
    r = officer.get(f"/referrals/{referral.id}/dossier.pdf")
    assert r.status_code == 200
    text = subprocess.run(["pdftotext", "-", "-"], input=r.data, capture_output=True,
                          check=True).stdout.decode()
    flat = "".join(text.split())
    assert "证据及保管链" in flat and "现场.png" in flat and "松江区中山中路100号" in flat
    assert ev.sha256 in flat and "设备采集" in flat and "接收并核验哈希" in flat
