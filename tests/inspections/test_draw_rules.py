"""The verifiable draw: replayable, committed, conflict-free, ratios honoured."""
import datetime as dt
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from caseflow.core.ids import make_credit_code
from caseflow.inspections import rules as r


def population(n, seed=1):
    rng = random.Random(seed)
    return [(make_credit_code(rng), rng.choice("ABCD")) for _ in range(n)]


def test_replay_gives_identical_results():
    pop = population(300)
    roster = [f"u{i}" for i in range(8)]
    q = r.quotas({c: sum(1 for _, k in pop if k == c) for c in "ABCD"}, Decimal("0.05"), None,
                 {"C": Decimal("0.1"), "D": Decimal("0.2")})
    a = r.draw("ab" * 32, pop, q, roster, set(), 2)
    b = r.draw("ab" * 32, list(reversed(pop)), q, list(reversed(roster)), set(), 2)
    assert a == b
    c = r.draw("cd" * 32, pop, q, roster, set(), 2)
    assert [t.code for t in a] != [t.code for t in c]


def test_one_business_changes_the_commitment():
    codes = [c for c, _ in population(50)]
    h = r.population_hash(codes)
    assert r.population_hash(list(reversed(codes))) == h
    changed = codes[:-1] + [make_credit_code(random.Random(999))]
    assert r.population_hash(changed) != h
    assert r.population_hash(codes[:-1]) != h


def test_quotas_per_class_and_counts():
    counts = {"A": 100, "B": 200, "C": 40, "D": 10}
    q = r.quotas(counts, Decimal("0.05"), None, {"C": Decimal("0.1"), "D": Decimal("0.5")})
    assert q == {"A": 5, "B": 10, "C": 4, "D": 5}
    q = r.quotas(counts, None, 35, {})
    assert sum(q.values()) == 35 and q["B"] == 20
    assert r.quotas({"A": 3}, Decimal("0.01"), None, {}) == {"A": 1}  # at least one
    assert r.quotas({"A": 3}, None, 10, {}) == {"A": 3}


def test_not_enough_inspectors_is_refused():
    pop = population(5)
    code = pop[0][0]
    with pytest.raises(r.DrawError):
        r.draw("00" * 32, pop[:1], {pop[0][1]: 1}, ["u1", "u2"], {("u1", code)}, 2)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(5, 60), st.integers(3, 8), st.integers(0, 40))
def test_never_a_conflicted_inspector_and_even_spread(seed, n, inspectors, n_conflicts):
    rng = random.Random(seed)
    pop = population(n, seed)
    roster = [f"u{i}" for i in range(inspectors)]
    conflicts = {(rng.choice(roster), rng.choice(pop)[0]) for _ in range(n_conflicts)}
    counts = {c: sum(1 for _, k in pop if k == c) for c in "ABCD"}
    q = r.quotas(counts, Decimal("0.3"), None, {})
    try:
        targets = r.draw(f"{seed:064x}", pop, q, roster, conflicts, 2)
    except r.DrawError:
        return  # refused when a business has fewer than two free inspectors
    drawn_per_class = {c: sum(1 for t in targets if t.risk_class == c) for c in "ABCD"}
    assert drawn_per_class == q
    load = {u: 0 for u in roster}
    for t in targets:
        assert len(set(t.inspectors)) == 2
        assert not any((u, t.code) in conflicts for u in t.inspectors)
        for u in t.inspectors:
            load[u] += 1
    if not conflicts:
        assert max(load.values()) - min(load.values()) <= 1


def test_yearly_pace():
    p = r.yearly_pace(10, 3, dt.date(2026, 7, 2))
    assert p.expected_by_today == 5.0 and p.behind
    assert not r.yearly_pace(10, 6, dt.date(2026, 7, 2)).behind
    assert r.yearly_pace(10, 10, dt.date(2026, 12, 31)).projected == 10.0
