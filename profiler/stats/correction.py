"""Rates corrected for a tagger's measured error (Rogan-Gladen), with label and count uncertainty.

A tagger with sensitivity `se` and specificity `sp` flags a share `p = se * pi + (1 - sp)(1 - pi)`
of rows whose true prevalence is `pi`, so `pi = (p + sp - 1) / (se + sp - 1)` (Rogan and Gladen,
1978). The labels measure `se` and `sp` only approximately, and that uncertainty usually dominates
the count's: the interval is a parametric bootstrap that draws `se` and `sp` jointly from the
evaluation's posterior (profiler.evaluation.metrics: both come from the same labels, so they are
correlated), the observed rate from its Jeffreys posterior `Beta(k + 1/2,
n - k + 1/2)`, and takes percentiles of the corrected rate (clipped to [0, 1]). A correction is
not estimable (None) when the tagger is not clearly better than chance: Youden's `se + sp - 1`
must be positive in all but `(1 - confidence) / 2` of the draws.

Rate ratios (a group against its reference) are corrected the same way from joint draws: the
group and the rest of its reference get independent count draws, and they share the accuracy draws
when both use the same labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DRAWS = 4000


@dataclass(frozen=True)
class Accuracy:
    """Posterior of a tagger's sensitivity and specificity on one scope of labels.

    Kept as the evaluation's post-stratified model (profiler.evaluation.metrics): rows per cell
    (stratum x flagged or not) and a Beta posterior of each cell's share of truly positive rows,
    so sensitivity and specificity are drawn jointly and exactly (they come from the same labels
    and are correlated).
    """

    sensitivity: float
    specificity: float
    population: tuple[tuple[float, float], ...]  # rows per stratum: (not flagged, flagged)
    a: tuple[tuple[float, float], ...]  # Beta posterior of each cell's truly positive share
    b: tuple[tuple[float, float], ...]
    scope: str = "all"

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        a, b = np.asarray(self.a, float), np.asarray(self.b, float)
        q = rng.beta(a, b, size=(*shape, *a.shape))
        return accuracy_from_shares(np.asarray(self.population, float), q)


def accuracy_from_shares(population: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sensitivity, specificity) of shares `q` (..., strata, 2) of truly positive rows per cell."""
    flagged, clear = population[:, 1], population[:, 0]
    tp = (flagged * q[..., 1]).sum(-1)
    fn = (clear * q[..., 0]).sum(-1)
    tn = (clear * (1 - q[..., 0])).sum(-1)
    fp = (flagged * (1 - q[..., 1])).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return tp / (tp + fn), tn / (tn + fp)


def rogan_gladen(p: np.ndarray, se: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """Corrected prevalence, clipped to [0, 1]; NaN where se + sp <= 1."""
    youden = se + sp - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.where(youden > 0, (p + sp - 1) / youden, np.nan)
    return np.clip(pi, 0.0, 1.0)


def corrected_draws(k: np.ndarray, n: np.ndarray, accuracy: Accuracy, rng: np.random.Generator,
                    draws: int = DRAWS, se_sp: tuple[np.ndarray, np.ndarray] | None = None,
                    own: bool = False) -> np.ndarray:
    """Posterior draws (rows x draws) of the corrected rate of each (k, n).

    `own`: the rows are exactly the rows the accuracy was measured on (a group's cell corrected
    with the group's labels). Their flag counts are then already part of the accuracy's
    posterior, so the observed rate is held fixed instead of drawn a second time.
    """
    k = np.asarray(k, float)[:, None]
    n = np.asarray(n, float)[:, None]
    shape = (k.shape[0], draws)
    p = np.broadcast_to(k / n, shape) if own else rng.beta(k + 0.5, n - k + 0.5, size=shape)
    se, sp = se_sp if se_sp is not None else accuracy.draw(rng, shape)
    return rogan_gladen(p, se, sp)


def corrected_rates(k, n, accuracy: Accuracy, rng: np.random.Generator, confidence: float = 0.95,
                    draws: int = DRAWS, own: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rate, low, high) arrays for many cells at once; NaN where the correction is not estimable."""
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    shape = (k.shape[0], draws)
    se, sp = accuracy.draw(rng, shape)
    pi = corrected_draws(k, n, accuracy, rng, draws, (se, sp), own)
    tail = (1 - confidence) / 2
    usable = np.mean(se + sp - 1 > 0, axis=1) >= 1 - tail
    with np.errstate(invalid="ignore", divide="ignore"):
        point = rogan_gladen(k / n, np.float64(accuracy.sensitivity), np.float64(accuracy.specificity))
    low, high = _percentiles(pi, tail)
    bad = ~usable | ~np.isfinite(point) | (n <= 0)
    return (np.where(bad, np.nan, point), np.where(bad, np.nan, low), np.where(bad, np.nan, high))


def _percentiles(values: np.ndarray, tail: float) -> tuple[np.ndarray, np.ndarray]:
    filled = np.where(np.isnan(values), 0.0, values)
    return np.quantile(filled, tail, axis=-1), np.quantile(filled, 1 - tail, axis=-1)


def corrected_rate(
    k: int, n: int, accuracy: Accuracy, rng: np.random.Generator, confidence: float = 0.95,
    own: bool = False,
) -> tuple[float | None, float | None, float | None]:
    """One cell's corrected (rate, low, high); None where not estimable."""
    rate, low, high = corrected_rates(np.array([k]), np.array([n]), accuracy, rng, confidence, own=own)
    return _none(rate[0]), _none(low[0]), _none(high[0])


def corrected_ratio(
    k: int, n: int, k_ref: int, n_ref: int, subset: bool, accuracy: Accuracy,
    ref_accuracy: Accuracy, rng: np.random.Generator, confidence: float = 0.95, draws: int = DRAWS,
) -> tuple[float | None, float | None, float | None]:
    """Corrected rate ratio cell / reference with a percentile interval; None where not estimable.

    `subset`: the cell's rows are part of the reference's (a group within all person mentions).
    The high end is None when the reference's corrected rate reaches 0 in the draws' tail.
    """
    tail = (1 - confidence) / 2
    shape = (1, draws)
    se, sp = accuracy.draw(rng, shape)
    same = ref_accuracy.scope == accuracy.scope
    se_r, sp_r = (se, sp) if same else ref_accuracy.draw(rng, shape)
    p = rng.beta(k + 0.5, n - k + 0.5, size=shape)
    if subset:
        k_rest, n_rest = k_ref - k, n_ref - n
        p_rest = rng.beta(k_rest + 0.5, n_rest - k_rest + 0.5, size=shape)
        p_ref = (n * p + n_rest * p_rest) / n_ref
    else:
        p_ref = rng.beta(k_ref + 0.5, n_ref - k_ref + 0.5, size=shape)
    youden_ok = min(np.mean(se + sp - 1 > 0), np.mean(se_r + sp_r - 1 > 0)) >= 1 - tail
    pi, pi_ref = rogan_gladen(p, se, sp), rogan_gladen(p_ref, se_r, sp_r)
    point_pi = rogan_gladen(np.float64(k / n), np.float64(accuracy.sensitivity),
                            np.float64(accuracy.specificity))
    point_ref = rogan_gladen(np.float64(k_ref / n_ref), np.float64(ref_accuracy.sensitivity),
                             np.float64(ref_accuracy.specificity))
    if not youden_ok or not np.isfinite(point_pi) or not np.isfinite(point_ref) or point_ref <= 0:
        return None, None, None
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(pi_ref > 0, pi / pi_ref, np.inf)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    with np.errstate(invalid="ignore"):
        low, high = np.quantile(ratio, tail), np.quantile(ratio, 1 - tail)
    return float(point_pi / point_ref), _none(low), _none(high)


def _none(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
