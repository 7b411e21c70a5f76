"""`read_shard` and `shard_num_rows` for every format: one entry point the engine calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa

from profiler.sources import delimited, embeddings, image_files, parquet, webdataset
from profiler.sources.base import BatchSize, ReadInfo, ReadRequest, Shard
from profiler.sources.columns import ColumnMapping
from profiler.sources.selection import Selection


def _read_hf(shard: Shard, request: ReadRequest) -> Iterator[pa.RecordBatch]:
    from profiler.sources import hf  # imports `datasets` (slow): only for HF shards

    return hf.read_hf(shard, request)


def _hf_num_rows(shard: Shard) -> int | None:
    from profiler.sources import hf

    return hf.hf_num_rows(shard)


READERS: dict[str, Callable[[Shard, ReadRequest], Iterator[pa.RecordBatch]]] = {
    "parquet": parquet.read_parquet,
    "webdataset": webdataset.read_webdataset,
    "image_files": image_files.read_image_files,
    "clip_retrieval": embeddings.read_embeddings,
    "hf": _read_hf,
    **{kind: delimited.read_delimited for kind in delimited.FORMATS},
}
COUNTERS: dict[str, Callable[[Shard], int | None]] = {
    "parquet": lambda shard: parquet.parquet_num_rows(shard.url),
    "webdataset": webdataset.tar_num_rows,
    "image_files": image_files.folder_num_rows,
    "clip_retrieval": embeddings.pair_num_rows,
    "hf": _hf_num_rows,
}


def read_shard(
    shard: Shard,
    required: Iterable[str],
    optional: Iterable[str] = (),
    mapping: ColumnMapping | None = None,
    batch_size: BatchSize = 262144,
    selection: Selection | None = None,
    info: ReadInfo | None = None,
    one_of: Iterable[tuple[str, ...]] = (),
) -> Iterator[pa.RecordBatch]:
    """Stream the shard as canonical batches (`key`, `shard`, the columns asked for), reading
    only what is needed.

    `one_of`: from each group, only the first column the source has is read (none is fine).
    `batch_size` may be a function of the canonical columns that will be read. With a
    `selection` only its rows are read; `info` gets the row counts once known. Rows a reader
    cannot use carry a reason in ROW_PROBLEM. Raises MissingColumnsError when the source's schema
    lacks a required column (row-at-a-time formats give null values instead).
    """
    if shard.format not in READERS:
        raise ValueError(f"unknown shard format {shard.format!r}")
    request = ReadRequest.make(required, optional, mapping, batch_size, selection, info, one_of)
    return READERS[shard.format](shard, request)


def shard_num_rows(shard: Shard) -> int | None:
    """Rows in the shard (a footer, a listing, or a counting pass for tars and HF streams);
    None when unknown or unreadable."""
    counter = COUNTERS.get(shard.format)
    if counter is None:
        return None
    try:
        return counter(shard)
    except Exception:
        return None
