"""Error-corrected rates cover the planted truth: simulated datasets with planted per-group true
rates and per-group tagger error, a stratified labelled sample drawn from each (as label-sample
draws it), the evaluation's estimates, then the Rogan-Gladen correction's intervals."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.evaluation.metrics import LabelledRows, accuracy_of, evaluate_scope
from profiler.stats.correction import corrected_rate, corrected_rates, rogan_gladen

SIZES = np.array([6000, 3000, 1500])
TRUE_RATES = np.array([0.10, 0.25, 0.15])
SENSITIVITY = np.array([0.85, 0.70, 0.90])
SPECIFICITY = np.array([0.95, 0.88, 0.97])
PER_STRATUM = 60  # labels per group x flagged / not flagged stratum
DATASETS = 300


def _simulate(rng: np.random.Generator, group: int, truth_out: list | None = None) -> tuple[int, int, dict]:
    """One group's rows, flags and labelled sample; returns (k, n, evaluation of the group)."""
    n = int(SIZES[group])
    truth = rng.random(n) < TRUE_RATES[group]
    flag = np.where(truth, rng.random(n) < SENSITIVITY[group], rng.random(n) >= SPECIFICITY[group])
    if truth_out is not None:
        truth_out[:] = [truth, flag]
    picked, weights = [], []
    for side in (False, True):
        members = np.flatnonzero(flag == side)
        take = rng.choice(members, size=min(PER_STRATUM, members.size), replace=False)
        picked.append(take)
        weights.append(np.full(take.size, members.size / take.size))
    rows = np.concatenate(picked)
    labelled = LabelledRows(np.zeros(rows.size, int), flag[rows], truth[rows], np.concatenate(weights))
    population = np.array([[int((~flag).sum()), int(flag.sum())]])
    return int(flag.sum()), n, evaluate_scope(population, labelled, rng, draws=2000)


def test_corrected_intervals_cover_planted_rates():
    rng = np.random.default_rng(12)
    covered = np.zeros(len(SIZES))
    raw_covered = np.zeros(len(SIZES))
    for _ in range(DATASETS):
        for group in range(len(SIZES)):
            truth: list = []
            k, n, result = _simulate(rng, group, truth)
            accuracy = accuracy_of(result, str(group))
            assert accuracy is not None
            _rate, low, high = corrected_rates(np.array([k]), np.array([n]), accuracy, rng, draws=2000,
                                              own=True)
            covered[group] += low[0] <= truth[0].mean() <= high[0]  # the dataset's own true rate
            raw = k / n
            raw_covered[group] += abs(raw - TRUE_RATES[group]) < 2 * np.sqrt(raw * (1 - raw) / n)
    coverage = covered.sum() / (DATASETS * len(SIZES))
    assert 0.93 <= coverage <= 0.97, (coverage, covered / DATASETS)
    assert (covered / DATASETS >= 0.90).all(), covered / DATASETS
    # the raw rate, which ignores the tagger's error, misses the truth in most datasets
    assert raw_covered.sum() / (DATASETS * len(SIZES)) < 0.5


def test_recall_and_specificity_intervals_cover_planted_error():
    rng = np.random.default_rng(5)
    hits = {"recall": 0, "specificity": 0}
    for _ in range(DATASETS):
        rows: list = []
        _, _, result = _simulate(rng, 1, rows)
        truth, flag = rows
        recall, specificity = flag[truth].mean(), 1 - flag[~truth].mean()  # of this dataset
        hits["recall"] += result["recall"]["low"] <= recall <= result["recall"]["high"]
        hits["specificity"] += result["specificity"]["low"] <= specificity <= result["specificity"]["high"]
    for name, count in hits.items():
        assert 0.90 <= count / DATASETS <= 0.98, (name, count / DATASETS)  # recall: ~92% (skewed)


def test_rogan_gladen_inverts_the_flag_rate():
    pi = np.linspace(0, 1, 11)
    se, sp = 0.8, 0.9
    observed = se * pi + (1 - sp) * (1 - pi)
    assert np.allclose(rogan_gladen(observed, np.float64(se), np.float64(sp)), pi)


def test_a_tagger_no_better_than_chance_cannot_correct():
    from profiler.stats.correction import Accuracy

    chance = Accuracy(0.5, 0.5, ((500.0, 500.0),), ((250.0, 250.0),), ((250.0, 250.0),))
    assert corrected_rate(30, 100, chance, np.random.default_rng(0)) == (None, None, None)


@pytest.mark.parametrize("weights", [False, True])
def test_weighted_estimate_matches_the_population_when_labels_are_complete(weights):
    """Every row labelled: the estimate is the population's own precision / recall exactly."""
    rng = np.random.default_rng(1)
    truth = rng.random(500) < 0.3
    flag = np.where(truth, rng.random(500) < 0.8, rng.random(500) < 0.1)
    weight = np.ones(500) if not weights else np.where(flag, 1.0, 1.0)
    rows = LabelledRows(np.zeros(500, int), flag, truth, weight)
    result = evaluate_scope(np.array([[int((~flag).sum()), int(flag.sum())]]), rows, rng)
    assert result["precision"]["value"] == pytest.approx((flag & truth).sum() / flag.sum(), abs=0.01)
    assert result["recall"]["value"] == pytest.approx((flag & truth).sum() / truth.sum(), abs=0.01)
    assert result["tp"] + result["fp"] + result["fn"] + result["tn"] == 500
