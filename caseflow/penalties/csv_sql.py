"""The 双公示 CSV formatted by PostgreSQL: ``COPY (SELECT …) TO STDOUT WITH (FORMAT csv)``.

The same rows, in the same order and byte for byte, as the Python path
(``operations.write_csv`` → ``rules.csv_row``), with constant memory. Measured on 1M
decisions (bench/publication_export.py, 2 shared cores): ~85k rows/s through the app, about
0.4 of a bare COPY of the raw columns and 8–13× the Python path.

Each rule of ``rules.csv_row`` has its SQL twin here; ``tests/penalties/test_export_csv_sql.py``
holds the two paths to the same bytes. What is not identical by nature is mended while
streaming (``copy_rows``):

- COPY ends rows with ``\\n``; ``csv.writer`` with ``\\r\\n``. The server sends one row per
  CopyData message (protocol guarantee), so each message's last byte is the row end.
- COPY quotes an empty string (``""``) but not a NULL; ``csv.writer`` writes neither quoted,
  so every empty text becomes NULL (``NULLIF``).

Rows the Python rules would refuse (a required field blank, a fine of 0, a licence missing)
come out of the same COPY marked by their id in an extra first column (``_valid`` is the SQL
twin of the refusals); their reasons come from the Python rules themselves
(``operations.refused_reasons``).
"""
from __future__ import annotations

import datetime as dt

from caseflow.penalties import rules as r

#: what ``str.strip()`` removes (``str.isspace``): a field of only these counts as missing
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
_WS = "'" + WHITESPACE + "'"  # no quote or backslash in it: a safe standard SQL literal
_WS_MAX = max(map(ord, WHITESPACE))  # U+3000
assert not any(33 <= ord(ch) <= 132 for ch in WHITESPACE)
#: ``rules.cell``'s dangerous first characters = + - @ tab CR LF, as code points
_DANGEROUS = ", ".join(str(ord(ch)) for ch in r._DANGEROUS)


def _lit_date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def _blank_not(x: str) -> str:
    """SQL: ``x`` is not blank after ``str.strip()``. The first code point decides almost
    always (no white space lies in 33–132 or above U+3000); btrim, a pass over the text,
    only otherwise. NULL counts as blank."""
    return (f"coalesce(CASE WHEN ascii({x}) > {_WS_MAX} OR ascii({x}) BETWEEN 33 AND 132 "
            f"THEN true ELSE btrim({x}, {_WS}) <> '' END, false)")


def _cell(x: str) -> str:
    """SQL twin of ``rules.cell``, with '' as NULL (see the module docstring)."""
    return (f"CASE WHEN ascii({x}) < 65 AND ascii({x}) IN ({_DANGEROUS}) AND {x} !~ '^-?[0-9]+(\\.[0-9]+)?$' "
            f"THEN '''' || {x} ELSE NULLIF({x}, '') END")


def _wan(x: str) -> str:
    """``rules.wan``: yuan → 万元 without trailing zeros (exact: numeric × 0.0001)."""
    return f"trim_scale({x} * 0.0001)::text"


def _ymd(x: str) -> str:
    """YYYY/MM/DD from the ISO text of a date (``copy_rows`` sets DateStyle ISO for the
    transaction; cheaper than to_char)."""
    return f"replace(({x})::date::text, '-', '/')"


def _elem(name: str) -> str:
    """``name`` as one element in the jsonb text of a string array (a quote inside an element
    is printed as \\", so '"罚款"' can only be a whole element)."""
    return _text(f'"{name}"')


def _without(t: str, names) -> str:
    """The jsonb array text ``t`` with these elements and the separators removed: '[]' when
    every element is one of ``names``."""
    x = t
    for name in names:
        x = f"replace({x}, {_elem(name)}, '')"
    return f"replace({x}, ', ', '')"


def _joined(t: str, upto: int = 16) -> str:
    """``"、".join(categories)`` from ``t``, the jsonb text of the array: '["罚款", "没收违法所得"]'
    (jsonb prints characters, not \\u escapes). Without a backslash (no escaped character)
    the join is a text replacement; otherwise element by element (``concat_ws`` skips the
    NULLs past the end)."""
    each = ", ".join(f"({t})::jsonb ->> {i}" for i in range(upto))
    return (f"CASE WHEN strpos({t}, chr(92)) = 0 "
            f"THEN replace(left(substr({t}, 3), -2), '\", \"', '、') "
            f"ELSE concat_ws('、', {each}) END")


def _text(value: str) -> str:
    """A standard SQL string literal (standard_conforming_strings is on since PostgreSQL 9.1)."""
    if "\x00" in value:
        raise ValueError("NUL in text")
    return "'" + value.replace("'", "''") + "'"


def _selection(agency_id: int, date_from: dt.date | None, date_to: dt.date | None,
               authority: str, authority_code: str) -> str:
    """``operations.export_selection`` restricted to ``rules.is_published``, in export order,
    with what ``operations.csv_record`` adds: the categories joined, the tests on them, the
    agency's name and code as constants.

    Each level is fenced (OFFSET 0) so what it computes is computed once per row: PostgreSQL
    would otherwise copy an expression into every place that uses it (the categories'
    jsonb text would be parsed a dozen times a row). The tests on the categories work on
    the jsonb text (``_elem``, ``_without``), without parsing it again."""
    where = [f"p.agency_id = {int(agency_id)}", "p.withdrawn_on IS NULL",
             "p.simple_procedure = false"]
    if date_from:
        where.append(f"p.decision_date >= {_lit_date(date_from)}")
    if date_to:
        where.append(f"p.decision_date <= {_lit_date(date_to)}")
    return f"""
SELECT d.*, {_joined('d.t')} AS cats,
       strpos(d.t, {_elem('罚款')}) > 0 AS has_fine,
       strpos(d.t, {_elem('暂扣许可证件')}) > 0 OR strpos(d.t, {_elem('吊销许可证件')}) > 0 AS has_licence_kind,
       {_without('d.t', ['警告', '通报批评', '罚款'])} = '[]' AS light_kinds,
       {_text(authority)}::text AS authority, {_text(authority_code)}::text AS authority_code,
       d.subject_kind = '自然人' AS person
FROM (SELECT p.*, (CASE WHEN json_typeof(p.categories) = 'array' THEN p.categories::jsonb
                        ELSE '[]'::jsonb END)::text AS t
      FROM penalty_decision p
      WHERE {' AND '.join(where)}
      ORDER BY p.decision_date, p.id OFFSET 0) d
WHERE d.t <> '[]' AND {_without('d.t', ['警告'])} <> '[]'
ORDER BY d.decision_date, d.id OFFSET 0"""  # nosec B608 (ids, ISO dates and _text() literals only)


def _valid(t: str) -> str:
    """SQL twin of the refusals of ``rules.csv_row`` on the row ``t``: true when exported."""
    kinds = ", ".join(f"'{k}'" for k in r.SUBJECT_KINDS)
    required = ["subject_name", "number", "violation_type", "published_facts", "basis", "cats",
                "content", "authority", "authority_code"]
    parts = [_blank_not(f"{t}.{c}") for c in required]
    parts += [
        f"coalesce({t}.subject_kind IN ({kinds}), false)",
        f"{t}.decision_date IS NOT NULL",
        f"(CASE WHEN {t}.person THEN {_blank_not(f'{t}.id_type')} AND "
        f"{_blank_not(f'{t}.id_number')} ELSE {_blank_not(f'{t}.credit_code')} AND "
        f"({t}.subject_kind <> '法人及非法人组织' OR {_blank_not(f'{t}.legal_rep')}) END)",
        f"NOT ({t}.has_fine AND coalesce({t}.fine_amount, 0) = 0)",
        f"NOT ({t}.has_licence_kind AND coalesce({t}.licence, '') = '')",
    ]
    return "(" + "\n  AND ".join(parts) + ")"


def _publicity_end(p: r.PublicationParams) -> str:
    """The credit platform's end (``rules.platform_period``) or, for a minor penalty after
    the rule change, the enterprise system's (``rules.enterprise_publicity_end``)."""
    def plus(day, months):
        return f"({day} + make_interval(months => {int(months)}))"

    light = "(s.light_kinds AND (NOT s.has_fine OR s.lower_amount))"
    return (f"CASE WHEN s.decision_date < {_lit_date(p.rule_change)} "
            f"THEN {plus('s.decision_date', p.old_months[1])} "
            f"WHEN s.severity = 'minor' THEN CASE WHEN {light} "
            f"THEN {plus('s.enterprise_published_on', 3)} "
            f"ELSE {plus('s.enterprise_published_on', 36)} END "
            f"WHEN s.severity = 'serious' THEN {plus('s.decision_date', p.serious_months[1])} "
            f"ELSE {plus('s.decision_date', p.general_months[1])} END")


def _columns(p: r.PublicationParams, authority: str, authority_code: str) -> list[str]:
    """The 30 columns of ``rules.CSV_HEADER``, as ``rules.csv_row`` fills them."""
    def text(x):
        return _cell(f"s.{x}")

    def unless_person(x):
        return f"CASE WHEN s.person THEN NULL ELSE {text(x)} END"

    def if_person(x):
        return f"CASE WHEN s.person THEN {text(x)} ELSE NULL END"

    def constant(value):  # the agency's name and code: one value for every row
        value = r.cell(value)
        return _text(value) if value else "NULL"

    return [
        text("subject_name"), "s.subject_kind",  # one of SUBJECT_KINDS in an exported row
        unless_person("credit_code"),
        "NULL", "NULL", "NULL", "NULL", "NULL",
        unless_person("legal_rep"), "NULL", "NULL",  # the legal representative's ID: never kept
        if_person("id_type"), if_person("id_number"),
        text("number"), text("violation_type"), text("published_facts"), text("basis"),
        text("cats"), text("content"),
        _wan("s.fine_amount"), _wan("s.confiscated_amount"), text("licence"),
        _ymd("s.decision_date"), _ymd(f"coalesce(s.valid_until, {_lit_date(r.LONG_TERM)})"),
        _ymd(_publicity_end(p)),
        constant(authority), constant(authority_code), constant(authority),
        constant(authority_code),
        "NULL",  # 备注
    ]


def copy_sql(agency_id: int, date_from: dt.date | None, date_to: dt.date | None,
             p: r.PublicationParams, authority: str, authority_code: str) -> str:
    """One pass over the published rows of the selection, in export order. The first column
    is empty for a row to export and holds the id of a refused one (whose other columns are
    thrown away): ``copy_rows`` tells them apart by the first byte."""
    cols = ",\n  ".join(_columns(p, authority, authority_code))
    return (f"COPY (SELECT CASE WHEN s.valid THEN NULL ELSE s.id END,\n  {cols}\n"  # nosec B608 (constants, literals)
            f"FROM (SELECT t.*, {_valid('t')} AS valid\n"
            f"      FROM ({_selection(agency_id, date_from, date_to, authority, authority_code)}) t\n"
            f"      ORDER BY t.decision_date, t.id OFFSET 0) s\n"
            f"ORDER BY s.decision_date, s.id) TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')")


def copy_rows(cursor, sql: str, write) -> tuple[int, list[int]]:
    """Run the COPY and pass the exported rows' bytes to ``write`` with CRLF row ends; the
    row count and the ids of the refused rows, in order.

    Rows are joined in groups so ``write`` is called about every 64 KB, not per row."""
    count = 0
    refused: list[int] = []
    parts: list = []
    size = 0
    cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")  # for _ymd; ends with the transaction
    with cursor.copy(sql) as copy:
        for row in copy:  # one row per CopyData message, ending with b"\n"
            if row[0] != 44:  # not b",": the id of a refused row
                refused.append(int(bytes(row).split(b",", 1)[0]))
                continue
            parts.append(row[1:-1])
            size += len(row)
            if size >= 1 << 16:
                count += len(parts)
                parts.append(b"")
                write(b"\r\n".join(parts))
                parts, size = [], 0
    if parts:
        count += len(parts)
        parts.append(b"")
        write(b"\r\n".join(parts))
    return count, refused
