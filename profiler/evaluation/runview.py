"""A finished run as the labelling and evaluation code sees it: per row, its key, its sampling
stratum (first identity group mentioned, or none) and, for every evaluable column, whether the
tagger flagged it (1), did not (0) or could not tell (-1).

Everything reads the run through `TaggedRun.batches` (profiler.curate.tagged), so a change in how
tag files are laid out (per shard, per work unit) is handled in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.curate.compile import Filter, compile_filter
from profiler.curate.signals import available_signals
from profiler.curate.tagged import TaggedRun, open_tagged_run
from profiler.schema import KEY
from profiler.taggers import population_membership

MEMBERSHIP = population_membership()  # the identity tagger's columns, by its declaration
GROUPS, PERSON_MENTION = MEMBERSHIP.groups, MEMBERSHIP.person

NONE = "none"  # stratum of rows with no identity group mention


@dataclass(frozen=True)
class RunBatch:
    """One batch of a run's rows with what sampling and evaluation need."""

    shard_id: str
    offset: int  # row index of the batch's first row within its shard's tag file
    keys: pa.Array
    stratum: np.ndarray  # int32 index into RunView.strata
    groups: pa.Array  # list<string> per row (empty lists without an identity tagger)
    flags: dict[str, np.ndarray]  # column -> int8: 1 flagged, 0 not, -1 unknown


@dataclass
class RunView:
    run: TaggedRun
    columns: dict[str, Filter]  # evaluable columns (signals, identity.person_mention)
    groups: list[str]  # taxonomy order
    aggregates: dict[str, list[str]] = field(default_factory=dict)  # e.g. asian_any -> its groups

    @property
    def strata(self) -> list[str]:
        return [*self.groups, NONE]

    def batches(self, columns: list[str] | None = None) -> Iterator[RunBatch]:
        """Every tagged row of the run's complete shards, in shard order."""
        wanted = list(self.columns) if columns is None else columns
        filters = {c: self.columns[c] for c in wanted}
        read = list(dict.fromkeys([KEY, *([GROUPS] if GROUPS in self.run.schema.names else []),
                                   *(c for f in filters.values() for c in f.columns)]))
        for shard_id in self.run.shard_ids:
            offset = 0
            for table in self.run.batches(shard_id, read):
                groups = (table.column(GROUPS).combine_chunks() if GROUPS in table.column_names
                          else pa.array([[]] * table.num_rows, pa.list_(pa.string())))
                groups = groups.fill_null(pa.scalar([], pa.list_(pa.string())))
                flags = {}
                for name, compiled in filters.items():
                    value = compiled.evaluate(table)
                    flags[name] = np.where(
                        np.asarray(value.is_null().to_numpy(zero_copy_only=False), bool), -1,
                        np.asarray(value.fill_null(False).to_numpy(zero_copy_only=False), bool)
                    ).astype(np.int8)
                yield RunBatch(shard_id, offset, table.column(KEY).combine_chunks(),
                               self._stratum(groups), groups, flags)
                offset += table.num_rows

    def _stratum(self, groups: pa.Array) -> np.ndarray:
        """The first group each row's lexicon tags list (index into `groups`), or `none`."""
        out = np.full(len(groups), len(self.groups), np.int32)
        has = pc.greater(pc.list_value_length(groups), 0).fill_null(False)
        if not len(groups) or not pc.any(has).as_py():
            return out
        first = pc.list_element(groups.filter(has), 0)
        index = pc.index_in(first, value_set=pa.array(self.groups, pa.string())).fill_null(len(self.groups))
        out[np.asarray(has.to_numpy(zero_copy_only=False), bool)] = np.asarray(
            index.to_numpy(zero_copy_only=False), np.int32)
        return out

    def group_pairs(self, groups: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(row, group index) for every group each row mentions (each pair once)."""
        if not len(groups):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        rows = np.asarray(pc.list_parent_indices(groups).to_numpy(zero_copy_only=False), np.int64)
        index = pc.index_in(pc.list_flatten(groups), value_set=pa.array(self.groups, pa.string()))
        known = np.asarray(index.is_valid().to_numpy(zero_copy_only=False), bool)
        group = np.asarray(index.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
        pairs = np.unique(np.stack([rows[known], group[known]]), axis=1)
        return pairs[0], pairs[1]

    def scope_pairs(self, groups: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(row, scope index) for the groups and then the aggregates (index len(groups) + i) each
        row belongs to, each pair once."""
        rows, group = self.group_pairs(groups)
        out_rows, out_scopes = [rows], [group]
        for i, members in enumerate(self.aggregates.values()):
            member = np.isin(group, [self.groups.index(m) for m in members])
            out_rows.append(np.unique(rows[member]))
            out_scopes.append(np.full(out_rows[-1].size, len(self.groups) + i, np.int64))
        return np.concatenate(out_rows), np.concatenate(out_scopes)


def open_run_view(run_dir: str) -> RunView:
    """Open a run folder for labelling / evaluation (UserError when it is not one)."""
    run = open_tagged_run(run_dir)
    vocabulary = run.vocabulary()
    columns = {s.name: s.compiled for s in available_signals(run.schema, vocabulary)}
    if PERSON_MENTION in run.schema.names:
        columns[PERSON_MENTION] = compile_filter(f"`{PERSON_MENTION}`", run.schema, vocabulary)
    return RunView(run, columns, list(run.groups), dict(run.aggregates))
