"""Parquet shards from local paths, folders, globs or fsspec URLs, streamed by row group."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from profiler.errors import UserError
from profiler.schema import CAPTION, KEY, ROW_PROBLEM, SHARD
from profiler.sources.columns import ColumnMapping
from profiler.sources.selection import Selection

GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Shard:
    """One input file. `id` is its path relative to the input it was found under, without
    `.parquet` (so outputs mirror the input tree); `url` reopens it anywhere. `size` and
    `version` (mtime, ETag, ...) tell a resumed run whether the file changed since."""

    id: str
    url: str
    size: int | None = None
    version: str | None = None


class MissingColumnsError(Exception):
    """The shard lacks a column some tagger requires; its rows are skipped and counted."""

    def __init__(self, missing: list[str], num_rows: int):
        super().__init__(f"missing column(s): {', '.join(missing)}")
        self.missing = missing
        self.num_rows = num_rows


def discover_shards(sources: Iterable[str]) -> list[Shard]:
    """Expand files, folders (recursively, *.parquet) and globs into shards, in sorted order.

    Ids are relative to the folder named (a glob's fixed prefix, a file's folder; with several
    inputs, their common folder), so they stay the same when files are added later.
    """
    found: dict[str, dict[str, Any]] = {}
    bases: list[str] = []
    for source in sources:
        base, files = _expand(source)
        if not files:
            raise UserError(
                f"{source} holds no .parquet files: point at a parquet file, a folder of them "
                "or a glob such as 'data/*.parquet'"
            )
        bases.append(base)
        for url, info in files.items():
            found.setdefault(url, info)
    urls = list(found)
    ids = _ids(urls, bases)
    if len(set(ids)) < len(ids):
        clash = next(i for i in ids if ids.count(i) > 1)
        raise UserError(f"two inputs map to the same shard id {clash!r}: profile them in separate runs")
    return [Shard(id=shard_id, url=url, size=_size(found[url]), version=_version(found[url]))
            for shard_id, url in zip(ids, urls, strict=True)]


def _expand(source: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """(base folder, {url: file info}) for one input."""
    try:
        fs, path = fsspec.core.url_to_fs(source)
    except (ImportError, ValueError) as error:
        raise UserError(f"cannot open {source}: {error}") from None
    if GLOB_CHARS & set(path):
        infos = {p: i for p, i in fs.glob(path, detail=True).items() if i.get("type") != "directory"}
        parts = path.split("/")
        fixed = next(i for i, part in enumerate(parts) if GLOB_CHARS & set(part))
        base = "/".join(parts[:fixed])
    elif fs.isdir(path):
        infos = {p: i for p, i in fs.find(path, detail=True).items() if p.endswith(".parquet")}
        base = path
    elif fs.exists(path):
        infos = {path: fs.info(path)}
        base = posixpath.dirname(path)
    else:
        raise UserError(f"no such file or folder: {source} (check the path or URL)")
    remote = _is_remote(fs)
    files = {fs.unstrip_protocol(p) if remote else p: infos[p] for p in sorted(infos)}
    return base, files


def _is_remote(fs: fsspec.AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol not in ("file", "local")


def _ids(urls: list[str], bases: list[str]) -> list[str]:
    """Paths relative to the inputs' common base folder, without the extension."""
    def plain(path: str) -> str:
        return path.split("://", 1)[-1].strip("/")

    bases = [plain(b) for b in bases]
    common = posixpath.commonpath(bases) if len(set(bases)) > 1 else bases[0]
    ids = []
    for path in map(plain, urls):
        rel = posixpath.relpath(path, common) if common else path
        ids.append(rel.removesuffix(".parquet").replace(":", "_"))
    return ids


def _size(info: dict[str, Any]) -> int | None:
    size = info.get("size")
    return int(size) if isinstance(size, (int, float)) else None


_VERSION_KEYS = ("ETag", "etag", "md5Hash", "crc32c", "blob_id", "mtime", "LastModified",
                 "last_modified", "updated", "created")


def _version(info: dict[str, Any]) -> str | None:
    """What changes when the file's content does: an etag or hash where the store gives one,
    else the modification time."""
    for key in _VERSION_KEYS:
        if info.get(key) is not None:
            return f"{key}={info[key]}"
    return None


def shard_num_rows(shard: Shard) -> int | None:
    """Row count from the footer, or None when the file cannot be read."""
    try:
        with fsspec.open(shard.url, "rb") as handle:
            return pq.ParquetFile(handle).metadata.num_rows
    except Exception:
        return None


@dataclass
class ReadInfo:
    """Filled in by `read_shard` once the footer is read: rows in the file, rows selected."""

    rows_in_shard: int | None = None
    rows_selected: int | None = None


def read_shard(
    shard: Shard,
    required: Iterable[str],
    optional: Iterable[str] = (),
    mapping: ColumnMapping | None = None,
    batch_size: int = 262144,
    selection: Selection | None = None,
    info: ReadInfo | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream the shard in canonical columns, reading only the columns asked for.

    With a `selection`, only its rows are read: the first N (reading stops there) or a seeded
    sample (only the row groups holding sampled rows are read). Raises MissingColumnsError when
    a required column is absent. `key` is generated as ``<shard id>/<row number>`` (the row's
    number in the file, sampled or not) when the dataset carries none, so tags join back to rows.
    """
    mapping = mapping or ColumnMapping()
    selection = selection or Selection()
    required = list(dict.fromkeys(required))
    wanted = list(dict.fromkeys([*required, *optional, KEY]))
    with fsspec.open(shard.url, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        num_rows = parquet.metadata.num_rows
        count = selection.count(num_rows)
        if info is not None:
            info.rows_in_shard, info.rows_selected = num_rows, count
        resolved = mapping.resolve(parquet.schema_arrow.names, wanted)
        missing = [name for name in required if name not in resolved]
        if missing:
            raise MissingColumnsError(missing, count)
        canonical, columns = list(resolved), list(resolved.values())
        picked = selection.rows(shard.id, num_rows)
        if picked is None:
            yield from _head(parquet, columns, canonical, shard.id, count, batch_size)
        else:
            yield from _picked(parquet, columns, canonical, shard.id, picked, batch_size)


def _head(parquet: pq.ParquetFile, columns: list[str], names: list[str], shard_id: str,
          count: int, batch_size: int) -> Iterator[pa.RecordBatch]:
    """The first `count` rows; reading stops there."""
    start = 0
    if count <= 0:
        return
    for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
        batch = batch.slice(0, count - start)
        yield _canonical_batch(batch, names, shard_id, np.arange(start, start + batch.num_rows))
        start += batch.num_rows
        if start >= count:
            return


def _picked(parquet: pq.ParquetFile, columns: list[str], names: list[str], shard_id: str,
            picked: np.ndarray, batch_size: int) -> Iterator[pa.RecordBatch]:
    """The rows in `picked` (sorted), reading only row groups that hold some, in batches of up
    to `batch_size` rows (few large batches keep the per-batch regex cost low)."""
    metadata = parquet.metadata
    starts = np.cumsum([0] + [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)])
    pending: list[pa.Table] = []
    pending_rows: list[np.ndarray] = []
    size = 0
    for group in range(metadata.num_row_groups):
        lo, hi = np.searchsorted(picked, [starts[group], starts[group + 1]])
        if lo == hi:
            continue
        rows = picked[lo:hi]
        table = parquet.read_row_group(group, columns=columns)
        pending.append(table.take(pa.array(rows - starts[group])))
        pending_rows.append(rows)
        size += len(rows)
        if size >= batch_size:
            yield _joined(pending, pending_rows, names, shard_id)
            pending, pending_rows, size = [], [], 0
    if pending:
        yield _joined(pending, pending_rows, names, shard_id)


def _joined(tables: list[pa.Table], rows: list[np.ndarray], names: list[str], shard_id: str):
    table = pa.concat_tables(tables).combine_chunks()
    batch = table.to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], table.schema)
    return _canonical_batch(batch, names, shard_id, np.concatenate(rows))



def _captions_as_text(column: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """Captions as UTF-8 text. Schema drift (bytes, numbers) must not fail a whole shard: rows
    that are not valid UTF-8 text become null with a reason instead."""
    if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
        return pc.cast(column, pa.string()), None
    if not (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)):
        reason = pa.array(["caption_not_text"] * len(column), pa.string())
        return pa.nulls(len(column), pa.string()), pc.if_else(column.is_valid(), reason, None)
    try:
        return pc.cast(column, pa.string()), None
    except pa.ArrowInvalid:  # some rows are not UTF-8: decode row by row (a rare path)
        texts, reasons = [], []
        for value in column.to_pylist():
            try:
                texts.append(None if value is None else value.decode("utf-8"))
                reasons.append(None)
            except UnicodeDecodeError:
                texts.append(None)
                reasons.append("caption_invalid_utf8")
        return pa.array(texts, pa.string()), pa.array(reasons, pa.string())


def _canonical_batch(batch: pa.RecordBatch, names: list[str], shard_id: str, rows: np.ndarray):
    columns = dict(zip(names, batch.columns, strict=True))
    n = batch.num_rows
    if KEY in columns:
        columns[KEY] = pc.cast(columns[KEY], pa.string())
    else:
        numbers = pc.cast(pa.array(np.asarray(rows, dtype=np.int64)), pa.string())
        columns[KEY] = pc.binary_join_element_wise(f"{shard_id}/", numbers, "")
    if CAPTION in columns and not pa.types.is_string(columns[CAPTION].type):
        columns[CAPTION], problem = _captions_as_text(columns[CAPTION])
        if problem is not None:
            columns[ROW_PROBLEM] = problem
    columns[SHARD] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([shard_id])
    )
    return pa.RecordBatch.from_pydict(columns)
