"""A tagger's precision, recall and specificity on one scope of hand labels, with intervals.

Labels are rarely a simple random sample: `label-sample` oversamples rare strata, so raw label
counts overstate flagged rows. The estimate is post-stratified: the scope's rows are split into
cells (sampling stratum `h` x flagged or not), the run says exactly how many rows each cell holds
(`population[h, f]`), and the labelled rows of a cell estimate its share of truly positive rows
`q[h, f]` (weighted by the sample's weights within the cell, so a design finer than the cells is
still unbiased). Then

    TP = sum_h N[h,1] q[h,1]    FP = sum_h N[h,1] (1 - q[h,1])
    FN = sum_h N[h,0] q[h,0]    TN = sum_h N[h,0] (1 - q[h,0])

Intervals come from posterior draws: each `q[h, f]` ~ Beta on the cell's Kish effective sample
size, with one Jeffreys prior per flag shared among its cells; percentiles of precision, recall and
specificity over the draws. The same cell posteriors (`posterior`: rows and Beta parameters per
cell) are what the rate correction draws sensitivity and specificity from, jointly. A cell with
rows but no labels borrows the scope's labelled rows with the same flag (weighted), so a partly
labelled sample still gives an answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from profiler.report.evaluation_file import METRICS, accuracy_of
from profiler.stats.correction import DRAWS, accuracy_from_shares

# Labelled truly positive and truly negative rows a scope needs before its own sensitivity and
# specificity correct its rates (otherwise a wider scope's labels are used).
MIN_LABELS_PER_SIDE = 10


@dataclass(frozen=True)
class LabelledRows:
    """The labelled rows of one scope: sampling stratum, the tagger's flag, the label, weight."""

    stratum: np.ndarray  # int, index into population's first axis
    flag: np.ndarray  # bool
    truth: np.ndarray  # bool
    weight: np.ndarray  # float > 0


def confusion(rows: LabelledRows) -> dict[str, int]:
    """Unweighted counts of the labelled rows."""
    f, t = rows.flag, rows.truth
    return {"n": int(f.size), "tp": int((f & t).sum()), "fp": int((f & ~t).sum()),
            "fn": int((~f & t).sum()), "tn": int((~f & ~t).sum())}


def prior_weights(strata: int, rows: LabelledRows) -> np.ndarray:
    """Each cell's share [h, f] of its flag's labels (Kish effective sizes) in a scope: how one
    Jeffreys prior per flag is shared among the scope's cells."""
    weights = np.zeros((strata, 2))
    for f in (0, 1):
        for h in range(strata):
            cell = (rows.flag == bool(f)) & (rows.stratum == h)
            weights[h, f] = _n_eff(rows.weight[cell]) if cell.any() else 0.0
        total = weights[:, f].sum()
        weights[:, f] = weights[:, f] / total if total else 1.0
    return weights


def _cell_posteriors(population: np.ndarray, rows: LabelledRows,
                     prior: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Beta (a, b) per cell [h, f]; None when a flag with rows has no labels at all.

    One Jeffreys prior (half a positive, half a negative) per flag, shared among its cells in
    proportion to their labels (`prior_weights`): with one cell it is Jeffreys' prior, and with
    many cells it does not add half a false negative to every one of them (which would drag
    recall down however many labels agree with the tagger).
    """
    strata = population.shape[0]
    a = np.zeros((strata, 2))
    b = np.zeros((strata, 2))
    for f in (0, 1):
        side = rows.flag == bool(f)
        if population[:, f].sum() > 0 and not side.any():
            return None
        if not side.any():
            a[:, f] = b[:, f] = 0.5
            continue
        pooled = _beta(rows.truth[side], rows.weight[side], 1.0)
        for h in range(strata):
            cell = side & (rows.stratum == h)
            a[h, f], b[h, f] = (_beta(rows.truth[cell], rows.weight[cell], max(prior[h, f], 1e-3))
                                if cell.any() else pooled)
    return a, b


def _cell_labels(strata: int, rows: LabelledRows) -> list[list[list[float]]]:
    """Per cell [h, f]: (effective labelled rows, weighted positive share): which cells of two
    scopes rest on the same labels (the rate ratio draws those once for both)."""
    out = [[[0.0, 0.0], [0.0, 0.0]] for _ in range(strata)]
    for h in range(strata):
        for f in (0, 1):
            cell = (rows.stratum == h) & (rows.flag == bool(f))
            if cell.any():
                w = rows.weight[cell]
                out[h][f] = [_n_eff(w), float((w * rows.truth[cell]).sum() / w.sum())]
    return out


def _n_eff(weight: np.ndarray) -> float:
    """Kish's effective sample size of weighted labels."""
    return float(weight.sum() ** 2 / (weight**2).sum())


def _beta(truth: np.ndarray, weight: np.ndarray, prior: float) -> tuple[float, float]:
    """Posterior of a weighted share on the Kish effective sample size, with `prior` times
    Jeffreys' prior."""
    share = float((weight * truth).sum() / weight.sum())
    n_eff = _n_eff(weight)
    return share * n_eff + 0.5 * prior, (1 - share) * n_eff + 0.5 * prior


def _metrics(population: np.ndarray, q: np.ndarray) -> dict[str, np.ndarray]:
    """precision / recall / specificity for q of shape (..., strata, 2)."""
    flagged = population[:, 1]
    tp = (flagged * q[..., 1]).sum(-1)
    recall, specificity = accuracy_from_shares(population, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"precision": tp / flagged.sum(), "recall": recall, "specificity": specificity}


def evaluate_scope(population: np.ndarray, rows: LabelledRows, rng: np.random.Generator,
                   confidence: float = 0.95, draws: int = DRAWS) -> dict:
    """Counts, the three metrics as {value, low, high}, and the joint posterior of recall and
    specificity that the rate correction draws from (None where not estimable)."""
    population = np.asarray(population, float)
    out: dict = {**confusion(rows), "labelled_positive": int(rows.truth.sum()),
                 "labelled_negative": int((~rows.truth).sum())}
    prior = prior_weights(population.shape[0], rows)
    posteriors = _cell_posteriors(population, rows, prior) if rows.flag.size else None
    empty = {"value": None, "low": None, "high": None}
    if posteriors is None:
        out.update({m: dict(empty) for m in METRICS}, posterior=None)
        return out
    a, b = posteriors
    sample = _metrics(population, rng.beta(a, b, size=(draws, *a.shape)))
    tail = (1 - confidence) / 2
    for name in METRICS:
        finite = sample[name][np.isfinite(sample[name])]
        if finite.size < draws * (1 - tail):
            out[name] = dict(empty)
            continue
        # the posterior median: with few labels in a large cell the plug-in share can sit outside
        # the interval, the median cannot
        out[name] = {"value": float(np.median(finite)), "low": float(np.quantile(finite, tail)),
                     "high": float(np.quantile(finite, 1 - tail))}
    out["posterior"] = {"population": population.tolist(), "a": a.tolist(), "b": b.tolist(),
                        "labels": _cell_labels(population.shape[0], rows)}
    return out


def enough_labels(scope_result: dict) -> bool:
    """Whether a scope's own labels are enough to correct its rates."""
    return (scope_result.get("labelled_positive", 0) >= MIN_LABELS_PER_SIDE
            and scope_result.get("labelled_negative", 0) >= MIN_LABELS_PER_SIDE
            and accuracy_of(scope_result, "") is not None)
