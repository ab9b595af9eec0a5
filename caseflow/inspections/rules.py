"""The verifiable random draw (双随机) and the yearly target's pace. Plain Python, no Flask.

How anyone can replay a draw (also in the README):

1. The population is the sorted list of eligible businesses' unified social credit codes;
   ``population_hash = sha256("\\n".join(codes))`` (UTF-8, no trailing newline).
2. The seed is 64 hex characters; ``seed_hash = sha256(seed)``. Both hashes are recorded
   and shown before the draw; the seed is revealed after it.
3. For each risk class A–D, the businesses of that class are ordered by
   ``sha256(seed + ":" + code)`` (hex, ascending) and the first ``quota[class]`` are drawn.
4. Targets are then taken in that same key order; for each, the inspectors without a
   declared conflict with it are ordered by (inspections already given in this draw,
   ``sha256(seed + ":" + code + ":" + username)``) and the first ``k`` are assigned — so
   the load is spread evenly and never falls on a conflicted inspector.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

CLASSES = ("A", "B", "C", "D")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def population_hash(codes: list[str]) -> str:
    return sha256("\n".join(sorted(codes)))


def new_seed() -> str:
    return secrets.token_hex(32)


def quotas(counts: dict[str, int], ratio: Decimal | None, count: int | None,
           class_ratios: dict[str, Decimal]) -> dict[str, int]:
    """How many to draw per risk class: a ratio per class (C and D may have higher ones),
    rounded up so that every class with businesses gets at least one; or a total count
    shared out in proportion to the classes' sizes (largest remainders)."""
    if count is not None:
        total = sum(counts.values())
        count = min(count, total)
        if total == 0 or count == 0:
            return {c: 0 for c in counts}
        exact = {c: Decimal(count) * n / total for c, n in counts.items()}
        out = {c: int(v) for c, v in exact.items()}
        rest = count - sum(out.values())
        for c in sorted(exact, key=lambda c: (-(exact[c] - int(exact[c])), c))[:rest]:
            out[c] += 1
        return out
    out = {}
    for c, n in counts.items():
        r = Decimal(class_ratios.get(c, ratio or 0))
        out[c] = min(n, math.ceil(n * r)) if n and r > 0 else 0
    return out


@dataclass(frozen=True)
class Target:
    code: str
    risk_class: str
    inspectors: tuple[str, ...]


class DrawError(ValueError):
    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def draw(seed: str, population: Iterable[Sequence[str]], quota: dict[str, int],
         roster: list[str], conflicts: set[tuple[str, str]], per_target: int) -> list[Target]:
    """population: (credit code, risk class) pairs (tuples or lists, in any order);
    conflicts: (username, credit code)."""
    by_class: dict[str, list[str]] = {c: [] for c in CLASSES}
    for code, cls in population:
        bucket = by_class.get(cls)
        if bucket is not None:
            bucket.append(code)
    # The ranking key sha256(seed + ":" + code), computed from a copy of a hash already fed
    # the prefix (the same digest). Its raw digest orders exactly as its hex form (fixed
    # length, and the hex digits 0-9a-f are in ascending order), so the bytes are compared
    # instead of spelling tens of thousands of keys out; the quota smallest keys are kept
    # without sorting the whole class (the same order again).
    copy = hashlib.sha256(f"{seed}:".encode("utf-8")).copy

    def key(code: str) -> bytes:
        h = copy()
        h.update(code.encode("utf-8"))
        return h.digest()

    chosen: list[tuple[bytes, str, str]] = []
    for c in CLASSES:
        k = quota.get(c, 0)
        if k > 0:
            codes = by_class[c]
            chosen += [(h, code, c) for h, code in heapq.nsmallest(k, zip(map(key, codes), codes))]
    chosen.sort()
    load = {u: 0 for u in sorted(roster)}
    targets = []
    for _key, code, cls in chosen:
        free = [u for u in load if (u, code) not in conflicts]
        if len(free) < per_target:
            raise DrawError("not_enough_inspectors", business=code)
        # (load, sha256(seed + ":" + code + ":" + username)): the digest as above
        fed = hashlib.sha256(f"{seed}:{code}:".encode("utf-8"))

        def rank(u: str, fed=fed) -> tuple[int, bytes]:
            h = fed.copy()
            h.update(u.encode("utf-8"))
            return load[u], h.digest()

        free.sort(key=rank)
        picked = tuple(sorted(free[:per_target]))
        for u in picked:
            load[u] += 1
        targets.append(Target(code, cls, picked))
    return targets


def result_json(targets: list[Target]) -> dict:
    return {"targets": [{"code": t.code, "class": t.risk_class, "inspectors": list(t.inspectors)}
                        for t in targets]}


# ----------------------------------------------------------------------------- yearly target


@dataclass
class Pace:
    target: int
    done: int
    expected_by_today: float
    projected: float
    behind: bool


def yearly_pace(target: int, done: int, today: dt.date) -> Pace:
    """每年开展专项行动和双随机检查不少于10项: done so far, expected by today, projected."""
    start = dt.date(today.year, 1, 1)
    days = (dt.date(today.year + 1, 1, 1) - start).days
    elapsed = (today - start).days + 1
    expected = target * elapsed / days
    projected = done * days / elapsed
    return Pace(target, done, round(expected, 1), round(projected, 1),
                behind=done < math.floor(expected) and projected < target)
