"""Error-corrected rates cover the planted truth.

Each simulated dataset has three groups with planted true rates (and a sub-cell, e.g. one gender,
with its own rate) and planted per-group tagger error; a stratified labelled sample is drawn from
it as label-sample draws it (group x flagged); the evaluation's estimates feed the Rogan-Gladen
correction. Over a few hundred datasets the 95% intervals of the corrected rates, of the sub-cells
and of the corrected rate ratios (group against all groups) must cover the planted values 93-97%
of the time.
"""

from __future__ import annotations

import numpy as np
import pytest

from profiler.evaluation.metrics import LabelledRows, evaluate_scope
from profiler.report.evaluation_file import accuracy_of
from profiler.stats.correction import Accuracy, corrected_rate, corrected_rates, corrected_ratio, rogan_gladen

SIZES = np.array([6000, 3000, 1500])
TRUE_RATES = np.array([0.10, 0.25, 0.15])
SUB_SHARE, SUB_FACTOR = 0.3, 1.5  # a sub-cell of each group with 1.5x the group's base rate
SENSITIVITY = np.array([0.85, 0.70, 0.90])
SPECIFICITY = np.array([0.95, 0.88, 0.97])
PER_STRATUM = 60  # labels per group x flagged / not flagged stratum
DATASETS = 300
DRAWS = 2000


def planted_group_rate(g: int) -> float:
    return TRUE_RATES[g] * (1 - SUB_SHARE + SUB_SHARE * SUB_FACTOR)


def simulate(rng: np.random.Generator) -> dict:
    """One dataset: per row its group, sub-cell, truth and flag; a labelled sample; evaluations."""
    group = np.repeat(np.arange(SIZES.size), SIZES)
    sub = rng.random(group.size) < SUB_SHARE
    rate = TRUE_RATES[group] * np.where(sub, SUB_FACTOR, 1.0)
    truth = rng.random(group.size) < rate
    flag = np.where(truth, rng.random(group.size) < SENSITIVITY[group],
                    rng.random(group.size) >= SPECIFICITY[group])
    picked, weights = [], []
    for g in range(SIZES.size):
        for side in (False, True):
            members = np.flatnonzero((group == g) & (flag == side))
            take = rng.choice(members, size=min(PER_STRATUM, members.size), replace=False)
            picked.append(take)
            weights.append(np.full(take.size, members.size / take.size))
    rows, weight = np.concatenate(picked), np.concatenate(weights)
    population = np.array([[int(((group == g) & ~flag).sum()), int(((group == g) & flag).sum())]
                           for g in range(SIZES.size)])
    pooled = LabelledRows(group[rows], flag[rows], truth[rows], weight)
    scopes = {"all": evaluate_scope(population, pooled, rng, draws=DRAWS)}
    for g in range(SIZES.size):  # a group's scope: its own stratum of the pooled cells
        mine = group[rows] == g
        labelled = LabelledRows(group[rows][mine], flag[rows][mine], truth[rows][mine], weight[mine])
        scopes[g] = evaluate_scope(np.where(np.arange(SIZES.size)[:, None] == g, population, 0),
                                   labelled, rng, draws=DRAWS)
    return {"group": group, "sub": sub, "truth": truth, "flag": flag, "scopes": scopes}


@pytest.fixture(scope="module")
def coverage() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(12)
    hits = {name: np.zeros(SIZES.size) for name in ("rate", "sub", "ratio", "raw", "recall")}
    reference = float((SIZES * [planted_group_rate(g) for g in range(SIZES.size)]).sum() / SIZES.sum())
    for _ in range(DATASETS):
        data = simulate(rng)
        group, sub, flag, truth = data["group"], data["sub"], data["flag"], data["truth"]
        pooled = accuracy_of(data["scopes"]["all"], "all")
        for g in range(SIZES.size):
            accuracy = accuracy_of(data["scopes"][g], str(g))
            mine = group == g
            k, n = int(flag[mine].sum()), int(mine.sum())
            _, low, high = corrected_rates(np.array([k]), np.array([n]), accuracy, rng, draws=DRAWS)
            hits["rate"][g] += low[0] <= planted_group_rate(g) <= high[0]
            cell = mine & sub
            _, low, high = corrected_rates(np.array([flag[cell].sum()]), np.array([cell.sum()]), accuracy,
                                           rng, draws=DRAWS)
            hits["sub"][g] += low[0] <= TRUE_RATES[g] * SUB_FACTOR <= high[0]
            _, low, high = corrected_ratio(k, n, int(flag.sum()), flag.size, True, accuracy, pooled, rng,
                                           draws=DRAWS)
            planted_ratio = planted_group_rate(g) / reference
            hits["ratio"][g] += low is not None and low <= planted_ratio <= (high or np.inf)
            raw = k / n
            hits["raw"][g] += abs(raw - planted_group_rate(g)) < 2 * np.sqrt(raw * (1 - raw) / n)
            recall = flag[mine & truth].mean()  # this dataset's own sensitivity for the group
            result = data["scopes"][g]["recall"]
            hits["recall"][g] += result["low"] <= recall <= result["high"]
    return {name: count / DATASETS for name, count in hits.items()}


@pytest.mark.parametrize("what", ["rate", "sub", "ratio"])
def test_corrected_intervals_cover_planted_values(coverage, what):
    assert 0.93 <= coverage[what].mean() <= 0.97, coverage[what]
    assert (coverage[what] >= 0.90).all(), coverage[what]


def test_raw_rates_miss_the_truth_the_correction_recovers(coverage):
    assert coverage["raw"].min() < 0.1, coverage["raw"]  # (one group's errors happen to cancel)


def test_recall_intervals_cover_each_datasets_sensitivity(coverage):
    assert 0.90 <= coverage["recall"].mean() <= 0.98, coverage["recall"]


def test_rogan_gladen_inverts_the_flag_rate():
    pi = np.linspace(0, 1, 11)
    se, sp = 0.8, 0.9
    observed = se * pi + (1 - sp) * (1 - pi)
    assert np.allclose(rogan_gladen(observed, np.float64(se), np.float64(sp)), pi)


def test_a_tagger_no_better_than_chance_cannot_correct():
    chance = Accuracy(0.5, 0.5, ((500.0, 500.0),), ((250.0, 250.0),), ((250.0, 250.0),))
    assert corrected_rate(30, 100, chance, np.random.default_rng(0)) == (None, None, None)


def test_complete_labels_give_the_populations_own_metrics():
    """Every row labelled: the estimates are the population's own precision and recall."""
    rng = np.random.default_rng(1)
    truth = rng.random(500) < 0.3
    flag = np.where(truth, rng.random(500) < 0.8, rng.random(500) < 0.1)
    rows = LabelledRows(np.zeros(500, int), flag, truth, np.ones(500))
    result = evaluate_scope(np.array([[int((~flag).sum()), int(flag.sum())]]), rows, rng)
    assert result["precision"]["value"] == pytest.approx((flag & truth).sum() / flag.sum(), abs=0.01)
    assert result["recall"]["value"] == pytest.approx((flag & truth).sum() / truth.sum(), abs=0.01)
    assert result["tp"] + result["fp"] + result["fn"] + result["tn"] == 500
