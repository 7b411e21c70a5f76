"""Parquet shards from local paths, folders, globs or fsspec URLs, streamed by row group."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from profiler.errors import UserError
from profiler.schema import CAPTION, KEY, SHARD
from profiler.sources.columns import ColumnMapping

GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Shard:
    """One input file. `id` is unique in a run and safe as a file name; `url` reopens it anywhere."""

    id: str
    url: str


class MissingColumnsError(Exception):
    """The shard lacks a column some tagger requires; its rows are skipped and counted."""

    def __init__(self, missing: list[str], num_rows: int):
        super().__init__(f"missing column(s): {', '.join(missing)}")
        self.missing = missing
        self.num_rows = num_rows


def discover_shards(sources: Iterable[str]) -> list[Shard]:
    """Expand files, folders (recursively, *.parquet) and globs into shards, in sorted order."""
    urls: list[str] = []
    for source in sources:
        found = _expand(source)
        if not found:
            raise UserError(
                f"{source} holds no .parquet files: point at a parquet file, a folder of them "
                "or a glob such as 'data/*.parquet'"
            )
        urls.extend(found)
    urls = list(dict.fromkeys(urls))
    return [Shard(id=shard_id, url=url) for shard_id, url in zip(_ids(urls), urls, strict=True)]


def _expand(source: str) -> list[str]:
    try:
        fs, path = fsspec.core.url_to_fs(source)
    except (ImportError, ValueError) as error:
        raise UserError(f"cannot open {source}: {error}") from None
    if GLOB_CHARS & set(path):
        paths = [p for p in fs.glob(path) if not fs.isdir(p)]
    elif fs.isdir(path):
        paths = [p for p in fs.find(path) if p.endswith(".parquet")]
    elif fs.exists(path):
        paths = [path]
    else:
        raise UserError(f"no such file or folder: {source} (check the path or URL)")
    return sorted(fs.unstrip_protocol(p) if _is_remote(fs) else p for p in paths)


def _is_remote(fs: fsspec.AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol not in ("file", "local")


def _ids(urls: list[str]) -> list[str]:
    """Short unique ids: paths relative to the inputs' common folder, without the extension."""
    stripped = [url.split("://", 1)[-1] for url in urls]
    common = posixpath.commonpath(stripped) if len(stripped) > 1 else posixpath.dirname(stripped[0])
    ids = []
    for path in stripped:
        rel = posixpath.relpath(path, common) if common else path
        rel = rel.removesuffix(".parquet")
        ids.append(rel.replace("/", "__").replace(":", "_"))
    return ids


def shard_num_rows(shard: Shard) -> int | None:
    """Row count from the footer, or None when the file cannot be read."""
    try:
        with fsspec.open(shard.url, "rb") as handle:
            return pq.ParquetFile(handle).metadata.num_rows
    except Exception:
        return None


def read_shard(
    shard: Shard,
    required: Iterable[str],
    optional: Iterable[str] = (),
    mapping: ColumnMapping | None = None,
    batch_size: int = 262144,
) -> Iterator[pa.RecordBatch]:
    """Stream the shard in canonical columns, reading only the columns asked for.

    Raises MissingColumnsError when a required column is absent. `key` is generated as
    ``<shard id>/<row number>`` when the dataset carries none, so tags join back to rows.
    """
    mapping = mapping or ColumnMapping()
    required = list(dict.fromkeys(required))
    wanted = list(dict.fromkeys([*required, *optional, KEY]))
    with fsspec.open(shard.url, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        resolved = mapping.resolve(parquet.schema_arrow.names, wanted)
        missing = [name for name in required if name not in resolved]
        if missing:
            raise MissingColumnsError(missing, parquet.metadata.num_rows)
        canonical = list(resolved)
        start = 0
        for batch in parquet.iter_batches(batch_size=batch_size, columns=list(resolved.values())):
            yield _canonical_batch(batch, canonical, shard.id, start)
            start += batch.num_rows


def _canonical_batch(batch: pa.RecordBatch, names: list[str], shard_id: str, start: int):
    columns = dict(zip(names, batch.columns, strict=True))
    n = batch.num_rows
    if KEY in columns:
        columns[KEY] = pc.cast(columns[KEY], pa.string())
    else:
        rows = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
        columns[KEY] = pc.binary_join_element_wise(f"{shard_id}/", rows, "")
    if CAPTION in columns and not pa.types.is_string(columns[CAPTION].type):
        columns[CAPTION] = pc.cast(columns[CAPTION], pa.string())
    columns[SHARD] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([shard_id])
    )
    return pa.RecordBatch.from_pydict(columns)
