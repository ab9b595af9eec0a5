"""The publication list (PDF) as a job: started in the request, rendered by the scheduler
process's job function, downloaded later by the agency's publishers."""
import datetime as dt
import hashlib
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from caseflow.core.audit import AuditEvent
from caseflow.extensions import db
from caseflow.penalties import operations as ops
from caseflow.penalties.models import ExportBatch, ExportJob
from tests.penalties.test_export_csv_sql import AGENCY_CODE, ORG, PERSON, _cases, _decision

D = dt.date


@pytest.fixture()
def listed(world, make_user):
    publisher = make_user(world.amr, "publisher", ["publisher"])
    make_user(world.culture, "publisher2", ["publisher"])
    world.amr.credit_code = AGENCY_CODE
    rows = [dict(ORG, subject_name="上海某某商行", fine_amount=Decimal("20000"), decision_date=D(2026, 6, 1)),
            dict(PERSON, subject_name="张三丰", decision_date=D(2026, 6, 2)),
            dict(ORG, subject_name="松江区早先公司", decision_date=D(2025, 3, 1)),
            dict(ORG, subject_name="仅警告公司", categories=["警告"], fine_amount=Decimal(0),
                 decision_date=D(2026, 6, 3))]
    for i, (fields, case_id) in enumerate(zip(rows, _cases(world.amr, world.officer, len(rows)))):
        db.session.add(_decision(i, case_id, world.amr, world.officer, fields))
    db.session.commit()
    return publisher


def _actions():
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "list.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True,
                         check=True).stdout
    return "".join(out.split())


def test_start_run_download(app, listed, login_as, tmp_path):
    pub = login_as(app.test_client(), "publisher")
    page = pub.get("/publications/")
    assert 'id="pdf-job"' in page.text and 'name="csrf_token"' in page.text
    r = pub.post("/publications/export-jobs", data={"from": "2026-01-01", "to": "2026-12-31"})
    assert r.status_code == 302
    job = db.session.scalar(select(ExportJob))
    assert job.state == "queued" and job.filters == {"from": "2026-01-01", "to": "2026-12-31"}
    assert "publication.pdf_job_start" in _actions()
    assert f'data-job="{job.id}" data-state="queued"' in pub.get("/publications/").text
    # not ready yet
    assert pub.get(f"/publications/export-jobs/{job.id}/download").status_code == 409
    # the scheduler's pass renders it (the web process never does)
    assert ops.run_export_jobs("test-worker") == 1
    assert ops.run_export_jobs("test-worker") == 0
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert job.state == "done" and job.row_count == 2 and job.worker == "test-worker"
    stored = Path(app.instance_path) / "uploads" / "exports" / job.file_name
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == job.sha256
    batch = db.session.get(ExportBatch, job.batch_id)
    assert batch.kind == "pdf" and batch.row_count == 2 and batch.sha256 == job.sha256
    page = pub.get("/publications/").text
    assert f'data-job="{job.id}" data-state="done"' in page and job.sha256 in page
    r = pub.get(f"/publications/export-jobs/{job.id}/download")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "attachment" in r.headers["Content-Disposition"]
    data = r.get_data()
    assert hashlib.sha256(data).hexdigest() == job.sha256
    text = _pdf_text(data, tmp_path)
    assert "行政处罚信息公示清单" in text and "上海某某商行" in text and "沪市监测处罚〔2026〕0号" in text
    assert "张**" in text and "张三丰" not in text  # natural persons by surname only
    assert "松江区早先公司" not in text and "仅警告公司" not in text  # outside the period / unpublished
    assert _actions().count("publication.pdf_job_download") == 1
    fonts = subprocess.run(["pdffonts", str(tmp_path / "list.pdf")], capture_output=True,
                           text=True).stdout
    assert "CJK" in fonts


def test_only_the_agencys_publishers(app, listed, login_as, world):
    job = ops.start_pdf_list(listed, None, None)
    db.session.commit()
    ops.run_export_jobs("w")
    officer = login_as(app.test_client(), "officer")
    assert officer.post("/publications/export-jobs", data={}).status_code == 403
    assert officer.get(f"/publications/export-jobs/{job.id}/download").status_code == 403
    assert f'data-job="{job.id}"' not in officer.get("/publications/").text
    other = login_as(app.test_client(), "publisher2")  # a publisher of another agency
    assert other.get(f"/publications/export-jobs/{job.id}/download").status_code == 404
    assert f'data-job="{job.id}"' not in other.get("/publications/").text
    assert other.get("/publications/export-jobs/999999/download").status_code == 404
    assert "publication.pdf_job_download" not in _actions()
    assert db.session.scalar(select(func.count()).select_from(ExportJob)) == 1


def test_failure_is_kept_with_its_message(app, listed, login_as, monkeypatch):
    from caseflow.core.pdf import PdfFontError

    pub = login_as(app.test_client(), "publisher")
    assert pub.post("/publications/export-jobs", data={}).status_code == 302

    def broken(*a, **k):
        raise PdfFontError("No Chinese (CJK) font is installed: install fonts-noto-cjk.")

    monkeypatch.setattr(ops, "render_pdf_list", broken)
    ops.run_export_jobs("w")
    db.session.expire_all()
    job = db.session.scalar(select(ExportJob))
    assert job.state == "failed" and "fonts-noto-cjk" in job.error and job.file_name is None
    assert db.session.scalar(select(func.count()).select_from(ExportBatch)) == 0
    page = pub.get("/publications/").text
    assert f'data-job="{job.id}" data-state="failed"' in page and "fonts-noto-cjk" in page
    assert pub.get(f"/publications/export-jobs/{job.id}/download").status_code == 409
    assert "publication.pdf_job_failed" in _actions()


def test_bad_dates_keep_what_was_typed(app, listed, login_as):
    pub = login_as(app.test_client(), "publisher")
    r = pub.post("/publications/export-jobs", data={"from": "2026-13-01", "to": "昨天"})
    assert r.status_code == 422
    assert 'value="2026-13-01"' in r.text and 'value="昨天"' in r.text
    assert 'id="pdf_job-from-error"' in r.text and 'id="pdf_job-to-error"' in r.text
    r = pub.post("/publications/export-jobs", data={"from": "2026-06-02", "to": "2026-06-01"})
    assert r.status_code == 422 and 'id="pdf_job-to-error"' in r.text
    assert 'value="2026-06-02"' in r.text
    assert db.session.scalar(select(func.count()).select_from(ExportJob)) == 0


def test_a_changed_file_is_not_served(app, listed, login_as):
    job = ops.start_pdf_list(listed, None, None)
    db.session.commit()
    ops.run_export_jobs("w")
    db.session.refresh(job)
    ops.job_path(job).write_bytes(b"%PDF-1.7 tampered")
    pub = login_as(app.test_client(), "publisher")
    assert pub.get(f"/publications/export-jobs/{job.id}/download").status_code == 409


def test_a_job_cut_off_is_marked_failed(app, listed):
    from caseflow.core.timeutil import utcnow

    job = ops.start_pdf_list(listed, None, None)
    job.state, job.started_at = "running", utcnow() - dt.timedelta(hours=2)
    db.session.commit()
    assert ops.run_export_jobs("w") == 0
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert job.state == "failed" and job.error


def test_the_scheduler_runs_export_jobs(app):
    from caseflow.reminders.scheduler import EXPORT_JOB_ID, build_scheduler

    job = build_scheduler(app, worker="host:1").get_job(EXPORT_JOB_ID)
    assert job is not None and job.max_instances == 1
