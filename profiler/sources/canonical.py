"""Source columns -> the canonical batch: string keys, text captions, binary images, fixed-size
float32 embeddings, the `shard` column and `ROW_PROBLEM` reasons.

Schema drift in one column must not fail a whole shard, so values that cannot be used become
null with a reason in ROW_PROBLEM (the engine counts those rows as skipped by reason).
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.schema import CAPTION, IMAGE, IMAGE_EMBEDDING, KEY, ROW_PROBLEM, SHARD

log = logging.getLogger("profiler.sources")


def canonical_batch(columns: dict[str, pa.Array], shard_id: str, rows: np.ndarray,
                    problems: pa.Array | None = None, embedding_dim: int | None = None) -> pa.RecordBatch:
    """Build the batch; `rows` are the rows' numbers in the shard (for generated keys),
    `problems` the reader's own reasons (they win over the per-column ones)."""
    columns = drop_nested(dict(columns), shard_id)
    n = len(rows)
    reasons = [problems] if problems is not None else []
    if KEY in columns:
        columns[KEY] = pc.cast(columns[KEY], pa.string())
    else:
        columns[KEY] = generated_keys(shard_id, rows)
    if CAPTION in columns and not pa.types.is_string(columns[CAPTION].type):
        columns[CAPTION], problem = captions_as_text(columns[CAPTION])
        reasons.append(problem)
    if IMAGE in columns:
        columns[IMAGE], problem = image_bytes(columns[IMAGE])
        reasons.append(problem)
    if IMAGE_EMBEDDING in columns:
        columns[IMAGE_EMBEDDING], problem = fixed_embeddings(columns[IMAGE_EMBEDDING], embedding_dim)
        reasons.append(problem)
    problem = first_problem([r for r in reasons if r is not None], n)
    if problem is not None:
        columns[ROW_PROBLEM] = problem
    columns[SHARD] = shard_column(shard_id, n)
    return pa.RecordBatch.from_pydict(columns)


# Columns with their own per-row handling of odd types (embeddings are lists; captions and images
# of another type get a reason per row); any other column drifted to a list / struct / map is
# dropped (as if the shard lacked it): its rows stay usable.
NESTED_COLUMNS = (IMAGE_EMBEDDING, CAPTION, IMAGE)


def drop_nested(columns: dict[str, pa.Array], shard_id: str) -> dict[str, pa.Array]:
    """Scalar columns whose type drifted to a nested one (a key or score column rewritten as a
    list or struct): dropped, so keys are generated and scores unobserved, never a failed shard."""
    drifted = [name for name, column in columns.items()
               if name not in NESTED_COLUMNS and pa.types.is_nested(column.type)]
    for name in drifted:
        log.warning("shard %s: column %s holds %s values, not scalars: read as missing",
                    shard_id, name, columns[name].type)
        del columns[name]
    return columns


def generated_keys(shard_id: str, rows: np.ndarray) -> pa.Array:
    """``<shard id>/<row number>`` for datasets that carry no key, so tags join back to rows."""
    numbers = pc.cast(pa.array(np.asarray(rows, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(f"{shard_id}/", numbers, "")


def shard_column(shard_id: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([shard_id]))


def first_problem(reasons: list[pa.Array], n: int) -> pa.Array | None:
    """Per row, the first non-null reason; None when no row has one."""
    reasons = [r for r in reasons if r.null_count < len(r)]
    if not reasons:
        return None
    if len(reasons) == 1:
        return reasons[0]
    return pc.coalesce(*reasons)


def all_rows(reason: str, valid: pa.Array) -> pa.Array:
    """`reason` on the rows where `valid` is true, null elsewhere."""
    return pc.if_else(valid, pa.scalar(reason), pa.scalar(None, pa.string()))


def captions_as_text(column: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """Captions as UTF-8 text; rows that are not valid UTF-8 text become null with a reason."""
    if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
        return pc.cast(column, pa.string()), None
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string()), None
    if not (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)):
        return pa.nulls(len(column), pa.string()), all_rows("caption_not_text", column.is_valid())
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


def image_bytes(column: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """Encoded image bytes as `binary`. HF image structs ``{bytes, path}`` give their bytes (a
    path inside the data is never opened); anything else is null with `image_not_binary`."""
    if pa.types.is_struct(column.type):
        index = column.type.get_field_index("bytes")
        if index < 0:
            return pa.nulls(len(column), pa.binary()), all_rows("image_not_binary", column.is_valid())
        column = pc.struct_field(column, [index])
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.binary()), None
    if pa.types.is_binary(column.type):
        return column, None
    if pa.types.is_large_binary(column.type) or pa.types.is_binary_view(column.type) \
            or pa.types.is_fixed_size_binary(column.type):
        return pc.cast(column, pa.binary()), None
    return pa.nulls(len(column), pa.binary()), all_rows("image_not_binary", column.is_valid())


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)


def _numeric(kind: pa.DataType) -> bool:
    return pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind)


def embedding_lengths(column: pa.Array) -> np.ndarray:
    """Lengths of the non-null, non-empty rows of a list column."""
    lengths = pc.list_value_length(column).drop_null().to_numpy(zero_copy_only=False)
    return lengths[lengths > 0]


def embedding_dim(column: pa.Array) -> int | None:
    """The column's dimension: its list size, else the most common row length (ties: the one
    seen first), None without a non-empty row."""
    if pa.types.is_fixed_size_list(column.type):
        return column.type.list_size
    if not _is_list(column.type):
        return None
    return most_common(embedding_lengths(column))


def most_common(lengths: np.ndarray) -> int | None:
    if not len(lengths):
        return None
    counts = Counter(lengths.tolist())
    return max(counts, key=counts.__getitem__)  # insertion order breaks ties


def fixed_embeddings(column: pa.Array, dim: int | None) -> tuple[pa.Array, pa.Array | None]:
    """Embeddings as fixed_size_list<float32>[dim]. Rows of another length get
    `embedding_bad_shape`, non-numeric ones `embedding_not_numeric`; NaN / inf rows stay (the
    tagger marks them unscored)."""
    n = len(column)
    if pa.types.is_null(column.type):
        return pa.nulls(n, pa.list_(pa.float32(), max(dim or 1, 1))), None
    if not _is_list(column.type) or not _numeric(column.type.value_type):
        return (pa.nulls(n, pa.list_(pa.float32(), max(dim or 1, 1))),
                all_rows("embedding_not_numeric", column.is_valid()))
    if pa.types.is_fixed_size_list(column.type) and dim in (None, column.type.list_size):
        return pc.cast(column, pa.list_(pa.float32(), column.type.list_size)), None
    dim = dim or embedding_dim(column) or 1
    lengths = pc.list_value_length(column).fill_null(dim).to_numpy(zero_copy_only=False)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    good = (lengths == dim) & valid
    bad = ~(lengths == dim) & valid
    values = np.zeros((n, dim), np.float32)
    if good.any():
        flat = pc.list_flatten(column.filter(pa.array(good)))
        values[good] = pc.cast(flat, pa.float32()).to_numpy(zero_copy_only=False).reshape(-1, dim)
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), dim, mask=pa.array(~good))
    problems = pa.array(np.where(bad, "embedding_bad_shape", None), pa.string()) if bad.any() else None
    return fixed, problems
