"""The statistics' closed forms equal the statsmodels functions they replace, on random tables."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.inter_rater import cohens_kappa as statsmodels_kappa
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep

from profiler.stats.agreement import cohens_kappa
from profiler.stats.rates import benjamini_hochberg, independent_rate_ratio, odds_ratio, two_sided_z

RNG = np.random.default_rng(2026)


def _tables(count: int, scale: int):
    for _ in range(count):
        n1, n2 = (int(v) for v in RNG.integers(1, scale, size=2))
        yield int(RNG.integers(0, n1 + 1)), n1, int(RNG.integers(0, n2 + 1)), n2


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_normal_quantile(confidence):
    assert two_sided_z(confidence) == pytest.approx(norm.ppf(0.5 + confidence / 2), rel=1e-14)


@pytest.mark.parametrize("scale", [20, 5_000, 10_000_000])
def test_rate_ratio_is_statsmodels_log_adjusted(scale):
    for k1, n1, k2, n2 in _tables(300, scale):
        estimate, low, high = independent_rate_ratio(k1, n1, k2, n2, 0.9)
        if k2 == 0:
            assert estimate is None
            continue
        lo, hi = confint_proportions_2indep(k1, n1, k2, n2, compare="ratio", method="log-adjusted",
                                            alpha=0.1)
        assert (low, high) == pytest.approx((min(lo, estimate), max(hi, estimate)), rel=1e-12)


@pytest.mark.parametrize("scale", [6, 5_000, 10_000_000])
def test_odds_ratio_is_statsmodels_woolf(scale):
    for k1, n1, k2, n2 in _tables(300, scale):
        estimate, low, high = odds_ratio(k1, n1, k2, n2)
        if k1 + k2 in (0, n1 + n2):
            assert estimate is None
            continue
        table = Table2x2([[k1, n1 - k1], [k2, n2 - k2]], shift_zeros=True)
        lo, hi = table.oddsratio_confint(alpha=0.05)
        assert (low, high) == pytest.approx((min(lo, estimate), max(hi, estimate)), rel=1e-12)
        if 0 < k1 < n1 and 0 < k2 < n2:
            assert estimate == pytest.approx(table.oddsratio, rel=1e-12)


def test_benjamini_hochberg_is_statsmodels_fdr_bh():
    for size in [1, 2, 7, 60, 400]:
        for _ in range(20):
            p = list(RNG.uniform(0, 1, size) ** 4)
            p[: size // 5] = [p[0]] * (size // 5)  # ties
            q, reject = benjamini_hochberg(p, 0.05)
            expected_reject, expected_q, _, _ = multipletests(p, alpha=0.05, method="fdr_bh")
            assert q == pytest.approx(list(expected_q), rel=1e-12)
            assert reject == list(expected_reject)


@pytest.mark.parametrize("scale", [8, 500, 5_000_000])
def test_kappa_is_statsmodels_cohens_kappa(scale):
    tested = 0
    for _ in range(300):
        both, a_only, b_only, neither = (int(v) for v in RNG.integers(0, scale, size=4))
        n = both + a_only + b_only + neither
        if not (0 < both + a_only < n and 0 < both + b_only < n):
            continue
        result = statsmodels_kappa([[both, a_only], [b_only, neither]])
        assert cohens_kappa(both, a_only, b_only, neither) == pytest.approx(
            (result.kappa, result.kappa_low, result.kappa_upp), rel=1e-9, abs=1e-12)
        tested += 1
    assert tested > 100
