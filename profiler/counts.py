"""Mergeable co-occurrence counts: population x gender x signal tallies, plus row accounting.

A shard's result is one `Counts`; `merge` adds them exactly (integer sums over the union of
axes), so resume, incremental and distributed runs all reduce to the same merge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.schema import GENDERS
from profiler.taggers.base import Score, Signal
from profiler.taggers.identity import GENDER, MENTIONS, PERSON_MENTION
from profiler.taggers.identity_lexicon import MENTION_GENDERS

ALL, PERSON, NO_IDENTITY = "all", "person_mention", "no_identity"
SPECIAL_POPULATIONS = (ALL, PERSON, NO_IDENTITY)
ANY_GENDER = "*"
GENDER_AXIS = (ANY_GENDER, *GENDERS)
HIST_BINS = 20
COUNTS_FORMAT = 1


@dataclass
class Counts:
    """Dense tallies indexed [population, gender(, signal)]; see GENDER_AXIS for genders."""

    populations: list[str]
    signals: list[str]
    scores: list[str] = field(default_factory=list)
    rows_in: np.ndarray = field(default=None)  # (P, G) rows in each population cell
    observed: np.ndarray = field(default=None)  # (P, G, S) rows where the signal is known
    positive: np.ndarray = field(default=None)  # (P, G, S) rows where it is positive
    hist: np.ndarray = field(default=None)  # (P, G, scores, HIST_BINS)
    read: int = 0
    tagged: int = 0
    skipped: Counter = field(default_factory=Counter)
    shards_completed: list[str] = field(default_factory=list)
    shards_failed: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p, g, s, h = len(self.populations), len(GENDER_AXIS), len(self.signals), len(self.scores)
        if self.rows_in is None:
            self.rows_in = np.zeros((p, g), np.int64)
        if self.observed is None:
            self.observed = np.zeros((p, g, s), np.int64)
        if self.positive is None:
            self.positive = np.zeros((p, g, s), np.int64)
        if self.hist is None:
            self.hist = np.zeros((p, g, h, HIST_BINS), np.int64)

    # -- exact merge ---------------------------------------------------------------------------

    def merge(self, other: Counts) -> Counts:
        """A new Counts holding both; axes are unioned so differently-tagged parts still add."""
        populations = _union(self.populations, other.populations)
        signals = _union(self.signals, other.signals)
        scores = _union(self.scores, other.scores)
        out = Counts(populations, signals, scores)
        for part in (self, other):
            pi = [populations.index(p) for p in part.populations]
            si = [signals.index(s) for s in part.signals]
            hi = [scores.index(s) for s in part.scores]
            out.rows_in[pi] += part.rows_in
            out.observed[np.ix_(pi, range(len(GENDER_AXIS)), si)] += part.observed
            out.positive[np.ix_(pi, range(len(GENDER_AXIS)), si)] += part.positive
            out.hist[np.ix_(pi, range(len(GENDER_AXIS)), hi)] += part.hist
            out.read += part.read
            out.tagged += part.tagged
            out.skipped.update(part.skipped)
            out.shards_completed += part.shards_completed
            out.shards_failed.update(part.shards_failed)
        return out

    # -- lookups -------------------------------------------------------------------------------

    def cell(self, population: str, gender: str, signal: str) -> tuple[int, int]:
        """(observed, positive) for one cell; zeros when the population was never seen."""
        if population not in self.populations or signal not in self.signals:
            return 0, 0
        p, g = self.populations.index(population), GENDER_AXIS.index(gender)
        s = self.signals.index(signal)
        return int(self.observed[p, g, s]), int(self.positive[p, g, s])

    def population_rows(self, population: str, gender: str = ANY_GENDER) -> int:
        if population not in self.populations:
            return 0
        return int(self.rows_in[self.populations.index(population), GENDER_AXIS.index(gender)])

    # -- serialisation (long format: only non-zero entries) ------------------------------------

    def to_dict(self) -> dict[str, Any]:
        cells = []
        present = (self.rows_in > 0) | self.observed.any(axis=2) | self.positive.any(axis=2)
        present |= self.hist.any(axis=(2, 3))
        for p, g in zip(*np.nonzero(present), strict=True):
            cells.append({
                "population": self.populations[p], "gender": GENDER_AXIS[g],
                "rows": int(self.rows_in[p, g]),
                "observed": {s: int(self.observed[p, g, i]) for i, s in enumerate(self.signals)},
                "positive": {s: int(self.positive[p, g, i]) for i, s in enumerate(self.signals)},
                "hist": {s: self.hist[p, g, i].tolist() for i, s in enumerate(self.scores)},
            })
        return {
            "format": COUNTS_FORMAT,
            "populations": self.populations, "signals": self.signals, "scores": self.scores,
            "rows": {"read": self.read, "tagged": self.tagged, "skipped": dict(self.skipped)},
            "shards": {"completed": self.shards_completed, "failed": self.shards_failed},
            "cells": cells,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counts:
        out = cls(list(data["populations"]), list(data["signals"]), list(data["scores"]))
        out.read, out.tagged = data["rows"]["read"], data["rows"]["tagged"]
        out.skipped = Counter(data["rows"]["skipped"])
        out.shards_completed = list(data["shards"]["completed"])
        out.shards_failed = dict(data["shards"]["failed"])
        for cell in data["cells"]:
            p, g = out.populations.index(cell["population"]), GENDER_AXIS.index(cell["gender"])
            out.rows_in[p, g] = cell["rows"]
            for i, s in enumerate(out.signals):
                out.observed[p, g, i] = cell["observed"].get(s, 0)
                out.positive[p, g, i] = cell["positive"].get(s, 0)
            for i, s in enumerate(out.scores):
                out.hist[p, g, i] = cell["hist"].get(s, [0] * HIST_BINS)
        return out


def merge_all(parts: Iterable[Counts], populations: Sequence[str] = (), signals=(), scores=()):
    """Merge many Counts; the empty merge has the given axes."""
    total = Counts(list(populations), list(signals), list(scores))
    for part in parts:
        total = total.merge(part)
    return total


def _union(first: Sequence[str], second: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


# ---------------------------------------------------------------------------------------------
# Counting one tagged batch


@dataclass(frozen=True)
class CountPlan:
    """What to count: the population axis (from the identity taxonomy), signals and scores."""

    groups: tuple[str, ...]
    aggregates: dict[str, tuple[str, ...]]
    signals: tuple[Signal, ...]
    scores: tuple[Score, ...]

    @property
    def populations(self) -> list[str]:
        return [*SPECIAL_POPULATIONS, *self.groups, *self.aggregates]

    def empty(self) -> Counts:
        return Counts(self.populations, [s.name for s in self.signals], [s.name for s in self.scores])


def count_batch(tags: pa.Table, plan: CountPlan) -> Counts:
    """Tally one batch of tag columns into a Counts (vectorized; one bincount per array)."""
    counts = plan.empty()
    n = tags.num_rows
    counts.tagged = n
    if n == 0:
        return counts
    rows, cells = _memberships(tags, plan, n_populations=len(counts.populations))
    size = len(counts.populations) * len(GENDER_AXIS)
    counts.rows_in[:] = np.bincount(cells, minlength=size).reshape(counts.rows_in.shape)
    for i, signal in enumerate(plan.signals):
        observed, positive = signal.evaluate(tags)
        for target, values in ((counts.observed, observed), (counts.positive, observed & positive)):
            tally = np.bincount(cells, weights=values[rows], minlength=size)
            target[:, :, i] = np.rint(tally).astype(np.int64).reshape(counts.rows_in.shape)
    for i, score in enumerate(plan.scores):
        values = tags.column(score.column).to_numpy(zero_copy_only=False).astype(float)
        valid = ~np.isnan(values)
        bins = np.clip(np.nan_to_num(values * HIST_BINS).astype(np.int64), 0, HIST_BINS - 1)
        keep = valid[rows]
        code = cells[keep] * HIST_BINS + bins[rows[keep]]
        tally = np.bincount(code, minlength=size * HIST_BINS)
        counts.hist[:, :, i, :] = tally.reshape(len(counts.populations), len(GENDER_AXIS), HIST_BINS)
    return counts


def _memberships(tags: pa.Table, plan: CountPlan, n_populations: int):
    """(row, cell) pairs: each row's population x gender cells, each listed once."""
    n = tags.num_rows
    g_axis = len(GENDER_AXIS)
    all_rows = np.arange(n)
    if PERSON_MENTION not in tags.column_names:
        gender = np.full(n, GENDER_AXIS.index("none"))
        return _pairs([(all_rows, 0, 0), (all_rows, 0, gender)], g_axis)

    gender = pc.index_in(tags.column(GENDER), value_set=pa.array(GENDER_AXIS)).to_numpy(
        zero_copy_only=False
    )
    person = np.asarray(tags.column(PERSON_MENTION).to_numpy(zero_copy_only=False), bool)
    no_identity = np.flatnonzero(~person)
    parts = [(all_rows, 0, 0), (all_rows, 0, gender),
             (no_identity, 2, 0), (no_identity, 2, gender[no_identity])]

    mentions = tags.column(MENTIONS)
    if isinstance(mentions, pa.ChunkedArray):
        mentions = mentions.combine_chunks()
    names = [f"{g}:{s}" for g in plan.groups for s in MENTION_GENDERS]
    codes = pc.index_in(pc.list_flatten(mentions), value_set=pa.array(names)).to_numpy(
        zero_copy_only=False
    )
    owner = pc.list_parent_indices(mentions).to_numpy()
    known = ~np.isnan(codes.astype(float))
    codes, owner = codes[known].astype(np.int64), owner[known]
    group = codes // len(MENTION_GENDERS)
    m_gender = np.array([GENDER_AXIS.index(s) for s in MENTION_GENDERS])[codes % len(MENTION_GENDERS)]
    base = len(SPECIAL_POPULATIONS)
    mention_pairs = [(owner, 1, 0), (owner, 1, m_gender),
                     (owner, base + group, 0), (owner, base + group, m_gender)]
    group_index = {g: i for i, g in enumerate(plan.groups)}
    for a, members in enumerate(plan.aggregates.values()):
        pop = base + len(plan.groups) + a
        member = np.isin(group, [group_index[m] for m in members])
        mention_pairs += [(owner[member], pop, 0), (owner[member], pop, m_gender[member])]
    rows, cells = _pairs(parts, g_axis)
    m_rows, m_cells = _pairs(mention_pairs, g_axis)
    unique = np.unique(m_rows * (n_populations * g_axis) + m_cells)
    m_rows, m_cells = unique // (n_populations * g_axis), unique % (n_populations * g_axis)
    return np.concatenate([rows, m_rows]), np.concatenate([cells, m_cells])


def _pairs(parts, g_axis: int) -> tuple[np.ndarray, np.ndarray]:
    rows = [np.asarray(r, np.int64) for r, _, _ in parts]
    cells = [
        np.broadcast_to(np.asarray(p, np.int64) * g_axis + np.asarray(g, np.int64), r.shape)
        for r, (_, p, g) in zip(rows, parts, strict=True)
    ]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(cells)
