"""Hugging Face `datasets`, streamed: ``hf:<path>[?split=train&name=<config>&data_dir=<dir>
&data_files=<a>,<b>&revision=<rev>]``.

`<path>` is a hub id (``laion/laion400m``), a local dataset folder, or a packaged builder
(``parquet``, ``json``, ``imagefolder``, ... with data_files / data_dir). The dataset is opened
with ``load_dataset(..., streaming=True)``; each of its ``num_shards`` shards (files) becomes one
profiler shard (``ds.shard(num_shards, index)``), with id ``<name>[/<config>]/<split>/<index>``.

`Image` features are cast to ``Image(decode=False)``: rows carry ``{bytes, path}`` and the bytes
become the binary `image` column. When bytes are missing (an imagefolder streams paths), the file
is read only if it lies inside the local folder the user named (path or data_dir), within the
size limit; otherwise the row gets `image_path_outside` (or `file_too_large`,
`file_unreadable`). Columns map through the same aliases / user mapping as parquet.

Version (resume): for local data, a digest of the data files' paths, sizes and modification
times; for hub data, the commit the data files resolve to. Any change redoes every shard of the
dataset (the file -> shard assignment is the library's). Row counts need a pass over the shard
(streams have none up front), which `--limit` quotas and seeded samples pay once.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.errors import UserError
from profiler.extras import require_extra
from profiler.schema import IMAGE, IMAGE_EMBEDDING
from profiler.sources.base import MAX_MEMBER_BYTES, MissingColumnsError, ReadRequest, Shard, ShardDataError
from profiler.sources.canonical import canonical_batch, embedding_dim
from profiler.sources.parquet import resolve_columns

OPTIONS = ("split", "name", "data_dir", "data_files", "revision")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_source(source: str) -> tuple[str, dict[str, str]]:
    """``hf:<path>?k=v&...`` -> (path, options), options checked."""
    body = source.removeprefix("hf:")
    path, _, query = body.partition("?")
    if not path:
        raise UserError(f"{source}: name a dataset, e.g. hf:user/dataset?split=train or hf:/path/to/folder")
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise UserError(f"{source}: unknown option(s) {', '.join(unknown)}; use {', '.join(OPTIONS)}")
    return path, options


def _local_roots(path: str, options: dict[str, str]) -> list[str]:
    """The local folders the user named: image paths inside them may be read."""
    roots = [p for p in (path, options.get("data_dir")) if p and os.path.isdir(p)]
    if options.get("data_dir") and os.path.isdir(path):
        roots.append(os.path.join(path, options["data_dir"]))
    return [os.path.realpath(r) for r in roots if os.path.isdir(r)]


def _load(source: str) -> tuple[Any, Any]:
    """(streaming dataset of the split, builder config); one-line UserErrors."""
    require_extra("hf", f"{source}: an hf: source")
    import datasets

    path, options = parse_source(source)
    kwargs: dict[str, Any] = {k: options[k] for k in ("name", "data_dir", "revision") if options.get(k)}
    if options.get("data_files"):
        kwargs["data_files"] = [f for f in options["data_files"].split(",") if f]
    split = options.get("split") or "train"
    try:
        builder = datasets.load_dataset_builder(path, **kwargs)
        dataset = builder.as_streaming_dataset(split=split)
    except ConnectionError as error:
        raise UserError(
            f"{source}: the dataset could not be reached offline ({_first_line(error)}): point at a "
            "local copy (hf:/path/to/folder, or hf:parquet?data_files=...), or run once online so "
            "it is cached"
        ) from None
    except (FileNotFoundError, ValueError, KeyError, TypeError, ImportError, OSError) as error:
        raise UserError(f"{source}: cannot open the dataset ({_first_line(error)}); check the path, "
                        "split and options") from None
    return dataset, builder.config


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def _name(path: str) -> str:
    if os.path.isdir(path) or path.startswith(("/", ".")):
        path = os.path.basename(os.path.normpath(path)) or "dataset"
    parts = [_SAFE.sub("_", p) for p in path.split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "dataset"


def _data_files(config: Any) -> list[str]:
    files = getattr(config, "data_files", None) or {}
    try:
        return sorted(str(f) for split in files.values() for f in split)
    except (AttributeError, TypeError):
        return []


def _version(config: Any) -> tuple[int | None, str | None]:
    """(size, version) of the dataset's data files: local stats digest or hub commit."""
    files = _data_files(config)
    revisions = sorted({m.group(1) for f in files for m in [re.search(r"@([0-9a-f]{40})/", f)] if m})
    if revisions:
        return None, f"revision={','.join(revisions)}"
    digest = hashlib.sha256()
    size = 0
    for name in files:
        try:
            stat = os.stat(name)
        except OSError:
            return None, None
        size += stat.st_size
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "replace"))
    return (size, f"files={len(files)};sha256={digest.hexdigest()[:20]}") if files else (None, None)


def hf_shards(source: str) -> list[Shard]:
    """One Shard per shard of the streaming dataset."""
    source = source if source.startswith("hf:") else f"hf:{source}"
    path, options = parse_source(source)
    if os.path.isdir(path) and not os.path.isabs(path):  # workers may run elsewhere
        path = os.path.abspath(path)
        source = f"hf:{path}" + (f"?{source.partition('?')[2]}" if "?" in source else "")
    dataset, config = _load(source)
    count = max(1, int(getattr(dataset, "num_shards", 1) or 1))
    size, version = _version(config)
    name = _name(path)
    if options.get("data_files") or options.get("data_dir"):  # hf:parquet?data_files=a vs =b
        name += "-" + hashlib.sha256(source.encode()).hexdigest()[:8]
    prefix = "/".join(p for p in (name, _SAFE.sub("_", options.get("name", "")),
                                  _SAFE.sub("_", options.get("split") or "train")) if p)
    return [Shard(id=f"{prefix}/{index:05d}", url=source, size=size, version=version, format="hf",
                  extra=(("index", str(index)), ("num_shards", str(count))))
            for index in range(count)]


def _open_shard(shard: Shard) -> Any:
    dataset, _ = _load(shard.url)
    count = int(shard.option("num_shards", "1") or 1)
    if int(getattr(dataset, "num_shards", 1) or 1) != count:
        raise ShardDataError(f"{shard.url} now has {dataset.num_shards} shards, not {count}: the dataset "
                             "changed since the run started; run again")
    return dataset.shard(count, int(shard.option("index", "0") or 0)) if count > 1 else dataset


def _features(dataset: Any) -> Any:
    features = dataset.features
    if features is None and hasattr(dataset, "_resolve_features"):
        dataset = dataset._resolve_features()
        features = dataset.features
    if features is None:
        raise ShardDataError("the dataset declares no features; cannot choose columns")
    return dataset, features


def _tables(dataset: Any, columns: list[str], batch_size: int) -> Iterator[pa.Table]:
    import datasets

    _, features = _features(dataset)
    for name in columns:
        if isinstance(features.get(name), datasets.Image):
            dataset = dataset.cast_column(name, datasets.Image(decode=False))
    dataset = dataset.select_columns(columns).with_format("arrow")
    yield from dataset.iter(batch_size=batch_size)


def hf_num_rows(shard: Shard) -> int | None:
    return _count(*_features(_open_shard(shard)))


def _count(dataset: Any, features: Any) -> int:
    """Rows in the stream: one pass over its first column."""
    first = next(iter(features), None)
    if first is None:
        return 0
    return sum(t.num_rows for t in _tables(dataset, [first], 65536))


def read_hf(shard: Shard, request: ReadRequest) -> Iterator[pa.RecordBatch]:
    path, options = parse_source(shard.url)
    dataset, features = _features(_open_shard(shard))
    names = list(features)
    selection, info = request.selection, request.info
    num_rows: int | None = None
    if selection.sample is not None:
        num_rows = _count(dataset, features)
        info.rows_in_shard, info.rows_selected = num_rows, selection.count(num_rows)
    try:
        resolved, _ = resolve_columns(request, names, 0)
    except MissingColumnsError as error:
        rows = num_rows if num_rows is not None else _count(dataset, features)
        raise MissingColumnsError(error.missing, selection.count(rows)) from None
    canonical, columns = list(resolved), list(resolved.values()) or names[:1]
    batch_size = request.batch_rows(resolved)
    roots = _local_roots(path, options)
    picked = selection.rows(shard.id, num_rows) if num_rows is not None else None
    count = selection.count(num_rows) if num_rows is not None else selection.limit
    start = done = 0
    dim: int | None = None
    for table in _tables(dataset, columns, batch_size):
        n = table.num_rows
        rows = np.arange(start, start + n)
        start += n
        if picked is not None:
            keep = rows[np.isin(rows, picked)]
            table, rows = table.take(pa.array(keep - (start - n))), keep
        if count is not None and done + len(rows) > count:
            table, rows = table.slice(0, count - done), rows[: count - done]
        if len(rows):
            done += len(rows)
            table = table.combine_chunks()
            values = {name: table.column(source).combine_chunks()
                      for name, source in zip(canonical, columns, strict=False)}
            problems = None
            if IMAGE in values:
                values[IMAGE], problems = _image_bytes(values[IMAGE], roots)
            if IMAGE_EMBEDDING in values and dim is None:  # the first batch's decides for the shard
                dim = embedding_dim(values[IMAGE_EMBEDDING])
            yield canonical_batch(values, shard.id, rows, problems, embedding_dim=dim)
        if count is not None and done >= count:
            break
    else:
        if num_rows is None:
            info.rows_in_shard = start
    info.rows_selected = done


def _image_bytes(column: pa.Array, roots: list[str]) -> tuple[pa.Array, pa.Array | None]:
    """Image structs whose bytes are missing: read the path when it lies inside a local folder
    the user named; other paths are never opened."""
    if not pa.types.is_struct(column.type) or column.type.get_field_index("path") < 0 \
            or column.type.get_field_index("bytes") < 0:
        return column, None
    data = pc.struct_field(column, "bytes")
    paths = pc.struct_field(column, "path")
    if not pc.any(pc.and_(data.is_null(), paths.is_valid())).as_py():
        return column, None
    out, problems = [], []
    for value, file in zip(data.to_pylist(), paths.to_pylist(), strict=True):
        problem = None
        if value is None and file is not None:
            value, problem = _read_inside(file, roots)
        out.append(value)
        problems.append(problem)
    return pa.array(out, pa.binary()), pa.array(problems, pa.string())


def _read_inside(file: str, roots: list[str]) -> tuple[bytes | None, str | None]:
    real = os.path.realpath(file)
    if not any(os.path.commonpath([real, root]) == root for root in roots):
        return None, "image_path_outside"
    try:
        if os.path.getsize(real) > MAX_MEMBER_BYTES:
            return None, "file_too_large"
        with open(real, "rb") as handle:
            data = handle.read(MAX_MEMBER_BYTES + 1)
    except OSError:
        return None, "file_unreadable"
    return (None, "file_too_large") if len(data) > MAX_MEMBER_BYTES else (data, None)

