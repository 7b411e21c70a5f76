"""The run's embedding cache: image / caption embeddings a model tagger computed, per shard.

    <cache>/<tagger>/<shard id>.parquet   key + the tagger's cached columns, in tagged-row order

The file's metadata records what the embeddings depend on: the tagger's cache identity (model,
weights hash, preprocessing), the shard's signature (file size / version and the row selection).
A later run whose identity and signature match reads the embeddings back instead of the images
(the image column is not even read), so a new prompt bank or threshold re-tags in seconds.
Anything else (another model, a changed file, another sample) ignores the file and rewrites it.
Files are written next to their final name and renamed, so a kill never leaves a torn cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from profiler.schema import KEY
from profiler.taggers.base import Tagger

CACHE_FOLDER = "embeddings"
META_KEY = b"bias_profiler.embedding_cache"
CACHE_FORMAT = 1


def cache_path(root: Path, tagger: str, shard_id: str) -> Path:
    return Path(root) / tagger / f"{shard_id}.parquet"


def cache_meta(tagger: Tagger, signature: dict[str, Any] | None) -> dict[str, Any]:
    return {"format": CACHE_FORMAT, "tagger": tagger.name, "identity": tagger.cache_identity(),
            "signature": signature}


class CacheReader:
    """Hands back a shard's cached columns batch by batch, in the order they were written."""

    def __init__(self, path: Path, columns: tuple[str, ...]):
        self.path = path
        self.columns = columns
        self._file = pq.ParquetFile(path)
        self._batches = self._file.iter_batches(batch_size=8192, columns=[KEY, *columns])
        self._pending: pa.Table = pa.table({})

    def take(self, keys: pa.Array) -> dict[str, pa.Array]:
        """The cached columns of the next len(keys) rows; the keys must be the cached ones."""
        n = len(keys)
        chunks = [self._pending] if self._pending.num_rows else []
        have = self._pending.num_rows
        while have < n:
            try:
                batch = next(self._batches, None)
            except (OSError, ValueError, pa.ArrowException) as error:  # damaged pages: re-encode
                raise CacheMismatch(f"{self.path} is unreadable: {error}") from None
            if batch is None:
                raise CacheMismatch(f"{self.path} holds fewer rows than the shard")
            chunks.append(pa.Table.from_batches([batch]))
            have += batch.num_rows
        table = pa.concat_tables(chunks) if chunks else self._pending
        head, self._pending = table.slice(0, n), table.slice(n)
        if not pc.all(pc.equal(head.column(KEY).combine_chunks(), keys)).as_py() and n:
            raise CacheMismatch(f"{self.path} does not line up with the shard's rows")
        return {name: head.column(name).combine_chunks() for name in self.columns}

    def close(self) -> None:
        self._file.close()


class CacheMismatch(Exception):
    """The cache file does not match the shard after all: the shard is profiled from images."""


def open_cache(root: Path | None, tagger: Tagger, shard_id: str,
               signature: dict[str, Any] | None) -> CacheReader | None:
    """A reader when a valid cache exists for this tagger and shard, else None."""
    if root is None or not tagger.cached_columns or tagger.cache_identity() is None:
        return None
    path = cache_path(root, tagger.name, shard_id)
    try:
        meta = pq.read_schema(path).metadata or {}
        stored = json.loads(meta.get(META_KEY, b"{}"))
        if stored != json.loads(json.dumps(cache_meta(tagger, signature))):
            return None
        return CacheReader(path, tagger.cached_columns)
    except (OSError, ValueError, pa.ArrowException):
        return None


class CacheWriter:
    """Streams one tagger's cached columns of one shard to `<name>.partial`, renamed at commit."""

    def __init__(self, root: Path, tagger: Tagger, shard_id: str, signature: dict[str, Any] | None):
        self.path = cache_path(root, tagger.name, shard_id)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.meta = {META_KEY: json.dumps(cache_meta(tagger, signature)).encode()}
        self.columns = tagger.cached_columns
        self._writer: pq.ParquetWriter | None = None

    def write(self, keys: pa.Array, columns: dict[str, pa.Array]) -> None:
        table = pa.table({KEY: keys, **{name: columns[name] for name in self.columns}})
        if self._writer is None:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self.partial.unlink(missing_ok=True)
            self._writer = pq.ParquetWriter(self.partial, table.schema.with_metadata(self.meta),
                                            compression="zstd")
        self._writer.write_table(table.replace_schema_metadata(self.meta))

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self.partial.replace(self.path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.partial.unlink(missing_ok=True)
