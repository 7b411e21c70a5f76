"""webdataset / img2dataset `.tar` shards (plain or compressed, local or any fsspec URL), streamed.

A sample becomes one row: `key` from the `.json` ``key``/``uid``/... field, else the sample's
key in the tar; `caption` from `.txt` (strict UTF-8, else `caption_invalid_utf8`), else the
``caption``/``text`` field of `.json`; `image` from the first of `.jpg .jpeg .png .webp`; `url`
and passthrough columns (punsafe, NSFW, similarity, width, height, ...) from `.json`. A user
mapping (``caption=alt``) names a `.json` field or a member extension. An invalid `.json`
(syntax, encoding, not an object) is ignored: the row keeps its caption and image, and its JSON
fields are null. Tar members are never extracted (see profiler/sources/tarstream.py for the
security rules and how truncated or corrupt tars are reported).

Tars have no row count up front: a seeded sample counts the samples in a first pass (reading,
not keeping, the data), and `shard_num_rows` does the same.
"""

from __future__ import annotations

from collections.abc import Iterator

import fsspec
import pyarrow as pa

from profiler.schema import CAPTION, IMAGE, IMAGE_EMBEDDING, KEY
from profiler.sources.base import MAX_MEMBER_BYTES, ReadRequest, Shard
from profiler.sources.records import RowBatcher, decode_text, json_fields, parse_json, selected, text_value
from profiler.sources.tarstream import Sample, tar_samples

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
UNAVAILABLE = frozenset({IMAGE_EMBEDDING})  # what a tar sample never provides


def _samples(shard: Shard, keep: frozenset[str]) -> Iterator[Sample]:
    with fsspec.open(shard.url, "rb") as handle:
        yield from tar_samples(handle, keep, MAX_MEMBER_BYTES, name=shard.url)


def tar_num_rows(shard: Shard) -> int | None:
    """Samples in the tar (one pass over it), None when it cannot be read."""
    try:
        return sum(1 for _ in _samples(shard, frozenset()))
    except Exception:
        return None


def read_webdataset(shard: Shard, request: ReadRequest) -> Iterator[pa.RecordBatch]:
    wanted = [c for c in request.wanted(lambda name: name not in UNAVAILABLE) if c not in UNAVAILABLE]
    columns = list(dict.fromkeys([*wanted, KEY]))
    overrides = request.mapping.overrides
    image_exts = (overrides[IMAGE],) if IMAGE in overrides else IMAGE_EXTS
    keep = {"json"}
    if IMAGE in columns:
        keep.update(image_exts)
    if CAPTION in columns:
        keep.add(overrides.get(CAPTION, "txt"))
    keep.update(overrides.values())
    keep_all = frozenset(keep)
    batcher = RowBatcher(shard.id, columns, request.batch_rows(columns))

    def stream(keep_data: bool) -> Iterator[Sample]:
        return _samples(shard, keep_all if keep_data else frozenset())

    for row, sample in selected(stream, request.selection, shard.id, request.info):
        values, problem = sample_values(sample, columns, request, image_exts)
        batch = batcher.add(row, values, problem)
        if batch is not None:
            yield batch
    batch = batcher.flush()
    if batch is not None:
        yield batch


def sample_values(sample: Sample, columns: list[str], request: ReadRequest,
                  image_exts: tuple[str, ...]) -> tuple[dict, str | None]:
    """canonical -> value for one sample, and its problem."""
    if sample.problem:
        return {KEY: sample.key}, sample.problem
    data = sample.data
    overrides = request.mapping.overrides
    fields = json_fields(parse_json(data.get("json")), columns, request.mapping)
    values = dict(fields)
    values[KEY] = text_value(fields.get(KEY)) or sample.key  # the json key, else the tar's
    problem = None
    caption_ext = overrides.get(CAPTION, "txt")
    if CAPTION in columns and caption_ext in data:
        values[CAPTION], problem = decode_text(data[caption_ext])
    elif CAPTION in fields and fields[CAPTION] is not None and not isinstance(fields[CAPTION], str):
        values[CAPTION], problem = None, "caption_not_text"
    if IMAGE in columns:
        values[IMAGE] = next((data[ext] for ext in image_exts if ext in data), None)
    for name in columns:  # a user mapping may name a member extension for another column
        ext = overrides.get(name)
        if name not in (CAPTION, IMAGE) and ext in data:
            values[name] = data[ext].decode("utf-8", "replace")
    return values, problem
