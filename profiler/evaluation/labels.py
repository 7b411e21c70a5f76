"""The labels file: a CSV with `key`, one column per labelled signal and optional sample columns.

`label-sample` writes it with empty label columns; a person fills them in; `evaluate` reads it.
Values: true/false, yes/no or 1/0 (any case); empty means "not labelled for this column". Every
mistake (unknown column, unreadable value, repeated key) is one line naming the row, because a
silently dropped label would bias the measured error.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from profiler.errors import UserError
from profiler.schema import KEY

TRUE_VALUES = ("1", "true", "yes", "y", "t")
FALSE_VALUES = ("0", "false", "no", "n", "f")
WEIGHT = "weight"
# Columns label-sample writes for the labeller to read; evaluate ignores them.
INFO_COLUMNS = ("caption", "url", "stratum", "groups", "flagged", "shard")


@dataclass(frozen=True)
class Labels:
    keys: list[str]
    values: dict[str, list[bool | None]]  # column -> label per key (None: not labelled)
    weights: np.ndarray  # 1.0 when the file has no weight column
    weighted: bool


def read_labels(path: str | Path, known: list[str]) -> Labels:
    """Read and check a labels CSV against the run's evaluable columns."""
    source = Path(path)
    if not source.is_file():
        raise UserError(f"labels file {source} does not exist")
    try:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"labels file {source} is not a readable CSV: {error}") from None
    if KEY not in header:
        raise UserError(f"labels file {source} has no '{KEY}' column (header: {', '.join(header)})")
    columns = [c for c in header if c not in (KEY, WEIGHT, *INFO_COLUMNS)]
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise UserError(f"labels file {source}: unknown column(s) {', '.join(unknown)}; label columns "
                        f"of this run: {', '.join(known)}")
    if not columns:
        raise UserError(f"labels file {source} has no label column: add one of {', '.join(known)}")
    keys: list[str] = []
    seen: set[str] = set()
    values: dict[str, list[bool | None]] = {c: [] for c in columns}
    weights = []
    for line, row in enumerate(rows, start=2):
        key = (row.get(KEY) or "").strip()
        if not key:
            raise UserError(f"labels file {source} line {line}: empty key")
        if key in seen:
            raise UserError(f"labels file {source} line {line}: key {key} appears twice")
        seen.add(key)
        keys.append(key)
        for column in columns:
            values[column].append(_label(row.get(column), source, line, column))
        weights.append(_weight(row.get(WEIGHT), source, line) if WEIGHT in header else 1.0)
    return Labels(keys, values, np.asarray(weights, float), WEIGHT in header)


def _label(value: str | None, source: Path, line: int, column: str) -> bool | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if text in TRUE_VALUES:
        return True
    if text in FALSE_VALUES:
        return False
    raise UserError(f"labels file {source} line {line}, column {column}: cannot read {value!r} "
                    "(use true/false, yes/no or 1/0; leave empty when not labelled)")


def _weight(value: str | None, source: Path, line: int) -> float:
    try:
        weight = float((value or "").strip())
    except ValueError:
        weight = float("nan")
    if not np.isfinite(weight) or weight <= 0:
        raise UserError(f"labels file {source} line {line}: weight {value!r} is not a positive number")
    return weight
