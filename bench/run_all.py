"""Run every benchmark and write bench/RESULTS.md (``make bench``).

    .venv/bin/python bench/run_all.py --database-url URL [--scale "1000000 cases, 5000000
        businesses"] [--only draw,load] [--quick]

Each script runs in a process of its own, one after the other (2 cores: never two at once),
with a time limit; its ``RESULT {json}`` lines are collected, its Markdown lines (``|`` and
``#``) kept for the details. On PostgreSQL a ``CHECKPOINT`` runs before each script, so none
is measured while the server is still writing out what the generator or the script before
it left dirty (gigabytes after a 1M-case load, for minutes). The table: every goal with the measured value, the target, and
met or by how much it was missed. A script that fails or is missing gets a row saying so.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def scripts(url: str, quick: bool) -> list[tuple[str, list[str], int]]:
    """(script, arguments, time limit in seconds), in the order they run."""
    d = ["--database-url", url]
    return [
        ("sqlite_writers.py", ["--seconds", "15" if quick else "30"], 600),
        ("http_case_list.py", d + ["--duration", "5" if quick else "15"], 1800),
        ("case_list.py", d, 1800),
        ("dashboard.py", d + ["--generated"], 1800),
        ("draw.py", d, 1800),
        ("register_import.py", d + ["--rows", "100000" if quick else "200000"], 1800),
        ("publication_export.py", d + (["--decisions", "50000"] if quick else []), 3600),
        ("pdf.py", d + (["--rows", "1000"] if quick else []), 3600),
        ("load.py", d + ["--run-time", "30" if quick else "60"], 900),
    ]


def checkpoint(url: str) -> None:
    """Write out the dirty buffers now (PostgreSQL; a superuser, as the bench cluster's)."""
    if not url.startswith("postgresql"):
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1),
                         autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def missed(r: dict) -> str:
    if r.get("met"):
        return "met"
    op, _, bound = str(r["target"]).partition(" ")
    bound, value = float(bound), float(r["value"])
    if bound == 0:
        return f"missed by {value:g}"
    gap = (bound - value) / bound if op == ">=" else (value - bound) / bound
    return f"missed by {gap * 100:.0f} %"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--scale", default="")
    ap.add_argument("--only", default="", help="comma-separated script names (without .py)")
    ap.add_argument("--quick", action="store_true", help="shorter phases and smaller inputs")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    only = {s.strip().removesuffix(".py") for s in args.only.split(",") if s.strip()}
    results, details, started = [], [], time.time()
    for name, argv, limit in scripts(args.database_url, args.quick):
        if only and name.removesuffix(".py") not in only:
            continue
        path = HERE / name
        if not path.exists():
            results.append({"script": name, "name": "(script not present)", "error": True})
            continue
        cmd = [sys.executable, str(path), *argv]
        checkpoint(args.database_url)
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=limit,
                                  env=dict(os.environ, PYTHONUNBUFFERED="1"))
            out, rc = proc.stdout, proc.returncode
            err = proc.stderr
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err, rc = f"timed out after {limit} s", -1
        seconds = time.perf_counter() - t0
        found = 0
        lines = []
        for line in out.splitlines():
            if line.startswith("RESULT "):
                try:
                    r = json.loads(line[len("RESULT "):])
                except json.JSONDecodeError:
                    continue
                r["script"] = name
                results.append(r)
                found += 1
            elif line.startswith(("|", "#")):
                lines.append(line)
        if rc != 0 or not found:
            tail = " ".join((err or "").strip().splitlines()[-3:])[:300]
            results.append({"script": name, "name": f"(exit {rc}, {found} results)",
                            "error": True, "note": tail})
        details.append((name, " ".join(["python", f"bench/{name}", *argv]), seconds, lines))
        print(f"   {found} results in {seconds:.0f} s (exit {rc})", flush=True)

    now = dt.datetime.now().astimezone()
    md = [f"# Benchmark results — {now:%Y-%m-%d %H:%M %Z}", "",
          f"Machine: {os.cpu_count()} cores, {platform.platform()}; PostgreSQL with default "
          f"settings (scripts/bench-postgres.sh)" + (f"; data: {args.scale}" if args.scale else "")
          + f". Produced by `{' '.join(['python', 'bench/run_all.py', *sys.argv[1:]]).replace(args.database_url, 'URL')}`"
          f" (see `make bench`), {(time.time() - started) / 60:.0f} min.", "",
          "| script | goal | value | target | result | note |", "|---|---|---:|---|---|---|"]
    for r in results:
        if r.get("error"):
            md.append(f"| {r['script']} | {r['name']} | — | — | **not measured** | "
                      f"{(r.get('note') or '').replace('|', '/')} |")
            continue
        value = r["value"]
        shown = f"{value:,.3g}" if abs(value) < 10 else f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"
        verdict = missed(r)
        md.append(f"| {r['script']} | {r['name']} | {shown} {r.get('unit', '')} | "
                  f"{r['target']} {r.get('unit', '') if not str(r.get('unit', '')).startswith('×') else ''} | "
                  f"{'met' if verdict == 'met' else '**' + verdict + '**'} | "
                  f"{(r.get('note') or '').replace('|', '/')} |")
    md += ["", "## Details", ""]
    for name, cmd, seconds, lines in details:
        md += [f"### {name} ({seconds:.0f} s)", "", f"`{cmd.replace(args.database_url, 'URL')}`", ""]
        md += lines + [""]
    Path(args.out).write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
