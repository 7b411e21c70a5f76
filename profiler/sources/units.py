"""Work units below the file: contiguous row-group ranges of one parquet file.

A big file (a LAION part holds 12-18M rows) as one unit of work keeps one core busy and loses
all its work to a crash. Split into units of about `DEFAULT_UNIT_ROWS` rows (whole row groups:
a row group is the smallest piece a parquet reader can read on its own), the units of one file
run in parallel and complete one by one. The split is planned from the file's footer alone.

A unit is the file's `Shard` with the range in `extra` (`row_groups = "lo-hi"`, row groups
lo..hi-1): its id, keys, row numbers and sample are the file's, so the unit's rows are exactly
the rows the whole file would have given there. Its outputs live in a folder named like the
file's outputs, `<file id>/rgLLLLL-HHHHH`: the tags of `part-00.parquet` are `tags/part-00.parquet`
when it is one unit and the folder `tags/part-00/` (a parquet dataset, one file per unit) when
it is split.

Only parquet splits: tars, image folders, clip-retrieval pairs and HF streams are one unit per
file (their row boundaries are not known without reading them).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import fsspec
import pyarrow.parquet as pq

from profiler.sources.base import Shard

UNIT_OPTION = "row_groups"  # Shard.extra key of a unit: "lo-hi"
SHARE_OPTION = "unit_share"  # the unit's share of the file's rows (progress weights)
# A kill loses the units in flight; smaller units lose less but pay more per-unit costs (each
# batch compiles the taggers' regexes). bench/single_file.py, a kill -9 at 60% of a 12.5M-row
# file then the same command, six tries each: 500k-row units 46-59% of an uninterrupted run,
# 750k 50-61% (two workers finish their units nearly together, so a kill just before a pair
# completes loses both); the uninterrupted run took the same time with either.
DEFAULT_UNIT_ROWS = 500_000
UNIT_NAME = re.compile(r"rg(\d+)-(\d+)")
UNITS_SUFFIX = ".units.json"  # <run>/parts/<file id>.units.json: a split file's units, in order
SPLITTABLE = ("parquet",)


def unit_name(lo: int, hi: int) -> str:
    """`rg00010-00020`: row groups 10..19; zero-padded so names sort in file order."""
    return f"rg{lo:05d}-{hi:05d}"


def unit_range(shard: Shard) -> tuple[int, int] | None:
    """(first row group, one past the last) of a unit; None for a whole file."""
    value = shard.option(UNIT_OPTION)
    if value is None:
        return None
    lo, hi = value.split("-")
    return int(lo), int(hi)


def unit_id(shard: Shard) -> str:
    """Where the unit's outputs go: the file's id, or `<file id>/rgLLLLL-HHHHH`."""
    span = unit_range(shard)
    return shard.id if span is None else f"{shard.id}/{unit_name(*span)}"


def unit_size(shard: Shard) -> float | None:
    """The unit's share of the file's bytes (for progress weights)."""
    if shard.size is None:
        return None
    return shard.size * float(shard.option(SHARE_OPTION, "1"))


def make_unit(shard: Shard, lo: int, hi: int, share: float) -> Shard:
    extra = tuple((k, v) for k, v in shard.extra if k not in (UNIT_OPTION, SHARE_OPTION))
    return replace(shard, extra=(*extra, (UNIT_OPTION, f"{lo}-{hi}"), (SHARE_OPTION, f"{share:.6g}")))


def row_group_rows(shard: Shard) -> list[int] | None:
    """Rows of each row group, from the footer (no data read); None for other formats or an
    unreadable file (it is then one unit, and fails as one)."""
    if shard.format not in SPLITTABLE:
        return None
    try:
        with fsspec.open(shard.url, "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
            return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    except Exception:
        return None


def split_row_groups(rows: list[int], unit_rows: int) -> list[tuple[int, int]]:
    """Contiguous row-group ranges of about `unit_rows` rows each, balanced: k = round(total /
    unit_rows) units cut at the row-group boundaries nearest to the even split. Every unit holds
    at least one row group; `unit_rows` <= 0 or one row group: one range."""
    total, groups = sum(rows), len(rows)
    if unit_rows <= 0 or groups <= 1 or total <= 0:
        return [(0, groups)]
    k = min(groups, max(1, round(total / unit_rows)))
    ends, cumulative = [], 0
    for rows_in_group in rows:
        cumulative += rows_in_group
        ends.append(cumulative)
    cuts = [0]
    for i in range(1, k):
        target = total * i / k
        best = min(range(cuts[-1] + 1, groups - (k - i) + 1), key=lambda g: abs(ends[g - 1] - target))
        cuts.append(best)
    cuts.append(groups)
    return [(lo, hi) for lo, hi in itertools.pairwise(cuts) if hi > lo]


def plan_units(shard: Shard, rows: list[int] | None, unit_rows: int) -> list[Shard]:
    """The file as work units: itself when it does not split (one range, other formats)."""
    if rows is None:
        return [shard]
    spans = split_row_groups(rows, unit_rows)
    if len(spans) <= 1:
        return [shard]
    total = sum(rows) or 1
    return [make_unit(shard, lo, hi, sum(rows[lo:hi]) / total) for lo, hi in spans]


def units_from_names(shard: Shard, names: list[str], rows_share: list[float] | None = None) -> list[Shard]:
    """Units named `rgLLLLL-HHHHH` (as recorded in a run folder's unit index)."""
    out = []
    for i, name in enumerate(names):
        match = UNIT_NAME.fullmatch(name)
        if match is None:
            raise ValueError(f"not a unit name: {name!r}")
        share = rows_share[i] if rows_share else 1 / len(names)
        out.append(make_unit(shard, int(match.group(1)), int(match.group(2)), share))
    return out
