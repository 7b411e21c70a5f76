"""Row-at-a-time sources (tar samples, image files with sidecars, HF rows): decoding sidecar text
and JSON, mapping JSON fields onto canonical names, batching rows, and selecting rows of a stream
whose length is only known after a first pass.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from profiler.schema import CAPTION, IMAGE, KEY, URL
from profiler.sources.base import ReadInfo
from profiler.sources.canonical import canonical_batch
from profiler.sources.columns import ColumnMapping
from profiler.sources.selection import Selection

T = TypeVar("T")
TEXT_COLUMNS = (KEY, CAPTION, URL)


def decode_text(data: bytes) -> tuple[str | None, str | None]:
    """(caption, problem): strict UTF-8 (a leading BOM dropped); invalid bytes are a problem, not
    a guess at another encoding."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff"), None
    except UnicodeDecodeError:
        return None, "caption_invalid_utf8"


def parse_json(data: bytes | None) -> dict[str, Any] | None:
    """A JSON object, or None when the sidecar is absent or not a JSON object (invalid UTF-8 or
    syntax, too deep, a list...). Invalid sidecars are ignored: the row keeps its other fields."""
    if data is None:
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def json_fields(obj: dict[str, Any] | None, wanted: Iterable[str], mapping: ColumnMapping) -> dict[str, Any]:
    """canonical -> value for the wanted columns the JSON object has (same aliases and user
    overrides as parquet columns)."""
    if not obj:
        return {}
    keys = [k for k in obj if isinstance(k, str)]
    return {canonical: obj[source] for canonical, source in mapping.resolve(keys, wanted).items()}


def text_value(value: Any) -> str | None:
    """Keys and URLs from JSON: strings as they are, numbers as text, anything else null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def passthrough_array(values: list[Any]) -> pa.Array:
    """A column of JSON values with one Arrow type: numbers and booleans as they are, strings as
    strings, a mix (or nested values) as text, so a drifted field never fails a batch."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} and kinds:
        if kinds == {int} and all(-(1 << 63) <= v < (1 << 63) for v in values if v is not None):
            return pa.array(values, pa.int64())
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if kinds == {bool}:
        return pa.array(values, pa.bool_())
    if not kinds:
        return pa.nulls(len(values), pa.string())
    return pa.array([None if v is None else v if isinstance(v, str) else _as_text(v) for v in values],
                    pa.string())


def _as_text(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        return str(value)


class RowBatcher:
    """Collects rows (canonical name -> Python value, plus a problem reason) into canonical
    batches of `batch_size` rows; every column in `columns` is present in every batch."""

    def __init__(self, shard_id: str, columns: list[str], batch_size: int):
        self.shard_id = shard_id
        self.columns = columns
        self.batch_size = batch_size
        self._rows: list[int] = []
        self._values: dict[str, list[Any]] = {name: [] for name in columns}
        self._problems: list[str | None] = []

    def add(self, row: int, values: dict[str, Any], problem: str | None) -> pa.RecordBatch | None:
        """Add one row; returns a batch when `batch_size` rows are waiting."""
        self._rows.append(row)
        for name in self.columns:
            self._values[name].append(values.get(name) if name == KEY or not problem else None)
        self._problems.append(problem)
        return self.flush() if len(self._rows) >= self.batch_size else None

    def flush(self) -> pa.RecordBatch | None:
        if not self._rows:
            return None
        columns = {}
        for name in self.columns:
            values = self._values[name]
            if name in TEXT_COLUMNS:
                columns[name] = pa.array([text_value(v) for v in values], pa.string())
            elif name == IMAGE:
                columns[name] = pa.array(values, pa.binary())
            else:
                columns[name] = passthrough_array(values)
        problems = pa.array(self._problems, pa.string())
        batch = canonical_batch(columns, self.shard_id, np.asarray(self._rows, np.int64), problems)
        self._rows, self._problems = [], []
        self._values = {name: [] for name in self.columns}
        return batch


def selected(stream: Callable[[bool], Iterator[T]], selection: Selection, shard_id: str,
             info: ReadInfo) -> Iterator[tuple[int, T]]:
    """(row number, row) for the selected rows of a stream whose length is not known up front.

    `stream(keep)` must give the same rows on every call (`keep=False`: a counting pass that need
    not hold row data). A head (with or without a limit) is one pass that stops at the limit;
    a seeded sample counts the rows first, then reads again keeping the sampled ones.
    """
    if selection.sample is None:
        limit = selection.limit
        n = 0
        if limit is not None and limit <= 0:
            info.rows_selected = 0
            return
        for n, item in enumerate(stream(True), start=1):
            yield n - 1, item
            if limit is not None and n >= limit:
                info.rows_selected = n
                return
        info.rows_in_shard = info.rows_selected = n
        return
    num_rows = sum(1 for _ in stream(False))
    info.rows_in_shard, info.rows_selected = num_rows, selection.count(num_rows)
    picked = selection.rows(shard_id, num_rows)
    wanted = None if picked is None else set(picked.tolist())
    count = selection.count(num_rows)
    if count <= 0:
        return
    seen = 0
    for row, item in enumerate(stream(True)):
        if wanted is None or row in wanted:
            yield row, item
            seen += 1
            if seen >= count:
                return
