"""Second factor: time-based one-time passwords (RFC 6238) as authenticator apps make them.

Plain Python, no Flask. A code is accepted within one 30-second step either side of the
server's clock, and only once: the step of the last accepted code is kept, and a code of
that step or an earlier one is refused, so an observed code cannot be replayed.

The shared secret is stored encrypted (AES-GCM, key derived from the application's key with
HKDF), so a copy of the database alone does not yield working codes (等保 8.1.4.8).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

STEP_SECONDS = 30
DIGITS = 6
#: steps accepted either side of the current one (clock drift between phone and server)
WINDOW = 1
ISSUER = "CaseFlow"


class SecretUnreadable(ValueError):
    """The stored secret cannot be decrypted (the application key changed): re-enrol."""


def new_secret() -> str:
    """A random base32 secret of 160 bits (the RFC 4226 recommendation)."""
    return pyotp.random_base32(32)


def step_of(when: dt.datetime) -> int:
    return int(when.timestamp()) // STEP_SECONDS


def code_at(secret: str, when: dt.datetime) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(when)


def normalize_code(raw: str) -> str:
    """Digits only: apps show codes as "123 456"; full-width digits are folded too."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKC", raw or "") if c.isdigit())


def accepted_step(secret: str, code: str, now: dt.datetime, last_step: int | None) -> int | None:
    """The step the code belongs to when it is valid now and not used before, else None."""
    code = normalize_code(code)
    if len(code) != DIGITS:
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = step_of(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as a QR code in an SVG data URI for an <img> (no script, no request)."""
    import segno

    return segno.make(uri, error="m").svg_data_uri(scale=4)


def _key(app_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"caseflow-totp",
                info=b"totp-secret-v1").derive(app_key.encode("utf-8"))


def encrypt(secret: str, app_key: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(app_key)).encrypt(nonce, secret.encode("ascii"), b"totp")
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def decrypt(stored: str, app_key: str) -> str:
    try:
        version, _, body = stored.partition(":")
        if version != "v1":
            raise ValueError(version)
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        return AESGCM(_key(app_key)).decrypt(raw[:12], raw[12:], b"totp").decode("ascii")
    except (InvalidTag, ValueError) as e:
        raise SecretUnreadable(str(e)) from None


def fingerprint(secret: str) -> str:
    """A short, non-secret name of a secret for audit records (never the secret itself)."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()[:12]
