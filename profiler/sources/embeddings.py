"""clip-retrieval embeddings: ``img_emb/img_emb_N.npy`` aligned row by row with
``metadata/metadata_N.parquet`` (caption, url, key / image_path, ...).

One shard per pair; its id is the metadata file's path without extension (``metadata/metadata_0``
under the folder named), its size the two files' sizes added, its version both versions, so a
change to either file redoes the shard. Rows are the metadata rows with `image_embedding` (a
fixed_size_list<float32>: float16 files are widened per batch, which is small) joined by row
number; a head or a seeded sample reads only the rows it needs from both files. A pair whose
row counts differ, or an .npy that is not a 2-D float array, fails the shard with a message
naming the files.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from profiler.errors import UserError
from profiler.schema import IMAGE_EMBEDDING
from profiler.sources.base import EMBEDDING_BATCH_BYTES, ReadRequest, Shard, ShardDataError
from profiler.sources.canonical import canonical_batch
from profiler.sources.fileinfo import file_size, file_version
from profiler.sources.npy import NpyMatrix
from profiler.sources.parquet import resolve_columns, stream_rows

_EMB = re.compile(r"^img_emb_(\d+)\.npy$")
_META = re.compile(r"^metadata_(\d+)\.parquet$")


def is_layout(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    return fs.isdir(posixpath.join(path, "img_emb")) and fs.isdir(posixpath.join(path, "metadata"))


def _numbered(fs: fsspec.AbstractFileSystem, folder: str, pattern: re.Pattern) -> dict[int, dict[str, Any]]:
    out = {}
    for info in fs.ls(folder, detail=True):
        match = pattern.match(info["name"].rstrip("/").rsplit("/", 1)[-1])
        if match and info.get("type") != "directory":
            out[int(match.group(1))] = info
    return out


def pairs(fs: fsspec.AbstractFileSystem, path: str, url: Callable[[str], str]) -> list[dict[str, Any]]:
    """Keyword arguments of `discover.Found` for each pair, in numeric order."""
    embs = _numbered(fs, posixpath.join(path, "img_emb"), _EMB)
    metas = _numbered(fs, posixpath.join(path, "metadata"), _META)
    for number in sorted(set(embs) ^ set(metas)):
        lone, partner = ((f"img_emb/img_emb_{number}.npy", f"metadata/metadata_{number}.parquet")
                         if number in embs else
                         (f"metadata/metadata_{number}.parquet", f"img_emb/img_emb_{number}.npy"))
        raise UserError(f"{url(posixpath.join(path, lone))} has no partner {partner}: restore it, or move "
                        "the lone file out of the folder")
    if not embs:
        raise UserError(f"{url(path)} holds no img_emb/img_emb_N.npy and metadata/metadata_N.parquet pairs")
    out = []
    for number in sorted(embs):
        emb, meta = embs[number], metas[number]
        sizes = [file_size(emb), file_size(meta)]
        versions = [file_version(emb), file_version(meta)]
        out.append({
            "url": url(emb["name"]),
            "id_path": meta["name"].removesuffix(".parquet"),
            "format": "clip_retrieval",
            "size": None if None in sizes else sum(sizes),  # type: ignore[arg-type]
            "version": None if versions == [None, None] else f"npy {versions[0]}; metadata {versions[1]}",
            "extra": (("metadata", url(meta["name"])),),
        })
    return out


def _metadata_url(shard: Shard) -> str:
    meta = shard.option("metadata")
    if meta is None:
        raise ShardDataError(f"shard {shard.id} names no metadata file")
    return meta


def pair_num_rows(shard: Shard) -> int | None:
    """Rows of the pair, None when the files disagree or cannot be read."""
    with fsspec.open(_metadata_url(shard), "rb") as handle:
        rows = pq.ParquetFile(handle).metadata.num_rows
    return rows if NpyMatrix(shard.url).rows == rows else None


def read_embeddings(shard: Shard, request: ReadRequest) -> Iterator[pa.RecordBatch]:
    meta_url = _metadata_url(shard)
    matrix = NpyMatrix(shard.url)
    with fsspec.open(meta_url, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        num_rows = parquet.metadata.num_rows
        if matrix.rows != num_rows:
            raise ShardDataError(f"{shard.url} has {matrix.rows} rows but {meta_url} has {num_rows}: "
                                 "an embedding file and its metadata must be aligned row by row")
        resolved, made = resolve_columns(request, parquet.schema_arrow.names, num_rows,
                                         provided=frozenset({IMAGE_EMBEDDING}))
        embedding = IMAGE_EMBEDDING in made
        columns = [*resolved.values()]
        canonical = list(resolved)
        batch_size = request.batch_rows([*resolved, *([IMAGE_EMBEDDING] if embedding else [])])
        if embedding:
            batch_size = min(batch_size, max(1, EMBEDDING_BATCH_BYTES // (4 * matrix.dim)))
        for batch, rows in stream_rows(parquet, columns, request.selection, shard.id, batch_size,
                                       request.info):
            values = dict(zip(canonical, batch.columns, strict=True))
            if embedding:
                flat = pa.array(matrix.take(rows).reshape(-1))
                values[IMAGE_EMBEDDING] = pa.FixedSizeListArray.from_arrays(flat, matrix.dim)
            yield canonical_batch(values, shard.id, np.asarray(rows), embedding_dim=matrix.dim)
    matrix.close()
