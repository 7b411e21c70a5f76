"""Fitting one threshold on labelled scores: maximum F1, or the lowest cut reaching a target
precision; metrics with Wilson intervals, ROC AUC, average precision, and a bootstrap interval of
the cut itself (how much it would move with other labels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from profiler.errors import UserError

# Labels per side below which no threshold is fitted: F1 / precision would rest on a handful.
MIN_PER_SIDE = 5
# Below this many positives a fit is made but flagged as noisy.
FEW_POSITIVES = 30
BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Fit:
    """One fitted threshold and how it does on the labels it was fitted on."""

    threshold: float
    positives: int
    negatives: int
    true_positives: int
    false_positives: int
    precision: float
    recall: float
    f1: float
    precision_ci: tuple[float, float]
    recall_ci: tuple[float, float]
    roc_auc: float
    pr_auc: float
    threshold_ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "threshold": self.threshold, "positives": self.positives, "negatives": self.negatives,
            "true_positives": self.true_positives, "false_positives": self.false_positives,
        }
        for name in ("precision", "recall", "f1", "roc_auc", "pr_auc"):
            out[name] = round(float(getattr(self, name)), 6)
        out["precision_ci"] = [round(v, 6) for v in self.precision_ci]
        out["recall_ci"] = [round(v, 6) for v in self.recall_ci]
        if self.threshold_ci is not None:
            out["threshold_ci"] = [round(v, 6) for v in self.threshold_ci]
        return out


def fit_threshold(scores: np.ndarray, positive: np.ndarray, target_precision: float | None = None,
                  what: str = "the score", bootstrap: int = BOOTSTRAP_RESAMPLES) -> Fit:
    """Fit `score >= threshold` on labelled samples: max F1, or the lowest threshold whose
    precision reaches `target_precision`. Needs MIN_PER_SIDE positives and negatives."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from profiler.stats.rates import wilson

    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos < MIN_PER_SIDE or n_neg < MIN_PER_SIDE:
        side, count = ("positive", n_pos) if n_pos < MIN_PER_SIDE else ("negative", n_neg)
        raise UserError(f"{what}: only {count} {side} label(s) among {len(positive)} labelled samples; "
                        f"fitting needs at least {MIN_PER_SIDE} of each: label more {side} samples")
    threshold = _choose(scores, positive, target_precision, what)
    predicted = scores >= threshold
    tp = int((predicted & positive).sum())
    fp = int((predicted & ~positive).sum())
    precision, recall = tp / (tp + fp), tp / n_pos
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return Fit(
        threshold=threshold, positives=n_pos, negatives=n_neg, true_positives=tp, false_positives=fp,
        precision=precision, recall=recall, f1=f1,
        precision_ci=wilson(tp, tp + fp), recall_ci=wilson(tp, n_pos),
        roc_auc=float(roc_auc_score(positive, scores)),
        pr_auc=float(average_precision_score(positive, scores)),
        threshold_ci=_bootstrap_threshold(scores, positive, target_precision, bootstrap),
    )


def _choose(scores: np.ndarray, positive: np.ndarray, target: float | None, what: str) -> float:
    """The cut at a sample score (sklearn's curve), written as a short decimal below it."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, cuts = precision_recall_curve(positive, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no cut
    if target is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        index = int(np.argmax(f1))  # ties: the lowest cut (cuts ascend), i.e. the most recall
    else:
        reached = np.flatnonzero(precision >= target - 1e-12)
        if not len(reached):
            best = int(np.argmax(precision))
            raise UserError(
                f"{what}: no threshold reaches precision {target:g} on these labels (the best is "
                f"{precision[best]:.3f} at recall {recall[best]:.3f}): lower --target-precision "
                "or label more samples")
        index = int(reached[0])
    lower = float(cuts[index - 1]) if index > 0 else None
    return short_cut(float(cuts[index]), lower)


def short_cut(cut: float, lower: float | None) -> float:
    """The shortest decimal near the middle of (lower, cut]: the same decisions on every score
    outside that gap, compared in float64 or float32 (tag columns are float32)."""
    low = 0.0 if lower is None else lower
    if cut <= low:
        return cut
    middle = (low + cut) / 2

    def inside(value: float) -> bool:
        f32 = np.float32(value)
        return low < value <= cut and np.float32(low) < f32 <= np.float32(cut)

    for digits in range(1, 10):
        value = round(middle, digits)
        if inside(value):
            return value
    return cut


def _bootstrap_threshold(scores: np.ndarray, positive: np.ndarray, target: float | None,
                         resamples: int) -> tuple[float, float] | None:
    """2.5-97.5 percentiles of the threshold refitted on resampled labels (seeded)."""
    if resamples <= 0:
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    cuts = []
    for _ in range(resamples):
        pick = rng.integers(0, len(scores), len(scores))
        if positive[pick].all() or not positive[pick].any():
            continue
        try:
            cuts.append(_choose(scores[pick], positive[pick], target, ""))
        except UserError:  # the target precision is out of reach on this resample
            continue
    if len(cuts) < resamples // 2:
        return None
    low, high = np.percentile(cuts, [2.5, 97.5])
    return float(low), float(high)
