"""Filter impact tallied while counting: what each standard filter would remove, per cell.

A standard filter (declared by a tagger, `profiler.taggers.base.StandardFilter`) drops the rows
it matches. Per population x gender cell it needs the rows removed and, per signal, the removed
rows that are observed and positive; rows, observed and positive before the filter are the
counts' own tallies, so "after" is before minus removed. Only removed rows are visited (a small
share), the tallies are integer sums over the same axes as `Counts`, and the end of a run
summarises them without re-reading any tag file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from profiler.counting.populations import GENDER_AXIS, Part
from profiler.taggers.base import StandardFilter


@dataclass
class FilterTally:
    """One filter's removals: (P, G) rows and (P, G, S) observed / positive among them."""

    expression: str
    removed: np.ndarray
    observed: np.ndarray
    positive: np.ndarray
    unjudged: int = 0  # rows whose value the filter needs is unknown (never removed)

    @classmethod
    def empty(cls, expression: str, populations: int, signals: int) -> FilterTally:
        g = len(GENDER_AXIS)
        cube = (populations, g, signals)
        return cls(expression, np.zeros((populations, g), np.int64),
                   np.zeros(cube, np.int64), np.zeros(cube, np.int64))

    def add_into(self, out: FilterTally, pi: list[int], si: list[int]) -> None:
        """Add this tally into `out`, whose axes hold this one's at positions pi / si."""
        out.removed[pi] += self.removed
        out.observed[np.ix_(pi, range(len(GENDER_AXIS)), si)] += self.observed
        out.positive[np.ix_(pi, range(len(GENDER_AXIS)), si)] += self.positive
        out.unjudged += self.unjudged

    def to_dict(self, populations: Sequence[str], signals: Sequence[str]) -> dict[str, Any]:
        cells = [
            {"population": populations[p], "gender": GENDER_AXIS[g], "removed": int(self.removed[p, g]),
             "observed": {s: int(self.observed[p, g, i]) for i, s in enumerate(signals)},
             "positive": {s: int(self.positive[p, g, i]) for i, s in enumerate(signals)}}
            for p, g in zip(*np.nonzero(self.removed), strict=True)
        ]
        return {"expression": self.expression, "unjudged": self.unjudged, "cells": cells}

    @classmethod
    def from_dict(cls, data: dict[str, Any], populations: list[str], signals: list[str]) -> FilterTally:
        out = cls.empty(data["expression"], len(populations), len(signals))
        out.unjudged = int(data["unjudged"])
        for cell in data["cells"]:
            p, g = populations.index(cell["population"]), GENDER_AXIS.index(cell["gender"])
            out.removed[p, g] = cell["removed"]
            for i, s in enumerate(signals):
                out.observed[p, g, i] = cell["observed"].get(s, 0)
                out.positive[p, g, i] = cell["positive"].get(s, 0)
        return out


def tally_filters(
    tags: pa.Table, filters: Sequence[StandardFilter], parts: list[Part],
    evaluated: list[tuple[np.ndarray, np.ndarray]], populations: int,
    known: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, FilterTally]:
    """Each applicable filter's removals in one batch (a filter whose columns the tags lack is
    left out; the report then says why it is unavailable). `known`: results of rule functions
    already evaluated for this batch (a filter that drops a signal's rows reuses the signal's)."""
    out = {}
    positives = [observed & positive for observed, positive in evaluated]
    for spec in filters:
        rule = spec.choose(tags.column_names)
        if rule is None:
            continue
        if known is not None and id(rule.evaluate) in known:
            judged, matched = known[id(rule.evaluate)]
            removed, unjudged = judged & matched, ~judged
        else:
            removed, unjudged = rule.removed(tags)
        tally = FilterTally.empty(rule.expression, populations, len(evaluated))
        tally.unjudged = int(unjudged.sum())
        if removed.any():
            _count_removed(tally, removed, parts, evaluated, positives)
        out[spec.name] = tally
    return out


def _count_removed(tally: FilterTally, removed: np.ndarray, parts: list[Part],
                   evaluated: list[tuple[np.ndarray, np.ndarray]], positives: list[np.ndarray]) -> None:
    size = tally.removed.size
    flat = tally.removed.reshape(-1)
    observed_flat = [np.zeros(size, np.int64) for _ in evaluated]
    positive_flat = [np.zeros(size, np.int64) for _ in evaluated]
    hit = np.flatnonzero(removed)
    for part in parts:
        if part.rows is None:
            rows, cells = hit, part.cells[hit]
        else:
            taken = removed[part.rows]
            rows, cells = part.rows[taken], part.cells[taken]
        if not len(rows):
            continue
        _add(flat, cells, None, part.any_cell, size)
        for i, ((observed, _), positive) in enumerate(zip(evaluated, positives, strict=True)):
            _add(observed_flat[i], cells, observed[rows], part.any_cell, size)
            _add(positive_flat[i], cells, positive[rows], part.any_cell, size)
    shape = tally.removed.shape
    for i in range(len(evaluated)):
        tally.observed[:, :, i] = observed_flat[i].reshape(shape)
        tally.positive[:, :, i] = positive_flat[i].reshape(shape)


def _add(flat: np.ndarray, cells: np.ndarray, mask: np.ndarray | None, any_cell: int | None,
         size: int) -> None:
    chosen = cells if mask is None else cells[mask]
    flat += np.bincount(chosen, minlength=size)
    if any_cell is not None:
        flat[any_cell] += len(chosen)
