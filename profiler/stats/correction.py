"""Rates corrected for a tagger's measured error (Rogan-Gladen), with label and count uncertainty.

A tagger with sensitivity `se` and specificity `sp` flags a share `p = se * pi + (1 - sp)(1 - pi)`
of rows whose true prevalence is `pi`, so `pi = (p + sp - 1) / (se + sp - 1)` (Rogan and Gladen,
1978). The labels measure `se` and `sp` only approximately, and that uncertainty usually dominates
the count's. The interval is a parametric bootstrap: `se` and `sp` are drawn jointly from the
evaluation's posterior (profiler.evaluation.metrics: both come from the same labels, so they are
correlated), the observed rate `p` from its Beta posterior, and the corrected rate's percentiles
are taken (clipped to [0, 1]).

Every corrected cell lies inside the scope its accuracy was measured on (a group's gender cell in
the group, a group in all person mentions). The scope's flag counts are already part of the
accuracy's posterior, so drawing the cell's `p` with full binomial noise would count them twice:
the noise is scaled by `1 - n / N_scope` (none for the scope's own cell, full for a small cell of
a large scope). The simulation test checks the resulting coverage.

A correction is not estimable (None) when the tagger is not clearly better than chance: Youden's
`se + sp - 1` must be positive in all but `(1 - confidence) / 2` of the draws. Rate ratios (a
group against its reference) use joint draws: the group and the rest of its reference get their
own count draws, and a cell with the same labels in both scopes gets one draw for both, so shared
labels move both rates together as they do in truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DRAWS = 4000


@dataclass(frozen=True)
class Accuracy:
    """Posterior of a tagger's sensitivity and specificity on one scope of labels.

    Kept as the evaluation's post-stratified model (profiler.evaluation.metrics): rows per cell
    (stratum x flagged or not) and a Beta posterior of each cell's share of truly positive rows.
    """

    sensitivity: float
    specificity: float
    population: tuple[tuple[float, float], ...]  # rows per stratum: (not flagged, flagged)
    a: tuple[tuple[float, float], ...]  # Beta posterior of each cell's truly positive share
    b: tuple[tuple[float, float], ...]
    scope: str = "all"
    # per cell [h][f]: (effective labelled rows, weighted positive share), to tell shared labels
    labels: tuple[tuple[tuple[float, float], ...], ...] | None = None

    @property
    def rows(self) -> float:
        """Rows of the scope (with the signal known)."""
        return float(np.sum(self.population))

    def shares(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Draws (*shape, strata, 2) of each cell's truly positive share."""
        a, b = np.asarray(self.a, float), np.asarray(self.b, float)
        return rng.beta(a, b, size=(*shape, *a.shape))

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...],
             shares: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Joint (sensitivity, specificity) draws (from given cell `shares` when coupled)."""
        q = self.shares(rng, shape) if shares is None else shares
        return accuracy_from_shares(np.asarray(self.population, float), q)

    def coupled_shares(self, other: Accuracy, other_shares: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
        """Draws of this scope's cell shares that reuse `other`'s draws wherever a cell rests on
        the same labelled rows in both: shared labels move both scopes alike."""
        mine = self.shares(rng, other_shares.shape[:-2])
        if self.labels is None or other.labels is None:
            return mine
        labels, theirs = np.asarray(self.labels, float), np.asarray(other.labels, float)
        if labels.shape != theirs.shape:
            return mine
        same = np.isclose(labels, theirs).all(axis=-1) & (labels[..., 0] > 0)
        return np.where(same, other_shares, mine)


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


def observed_draws(k: np.ndarray, n: np.ndarray, scope_rows: float, rng: np.random.Generator,
                   shape: tuple[int, ...]) -> np.ndarray:
    """Draws of each cell's flag rate (k, n of shape (cells, 1)) with the noise its scope's
    posterior has not already counted: a Beta on n / (1 - n / scope_rows) rows."""
    share = np.clip(n / max(scope_rows, 1.0), 0.0, 1.0)
    fixed = share >= 0.999
    size = n / np.where(fixed, 1.0, 1.0 - share)
    p = k / np.maximum(n, 1.0)
    drawn = rng.beta(p * size + 0.5, (1 - p) * size + 0.5, size=shape)
    return np.where(fixed, np.broadcast_to(p, shape), drawn)


def corrected_rates(k, n, accuracy: Accuracy, rng: np.random.Generator, confidence: float = 0.95,
                    draws: int = DRAWS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rate, low, high) arrays for many cells of one scope; NaN where not estimable."""
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    shape = (k.shape[0], draws)
    se, sp = accuracy.draw(rng, shape)
    pi = rogan_gladen(observed_draws(k[:, None], n[:, None], accuracy.rows, rng, shape), se, sp)
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
) -> tuple[float | None, float | None, float | None]:
    """One cell's corrected (rate, low, high); None where not estimable."""
    rate, low, high = corrected_rates(np.array([k]), np.array([n]), accuracy, rng, confidence)
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
    ref_shares = ref_accuracy.shares(rng, shape)
    se_r, sp_r = ref_accuracy.draw(rng, shape, ref_shares)
    se, sp = accuracy.draw(rng, shape, accuracy.coupled_shares(ref_accuracy, ref_shares, rng))
    p = observed_draws(np.array([[k]], float), np.array([[n]], float), accuracy.rows, rng, shape)
    if subset:
        k_rest, n_rest = k_ref - k, n_ref - n
        rest = observed_draws(np.array([[k_rest]], float), np.array([[n_rest]], float),
                              ref_accuracy.rows - n, rng, shape) if n_rest > 0 else np.zeros(shape)
        p_ref = (n * p + n_rest * rest) / n_ref
    else:
        p_ref = observed_draws(np.array([[k_ref]], float), np.array([[n_ref]], float),
                               ref_accuracy.rows, rng, shape)
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
