"""Shard-level (cluster) bootstrap: how much rates move between shards of the dataset.

Rows in one shard are not independent draws (a shard is often one crawl segment or one site's
batch), so the binomial interval can be too narrow. Resampling whole shards with replacement
gives the between-shard spread; the ratio of its variance to the binomial one is the design
effect.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from profiler.counting.counts import Counts
from profiler.counting.populations import ANY_GENDER, GENDER_AXIS
from profiler.defaults import CONFIDENCE, MIN_SUPPORT

MIN_SHARDS = 5


@dataclass
class SpreadCell:
    population: str
    signal: str
    rate: float
    sd: float
    low: float
    high: float
    binomial_sd: float
    design_effect: float | None


def shard_bootstrap(
    parts: list[Counts], populations: list[str], signals: list[str], replicates: int = 1000,
    seed: int = 0, confidence: float = CONFIDENCE, min_support: int = MIN_SUPPORT,
) -> dict:
    """Percentile intervals and SDs of every population's rate (any gender) over shards.

    Needs at least MIN_SHARDS shards holding rows; otherwise reports why it did not run.
    """
    parts = [p for p in parts if p.tagged > 0]
    if len(parts) < MIN_SHARDS:
        return {"shards": len(parts), "replicates": 0, "cells": [],
                "note": f"needs at least {MIN_SHARDS} shards with rows"}
    g = GENDER_AXIS.index(ANY_GENDER)
    observed = np.stack([_aligned(p, populations, signals, "observed")[:, g, :] for p in parts])
    positive = np.stack([_aligned(p, populations, signals, "positive")[:, g, :] for p in parts])
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(parts), np.full(len(parts), 1 / len(parts)), size=replicates)
    n_boot = np.einsum("bs,spk->bpk", weights, observed)
    k_boot = np.einsum("bs,spk->bpk", weights, positive)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = k_boot / n_boot
    n, k = observed.sum(axis=0), positive.sum(axis=0)
    tail = (1 - confidence) / 2 * 100
    cells = []
    for pi, population in enumerate(populations):
        for si, signal in enumerate(signals):
            if n[pi, si] < min_support:
                continue
            sample = rates[:, pi, si]
            sample = sample[~np.isnan(sample)]
            rate = k[pi, si] / n[pi, si]
            binomial_sd = float(np.sqrt(rate * (1 - rate) / n[pi, si]))
            sd = float(sample.std(ddof=1))
            cells.append(SpreadCell(
                population, signal, float(rate), sd, float(np.percentile(sample, tail)),
                float(np.percentile(sample, 100 - tail)), binomial_sd,
                (sd / binomial_sd) ** 2 if binomial_sd > 0 else None,
            ))
    return {"shards": len(parts), "replicates": replicates, "cells": [asdict(c) for c in cells]}


def _aligned(part: Counts, populations: list[str], signals: list[str], name: str) -> np.ndarray:
    """The part's array re-indexed to the merged axes (zeros where the part lacks an entry)."""
    source = getattr(part, name)
    out = np.zeros((len(populations), len(GENDER_AXIS), len(signals)), np.int64)
    for pi, population in enumerate(populations):
        if population not in part.populations:
            continue
        for si, signal in enumerate(signals):
            if signal in part.signals:
                out[pi, :, si] = source[part.populations.index(population), :, part.signals.index(signal)]
    return out
