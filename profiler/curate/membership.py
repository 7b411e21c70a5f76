"""Which population x gender cells each tagged row belongs to (same rules as profiler.counts).

Cells: `all`, `no_identity`, `person_mention` and every group and aggregate, each at any gender
("*") and per mention gender. A row joins a group cell through its `identity.mentions`
("group:gender"), so "Japanese woman and Nigerian man" is in East Asian female and Black male,
and each (row, cell) pair is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.taggers.identity import MENTIONS, PERSON_MENTION
from profiler.taggers.identity_lexicon import MENTION_GENDERS

ANY = "*"
ALL, PERSON, NO_IDENTITY = "all", "person_mention", "no_identity"
CELL_GENDERS = (ANY, *MENTION_GENDERS)


@dataclass(frozen=True)
class Populations:
    """The cell axis: (population, gender) pairs in report order."""

    groups: tuple[str, ...]
    aggregates: dict[str, tuple[str, ...]]

    @property
    def names(self) -> list[str]:
        return [ALL, PERSON, NO_IDENTITY, *self.groups, *self.aggregates]

    @property
    def cells(self) -> list[tuple[str, str]]:
        cells = [(ALL, ANY), (NO_IDENTITY, ANY)]
        for population in [PERSON, *self.groups, *self.aggregates]:
            cells.extend((population, g) for g in CELL_GENDERS)
        return cells

    def index(self) -> dict[tuple[str, str], int]:
        return {cell: i for i, cell in enumerate(self.cells)}

    def assign(self, tags: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(row, cell) pairs for a batch, each pair once; every row is in (all, *)."""
        n = tags.num_rows
        index = self.index()
        rows = [np.arange(n)]
        cells = [np.zeros(n, np.int64)]
        if PERSON_MENTION not in tags.column_names or MENTIONS not in tags.column_names:
            rows.append(np.arange(n))
            cells.append(np.full(n, index[(NO_IDENTITY, ANY)]))
            return np.concatenate(rows), np.concatenate(cells)
        person = np.asarray(tags.column(PERSON_MENTION).fill_null(False).to_numpy(zero_copy_only=False), bool)
        rows += [np.flatnonzero(person), np.flatnonzero(~person)]
        cells += [np.full(int(person.sum()), index[(PERSON, ANY)]),
                  np.full(int((~person).sum()), index[(NO_IDENTITY, ANY)])]
        owner, group, gender = self._mentions(tags.column(MENTIONS))
        if len(owner):  # only mention cells can repeat within a row: deduplicate just those
            table = self._cell_table(index)
            hits = table[group, gender]  # (mentions, k)
            keep = hits >= 0
            width = len(index)
            pairs = distinct(np.repeat(owner, hits.shape[1])[keep.ravel()] * width + hits[keep])
            rows.append(pairs // width)
            cells.append(pairs % width)
        return np.concatenate(rows).astype(np.int64), np.concatenate(cells).astype(np.int64)

    def _mentions(self, mentions: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, ...]:
        if isinstance(mentions, pa.ChunkedArray):
            mentions = mentions.combine_chunks() if mentions.num_chunks else pa.array([], mentions.type)
        names = pa.array([f"{g}:{s}" for g in self.groups for s in MENTION_GENDERS], pa.string())
        codes = pc.index_in(pc.list_flatten(mentions), value_set=names).to_numpy(zero_copy_only=False)
        owner = np.asarray(pc.list_parent_indices(mentions).to_numpy(zero_copy_only=False), np.int64)
        known = ~np.isnan(codes.astype(float))
        codes = codes[known].astype(np.int64)
        return owner[known], codes // len(MENTION_GENDERS), codes % len(MENTION_GENDERS)

    def _cell_table(self, index: dict[tuple[str, str], int]) -> np.ndarray:
        """[group, mention gender, k] -> cell ids a mention adds (-1: none)."""
        columns = 3 + 2 * len(self.aggregates)
        table = np.full((len(self.groups), len(MENTION_GENDERS), columns), -1, np.int64)
        for gi, group in enumerate(self.groups):
            for si, gender in enumerate(MENTION_GENDERS):
                ids = [index[(PERSON, gender)], index[(group, ANY)], index[(group, gender)]]
                for aggregate, members in self.aggregates.items():
                    inside = group in members
                    ids += [index[(aggregate, ANY)] if inside else -1,
                            index[(aggregate, gender)] if inside else -1]
                table[gi, si] = ids
        return table


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted unique values by sort and compare (several times faster here than np.unique's
    hash path in numpy 2.x)."""
    ordered = np.sort(values, kind="stable")
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
