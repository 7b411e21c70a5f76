"""Shard bootstrap validated by simulation: planted between-shard variation is recovered.

500 simulated datasets of 20 shards; each shard's rate is drawn around a common mean with a
planted between-shard SD, then its rows are binomial. The pooled rate's true SD is known in
closed form; the bootstrap SD must match it, its percentile interval must cover the mean near
the nominal rate, and the design effect must show how much the binomial interval understates.
"""

from __future__ import annotations

import numpy as np

from profiler.counting.counts import Counts
from profiler.stats.bootstrap import shard_bootstrap

DATASETS, SHARDS, ROWS = 500, 20, 400
MEAN, BETWEEN_SD = 0.2, 0.05


def simulate(rng: np.random.Generator) -> list[Counts]:
    # Beta with the planted mean and SD: alpha + beta = mean (1 - mean) / sd^2 - 1
    concentration = MEAN * (1 - MEAN) / BETWEEN_SD**2 - 1
    rates = rng.beta(MEAN * concentration, (1 - MEAN) * concentration, size=SHARDS)
    parts = []
    for rate in rates:
        part = Counts(["all", "person_mention", "no_identity"], ["signal"])
        part.observed[0, 0, 0] = ROWS
        part.positive[0, 0, 0] = rng.binomial(ROWS, rate)
        part.tagged = ROWS
        parts.append(part)
    return parts


def test_bootstrap_recovers_planted_between_shard_spread():
    rng = np.random.default_rng(11)
    true_sd = np.sqrt((BETWEEN_SD**2 + (MEAN * (1 - MEAN) - BETWEEN_SD**2) / ROWS) / SHARDS)
    sds, covered, design_effects = [], 0, []
    for _ in range(DATASETS):
        result = shard_bootstrap(simulate(rng), ["all", "person_mention", "no_identity"],
                                 ["signal"], replicates=300, seed=int(rng.integers(1 << 31)))
        cell = next(c for c in result["cells"] if c["population"] == "all")
        sds.append(cell["sd"])
        covered += cell["low"] <= MEAN <= cell["high"]
        design_effects.append(cell["design_effect"])
    ratio = np.mean(sds) / true_sd
    coverage = covered / DATASETS
    expected_deff = true_sd**2 / (MEAN * (1 - MEAN) / (SHARDS * ROWS))
    print(f"bootstrap SD / true SD = {ratio:.3f}; coverage {coverage:.3f}; "
          f"design effect {np.mean(design_effects):.2f} (expected {expected_deff:.2f})")
    # 20 clusters: the bootstrap SD is biased low by about sqrt(19/20) = 0.975.
    assert 0.90 <= ratio <= 1.05
    assert 0.90 <= coverage <= 0.97
    assert abs(np.mean(design_effects) / expected_deff - 1) < 0.15


def test_without_between_shard_variation_the_design_effect_is_one():
    rng = np.random.default_rng(12)
    effects = []
    for _ in range(100):
        parts = []
        for _ in range(SHARDS):
            part = Counts(["all", "person_mention", "no_identity"], ["signal"])
            part.observed[0, 0, 0] = ROWS
            part.positive[0, 0, 0] = rng.binomial(ROWS, MEAN)
            part.tagged = ROWS
            parts.append(part)
        result = shard_bootstrap(parts, ["all", "person_mention", "no_identity"], ["signal"],
                                 replicates=300, seed=1)
        effects.append(result["cells"][0]["design_effect"])
    assert 0.85 <= np.mean(effects) <= 1.1


def test_too_few_shards_is_reported_not_guessed():
    rng = np.random.default_rng(13)
    result = shard_bootstrap(simulate(rng)[:3], ["all", "person_mention", "no_identity"], ["signal"])
    assert result["cells"] == [] and "at least" in result["note"]
