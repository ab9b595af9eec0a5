"""The 双公示 CSV formatted by PostgreSQL: ``COPY (SELECT …) TO STDOUT WITH (FORMAT csv)``.

The same rows, in the same order and byte for byte, as the Python path
(``operations.write_csv`` → ``rules.csv_row``), with constant memory.

Each rule of ``rules.csv_row`` has its SQL twin here; ``tests/penalties/test_export_csv_sql.py``
holds the two paths to the same bytes. What is not identical by nature is mended while
streaming (``copy_rows``):

- COPY ends rows with ``\\n``; ``csv.writer`` with ``\\r\\n``. The server sends one row per
  CopyData message (protocol guarantee), so each message's last byte is the row end.
- COPY quotes an empty string (``""``) but not a NULL; ``csv.writer`` writes neither quoted,
  so every empty text becomes NULL.
- The last five cells are the same on every row (the agency's name and code, twice, and an
  empty 备注): ``row_end`` adds them with the CRLF instead of the server sending them.

Rows the Python rules would refuse (a required field blank, a fine of 0, a licence missing)
come out of the same COPY marked by their id in an extra first column (``_valid`` is the SQL
twin of the refusals); their reasons come from the Python rules themselves
(``operations.refused_reasons``).

The cost is PostgreSQL's CPU, about one function call per test per row, so the query calls
few: the categories' JSON is parsed once per row (``_selection``), a value used twice is
computed once in a lower level, what only some rows need (the lighter publicity period, the
fine and licence tests) is computed only for them, and what is the same for every row is
settled in Python. A large export is cut in two at a key (``split_key``) and the halves run
at once on two connections sharing one snapshot (``copy_rows_split``), the way
``pg_dump -j`` does: one server process per core.

Measured on 1M decisions with 2 shared cores (bench/publication_export.py): one COPY of
these rows costs ~4.7 s of server CPU where the raw columns' COPY costs ~2.8 s (it was ~6 s);
in two halves the export runs at ~0.74 of that COPY's rows per second (in one COPY ~0.55).
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import tempfile
import threading

from psycopg import sql as pgsql

from caseflow.penalties import rules as r

#: what ``str.strip()`` removes (``str.isspace``): a field of only these counts as missing
#: (tests/penalties/test_export_csv_sql.py checks it against ``str.isspace``)
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_WS = "'" + WHITESPACE + "'"  # no quote or backslash in it: a safe standard SQL literal
_WS_MAX = max(map(ord, WHITESPACE))  # U+3000
assert not any(33 <= ord(ch) <= 132 for ch in WHITESPACE)
#: ``rules.cell``'s dangerous first characters = + - @ tab CR LF, as code points (all < 65)
_DANGEROUS = ", ".join(str(ord(ch)) for ch in r._DANGEROUS)
assert all(ord(ch) < 65 for ch in r._DANGEROUS)

#: an export of more rows than this (estimated from a sample) runs in two halves at once
SPLIT_ABOVE = 100_000
#: about this many of the table's pages are sampled to estimate the rows and find the middle
SAMPLE_PAGES = 1000

#: the columns of penalty_decision the rows need (not ``p.*``: fewer values carried)
_COLUMNS = ("id", "subject_name", "subject_kind", "credit_code", "legal_rep", "id_type",
            "id_number", "number", "violation_type", "published_facts", "basis", "content",
            "fine_amount", "confiscated_amount", "licence", "decision_date", "valid_until",
            "severity", "lower_amount", "enterprise_published_on")


def _lit_date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def _blank_not(x: str) -> str:
    """SQL: ``x`` is not blank after ``str.strip()``. The first code point decides almost
    always (no white space lies in 33–132 or above U+3000); btrim, a pass over the text,
    only otherwise. NULL (refused by the rules too) gives NULL, which refuses like false."""
    return (f"(ascii({x}) > {_WS_MAX} OR ascii({x}) BETWEEN 33 AND 132 "
            f"OR btrim({x}, {_WS}) <> '')")


def _cell(x: str) -> str:
    """SQL twin of ``rules.cell``, with '' as NULL (see the module docstring). A first code
    point from 'A' (65) up, the usual case, settles it with one call; '' has ascii 0."""
    return (f"CASE WHEN ascii({x}) >= 65 THEN {x} WHEN {x} = '' THEN NULL "
            f"WHEN ascii({x}) IN ({_DANGEROUS}) AND {x} !~ '^-?[0-9]+(\\.[0-9]+)?$' "
            f"THEN '''' || {x} ELSE {x} END")


def _wan(x: str) -> str:
    """``rules.wan``: yuan → 万元 without trailing zeros (exact: numeric × 0.0001), printed
    by COPY as the numeric it is (a cast to text would print it twice)."""
    return f"trim_scale({x} * 0.0001)"


def _ymd(x: str) -> str:
    """YYYY/MM/DD from the ISO text of a date (``copy_rows`` sets DateStyle ISO for the
    transaction; cheaper than to_char)."""
    return f"replace(({x})::text, '-', '/')"


def _elem(name: str) -> str:
    """``name`` as one element in the jsonb text of a string array (a quote inside an element
    is printed as \\", so '"罚款"' can only be a whole element)."""
    return _text(f'"{name}"')


def _has(t: str, name: str) -> str:
    """The jsonb array text ``t`` has the element ``name``."""
    return f"strpos({t}, {_elem(name)}) > 0"


def _without(t: str, names) -> str:
    """The jsonb array text ``t`` with these elements and the separators removed: '[]' when
    every element is one of ``names``."""
    x = t
    for name in names:
        x = f"replace({x}, {_elem(name)}, '')"
    return f"replace({x}, ', ', '')"


def _joined(t: str) -> str:
    """``"、".join(categories)`` from ``t``, the jsonb text of the array: '["罚款", "没收违法所得"]'
    (jsonb prints characters, not \\u escapes). Without a backslash (no escaped character)
    the join is a text replacement; otherwise element by element."""
    return (f"CASE WHEN strpos({t}, chr(92)) = 0 "
            f"THEN replace(left(substr({t}, 3), -2), '\", \"', '、') "
            f"ELSE array_to_string(ARRAY(SELECT jsonb_array_elements_text(({t})::jsonb)), '、') END")


def _text(value: str) -> str:
    """A standard SQL string literal (standard_conforming_strings is on since PostgreSQL 9.1)."""
    if "\x00" in value:
        raise ValueError("NUL in text")
    return "'" + value.replace("'", "''") + "'"


Key = tuple  # (decision_date, id): the export order, and where a split cuts it


def _where(agency_id: int, date_from: dt.date | None, date_to: dt.date | None,
           after: Key | None = None, before: Key | None = None) -> list[str]:
    """``operations.export_selection``'s conditions on ``p``, from the key ``after`` (on)
    up to the key ``before`` (not on): both match the index (agency, date, id)."""
    where = [f"p.agency_id = {int(agency_id)}", "p.withdrawn_on IS NULL",
             "p.simple_procedure = false"]
    if date_from:
        where.append(f"p.decision_date >= {_lit_date(date_from)}")
    if date_to:
        where.append(f"p.decision_date <= {_lit_date(date_to)}")
    if after:
        where.append(f"(p.decision_date, p.id) >= ({_lit_date(after[0])}, {int(after[1])})")
    if before:
        where.append(f"(p.decision_date, p.id) < ({_lit_date(before[0])}, {int(before[1])})")
    return where


def _selection(where: list[str]) -> str:
    """The rows of ``where`` restricted to ``rules.is_published``, in export order (the
    index on agency, date and id gives it without a sort), with the categories as the text
    of their jsonb (``t``: one spelling whatever JSON was stored), joined (``cats``), and
    whether the party is a natural person.

    Each level is fenced (OFFSET 0) so what it computes is computed once per row: PostgreSQL
    would otherwise copy an expression into every place that uses it. The tests on the
    categories work on ``t`` (``_has``, ``_without``) without parsing it again; it starts
    with '[' only for an array."""
    cols = ", ".join(f"p.{c}" for c in _COLUMNS)
    published = (f"ascii(d.t) = 91 AND d.t <> '[]' AND (strpos(d.t, {_elem('警告')}) = 0 "
                 f"OR {_without('d.t', ['警告'])} <> '[]')")
    return f"""
SELECT d.*, {_joined('d.t')} AS cats, d.subject_kind = '自然人' AS person
FROM (SELECT {cols}, p.categories::jsonb::text AS t
      FROM penalty_decision p
      WHERE {' AND '.join(where)}
      ORDER BY p.decision_date, p.id OFFSET 0) d
WHERE {published}
ORDER BY d.decision_date, d.id OFFSET 0"""  # nosec B608 (column names, ids, ISO dates and _text() literals only)


def _valid(t: str, authority: str, authority_code: str) -> str:
    """SQL twin of the refusals of ``rules.csv_row`` on the row ``t``: true when exported
    (false or NULL when refused). The agency's name and code are the same for every row:
    tested here once. The fine and licence tests look at the categories only when the
    amount is 0 or the licence empty."""
    if not (authority.strip() and authority_code.strip()):
        return "false"
    kinds = ", ".join(f"'{k}'" for k in r.SUBJECT_KINDS)
    required = ["subject_name", "number", "violation_type", "published_facts", "basis", "cats",
                "content"]
    parts = [_blank_not(f"{t}.{c}") for c in required]
    parts += [
        f"{t}.subject_kind IN ({kinds})",
        f"{t}.decision_date IS NOT NULL",
        f"(CASE WHEN {t}.person THEN {_blank_not(f'{t}.id_type')} AND "
        f"{_blank_not(f'{t}.id_number')} ELSE {_blank_not(f'{t}.credit_code')} AND "
        f"({t}.subject_kind <> '法人及非法人组织' OR {_blank_not(f'{t}.legal_rep')}) END)",
        f"(coalesce({t}.fine_amount, 0) <> 0 OR NOT {_has(f'{t}.t', '罚款')})",
        f"(coalesce({t}.licence, '') <> '' OR strpos({t}.t, '许可证件\"') = 0 "
        f"OR NOT ({_has(f'{t}.t', '暂扣许可证件')} OR {_has(f'{t}.t', '吊销许可证件')}))",
    ]
    return "(" + "\n  AND ".join(parts) + ")"


def _publicity_end(p: r.PublicationParams) -> str:
    """The credit platform's end (``rules.platform_period``) or, for a minor penalty after
    the rule change, the enterprise system's (``rules.enterprise_publicity_end``)."""
    def plus(day, months):
        return f"({day} + make_interval(months => {int(months)}))"

    light = (f"({_without('s.t', ['警告', '通报批评', '罚款'])} = '[]' "
             f"AND (s.lower_amount OR NOT {_has('s.t', '罚款')}))")
    return (f"CASE WHEN s.decision_date < {_lit_date(p.rule_change)} "
            f"THEN {plus('s.decision_date', p.old_months[1])} "
            f"WHEN s.severity = 'minor' THEN CASE WHEN {light} "
            f"THEN {plus('s.enterprise_published_on', 3)} "
            f"ELSE {plus('s.enterprise_published_on', 36)} END "
            f"WHEN s.severity = 'serious' THEN {plus('s.decision_date', p.serious_months[1])} "
            f"ELSE {plus('s.decision_date', p.general_months[1])} END")


def _columns(p: r.PublicationParams) -> list[str]:
    """The first 25 columns of ``rules.CSV_HEADER``, as ``rules.csv_row`` fills them (the
    last five are the same on every row: ``row_end``)."""
    def text(x):
        return _cell(f"s.{x}")

    def unless_person(x):
        return f"CASE WHEN s.person THEN NULL ELSE {text(x)} END"

    def if_person(x):
        return f"CASE WHEN s.person THEN {text(x)} ELSE NULL END"

    return [
        text("subject_name"), "s.subject_kind",  # one of SUBJECT_KINDS in an exported row
        unless_person("credit_code"),
        "NULL", "NULL", "NULL", "NULL", "NULL",
        unless_person("legal_rep"), "NULL", "NULL",  # the legal representative's ID: never kept
        if_person("id_type"), if_person("id_number"),
        text("number"), text("violation_type"), text("published_facts"), text("basis"),
        text("cats"), text("content"),
        _wan("s.fine_amount"), _wan("s.confiscated_amount"), text("licence"),
        _ymd("s.decision_date"),
        f"CASE WHEN s.valid_until IS NULL THEN {_text(r.ymd(r.LONG_TERM))} "
        f"ELSE {_ymd('s.valid_until')} END",  # long-term, the usual case: one text
        _ymd(f"({_publicity_end(p)})::date"),
        # then the same four cells and an empty 备注 on every row: added by copy_rows (suffix)
    ]


def copy_sql(agency_id: int, date_from: dt.date | None, date_to: dt.date | None,
             p: r.PublicationParams, authority: str, authority_code: str, *,
             after: Key | None = None, before: Key | None = None) -> str:
    """One pass over the published rows of the selection (from the key ``after`` up to the
    key ``before`` when given: a half of a split export), in export order. The first column
    is empty for a row to export and holds the id of a refused one (whose other columns are
    thrown away): ``copy_rows`` tells them apart by the first byte."""
    cols = ",\n  ".join(_columns(p))
    where = _where(agency_id, date_from, date_to, after, before)
    return (f"COPY (SELECT CASE WHEN {_valid('s', authority, authority_code)} THEN NULL ELSE s.id END,\n"  # nosec B608 (constants, literals)
            f"  {cols}\n"
            f"FROM ({_selection(where)}) s\n"
            f"ORDER BY s.decision_date, s.id) TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')")


def row_end(authority: str, authority_code: str) -> bytes:
    """What ends every exported row: the last five cells (处罚机关 and its code, 数据来源单位 and
    its code: the agency's; 备注 empty), the same on every row, as ``csv.writer`` writes
    them, and CRLF. Added here rather than sent by the server a million times."""
    buf = io.StringIO(newline="")
    csv.writer(buf).writerow(["", *(r.cell(v) for v in (authority, authority_code,
                                                         authority, authority_code)), ""])
    return buf.getvalue().encode("utf-8")


def copy_rows(cursor, sql: str, write, end: bytes = b"\r\n") -> tuple[int, list[int]]:
    """Run the COPY and pass the exported rows' bytes to ``write``, each ended by ``end``
    (``row_end``) instead of COPY's LF; the row count and the ids of the refused rows, in
    order.

    Rows are joined in groups so ``write`` is called about every 64 KB, not per row."""
    count = 0
    refused: list[int] = []
    parts: list = []
    size = 0
    cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")  # for _ymd; ends with the transaction
    # JIT (where the server or the connection turns it on) would compile these expressions
    # for about a second once the plan's cost passes jit_optimize_above_cost (near 2M rows)
    # and saves nothing measurable
    cursor.execute("SET LOCAL jit = off")
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
                write(end.join(parts))
                parts, size = [], 0
    if parts:
        count += len(parts)
        parts.append(b"")
        write(end.join(parts))
    return count, refused


# ----------------------------------------------------------------------------- in two halves


def split_key(cursor, agency_id: int, date_from: dt.date | None,
              date_to: dt.date | None) -> Key | None:
    """The key (decision date, id) in the middle of the selection when it holds more than
    ``SPLIT_ABOVE`` rows, else None. Both come from a sample of about ``SAMPLE_PAGES`` pages
    of the table (TABLESAMPLE SYSTEM: whole pages, a few milliseconds): an estimate, which
    only decides how evenly the work is shared, never which rows are exported."""
    cursor.execute("SELECT pg_relation_size('penalty_decision') / current_setting('block_size')::int")
    pages = cursor.fetchone()[0]
    percent = min(100.0, 100.0 * SAMPLE_PAGES / max(pages, 1))
    cursor.execute(f"""
SELECT n, decision_date, id
FROM (SELECT p.decision_date, p.id, count(*) OVER () AS n,
             row_number() OVER (ORDER BY p.decision_date, p.id) AS k
      FROM penalty_decision p TABLESAMPLE SYSTEM ({percent:.6g}) REPEATABLE (0)
      WHERE {' AND '.join(_where(agency_id, date_from, date_to))}) x
WHERE k = n / 2 + 1""")  # nosec B608 (a number and _where()'s conditions)
    row = cursor.fetchone()
    if row is None or row[0] * 100.0 / percent <= SPLIT_ABOVE:
        return None
    return row[1], row[2]


def share_snapshot(first, second) -> None:
    """Begin a REPEATABLE READ, READ ONLY transaction on two psycopg connections (not in a
    transaction yet) that see the same snapshot: the first's, exported to the second
    (``pg_export_snapshot`` / SET TRANSACTION SNAPSHOT, as ``pg_dump -j`` does). The halves
    of a split export then add up to exactly one consistent export."""
    for conn in (first, second):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    snapshot = first.execute("SELECT pg_export_snapshot()").fetchone()[0]
    second.execute(pgsql.SQL("SET TRANSACTION SNAPSHOT {}").format(pgsql.Literal(snapshot)))


def copy_rows_split(first, second, sql_first: str, sql_second: str, write,
                    end: bytes = b"\r\n") -> tuple[int, list[int]]:
    """``copy_rows`` of two halves at once, on two psycopg connections (``share_snapshot``):
    the first half is streamed to ``write`` by this thread while a second thread spools the
    second half to a temporary file, passed on to ``write`` once the first half is done.
    Memory stays constant (the spool is on disk, written and read in 64 KB pieces). If the
    first half fails, the second's COPY is cancelled before the error goes on."""
    done: dict = {}
    with tempfile.TemporaryFile(prefix="caseflow-csv-") as spool:
        def second_half():
            try:
                with second.cursor() as cur:
                    done["result"] = copy_rows(cur, sql_second, spool.write, end)
            except BaseException as e:  # noqa: B036 (handed over to the first thread)
                done["error"] = e

        worker = threading.Thread(target=second_half, name="csv-export-second-half", daemon=True)
        worker.start()
        try:
            with first.cursor() as cur:
                count, refused = copy_rows(cur, sql_first, write, end)
        except BaseException:
            with contextlib.suppress(Exception):  # the first half's error is the one to tell
                second.cancel_safe()
            raise
        finally:
            worker.join()
        if "error" in done:
            raise done["error"]
        more, more_refused = done["result"]
        spool.seek(0)
        while chunk := spool.read(1 << 16):
            write(chunk)
    return count + more, refused + more_refused
