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

from profiler.counting.impact import FilterTally, tally_filters
from profiler.counting.languages import LanguageTally
from profiler.counting.populations import ANY_GENDER, GENDER_AXIS, HIST_BINS, Part, Populations
from profiler.counting.term_counts import TermCounts
from profiler.taggers import Membership, compared_group_columns
from profiler.taggers.base import Score, Signal, StandardFilter

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
    # (P, S, S, 4) any gender: rows where signals i < j are both known, by (pos_i, pos_j) as
    # 2 * pos_i + pos_j; for agreement between signals.
    joint: np.ndarray = field(default=None)
    terms: TermCounts = field(default=None)  # caption words of person-mention rows
    language: LanguageTally = field(default_factory=LanguageTally)  # rows by language
    read: int = 0
    tagged: int = 0
    skipped: Counter = field(default_factory=Counter)
    # rows kept (caption signals count) that a model tagger could not score, by its problem
    # column then reason: {"clip.problem": {"image_corrupt": 3}}
    unscored: dict[str, Counter] = field(default_factory=dict)
    # per identity group, rows where both the lexicon and CLIP's caption zero-shot gave groups,
    # by (lexicon has it, CLIP has it) as 2 * lexicon + clip: [neither, clip only, lexicon only, both]
    identity_agreement: dict[str, np.ndarray] = field(default_factory=dict)
    shards_completed: list[str] = field(default_factory=list)
    shards_failed: dict[str, str] = field(default_factory=dict)
    # standard filter name -> what it would remove per cell (see profiler.counting.impact)
    impact: dict[str, FilterTally] = field(default_factory=dict)

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
        if self.joint is None:
            self.joint = np.zeros((p, s, s, 4), np.int64)
        if self.terms is None:
            self.terms = TermCounts.empty()

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
            out.joint[np.ix_(pi, si, si)] += part.joint
            out.terms = out.terms.merge(part.terms)
            out.language = out.language.merge(part.language)
            out.read += part.read
            out.tagged += part.tagged
            out.skipped.update(part.skipped)
            for column, reasons in part.unscored.items():
                out.unscored.setdefault(column, Counter()).update(reasons)
            for group, tally in part.identity_agreement.items():
                out.identity_agreement[group] = out.identity_agreement.get(group, 0) + tally
            out.shards_completed += part.shards_completed
            out.shards_failed.update(part.shards_failed)
            for name, tally in part.impact.items():
                if name not in out.impact:
                    out.impact[name] = FilterTally.empty(tally.expression, len(populations), len(signals))
                tally.add_into(out.impact[name], pi, si)
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
            "rows": {"read": self.read, "tagged": self.tagged, "skipped": dict(self.skipped),
                     "unscored": {c: dict(r) for c, r in self.unscored.items()}},
            "shards": {"completed": self.shards_completed, "failed": self.shards_failed},
            "cells": cells,
            "joint": [
                [self.populations[p], self.signals[i], self.signals[j], self.joint[p, i, j].tolist()]
                for p, i, j in zip(*np.nonzero(self.joint.any(axis=3)), strict=True)
            ],
            "terms": self.terms.to_dict(),
            "identity_agreement": {g: t.tolist() for g, t in self.identity_agreement.items()},
            "language": self.language.to_dict(),
            "impact": {name: t.to_dict(self.populations, self.signals) for name, t in self.impact.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counts:
        out = cls(list(data["populations"]), list(data["signals"]), list(data["scores"]))
        out.read, out.tagged = data["rows"]["read"], data["rows"]["tagged"]
        out.skipped = Counter(data["rows"]["skipped"])
        out.unscored = {c: Counter(r) for c, r in data["rows"].get("unscored", {}).items()}
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
        for population, a, b, values in data.get("joint", []):
            out.joint[out.populations.index(population), out.signals.index(a),
                      out.signals.index(b)] = values
        out.terms = TermCounts.from_dict(data.get("terms"))
        out.language = LanguageTally.from_dict(data.get("language"))
        out.identity_agreement = {g: np.array(t, np.int64)
                                  for g, t in data.get("identity_agreement", {}).items()}
        out.impact = {name: FilterTally.from_dict(t, out.populations, out.signals)
                      for name, t in data.get("impact", {}).items()}
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
    """What to count: the population axis (from the identity taxonomy), signals and scores.

    Column names come from the taggers' declarations (`membership`, `compared_groups`); None
    means the registered taggers' declarations.
    """

    groups: tuple[str, ...]
    aggregates: dict[str, tuple[str, ...]]
    signals: tuple[Signal, ...]
    scores: tuple[Score, ...]
    problem_columns: tuple[str, ...] = ()  # taggers' per-row "could not score" reasons
    languages: tuple[str, ...] = ()  # the identity lexicon's; rows in others leave no_identity
    membership: Membership | None = None
    compared_groups: tuple[str, ...] | None = None  # model-perceived group columns
    filters: tuple[StandardFilter, ...] = ()  # standard filters whose impact is tallied

    @property
    def population_axis(self) -> Populations:
        return Populations(self.groups, self.aggregates, self.membership, self.languages)

    @property
    def populations(self) -> list[str]:
        return self.population_axis.names

    def empty(self) -> Counts:
        return Counts(self.populations, [s.name for s in self.signals], [s.name for s in self.scores])


def count_batch(tags: pa.Table, plan: CountPlan, captions: pa.Array | None = None) -> Counts:
    """Tally one batch of tag columns into a Counts (vectorized: a few bincounts per signal).

    With `captions` (aligned with `tags`), the words of person-mention captions are counted
    too, for the term drivers of each group's skew.
    """
    counts = plan.empty()
    n = tags.num_rows
    counts.tagged = n
    if n == 0:
        return counts
    counts.language = LanguageTally.count(tags)
    for column in plan.problem_columns:
        if column in tags.column_names:
            problems = tags.column(column).drop_null()
            if len(problems):
                tally = pc.value_counts(problems).to_pylist()
                counts.unscored[column] = Counter({d["values"]: d["counts"] for d in tally})
    axis = plan.population_axis
    lexicon_groups = axis.columns.groups
    compared = plan.compared_groups if plan.compared_groups is not None else compared_group_columns()
    for column in compared:
        if lexicon_groups in tags.column_names and column in tags.column_names:
            counts.identity_agreement = _identity_agreement(
                tags.column(lexicon_groups), tags.column(column), plan.groups)
    parts = axis.parts(tags)
    size = counts.rows_in.size
    flat = counts.rows_in.reshape(-1)
    for part in parts:
        part.add(flat, size)
    evaluated = [signal.evaluate(tags) for signal in plan.signals]
    for i, (observed, positive) in enumerate(evaluated):
        # one integer bincount per part over (cell, outcome): 0 unknown, 1 negative, 2 positive
        outcome = observed.astype(np.int64) + (observed & positive)
        flat = np.zeros(size * 3, np.int64)
        for part in parts:
            part.add_outcomes(flat, outcome, 3, size)
        tally = flat.reshape(*counts.rows_in.shape, 3)
        counts.observed[:, :, i] = tally[..., 1] + tally[..., 2]
        counts.positive[:, :, i] = tally[..., 2]
    for i, score in enumerate(plan.scores):
        values = tags.column(score.column).to_numpy(zero_copy_only=False).astype(float)
        valid = ~np.isnan(values)
        bins = np.clip(np.nan_to_num(values * HIST_BINS).astype(np.int64), 0, HIST_BINS - 1)
        flat = np.zeros(size * HIST_BINS, np.int64)
        for part in parts:
            part.add_hist(flat, valid, bins, size)
        counts.hist[:, :, i, :] = flat.reshape(len(counts.populations), len(GENDER_AXIS), HIST_BINS)
    if plan.filters:
        known = {id(signal.evaluate): result for signal, result in zip(plan.signals, evaluated, strict=True)}
        counts.impact = tally_filters(tags, plan.filters, parts, evaluated, len(counts.populations), known)
    any_gender = _any_gender_members(parts)
    _count_joint(counts, any_gender, evaluated)
    if captions is not None and plan.signals:
        mention_rows, mention_pops = any_gender[-1] if len(any_gender) > 2 else (None, None)
        if mention_rows is not None and len(mention_rows):
            counts.terms = TermCounts.count(
                captions, mention_rows, [counts.populations[p] for p in mention_pops],
                {s.name: values for s, values in zip(plan.signals, evaluated, strict=True)},
            )
    return counts


def _any_gender_members(parts: list[Part]) -> list[tuple[np.ndarray | None, np.ndarray | int]]:
    """(rows, population) memberships at any gender, from the parts that count rows."""
    g_axis = len(GENDER_AXIS)
    members: list[tuple[np.ndarray | None, np.ndarray | int]] = []
    for part in parts:
        if part.any_cell is not None:
            members.append((part.rows, part.any_cell // g_axis))
        else:
            any_cell = part.cells % g_axis == 0
            members.append((part.rows[any_cell], part.cells[any_cell] // g_axis))
    return members


JOINT_PATTERN_LIMIT = 3**8  # signals' joint states tallied at once up to 8 signals, else pair by pair


def _count_joint(counts: Counts, members, evaluated) -> None:
    """Joint outcomes of each signal pair per population (any gender), for agreement.

    Each row's states over all signals (unknown / negative / positive: a base-3 number) are
    tallied once per population; every pair's 2x2 table is then read off those few patterns,
    instead of one pass over the rows per pair."""
    k = len(evaluated)
    if k < 2:
        return
    if 3**k > JOINT_PATTERN_LIMIT:
        for i in range(k):
            for j in range(i + 1, k):
                _count_joint_patterns(counts, members, [evaluated[i], evaluated[j]], [(0, 1, i, j)])
        return
    _count_joint_patterns(counts, members, evaluated,
                          [(i, j, i, j) for i in range(k) for j in range(i + 1, k)])


def _count_joint_patterns(counts: Counts, members, evaluated, pairs) -> None:
    """Tally base-3 state patterns of `evaluated` per population, then fill `counts.joint` for
    each (i, j, out_i, out_j) of `pairs` (i, j index `evaluated`; out_* index the signals)."""
    n_pop, width = len(counts.populations), 3 ** len(evaluated)
    pattern = np.zeros(len(evaluated[0][0]), np.int64)
    for power, (observed, positive) in enumerate(evaluated):
        pattern += (observed.astype(np.int64) + (observed & positive)) * 3**power
    tally = np.zeros(n_pop * width, np.int64)
    for rows, population in members:
        codes = pattern if rows is None else pattern[rows]
        tally += np.bincount(np.asarray(population) * width + codes, minlength=n_pop * width)
    tally = tally.reshape(n_pop, width)
    digits = np.arange(width)
    for i, j, out_i, out_j in pairs:
        state_i, state_j = digits // 3**i % 3, digits // 3**j % 3
        both = (state_i > 0) & (state_j > 0)
        combo = 2 * (state_i == 2) + (state_j == 2)
        for value in range(4):
            counts.joint[:, out_i, out_j, value] = tally[:, both & (combo == value)].sum(axis=1)


def _identity_agreement(lexicon: pa.ChunkedArray, clip: pa.ChunkedArray,
                        groups: Sequence[str]) -> dict[str, np.ndarray]:
    """Per group, the 2x2 tally of lexicon vs CLIP caption groups over rows where both are known."""
    lexicon_has, lexicon_known = _group_matrix(lexicon, groups)
    clip_has, clip_known = _group_matrix(clip, groups)
    known = lexicon_known & clip_known
    codes = 2 * lexicon_has[known].astype(np.int64) + clip_has[known]
    return {g: np.bincount(codes[:, i], minlength=4) for i, g in enumerate(groups)}


def _group_matrix(column: pa.ChunkedArray | pa.Array, groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """A list<string> column as a (rows, groups) membership matrix, and which rows are non-null."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    matrix = np.zeros((len(column), len(groups)), bool)
    codes = pc.index_in(pc.list_flatten(column), value_set=pa.array(list(groups), pa.string()))
    owner = pc.list_parent_indices(column).to_numpy()
    found = codes.is_valid().to_numpy(zero_copy_only=False)
    matrix[owner[found], codes.filter(codes.is_valid()).to_numpy()] = True
    return matrix, np.asarray(column.is_valid().to_numpy(zero_copy_only=False), bool)
