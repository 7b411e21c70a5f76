"""Hand labels of a run's samples: a `key,label` CSV, and what kind of labels it holds."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from profiler.errors import UserError
from profiler.schema import KEY

log = logging.getLogger("profiler.calibrate")

TRUE_LABELS = ("1", "true", "yes", "sexual")
FALSE_LABELS = ("0", "false", "no", "not_sexual")
_BINARY_HINT = "1/0, true/false, yes/no or sexual/not_sexual"


def read_labels(path: Path) -> dict[str, str]:
    """key -> label (stripped) from a CSV with `key` and `label` columns; repeated keys with the
    same label are kept once (warned), with different labels refused."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # spreadsheets write a byte-order mark
    except FileNotFoundError:
        raise UserError(f"labels file not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"labels file {path} is a folder: give a CSV file with key,label columns") from None
    except UnicodeDecodeError:
        raise UserError(f"labels file {path} is not UTF-8 text: save it as a UTF-8 CSV") from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as error:
        raise UserError(f"labels file {path} is not valid CSV: {error}") from None
    if not rows:
        raise UserError(f"labels file {path} is empty: write a header row key,label and one row per sample")
    header = [h.strip().lower() for h in rows[0]]
    if KEY not in header or "label" not in header:
        raise UserError(f"labels file {path} needs a header row with columns key and label "
                        f"(it has {', '.join(repr(h) for h in rows[0][:6]) or 'none'})")
    key_at, label_at = header.index(KEY), header.index("label")
    labels: dict[str, str] = {}
    first_row: dict[str, int] = {}
    repeated = 0
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        key = row[key_at].strip() if key_at < len(row) else ""
        label = row[label_at].strip() if label_at < len(row) else ""
        if not key or not label:
            what = "key" if not key else "label"
            raise UserError(f"labels file {path} line {number} has no {what}: fill it in or delete the line")
        if key in labels:
            if labels[key].lower() != label.lower():
                raise UserError(f"labels file {path}: key {key!r} is labelled {labels[key]!r} on line "
                                f"{first_row[key]} and {label!r} on line {number}: keep one")
            repeated += 1
            continue
        labels[key], first_row[key] = label, number
    if not labels:
        raise UserError(f"labels file {path} has a header but no labelled rows")
    if repeated:
        log.warning("labels: %d repeated key(s) with the same label were counted once", repeated)
    return labels


def label_kind(values: set[str], class_ids: list[str]) -> str:
    """"binary" or "classes"; unknown or mixed labels are user errors naming the valid ones."""
    lowered = {v.lower() for v in values}
    binary = set(TRUE_LABELS) | set(FALSE_LABELS)
    ids = {c.lower() for c in class_ids}
    if lowered <= binary:
        return "binary"
    if lowered <= ids:
        return "classes"
    unknown = sorted(v for v in values if v.lower() not in binary | ids)
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        classes = f" or class ids of the prompt bank ({', '.join(class_ids)})" if class_ids else ""
        raise UserError(f"unknown label(s) {shown}: use {_BINARY_HINT}{classes}")
    raise UserError("the labels mix binary values (yes/no, 1/0) and class ids: use one kind in a file")
