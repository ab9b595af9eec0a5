"""Uploaded files: checked by content, limited in size, hashed, stored outside the web root
under generated names, and never served inline."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

#: magic bytes → content type; only documents and photos are accepted
SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


class UploadError(ValueError):
    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Stored:
    stored_name: str
    size: int
    sha256: str
    content_type: str


#: ISO base-media major brands (bytes 8–12, after the "ftyp" box type at 4–8) of phone
#: videos; other brands (HEIC photos, M4A audio, …) are not videos and are refused
VIDEO_BRANDS = {b"qt  ": "video/quicktime",
                **{b: "video/mp4" for b in (b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41",
                                            b"mp42", b"avc1", b"M4V ", b"dash", b"3gp4", b"3gp5",
                                            b"3gp6", b"3g2a")}}


def sniff(head: bytes, video: bool = False) -> str | None:
    for magic, ctype in SIGNATURES:
        if head.startswith(magic):
            return ctype
    if video and len(head) >= 12 and head[4:8] == b"ftyp":
        return VIDEO_BRANDS.get(head[8:12])
    return None


def upload_dir(kind: str) -> Path:
    path = Path(current_app.instance_path) / "uploads" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(stream, kind: str, video: bool = False, limit: int | None = None) -> Stored:
    """Copy an upload to disk while hashing it; refuse unknown types and oversized files.
    ``video``: also accept MP4/QuickTime videos (evidence from phones)."""
    limit = limit or current_app.config["UPLOAD_MAX_BYTES"]
    name = secrets.token_hex(16)
    target = upload_dir(kind) / name
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(target, "xb") as out:
            while chunk := stream.read(64 * 1024):
                if not head:
                    head = chunk[:16]
                    if sniff(head, video) is None:
                        raise UploadError("upload_type")
                size += len(chunk)
                if size > limit:
                    raise UploadError("upload_too_large", mb=limit // (1024 * 1024))
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadError("upload_empty")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return Stored(name, size, digest.hexdigest(), sniff(head, video))


def path_of(kind: str, stored_name: str) -> Path:
    if not stored_name.isalnum():
        raise FileNotFoundError(stored_name)
    return upload_dir(kind) / stored_name


def display_name(filename: str | None) -> str:
    """The uploaded name for display only: no path, no control characters, bounded."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable())
    return name[:200] or "file"
