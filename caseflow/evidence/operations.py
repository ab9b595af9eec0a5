"""Evidence with chain of custody (SPEC §9.4, §9.7).

A file arrives with the SHA-256 the device computed when it was captured, the capture time
(with its offset) and place. The server hashes the bytes as it stores them and refuses a
mismatch; files are checked by content (photos, PDFs, phone videos), limited in size, stored
under generated names outside the web root and only ever served as downloads to users who
see the case's evidence. Every later access and every hand-over is a custody entry.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from caseflow.accounts.models import Role
from caseflow.cases import messages
from caseflow.cases.models import Case
from caseflow.cases.rules import OPEN_STATES, State
from caseflow.core import audit
from caseflow.core.errors import InvalidInput, NotFound, PermissionDenied
from caseflow.core.timeutil import utcnow
from caseflow.evidence import rules as r
from caseflow.evidence.models import CustodyEntry, Evidence
from caseflow.extensions import db

UPLOAD_KIND = "evidence"


def sees_evidence(user, case: Case) -> bool:
    from caseflow.sharing.operations import visible_parts

    return "evidence" in visible_parts(user, case)


def can_add(user, case: Case) -> bool:
    return (case.owner_agency_id == user.agency_id and State(case.state) in OPEN_STATES
            and user.has_role(Role.INSPECTOR, Role.CASE_OFFICER))


def _custody(ev: Evidence, user, action: str, at: dt.datetime | None = None, **data):
    ev.custody.append(CustodyEntry(user_id=user.id, agency_id=user.agency_id, action=action,
                                   at=at or utcnow(), data=data))


def _fields(data: dict, now: dt.datetime) -> tuple[dict, dict]:
    errors: dict = {}
    out: dict = {}
    declared = r.parse_sha256(data.get("sha256"))
    if declared is None:
        errors["sha256"] = messages.text("sha256_invalid")
    out["declared"] = declared
    out["captured_at"], code = r.parse_captured_at(data.get("captured_at"), now)
    if code:
        errors["captured_at"] = messages.text(code)
    for name, limit in (("latitude", 90), ("longitude", 180)):
        out[name], ok = r.parse_coordinate(data.get(name), limit)
        if not ok:
            errors[name] = messages.text("coordinate_invalid", limit=limit)
    for name, max_len in (("place", 300), ("description", 2000)):
        value = str(data.get(name) or "").strip()
        if len(value) > max_len:
            errors[name] = messages.text("string_too_long", max_length=max_len)
        elif any(ord(c) < 32 and c not in "\r\n\t" for c in value):
            errors[name] = messages.text("control_characters")
        out[name] = value
    return out, errors


def add_evidence(user, case: Case, file_storage, data: dict) -> Evidence:
    """Store one evidence file. The file is written first and removed again if anything
    after it fails, so there is never a file without its record nor a record without its
    file; the caller commits (see :func:`commit_or_discard`)."""
    from caseflow.core.uploads import UploadError, display_name, path_of, store

    if not can_add(user, case):
        raise PermissionDenied(messages.text("forbidden"))
    now = utcnow()
    fields, errors = _fields(data, now)
    if file_storage is None or not getattr(file_storage, "filename", ""):
        errors["file"] = messages.text("field_required")
    if errors:
        raise InvalidInput(errors)
    limit = current_app.config["EVIDENCE_MAX_BYTES"]
    try:
        stored = store(file_storage.stream, UPLOAD_KIND, video=True, limit=limit)
    except UploadError as e:
        code = "evidence_type" if e.code == "upload_type" else e.code
        raise InvalidInput({"file": messages.text(code, **e.params)}) from e
    try:
        if stored.sha256 != fields["declared"]:
            raise InvalidInput({"sha256": messages.text("sha256_mismatch", got=stored.sha256)})
        ev = Evidence(case_id=case.id, kind=r.kind_of(stored.content_type),
                      filename=display_name(file_storage.filename), stored_name=stored.stored_name,
                      content_type=stored.content_type, size=stored.size, sha256=stored.sha256,
                      captured_at=fields["captured_at"], latitude=fields["latitude"],
                      longitude=fields["longitude"], place=fields["place"],
                      description=fields["description"], uploaded_by_id=user.id, uploaded_at=now)
        ev.custody = []
        _custody(ev, user, "captured", at=fields["captured_at"], place=fields["place"],
                 latitude=str(fields["latitude"]) if fields["latitude"] is not None else None,
                 longitude=str(fields["longitude"]) if fields["longitude"] is not None else None,
                 sha256=fields["declared"])
        _custody(ev, user, "received", at=now, sha256=stored.sha256, size=stored.size,
                 hash_check="match")
        db.session.add(ev)
        db.session.flush()
        for grant in _referral_grants(case):  # the case is with the police already
            _custody(ev, user, "handed_over", at=now, to_agency_id=grant.agency_id,
                     sha256=stored.sha256, referral_id=grant.referral_id)
        audit.record("evidence.add", user=user, obj_type="evidence", obj_id=ev.id,
                     case_id=case.id, sha256=stored.sha256, size=stored.size)
    except BaseException:
        path_of(UPLOAD_KIND, stored.stored_name).unlink(missing_ok=True)
        raise
    return ev


def commit_or_discard(ev: Evidence) -> None:
    """Commit; if the commit fails, remove the stored file so nothing is left half-written."""
    from caseflow.core.uploads import path_of

    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path_of(UPLOAD_KIND, ev.stored_name).unlink(missing_ok=True)
        raise


def evidence_of(user, case: Case) -> list[Evidence]:
    if not sees_evidence(user, case):
        return []
    return list(db.session.scalars(select(Evidence).where(Evidence.case_id == case.id)
                                   .order_by(Evidence.id)))


def get_evidence(user, evidence_id: int) -> Evidence:
    """The evidence if the user sees its case and the case's evidence, else NotFound."""
    from caseflow.cases.operations import get_case

    ev = db.session.get(Evidence, evidence_id) if 0 < evidence_id < 2**31 else None
    if ev is None:
        raise NotFound(messages.text("case_not_found"))
    case = get_case(user, ev.case_id)  # NotFound when the case is not visible
    if not sees_evidence(user, case):
        raise NotFound(messages.text("case_not_found"))
    return ev


def file_exists(ev: Evidence) -> bool:
    from caseflow.core.uploads import path_of

    return path_of(UPLOAD_KIND, ev.stored_name).is_file()


def record_access(user, ev: Evidence, how: str = "download") -> None:
    """Every access is a custody entry (and, by another agency, a shared read)."""
    _custody(ev, user, "accessed", how=how)
    audit.record("evidence.access", user=user, obj_type="evidence", obj_id=ev.id,
                 case_id=ev.case_id, how=how)
    case = db.session.get(Case, ev.case_id)
    if case.owner_agency_id != user.agency_id:
        from caseflow.sharing.operations import record_read

        record_read(user, case, "evidence")


def _referral_grants(case: Case):
    from caseflow.sharing.models import ShareGrant
    from sqlalchemy import or_

    now = utcnow()
    return list(db.session.scalars(select(ShareGrant).where(
        ShareGrant.case_id == case.id, ShareGrant.referral_id.is_not(None),
        ShareGrant.revoked_at.is_(None),
        or_(ShareGrant.expires_at.is_(None), ShareGrant.expires_at > now))
        .order_by(ShareGrant.id)))


def hand_over(user, case: Case, to_agency_id: int, **data) -> int:
    """A hand-over of the case's evidence to another agency (e.g. with a referral)."""
    n = 0
    for ev in db.session.scalars(select(Evidence).where(Evidence.case_id == case.id)):
        _custody(ev, user, "handed_over", to_agency_id=to_agency_id, sha256=ev.sha256, **data)
        n += 1
    return n


@dataclass
class VerifyResult:
    checked: int
    problems: list[tuple[int, str]]  # (evidence id, "missing" | "mismatch <sha>")


def verify_all() -> VerifyResult:
    """Re-hash every stored evidence file against its recorded SHA-256."""
    from caseflow.core.uploads import path_of

    problems = []
    checked = 0
    for ev in db.session.scalars(select(Evidence).order_by(Evidence.id)).yield_per(500):
        checked += 1
        try:
            h = hashlib.sha256()
            with open(path_of(UPLOAD_KIND, ev.stored_name), "rb") as f:
                while chunk := f.read(1024 * 1024):
                    h.update(chunk)
        except FileNotFoundError:
            problems.append((ev.id, "missing"))
            continue
        if h.hexdigest() != ev.sha256:
            problems.append((ev.id, f"mismatch {h.hexdigest()}"))
    return VerifyResult(checked, problems)
