"""Mergeable word counts of person-mention captions: which words carry a group's skew.

For each population and caption word: the rows holding the word and, per signal, how many of
them are observed and positive. Only rows with an identity person mention are counted, so the
table stays small next to the dataset; merging is a sum over (population, word).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from profiler.taggers.text import caption_words

KEYS = ("population", "word")


@dataclass(frozen=True)
class TermCounts:
    table: pa.Table

    @classmethod
    def empty(cls) -> TermCounts:
        return cls(pa.table({"population": pa.array([], pa.string()),
                             "word": pa.array([], pa.string()),
                             "rows": pa.array([], pa.int64())}))

    def signal_columns(self) -> list[str]:
        return [c for c in self.table.column_names if c not in (*KEYS, "rows")]

    def merge(self, other: TermCounts) -> TermCounts:
        if other.table.num_rows == 0 and set(other.signal_columns()) <= set(self.signal_columns()):
            return self
        if self.table.num_rows == 0 and set(self.signal_columns()) <= set(other.signal_columns()):
            return other
        stacked = pa.concat_tables([self.table, other.table], promote_options="default")
        return TermCounts(_sum_by_keys(stacked))

    def to_dict(self) -> dict[str, Any]:
        return {name: self.table.column(name).to_pylist() for name in self.table.column_names}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TermCounts:
        if not data:
            return cls.empty()
        columns = {k: pa.array(v, pa.string() if k in KEYS else pa.int64()) for k, v in data.items()}
        return cls(pa.table(columns))

    @classmethod
    def count(
        cls,
        captions: pa.Array,
        rows: np.ndarray,
        populations: list[str],
        signals: dict[str, tuple[np.ndarray, np.ndarray]],
    ) -> TermCounts:
        """Count words of `captions[rows]`, each row belonging to `populations[i]`."""
        unique_rows = np.unique(rows)
        words, parent = caption_words(captions.take(pa.array(unique_rows)))
        membership = pa.table({"row": pa.array(rows, pa.int64()), "population": populations})
        word_rows = pa.table({"row": pa.array(unique_rows[parent], pa.int64()), "word": words})
        joined = membership.join(word_rows, "row", join_type="inner")
        row = joined.column("row").to_numpy()
        columns: dict[str, Any] = {
            "population": joined.column("population"),
            "word": joined.column("word"),
            "rows": np.ones(len(row), np.int64),
        }
        for name, (observed, positive) in signals.items():
            columns[f"observed:{name}"] = observed[row].astype(np.int64)
            columns[f"positive:{name}"] = (observed & positive)[row].astype(np.int64)
        return cls(_sum_by_keys(pa.table(columns)))


def _sum_by_keys(table: pa.Table) -> pa.Table:
    values = [c for c in table.column_names if c not in KEYS]
    table = pa.table({c: table.column(c).fill_null(0) if c in values else table.column(c)
                      for c in table.column_names})
    summed = table.group_by(list(KEYS)).aggregate([(c, "sum") for c in values])
    return summed.rename_columns([c.removesuffix("_sum") for c in summed.column_names]).select(
        [*KEYS, *values]
    )
