"""Identifier checks: unified social credit code (GB 32100-2015) and resident ID (GB 11643-1999).

Pure functions, no Flask. Each ``check_*`` returns ``None`` when valid, or a short English
reason code the caller turns into a translated message.
"""
from __future__ import annotations

import datetime as dt

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def normalize_code(value: str | None) -> str:
    """Upper-case and strip spaces, including full-width ones typed on Chinese keyboards."""
    if value is None:
        return ""
    value = value.replace("\u3000", " ").strip().replace(" ", "")
    # full-width ASCII (０-９, Ａ-Ｚ) → half-width
    value = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in value)
    return value.upper()


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def check_credit_code(code: str) -> str | None:
    """统一社会信用代码: 18 chars, positions 3-8 digits (region code), check char last."""
    if len(code) != 18:
        return "length"
    if any(c not in CREDIT_CODE_ALPHABET for c in code):
        return "charset"
    if not code[2:8].isdigit():
        return "region"
    if credit_code_check_char(code[:17]) != code[17]:
        return "checksum"
    return None


def is_valid_credit_code(code: str) -> bool:
    return check_credit_code(code) is None


def id_number_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def check_id_number(number: str) -> str | None:
    """居民身份证号码: 17 digits + check (digit or X); positions 7-14 a real birth date."""
    if len(number) != 18:
        return "length"
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return "charset"
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "birthdate"
    if birth.year < 1900 or birth > dt.date.today():
        return "birthdate"
    if id_number_check_char(number[:17]) != number[17]:
        return "checksum"
    return None


def is_valid_id_number(number: str) -> bool:
    return check_id_number(number) is None


def mask_id_number(number: str | None) -> str:
    """Show region and check digit only: 110105********002X → for lists and shares."""
    if not number:
        return ""
    return number[:6] + "*" * 8 + number[14:]


def make_credit_code(rng, region: str = "310117", kind: str = "91") -> str:
    """A random but valid credit code (for demo data and tests); kind 91 = company, 11 = agency."""
    body = kind + region + "".join(rng.choice(CREDIT_CODE_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY")
                                        for _ in range(9))
    return body + credit_code_check_char(body)


def make_id_number(rng, region: str = "310117", birth: dt.date | None = None) -> str:
    birth = birth or dt.date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
    body = region + birth.strftime("%Y%m%d") + f"{rng.randint(0, 999):03d}"
    return body + id_number_check_char(body)
