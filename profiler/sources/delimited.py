"""Caption files people have before they have shards: CSV, TSV and JSON Lines (each optionally
gzip-compressed), streamed block by block with pyarrow's CSV and JSON readers.

The same column detection and `--columns` mapping as parquet apply (the header row of a CSV /
TSV, the field names of the first JSON objects). Text columns (key, caption, url) are read as
text whatever they look like, so a caption "123" or a key "007" stays as written. A CSV / TSV
line with the wrong number of fields is a skipped row (`row_malformed`), not a failed file; a
file the reader cannot parse at all (bad gzip, a JSON syntax error, a value of another type than
the column's first block) fails the shard, which is retried like a damaged parquet file.

Files are read front to back, so a head (`--limit`) stops early and a seeded sample counts the
rows first, then reads again. An uncompressed CSV / TSV / JSONL file can later be split into
byte-range work units (a reader can start at any line break); a gzip file cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from profiler.schema import CAPTION, KEY, URL
from profiler.sources.base import MissingColumnsError, ReadRequest, Shard
from profiler.sources.canonical import canonical_batch
from profiler.sources.parquet import resolve_columns

FORMATS = ("csv", "tsv", "jsonl")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
COMPRESSED = (".gz",)
BLOCK_BYTES = 4 << 20
TEXT_COLUMNS = (KEY, CAPTION, URL)
MALFORMED = "row_malformed"


def format_of(path: str) -> str | None:
    """csv, tsv or jsonl from the file name (`.csv`, `.tsv.gz`, `.jsonl`, `.ndjson.gz`), else None."""
    name = path.lower()
    for suffix in COMPRESSED:
        name = name.removesuffix(suffix)
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def strip_suffix(path: str) -> str:
    """The path without its text-format suffix (and `.gz`), for shard ids."""
    lowered = path.lower()
    for suffix in (*(s + c for s in SUFFIXES for c in COMPRESSED), *SUFFIXES):
        if lowered.endswith(suffix):
            return path[: -len(suffix)]
    return path


def read_delimited(shard: Shard, request: ReadRequest) -> Iterator[pa.RecordBatch]:
    """Stream the file as canonical batches of the columns asked for."""
    kind = shard.format
    names, types = _peek(shard.url, kind)
    selection, info = request.selection, request.info

    def count_rows(malformed: bool) -> int:
        """A pass over one column; in a CSV / TSV read as bytes, which any field parses as."""
        counting = {**types, **({names[0]: pa.binary()} if kind != "jsonl" and names else {})}
        blocks = _blocks(shard.url, kind, names[:1], {}, counting)
        return sum(b.num_rows + (bad if malformed else 0) for b, bad in blocks)

    try:
        resolved, _ = resolve_columns(request, names, 0)
    except MissingColumnsError as error:  # its rows are counted as skipped, as parquet's are
        raise MissingColumnsError(error.missing, selection.count(count_rows(True))) from None
    source_columns = list(dict.fromkeys(resolved.values()))
    batch_rows = request.batch_rows(resolved)
    picked = None
    if selection.sample is not None:
        num_rows = count_rows(False)  # a sample is drawn from the rows that parse
        info.rows_in_shard, info.rows_selected = num_rows, selection.count(num_rows)
        picked = selection.rows(shard.id, num_rows)
    limit = selection.count(1 << 62) if picked is None else None
    start = emitted = 0
    for block, malformed in _rebatch(_blocks(shard.url, kind, source_columns, resolved, types), batch_rows):
        rows = np.arange(start, start + block.num_rows)
        start += block.num_rows
        if picked is not None:
            keep = picked[(picked >= rows[0]) & (picked <= rows[-1])] if len(rows) else picked[:0]
            block, rows = block.take(pa.array(keep - rows[0] if len(rows) else keep)), keep
            malformed = 0  # a sample is drawn from the rows that parse
        elif limit is not None and emitted + block.num_rows > limit:
            block, rows = block.slice(0, limit - emitted), rows[: limit - emitted]
        emitted += block.num_rows
        if block.num_rows or malformed:
            yield _canonical(block, resolved, shard.id, rows, malformed, start)
            start += malformed
        if picked is None and limit is not None and emitted >= limit:
            info.rows_selected = emitted
            return
    if picked is None:
        info.rows_in_shard = info.rows_selected = emitted


def _canonical(block: pa.RecordBatch, resolved: dict[str, str], shard_id: str, rows: np.ndarray,
               malformed: int, next_row: int) -> pa.RecordBatch:
    """The block in canonical columns, plus one null row per malformed line (with its reason)."""
    columns = {canonical: block.column(source) for canonical, source in resolved.items()}
    if not malformed:
        return canonical_batch(columns, shard_id, rows)
    columns = {name: pa.concat_arrays([column, pa.nulls(malformed, column.type)])
               for name, column in columns.items()}
    rows = np.concatenate([rows, np.arange(next_row, next_row + malformed)])
    problems = pa.array([None] * block.num_rows + [MALFORMED] * malformed, pa.string())
    return canonical_batch(columns, shard_id, rows, problems)


def _peek(url: str, kind: str) -> tuple[list[str], dict[str, pa.DataType]]:
    """Column names and the types the first block infers (a file with no rows: its header)."""
    with fsspec.open(url, "rb", compression="infer") as handle:
        reader = _open(handle, kind, None, {}, lambda row: "skip")
        return list(reader.schema.names), {f.name: f.type for f in reader.schema}


def _blocks(url: str, kind: str, columns: list[str], resolved: dict[str, str],
            types: dict[str, pa.DataType]) -> Iterator[tuple[pa.RecordBatch, int]]:
    """(block of `columns`, malformed lines skipped while reading it)."""
    # CSV text columns as text ("007" stays a key); captions as bytes, so a caption that is not
    # UTF-8 costs its row (caption_invalid_utf8), not the file. JSON keeps its own types (a JSON
    # number cannot be read as a string); canonical batches cast keys to text.
    text = {resolved[c] for c in TEXT_COLUMNS if c in resolved} if kind != "jsonl" else set()
    caption = resolved.get(CAPTION) if kind != "jsonl" else None
    wanted = {name: pa.binary() if name == caption else pa.string() if name in text else types[name]
              for name in columns}
    malformed = [0]

    def skip(row: Any) -> str:
        malformed[0] += 1
        return "skip"

    with fsspec.open(url, "rb", compression="infer") as handle:
        reader = _open(handle, kind, columns, wanted, skip)
        for block in reader:
            count, malformed[0] = malformed[0], 0
            yield block, count
        if malformed[0]:
            yield pa.RecordBatch.from_pylist([], reader.schema), malformed[0]


def _open(handle: Any, kind: str, columns: list[str] | None, types: dict[str, pa.DataType],
          on_invalid: Callable[[Any], str]) -> Any:
    if kind == "jsonl":
        parse = pajson.ParseOptions(
            explicit_schema=pa.schema(list(types.items())) if columns is not None else None,
            unexpected_field_behavior="ignore" if columns is not None else "infer",
            newlines_in_values=False)
        return pajson.open_json(handle, read_options=pajson.ReadOptions(block_size=BLOCK_BYTES),
                                parse_options=parse)
    parse = pacsv.ParseOptions(
        delimiter="\t" if kind == "tsv" else ",",
        quote_char=False if kind == "tsv" else '"',  # TSV (CC3M, CC12M) has no quoting
        newlines_in_values=kind == "csv", invalid_row_handler=on_invalid)
    # only an unquoted empty field is null: a caption "NA" or "null" is text, and a quoted ""
    # stays an empty caption (pyarrow writes null and "" that way)
    convert = pacsv.ConvertOptions(include_columns=columns, column_types=types, null_values=[""],
                                   strings_can_be_null=True, quoted_strings_can_be_null=False)
    return pacsv.open_csv(handle, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                          parse_options=parse, convert_options=convert)


def _rebatch(blocks: Iterator[tuple[pa.RecordBatch, int]],
             size: int) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Blocks cut or joined into batches of `size` rows (malformed counts ride on the batch
    they were found in)."""
    pending: list[pa.RecordBatch] = []
    rows = malformed = 0
    schema = None
    for block, bad in blocks:
        schema = block.schema
        malformed += bad
        if block.num_rows:
            pending.append(block)
            rows += block.num_rows
        while rows >= size:
            table = pa.Table.from_batches(pending).combine_chunks()
            head = table.slice(0, size)
            yield _one_batch(head), malformed
            malformed = 0
            rest = table.slice(size)
            pending = [_one_batch(rest)] if rest.num_rows else []
            rows = rest.num_rows
    if rows:
        yield _one_batch(pa.Table.from_batches(pending)), malformed
    elif malformed and schema is not None:
        yield pa.RecordBatch.from_pylist([], schema), malformed


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], table.schema)
