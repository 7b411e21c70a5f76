"""Local engine: shards in parallel worker processes, then merge, statistics and report."""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from profiler import __version__
from profiler.config import RunSpec
from profiler.counts import Counts, merge_all
from profiler.engine.runfolder import RunFolder, fingerprint
from profiler.engine.shard import ShardJob, ShardResult, cached_taggers, count_plan, process_shard
from profiler.report import write_outputs
from profiler.sources import discover_shards
from profiler.stats import compute_cells

log = logging.getLogger("profiler")


@dataclass
class RunResult:
    out: Path
    html: Path
    stats_json: Path
    counts: Counts
    seconds: float


def run_profile(
    spec: RunSpec, overwrite: bool = False, on_shard: Callable[[ShardResult], None] | None = None
) -> RunResult:
    """Profile every shard of the spec (resuming completed ones) and write the outputs."""
    started = time.perf_counter()
    spec.validate()
    if spec.sample:
        _ensure_sample_data(spec)
    shards = discover_shards(spec.sources)
    settings_json = json.dumps(spec.tagger_settings, sort_keys=True)
    taggers = cached_taggers(tuple(spec.taggers), settings_json)  # fail fast on bad settings
    versions = {k: v for t in taggers for k, v in t.versions().items()}
    config = {"taggers": {t.name: t.describe() for t in taggers}, "settings": spec.tagger_settings,
              "columns": spec.columns, "versions": versions, "write_tags": spec.write_tags}
    folder = RunFolder(spec.out)
    folder.prepare(fingerprint(config), spec.to_json(), overwrite)
    _attach_log_file(folder.root / "run.log")

    jobs = [
        ShardJob(shard, str(folder.root), tuple(spec.taggers), settings_json,
                 tuple(sorted(spec.columns.items())), spec.batch_size, spec.write_tags,
                 spec.examples_per_group)
        for shard in shards if not folder.is_done(shard.id)
    ]
    log.info("%d shard(s), %d already complete, %d to profile with %d worker %s",
             len(shards), len(shards) - len(jobs), len(jobs), min(spec.workers, max(len(jobs), 1)),
             spec.executor)
    for result in _execute(jobs, spec.workers, spec.executor):
        if result.error:
            log.warning("shard %s failed: %s", result.shard_id, result.error)
        else:
            rate = result.rows / result.seconds if result.seconds else 0
            log.info("shard %s: %d rows in %.2fs (%.0f rows/s)",
                     result.shard_id, result.rows, result.seconds, rate)
        if on_shard:
            on_shard(result)

    plan = count_plan(taggers)
    counts = merge_all(
        (_load_counts(folder, s.id) for s in shards),
        plan.populations, [s.name for s in plan.signals], [s.name for s in plan.scores],
    )
    examples = _merge_examples(folder, [s.id for s in shards], spec.examples_per_group)
    cells = compute_cells(counts, spec.stats)
    meta = {
        "name": spec.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tool_version": __version__,
        "sources": spec.sources,
        "shards_total": len(shards),
        "taggers": {t.name: t.describe() for t in taggers},
        "versions": versions,
        "settings": spec.to_json(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    html, stats_path = write_outputs(folder.root, counts, cells, plan, meta, examples, spec)
    return RunResult(folder.root, html, stats_path, counts, time.perf_counter() - started)


def _execute(jobs: list[ShardJob], workers: int, executor: str) -> Iterable[ShardResult]:
    """Run shard jobs; results arrive in job order.

    Threads are the default: the caption path spends its time in RE2, Arrow and numpy kernels
    that release the GIL, and threads start instantly and share the compiled lexicons
    (BENCHMARKS.md measures both). Processes suit work that holds the GIL.
    """
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield process_shard(job)
        return
    width = min(workers, len(jobs))
    if executor == "processes":
        context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        pool: Executor = ProcessPoolExecutor(max_workers=width, mp_context=context)
    else:
        pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="shard")
    with pool:
        yield from pool.map(process_shard, jobs)


def _load_counts(folder: RunFolder, shard_id: str) -> Counts:
    path = folder.counts_path(shard_id)
    return Counts.from_dict(json.loads(path.read_text()))


def _merge_examples(folder: RunFolder, shard_ids: list[str], per_group: int) -> dict[str, list]:
    merged: dict[str, list] = {}
    for shard_id in shard_ids:
        path = folder.examples_path(shard_id)
        if not path.exists():
            continue
        for group, rows in json.loads(path.read_text()).items():
            bucket = merged.setdefault(group, [])
            bucket.extend(rows[: max(per_group - len(bucket), 0)])
    return merged


def _attach_log_file(path: Path) -> None:
    for handler in list(log.handlers):
        if isinstance(handler, logging.FileHandler):
            log.removeHandler(handler)
            handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def _ensure_sample_data(spec: RunSpec) -> None:
    """A pipeline with [source.sample] generates its demo shards when they are missing."""
    from profiler.sample import generate_sample

    target = Path(spec.sources[0])
    if target.exists() and any(target.glob("*.parquet")):
        return
    settings = dict(spec.sample or {})
    generate_sample(target, **settings)
    log.info("generated demo shards in %s", target)
