"""Which shards a run must profile, and which rows of each: resume, incremental, sampling.

A shard is complete when its `.done` marker carries the same signature this run would write:
the file's size and version (mtime / ETag) and the row selection. So a shard whose file changed,
or whose `--limit` quota moved, is profiled again; everything else is reused.

A run folder whose outputs were finished over one set of shards is only extended to another
set (new files in the source, files gone) with `--incremental`; without it that is an error,
so re-running an old command never silently changes what a finished report describes.

A big parquet file is profiled as several work units (row-group ranges planned from its
footer, `profiler.sources.units`), each with its own marker: the units of one file run in
parallel, and a resume redoes only the units that did not finish. Selections stay per file (a
unit reads the file's selected rows in its row groups), so any split gives the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from profiler.engine.runfolder import RunFolder
from profiler.engine.shard import ShardJob
from profiler.errors import UserError
from profiler.sources import Shard
from profiler.sources.reader import shard_num_rows
from profiler.sources.selection import Selection
from profiler.sources.units import (
    DEFAULT_UNIT_ROWS,
    SHARE_OPTION,
    SPLITTABLE,
    plan_units,
    row_group_rows,
    unit_id,
    unit_range,
    units_from_names,
)

log = logging.getLogger("profiler")
FOOTER_THREADS = 16  # footers read at once while planning work units
SAMPLING_METHOD = ("per shard: the N rows with the smallest SplitMix64 priority, seeded by "
                   "sha256(seed, shard id) (uniform without replacement); --limit: quotas in "
                   "shard order")


@dataclass
class ShardPlan:
    jobs: list[ShardJob]  # one per work unit to profile (a whole file, or a row-group range)
    complete: list[str] = field(default_factory=list)  # reused as they are
    new: list[str] = field(default_factory=list)  # not in the last finished run
    changed: list[str] = field(default_factory=list)  # profiled before from another file/selection
    removed: list[str] = field(default_factory=list)  # in the last finished run, gone now
    profiled: list[str] = field(default_factory=list)  # shards with at least one unit to profile
    units_reused: int = 0  # completed units of the shards in `profiled`

    def summary(self) -> dict[str, int]:
        return {"shards": len(self.profiled) + len(self.complete), "profiled": len(self.profiled),
                "reused": len(self.complete), "new": len(self.new), "changed": len(self.changed),
                "removed": len(self.removed), "units": len(self.jobs),
                "units_reused": self.units_reused}


def plan_shards(
    folder: RunFolder, shards: list[Shard], spec: Any,
    make_job: Callable[[Shard, Selection | None, dict[str, Any]], ShardJob],
) -> ShardPlan:
    """Jobs for every work unit without a valid completion marker; refuses a changed shard set
    of a finished run unless `spec.incremental`.

    A shard is complete when its own marker, or every unit of its recorded split, matches the
    signature. An incomplete shard keeps a recorded split of the same signature (so a resume
    redoes only the units that did not finish, whatever `unit_rows` says now); otherwise it
    is split afresh from its footer, and every output of another split is removed.
    """
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
    todo: list[tuple[Shard, Selection | None, dict[str, Any]]] = []
    for shard, selection in zip(shards, selections(shards, spec), strict=True):
        signature = shard_signature(shard, selection)
        if _complete(folder, shard, signature):
            plan.complete.append(shard.id)
            continue
        index = folder.units_index(shard.id)
        if folder.marker(shard.id) is not None or (index and index.get("signature") != signature):
            plan.changed.append(shard.id)
        todo.append((shard, selection, signature))
    recorded = {s.id: _recorded_split(folder, s, sig) for s, _, sig in todo}
    layouts = _footers([s for s, sel, _ in todo if recorded[s.id] is None
                        and not (sel is not None and sel.limit == 0)], spec)
    for shard, selection, signature in todo:
        units = recorded[shard.id]
        if units is None:
            reads_nothing = selection is not None and selection.limit == 0  # past the --limit
            units = [shard] if reads_nothing else plan_units(shard, layouts.get(shard.id), _unit_rows(spec))
        index = None if len(units) == 1 else {
            "signature": signature, "units": [unit_id(u).rsplit("/", 1)[1] for u in units],
            "shares": [float(u.option(SHARE_OPTION, "1")) for u in units]}
        folder.set_units(shard.id, index)
        plan.profiled.append(shard.id)
        for unit in units:
            unit_sig = signature if index is None else unit_signature(signature, unit)
            if index is not None and folder.is_done(unit_id(unit), unit_sig):
                plan.units_reused += 1
                continue
            plan.jobs.append(make_job(unit, selection, unit_sig))
    return plan


def unit_signature(signature: dict[str, Any], unit: Shard) -> dict[str, Any]:
    """A unit's marker signature: the file's, and its row groups."""
    return {**signature, "row_groups": list(unit_range(unit) or ())}


def _complete(folder: RunFolder, shard: Shard, signature: dict[str, Any]) -> bool:
    """The shard's own marker matches, or it was split and every unit's marker matches."""
    units = _recorded_split(folder, shard, signature)
    if units is None:
        return folder.units_index(shard.id) is None and folder.is_done(shard.id, signature)
    return all(folder.is_done(unit_id(u), unit_signature(signature, u)) for u in units)


def _recorded_split(folder: RunFolder, shard: Shard, signature: dict[str, Any]) -> list[Shard] | None:
    """The units of the shard's recorded split, when it was split for this same signature."""
    index = folder.units_index(shard.id)
    if index is None or index.get("signature") != signature:
        return None
    try:
        return units_from_names(shard, list(index["units"]), index.get("shares"))
    except (ValueError, TypeError, IndexError):
        return None  # a damaged index: split afresh


def _unit_rows(spec: Any) -> int:
    value = getattr(spec, "unit_rows", None)
    return DEFAULT_UNIT_ROWS if value is None else value


def _footers(shards: list[Shard], spec: Any) -> dict[str, list[int] | None]:
    """Row-group sizes of the shards that may split, footers read in parallel (network stores)."""
    splittable = [s for s in shards if s.format in SPLITTABLE]
    if _unit_rows(spec) == 0 or not splittable:
        return {}
    with ThreadPoolExecutor(max_workers=min(FOOTER_THREADS, len(splittable))) as pool:
        return dict(zip([s.id for s in splittable], pool.map(row_group_rows, splittable), strict=True))


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
    for part_id in (u for shard_id in shard_ids for u in folder.unit_ids(shard_id)):
        marker = folder.marker(part_id) or {}  # a unit's marker counts the rows of its row groups
        rows = marker.get("rows_in_shard")
        available = None if rows is None or available is None else available + rows
    return {"per_shard": spec.sample_per_shard, "limit": spec.limit, "seed": spec.sample_seed,
            "method": SAMPLING_METHOD, "rows_available": available}


def describe(plan: ShardPlan) -> str:
    """One log line on what an incremental run found."""
    s = plan.summary()
    return (f"incremental: {s['new']} new, {s['changed']} changed, {s['removed']} removed, "
            f"{s['reused']} reused shard(s); profiling {s['profiled']} ({s['units']} work unit(s))")
