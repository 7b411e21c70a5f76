"""Proportion statistics: intervals, ratios and exact tests (library-backed where one exists).

scipy and statsmodels are imported inside the functions: they take a second to import, and
shard workers (which only count) never need them.
"""

from __future__ import annotations

import functools
import math

from profiler.defaults import CONFIDENCE


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval, the closed form statsmodels' `proportion_confint(method="wilson")`
    computes (tests compare the two): a run computes thousands, and the library call's argument
    handling cost about 90 us each, a large share of the end of a run."""
    rate = k / n
    z = two_sided_z(confidence)
    z2n = z * z / n
    centre = (rate + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(rate * (1 - rate) / n + z2n / (4 * n)) / (1 + z2n)
    # Clamp floating-point dust: at k = 0 or k = n the bound must equal the rate exactly.
    return float(max(min(centre - half, rate), 0.0)), float(min(max(centre + half, rate), 1.0))


@functools.lru_cache(maxsize=16)
def two_sided_z(confidence: float) -> float:
    """The normal quantile of a two-sided interval at `confidence`."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def subset_rate_ratio(k_g: int, n_g: int, k_rest: int, n_rest: int, confidence: float = CONFIDENCE):
    """Rate ratio of a group to its whole reference (group + rest), with a delta-method interval.

    log RR = log p_g - log(w p_g + (1 - w) p_r), w = n_g / (n_g + n_r); p_g and p_r are
    independent. Zero cells get the Haldane-Anscombe +0.5 for the interval only.
    """
    n_ref, k_ref = n_g + n_rest, k_g + k_rest
    if n_g == 0 or n_rest == 0 or k_ref == 0:
        return None, None, None
    estimate = (k_g / n_g) / (k_ref / n_ref)
    zero = min(k_g, n_g - k_g, k_rest, n_rest - k_rest) == 0
    c = 0.5 if zero else 0.0
    p_g = (k_g + c) / (n_g + 2 * c)
    p_r = (k_rest + c) / (n_rest + 2 * c)
    w = n_g / n_ref
    p_all = w * p_g + (1 - w) * p_r
    var = (1 / p_g - w / p_all) ** 2 * p_g * (1 - p_g) / n_g
    var += ((1 - w) / p_all) ** 2 * p_r * (1 - p_r) / n_rest
    z = two_sided_z(confidence)
    centre = math.log(p_g / p_all)
    half = z * math.sqrt(var)
    return _contain(estimate, math.exp(centre - half), math.exp(centre + half))


def independent_rate_ratio(k1: int, n1: int, k2: int, n2: int, confidence: float = CONFIDENCE):
    """Rate ratio of two independent samples with statsmodels' log-adjusted interval."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    if n1 == 0 or n2 == 0 or k2 == 0:
        return None, None, None
    low, high = confint_proportions_2indep(
        k1, n1, k2, n2, compare="ratio", method="log-adjusted", alpha=1 - confidence
    )
    return _contain((k1 / n1) / (k2 / n2), float(low), float(high))


def _contain(estimate: float, low: float, high: float) -> tuple[float, float, float]:
    """The interval comes from adjusted counts; widen it so it always holds the raw estimate
    (0 positives give a ratio of 0 and a lower bound of 0, not a bound above the estimate)."""
    return estimate, min(low, estimate), max(high, estimate)


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    from scipy.stats import fisher_exact

    return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)


def odds_ratio(k1: int, n1: int, k2: int, n2: int, confidence: float = CONFIDENCE):
    """Odds ratio of two disjoint samples with a Woolf (log) interval; zero cells get +0.5."""
    from statsmodels.stats.contingency_tables import Table2x2

    if n1 == 0 or n2 == 0:
        return None, None, None
    cells = [[k1, n1 - k1], [k2, n2 - k2]]
    if min(min(row) for row in cells) == 0 and (k1 + k2 == 0 or k1 + k2 == n1 + n2):
        return None, None, None  # no variation at all: the odds ratio is undefined
    table = Table2x2(cells, shift_zeros=True)
    low, high = table.oddsratio_confint(alpha=1 - confidence)
    estimate = float(table.oddsratio)
    if k1 == 0 or k2 == n2:
        estimate = 0.0
    elif k2 == 0 or k1 == n1:
        estimate = math.inf
    return _contain(estimate, float(low), float(high))


def benjamini_hochberg(p_values: list[float], alpha: float) -> tuple[list[float], list[bool]]:
    """q-values and rejections at `alpha` (statsmodels' fdr_bh)."""
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return [], []
    reject, q, _, _ = multipletests(p_values, alpha=alpha, method="fdr_bh")
    return [float(v) for v in q], [bool(r) for r in reject]
