"""Proportion statistics: intervals, ratios and multiple-testing control, in closed form.

Each is the textbook formula statsmodels implements, and tests compare them with statsmodels on
random tables. Closed forms because importing scipy.stats and statsmodels cost a run about 0.9 s
of CPU (bench/single_file.py: a 12.5M-row run's fixed cost, paid again by every resume), for
functions of four counts each.
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

from profiler.defaults import CONFIDENCE


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval, the closed form statsmodels' `proportion_confint(method="wilson")`
    computes (tests compare the two): a run computes thousands, and the library call's argument
    handling cost about 90 us each, a large share of the end of a run."""
    return wilson_of_share(k / n, n, confidence)


def wilson_of_share(rate: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's interval for a proportion `rate` observed on `n` rows; `n` may be any positive
    real, e.g. a weighted sample's effective size (stats/language.py)."""
    z = two_sided_z(confidence)
    z2n = z * z / n
    centre = (rate + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(rate * (1 - rate) / n + z2n / (4 * n)) / (1 + z2n)
    # Clamp floating-point dust: at k = 0 or k = n the bound must equal the rate exactly.
    return float(max(min(centre - half, rate), 0.0)), float(min(max(centre + half, rate), 1.0))


@functools.lru_cache(maxsize=16)
def two_sided_z(confidence: float) -> float:
    """The normal quantile of a two-sided interval at `confidence`."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


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
    """Rate ratio of two independent samples with the log-adjusted (Katz, +0.5) interval:
    statsmodels' `confint_proportions_2indep(compare="ratio", method="log-adjusted")`."""
    if n1 == 0 or n2 == 0 or k2 == 0:
        return None, None, None
    a1, m1, a2, m2 = k1 + 0.5, n1 + 0.5, k2 + 0.5, n2 + 0.5
    centre = math.log((a1 / m1) / (a2 / m2))
    half = two_sided_z(confidence) * math.sqrt(1 / a1 - 1 / m1 + 1 / a2 - 1 / m2)
    return _contain((k1 / n1) / (k2 / n2), math.exp(centre - half), math.exp(centre + half))


def _contain(estimate: float, low: float, high: float) -> tuple[float, float, float]:
    """The interval comes from adjusted counts; widen it so it always holds the raw estimate
    (0 positives give a ratio of 0 and a lower bound of 0, not a bound above the estimate)."""
    return estimate, min(low, estimate), max(high, estimate)


def odds_ratio(k1: int, n1: int, k2: int, n2: int, confidence: float = CONFIDENCE):
    """Odds ratio of two disjoint samples with a Woolf (log) interval; zero cells become 0.5."""
    if n1 == 0 or n2 == 0:
        return None, None, None
    cells = [[k1, n1 - k1], [k2, n2 - k2]]
    if min(min(row) for row in cells) == 0 and (k1 + k2 == 0 or k1 + k2 == n1 + n2):
        return None, None, None  # no variation at all: the odds ratio is undefined
    # Woolf's interval on the table with zero cells set to 0.5 (statsmodels' Table2x2 default)
    (a, b), (c, d) = ([count or 0.5 for count in row] for row in cells)
    centre = math.log(a * d / (b * c))
    half = two_sided_z(confidence) * math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    estimate = a * d / (b * c)
    if k1 == 0 or k2 == n2:
        estimate = 0.0
    elif k2 == 0 or k1 == n1:
        estimate = math.inf
    return _contain(estimate, math.exp(centre - half), math.exp(centre + half))


def benjamini_hochberg(p_values: list[float], alpha: float) -> tuple[list[float], list[bool]]:
    """Benjamini-Hochberg q-values and rejections at `alpha` (statsmodels' fdr_bh): q of the
    i-th smallest p is min over j >= i of p_j m / j, capped at 1; rejected where q <= alpha."""
    if not p_values:
        return [], []
    m = len(p_values)
    order = sorted(range(m), key=p_values.__getitem__)
    q, reject = [0.0] * m, [False] * m
    running, rejecting = 1.0, False
    for rank in range(m, 0, -1):  # from the largest p down, as statsmodels' arithmetic
        index = order[rank - 1]
        running = min(running, p_values[index] / (rank / m))
        rejecting = rejecting or p_values[index] <= rank / m * alpha
        q[index], reject[index] = running, rejecting
    return q, reject
