"""A shard's saved parts, whether it ran as one work unit or as several (row-group ranges).

The merge (finish.py) and anything else reading a run folder take a shard's counts and
examples from here, so a split file reads exactly as if it had run whole: counts add exactly,
and examples are the first ones in file order (units are kept in file order).
"""

from __future__ import annotations

import json
from functools import reduce
from typing import Any

from profiler.counting.counts import Counts
from profiler.engine.runfolder import RunFolder


def shard_counts(folder: RunFolder, shard_id: str) -> Counts:
    """The shard's counts: its own part, or the sum of its units' parts. A split shard is
    complete when none of its units failed; a failed unit is reported under its own id."""
    ids = folder.unit_ids(shard_id)
    parts = [Counts.from_dict(json.loads(folder.counts_path(i).read_text())) for i in ids]
    if ids == [shard_id]:
        return parts[0]
    merged = reduce(Counts.merge, parts)
    merged.shards_completed = [] if merged.shards_failed else [shard_id]
    return merged


def shard_examples(folder: RunFolder, shard_id: str, per_group: int) -> dict[str, list[dict[str, Any]]]:
    """The shard's caption snippets: the first `per_group` per group, in file order."""
    merged: dict[str, list[dict[str, Any]]] = {}
    for part_id in folder.unit_ids(shard_id):
        path = folder.examples_path(part_id)
        if not path.exists():
            continue
        for group, rows in json.loads(path.read_text()).items():
            bucket = merged.setdefault(group, [])
            bucket.extend(rows[: max(per_group - len(bucket), 0)])
    return merged
