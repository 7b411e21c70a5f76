"""Curation outputs, streamed shard by shard: key lists (text, parquet, sorted .npy) and filtered
copies of the input shards. Every file appears under its final name only when complete.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from profiler.counting.populations import distinct
from profiler.errors import UserError
from profiler.schema import KEY
from profiler.sources.base import Shard
from profiler.sources.columns import ColumnMapping

DATACOMP_UID = np.dtype("u8,u8")
_HEX_UID = r"^[0-9a-fA-F]{32}$"
COPY_BATCH_ROWS = 16_384  # input rows may carry image bytes: keep copy batches small


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


class KeyListWriter:
    """Streams keys to `<stem>_keys.txt` (one per line) and `<stem>_keys.parquet`; `close` writes
    the sorted `<stem>_uids.npy` (needs every key in memory: sorting is global)."""

    def __init__(self, folder: Path, stem: str):
        self.paths = {"txt": folder / f"{stem}_keys.txt", "parquet": folder / f"{stem}_keys.parquet",
                      "npy": folder / f"{stem}_uids.npy"}
        self._text: BinaryIO = open(_partial(self.paths["txt"]), "wb")  # noqa: SIM115 (closed in close)
        self._parquet = pq.ParquetWriter(_partial(self.paths["parquet"]),
                                         pa.schema([(KEY, pa.string())]), compression="zstd")
        self._chunks: list[pa.Array] = []
        self.count = 0

    def add(self, keys: pa.Array) -> None:
        if not len(keys):
            return
        if keys.type != pa.string():
            keys = pc.cast(keys, pa.string())
        if pc.any(pc.match_substring_regex(keys, r"[\r\n]")).as_py():
            raise UserError("a key contains a line break, which the text key list cannot hold; "
                            "map another key column with --columns key=... when profiling")
        self._text.write(_lines(keys))
        self._parquet.write_table(pa.table({KEY: keys}))
        self._chunks.append(keys)
        self.count += len(keys)

    def close(self) -> dict[str, Any]:
        """Finish all three files; returns what the .npy holds."""
        self._text.close()
        self._parquet.close()
        keys = pa.concat_arrays(self._chunks) if self._chunks else pa.array([], pa.string())
        uids, layout = uid_array(keys)
        with open(_partial(self.paths["npy"]), "wb") as handle:
            np.save(handle, uids, allow_pickle=False)
        for path in self.paths.values():
            os.replace(_partial(path), path)
        return {"count": self.count, "npy_layout": layout, "npy_unique": len(uids),
                "duplicates": self.count - len(uids)}

    def abort(self) -> None:
        self._text.close()
        self._parquet.close()
        for path in self.paths.values():
            _partial(path).unlink(missing_ok=True)


def _lines(keys: pa.Array) -> bytes:
    """Keys as newline-terminated UTF-8, without a Python loop over rows."""
    lines = pc.binary_join_element_wise(keys.drop_null(), pa.scalar(""), "\n")
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset : lines.offset + len(lines) + 1]
    if not len(lines):
        return b""
    return lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]


def uid_array(keys: pa.Array) -> tuple[np.ndarray, str]:
    """Sorted unique keys for numpy: DataComp's layout (`u8,u8` pairs from 32-hex-digit uids, the
    format its resharder reads) when every key is such a uid, else a unicode array. Both load
    with allow_pickle=False."""
    keys = keys.drop_null()
    if len(keys) and pc.all(pc.match_substring_regex(keys, _HEX_UID)).as_py():
        raw = keys.to_numpy(zero_copy_only=False).astype("S32").view(np.uint8).reshape(-1, 32)
        lut = np.zeros(256, np.uint64)
        for i, ch in enumerate(b"0123456789abcdef"):
            lut[ch] = i
            lut[ord(chr(ch).upper())] = i
        nibbles = lut[raw]
        halves = []
        for part in (nibbles[:, :16], nibbles[:, 16:]):
            value = np.zeros(len(part), np.uint64)
            for column in range(16):
                value = (value << np.uint64(4)) | part[:, column]
            halves.append(value)
        uids = np.empty(len(keys), DATACOMP_UID)
        uids["f0"], uids["f1"] = halves
        return distinct(uids), "datacomp_u8_pairs"
    strings = keys.to_numpy(zero_copy_only=False).astype(str) if len(keys) else np.array([], "<U1")
    return distinct(strings), "unicode"


def input_keys(table: pa.Table | pa.RecordBatch, key_column: str | None, shard_id: str, start: int = 0):
    """Keys of input rows exactly as `profiler.sources.read_shard` makes them: the key
    column as text, else `<shard id>/<row number>` (tests check the two agree)."""
    if key_column is not None:
        return pc.cast(table.column(key_column), pa.string())
    rows = pc.cast(pa.array(np.arange(start, start + table.num_rows, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(f"{shard_id}/", rows, "")


def copy_filtered_shard(
    shard: Shard, mapping: ColumnMapping, kept: pa.Array, tagged: pa.Array, dest: Path
) -> dict[str, int]:
    """Write the input shard's rows whose key is in `kept` (all columns, schema kept) to `dest`.

    The key column is read once to decide every row; full rows then stream in small batches.
    """
    try:
        handle = fsspec.open(shard.url, "rb").open()
    except (FileNotFoundError, OSError) as error:
        raise UserError(f"cannot open input shard {shard.url} to copy it: {error}") from None
    with handle:
        parquet = pq.ParquetFile(handle)
        schema = parquet.schema_arrow
        key_column = mapping.resolve(schema.names, [KEY]).get(KEY)
        if key_column is not None:
            keys = input_keys(parquet.read(columns=[key_column]), key_column, shard.id)
        else:
            keys = input_keys(pa.table({"_": pa.nulls(parquet.metadata.num_rows)}), None, shard.id)
        keep = pc.is_in(keys, value_set=kept).to_numpy(zero_copy_only=False)
        known = pc.is_in(keys, value_set=tagged).to_numpy(zero_copy_only=False)
        tmp = _partial(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
                start = 0
                for batch in parquet.iter_batches(batch_size=COPY_BATCH_ROWS):
                    mask = keep[start : start + batch.num_rows]
                    start += batch.num_rows
                    if mask.any():
                        writer.write_batch(batch.filter(pa.array(mask)))
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return {"read": len(keys), "written": int(keep.sum()), "untagged": int((~known).sum())}
