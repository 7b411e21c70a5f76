"""Parquet shards, streamed by row group with column projection (captions, LAION metadata,
img2dataset image bytes, HF image structs, embedding columns).

`discover_shards`, `read_shard` and `shard_num_rows` (every format) live in
`profiler.sources.discover` / `profiler.sources.reader`; they stay importable from here, the
module they started in.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from profiler.schema import IMAGE_EMBEDDING
from profiler.sources.base import (
    EMBEDDING_BATCH_BYTES,
    MissingColumnsError,
    ReadInfo,
    ReadRequest,
    Shard,
)
from profiler.sources.canonical import canonical_batch, embedding_lengths, most_common
from profiler.sources.selection import Selection
from profiler.sources.units import unit_range

DIM_SAMPLE = 1024  # rows that decide a variable-length embedding column's dimension

__all__ = ["MissingColumnsError", "ReadInfo", "Shard", "read_parquet"]


def parquet_num_rows(url: str) -> int | None:
    """Row count from the footer, or None when the file cannot be read."""
    try:
        with fsspec.open(url, "rb") as handle:
            return pq.ParquetFile(handle).metadata.num_rows
    except Exception:
        return None


def read_parquet(shard: Shard, request: ReadRequest) -> Iterator[pa.RecordBatch]:
    """Stream the shard in canonical columns, reading only the columns asked for.

    With a selection, only its rows are read: the first N (reading stops there) or a seeded
    sample (only the row groups holding sampled rows are read). A work unit (a row-group range,
    `profiler.sources.units`) reads the file's selected rows that fall in its row groups. Raises
    MissingColumnsError when a required column is absent.
    """
    with fsspec.open(shard.url, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        names = parquet.schema_arrow.names
        span = unit_range(shard)
        try:
            resolved, _ = resolve_columns(request, names, parquet.metadata.num_rows)
        except MissingColumnsError as error:
            if span is not None:  # the unit's share of the file's selected rows
                error.num_rows = selected_in_span(parquet.metadata, request.selection, shard.id, span)
            raise
        dim = _shard_embedding_dim(parquet, resolved.get(IMAGE_EMBEDDING))
        batch_size = request.batch_rows(resolved)
        if dim:
            batch_size = min(batch_size, max(1, EMBEDDING_BATCH_BYTES // (4 * dim)))
        canonical = list(resolved)
        for batch, rows in stream_rows(parquet, list(resolved.values()), request.selection, shard.id,
                                       batch_size, request.info, span):
            columns = dict(zip(canonical, batch.columns, strict=True))
            yield canonical_batch(columns, shard.id, rows, embedding_dim=dim)


def parquet_unit_selected_rows(shard: Shard, selection: Selection) -> int | None:
    """Selected rows of a work unit (a failed unit counts them as unreadable); None when the
    footer cannot be read."""
    span = unit_range(shard)
    try:
        with fsspec.open(shard.url, "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
            if span is None:
                return selection.count(metadata.num_rows)
            return selected_in_span(metadata, selection, shard.id, span)
    except Exception:
        return None


def _row_starts(metadata: pq.FileMetaData) -> np.ndarray:
    return np.cumsum([0] + [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)])


def _span_rows(metadata: pq.FileMetaData, span: tuple[int, int]) -> tuple[int, int]:
    """File row numbers [first, stop) of the row groups in `span`."""
    starts = _row_starts(metadata)
    lo, hi = min(span[0], metadata.num_row_groups), min(span[1], metadata.num_row_groups)
    return int(starts[lo]), int(starts[hi])


def _picked_in(picked: np.ndarray, first: int, stop: int) -> np.ndarray:
    lo, hi = np.searchsorted(picked, [first, stop])
    return picked[lo:hi]


def selected_in_span(metadata: pq.FileMetaData, selection: Selection, shard_id: str,
                     span: tuple[int, int]) -> int:
    """How many of the file's selected rows lie in the row groups of `span`."""
    num_rows = metadata.num_rows
    first, stop = _span_rows(metadata, span)
    picked = selection.rows(shard_id, num_rows)
    if picked is None:
        return max(0, min(stop, selection.count(num_rows)) - first)
    return len(_picked_in(picked, first, stop))


def resolve_columns(request: ReadRequest, names: list[str], num_rows: int,
                    provided: frozenset[str] = frozenset()) -> tuple[dict[str, str], list[str]]:
    """(canonical -> source column for every wanted column the file has, the key too when it has
    one; the wanted columns in `provided`, which the reader makes itself and the file lacks).
    MissingColumnsError when a required column is in neither."""
    mapping = request.mapping

    def has(name: str) -> bool:
        return name in provided or bool(mapping.resolve(names, [name]))

    wanted = request.wanted(has)
    resolved = mapping.resolve(names, [*wanted, "key"])
    missing = [name for name in request.required if name not in resolved and name not in provided]
    if missing:
        raise MissingColumnsError(missing, request.selection.count(num_rows))
    return resolved, [name for name in wanted if name in provided and name not in resolved]


def _shard_embedding_dim(parquet: pq.ParquetFile, column: str | None) -> int | None:
    """One dimension per shard, so a row's fate does not depend on the batch it falls in: the
    list size, or for variable lists the most common length among the first DIM_SAMPLE
    non-empty rows of the file."""
    if column is None:
        return None
    kind = parquet.schema_arrow.field(column).type
    if pa.types.is_fixed_size_list(kind):
        return kind.list_size
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return None
    seen: list[np.ndarray] = []
    for group in range(parquet.metadata.num_row_groups):
        values = parquet.read_row_group(group, columns=[column]).column(0).combine_chunks()
        seen.append(embedding_lengths(values))
        if sum(map(len, seen)) >= DIM_SAMPLE:
            break
    return most_common(np.concatenate(seen)[:DIM_SAMPLE]) if seen else None


def stream_rows(parquet: pq.ParquetFile, columns: list[str], selection: Selection, shard_id: str,
                batch_size: int, info: ReadInfo, span: tuple[int, int] | None = None,
                ) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """(batch of the source columns, the rows' numbers in the file) for the selected rows; with
    `span` (row groups lo..hi-1) only those of the file's selected rows that lie there."""
    metadata = parquet.metadata
    num_rows = metadata.num_rows
    count = selection.count(num_rows)
    picked = selection.rows(shard_id, num_rows)
    first, stop = (0, num_rows) if span is None else _span_rows(metadata, span)
    groups = None if span is None else list(range(*span))
    info.rows_in_shard = stop - first
    if picked is None:
        head_stop = min(stop, count)
        info.rows_selected = max(0, head_stop - first)
        yield from _head(parquet, columns, first, head_stop, batch_size, groups)
    else:
        picked = picked if span is None else _picked_in(picked, first, stop)
        info.rows_selected = len(picked)
        yield from _picked(parquet, columns, picked, batch_size)


def _head(parquet: pq.ParquetFile, columns: list[str], first: int, stop: int, batch_size: int,
          groups: list[int] | None) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Rows first..stop-1 (`first` is where row group groups[0] starts); reading stops there."""
    start = first
    if stop <= first:
        return
    batch_size = even_batch_size(stop - first, batch_size)
    if not columns:  # nothing to read but row numbers
        for lo in range(first, stop, batch_size):
            hi = min(lo + batch_size, stop)
            yield pa.RecordBatch.from_pydict({}), np.arange(lo, hi)  # type: ignore[arg-type]
        return
    for batch in parquet.iter_batches(batch_size=batch_size, columns=columns, row_groups=groups):
        batch = batch.slice(0, stop - start)
        yield batch, np.arange(start, start + batch.num_rows)
        start += batch.num_rows
        if start >= stop:
            return


def even_batch_size(rows: int, batch_size: int) -> int:
    """The size of the fewest equal batches of at most `batch_size` rows that hold `rows`: every
    batch pays the taggers' regex compilation (about 35 ms with the default lexicons) whatever
    its size, and equal batches waste none on a small remainder batch."""
    count = max(1, math.ceil(rows / batch_size))
    return max(1, math.ceil(rows / count))


def _picked(parquet: pq.ParquetFile, columns: list[str], picked: np.ndarray,
            batch_size: int) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """The rows in `picked` (sorted), reading only row groups that hold some, in batches of up
    to `batch_size` rows (few large batches keep the per-batch regex cost low)."""
    batch_size = even_batch_size(len(picked), batch_size)
    if not columns:
        for lo in range(0, len(picked), batch_size):
            yield pa.RecordBatch.from_pydict({}), picked[lo:lo + batch_size]  # type: ignore[arg-type]
        return
    metadata = parquet.metadata
    starts = _row_starts(metadata)
    pending: list[pa.Table] = []
    pending_rows: list[np.ndarray] = []
    size = 0
    groups = np.unique(np.searchsorted(starts, picked, side="right") - 1) if len(picked) else []
    for group in groups:
        lo, hi = np.searchsorted(picked, [starts[group], starts[group + 1]])
        if lo == hi:
            continue
        rows = picked[lo:hi]
        table = parquet.read_row_group(int(group), columns=columns)
        pending.append(table.take(pa.array(rows - starts[group])))
        pending_rows.append(rows)
        size += len(rows)
        if size >= batch_size:  # whole batches now; the rest waits for the next row group
            table, numbers = pa.concat_tables(pending).combine_chunks(), np.concatenate(pending_rows)
            full = size - size % batch_size
            for start in range(0, full, batch_size):
                yield _batch(table.slice(start, batch_size)), numbers[start:start + batch_size]
            pending, pending_rows, size = [table.slice(full)], [numbers[full:]], size - full
    if size:
        yield _batch(pa.concat_tables(pending)), np.concatenate(pending_rows)


def _batch(table: pa.Table) -> pa.RecordBatch:
    table = table.combine_chunks()
    return table.to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], table.schema)
