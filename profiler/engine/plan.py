"""Which shards a run must profile, and which rows of each: resume, incremental, sampling.

A shard is complete when its `.done` marker carries the same signature this run would write:
the file's size and version (mtime / ETag) and the row selection. So a shard whose file changed,
or whose `--limit` quota moved, is profiled again; everything else is reused.

A run folder whose outputs were finished over one set of shards is only extended to another
set (new files in the source, files gone) with `--incremental`; without it that is an error,
so re-running an old command never silently changes what a finished report describes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from profiler.engine.runfolder import RunFolder
from profiler.engine.shard import ShardJob
from profiler.errors import UserError
from profiler.sources import Shard
from profiler.sources.reader import shard_num_rows
from profiler.sources.selection import Selection

log = logging.getLogger("profiler")
SAMPLING_METHOD = ("per shard: the N rows with the smallest SplitMix64 priority, seeded by "
                   "sha256(seed, shard id) (uniform without replacement); --limit: quotas in "
                   "shard order")


@dataclass
class ShardPlan:
    jobs: list[ShardJob]
    complete: list[str] = field(default_factory=list)  # reused as they are
    new: list[str] = field(default_factory=list)  # not in the last finished run
    changed: list[str] = field(default_factory=list)  # profiled before from another file/selection
    removed: list[str] = field(default_factory=list)  # in the last finished run, gone now

    def summary(self) -> dict[str, int]:
        return {"shards": len(self.jobs) + len(self.complete), "profiled": len(self.jobs),
                "reused": len(self.complete), "new": len(self.new), "changed": len(self.changed),
                "removed": len(self.removed)}


def plan_shards(
    folder: RunFolder, shards: list[Shard], spec: Any,
    make_job: Callable[[Shard, Selection | None, dict[str, Any]], ShardJob],
) -> ShardPlan:
    """Jobs for every shard without a valid completion marker; refuses a changed shard set
    of a finished run unless `spec.incremental`."""
    ids = [s.id for s in shards]
    finished = folder.finished_shards()
    new: list[str] = []
    removed: list[str] = []
    if finished is not None:
        before, now = set(finished), set(ids)
        new = [i for i in ids if i not in before]
        removed = [i for i in finished if i not in now]
        if (new or removed) and not spec.incremental:
            example = (new or removed)[0]
            raise UserError(
                f"{folder.root} holds a finished run over {len(finished)} shard(s), and the source "
                f"now has {len(new)} new and {len(removed)} removed (e.g. {example}): pass "
                "--incremental to update this run with them, or choose another --out"
            )
    plan = ShardPlan(jobs=[], new=new, removed=removed)
    for shard, selection in zip(shards, selections(shards, spec), strict=True):
        signature = shard_signature(shard, selection)
        if folder.is_done(shard.id, signature):
            plan.complete.append(shard.id)
            continue
        if folder.marker(shard.id) is not None:
            plan.changed.append(shard.id)
        plan.jobs.append(make_job(shard, selection, signature))
    return plan


def selections(shards: list[Shard], spec: Any) -> list[Selection | None]:
    """Each shard's rows: a seeded sample per shard, and `--limit` quotas in shard order.

    Quotas need row counts, so with a limit the footers are read in order until the limit
    is used up; later shards get a quota of 0 (they are opened for their row count only).
    """
    sample, limit, seed = spec.sample_per_shard, spec.limit, spec.sample_seed
    if sample is None and limit is None:
        return [None] * len(shards)
    if limit is None:
        return [Selection(sample=sample, seed=seed)] * len(shards)
    out = []
    remaining = limit
    for shard in shards:
        rows = shard_num_rows(shard) if remaining > 0 else 0
        selection = Selection(sample=sample, limit=remaining, seed=seed)
        out.append(selection)
        if rows is not None:  # an unreadable shard reads nothing; it is retried next run
            remaining -= selection.count(rows)
    return out


def shard_signature(shard: Shard, selection: Selection | None) -> dict[str, Any]:
    return {"size": shard.size, "version": shard.version,
            "selection": selection.to_json() if selection else None}


def sampling_meta(folder: RunFolder, shard_ids: list[str], spec: Any) -> dict[str, Any] | None:
    """stats.json `run.sampling`: how rows were chosen and how many the shards hold (None:
    every row was read). `rows_available` is None when a shard's row count is unknown."""
    if spec.sample_per_shard is None and spec.limit is None:
        return None
    available: int | None = 0
    for shard_id in shard_ids:
        marker = folder.marker(shard_id) or {}
        rows = marker.get("rows_in_shard")
        available = None if rows is None or available is None else available + rows
    return {"per_shard": spec.sample_per_shard, "limit": spec.limit, "seed": spec.sample_seed,
            "method": SAMPLING_METHOD, "rows_available": available}


def describe(plan: ShardPlan) -> str:
    """One log line on what an incremental run found."""
    s = plan.summary()
    return (f"incremental: {s['new']} new, {s['changed']} changed, {s['removed']} removed, "
            f"{s['reused']} reused shard(s); profiling {s['profiled']}")
