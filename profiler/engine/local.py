"""Local engine: shards in parallel worker processes, then merge, statistics and report."""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from profiler.config import RunSpec
from profiler.counting.counts import Counts
from profiler.engine.embedding_cache import CACHE_FOLDER
from profiler.engine.finish import finish_run
from profiler.engine.plan import ShardPlan, describe, plan_shards
from profiler.engine.progress import Progress
from profiler.engine.runfolder import RunFolder, fingerprint, locked
from profiler.engine.scheduled import dated_spec
from profiler.engine.shard import (
    ShardJob,
    ShardResult,
    cached_taggers,
    failed_outcome,
    process_shard,
    save_outcome,
)
from profiler.errors import UserError
from profiler.sources import Shard, discover_shards
from profiler.sources.selection import Selection

log = logging.getLogger("profiler")
TICK_SECONDS = 0.25  # how often the driver loop redraws progress


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
    """Profile every shard of the spec (resuming completed ones) and write the outputs.

    One process at a time writes a run folder (a lock the kernel drops even on kill -9).
    """
    started = time.perf_counter()
    spec.validate()
    seeded = None
    if spec.dated or spec.date:
        spec, seeded = dated_spec(spec)
    with locked(Path(spec.out)):
        return _profile(spec, overwrite, on_shard, started, seeded)


def _profile(
    spec: RunSpec, overwrite: bool, on_shard: Callable[[ShardResult], None] | None,
    started: float, seeded: str | None,
) -> RunResult:
    if spec.sample:
        _ensure_sample_data(spec)
    shards = discover_shards(spec.sources, spec.source_format, exclude=[str(spec.out)])
    settings_json = json.dumps(spec.tagger_settings, sort_keys=True)
    taggers = cached_taggers(tuple(spec.taggers), settings_json)  # fail fast on bad settings
    versions = {k: v for t in taggers for k, v in t.versions().items()}
    config = {"taggers": {t.name: t.configuration() for t in taggers}, "settings": spec.tagger_settings,
              "columns": spec.columns, "versions": versions, "write_tags": spec.write_tags}
    if spec.sample_per_shard is not None or spec.limit is not None:
        config["sampling"] = {"per_shard": spec.sample_per_shard, "limit": spec.limit,
                              "seed": spec.sample_seed}
    folder = RunFolder(spec.out)
    folder.prepare(fingerprint(config), spec.to_json(), overwrite)
    _attach_log_file(folder.root / "run.log")
    if seeded:
        log.info(seeded)

    def make_job(shard: Shard, selection: Selection | None, signature: dict) -> ShardJob:
        return ShardJob(shard, str(folder.root), tuple(spec.taggers), settings_json,
                        tuple(sorted(spec.columns.items())), spec.batch_size, spec.write_tags,
                        spec.examples_per_group, selection, signature,
                        # --no-embedding-cache: neither store nor reuse the run's own cache
                        cache_from=spec.embedding_cache or (
                            str(folder.root / CACHE_FOLDER) if spec.cache_embeddings else None),
                        cache_write=spec.cache_embeddings)

    plan = plan_shards(folder, shards, spec, make_job)
    # for `bias-profiler status` while this runs: work units (a split file counts its units)
    folder.record_plan([unit for s in shards for unit in folder.unit_ids(s.id)])
    if spec.incremental:
        log.info(describe(plan))
    for shard_id in plan.removed:
        folder.forget(shard_id)  # the run folder describes the source as it is now
    for shard_id in plan.changed:
        log.warning("shard %s changed since it was profiled (file or row selection): profiling it again",
                    shard_id)
    log.info("%d shard(s), %d already complete, %d to profile%s on %s", len(shards),
             len(plan.complete), len(plan.profiled), _units_note(plan), _engine_label(spec, len(plan.jobs)))
    progress = Progress({job.unit_id: job.size for job in plan.jobs}, spec.progress_seconds)
    try:
        for result in _execute(plan.jobs, spec, folder, progress):
            progress.shard_done(result)
            if result.error:
                log.warning("shard %s failed: %s", result.shard_id, result.error)
            else:
                rate = result.rows / result.seconds if result.seconds else 0
                log.info("shard %s: %d rows in %.2fs (%.0f rows/s)",
                         result.shard_id, result.rows, result.seconds, rate)
            if on_shard:
                on_shard(result)
    finally:
        progress.close()

    html, stats_path, counts = finish_run(
        folder, [s.id for s in shards], taggers, spec, versions, started)
    folder.mark_finished([s.id for s in shards], plan.summary())
    return RunResult(folder.root, html, stats_path, counts, time.perf_counter() - started)


def _execute(
    jobs: list[ShardJob], spec: RunSpec, folder: RunFolder, progress: Progress
) -> Iterator[ShardResult]:
    """Results in completion order (the merge reads parts in shard order, so that is free)."""
    if spec.engine == "ray" and jobs:
        from profiler.engine.ray_engine import execute_ray  # ray loads only when asked for

        yield from execute_ray(jobs, spec, folder, progress)
    else:
        yield from execute_local(jobs, spec.workers, spec.executor, progress)


def execute_local(
    jobs: list[ShardJob], workers: int, executor: str, progress: Progress | None = None
) -> Iterator[ShardResult]:
    """Run shard jobs on this machine, at most 2 x workers queued (memory stays flat).

    Threads are the default: the caption path spends its time in RE2, Arrow and numpy kernels
    that release the GIL, and threads start instantly and share the compiled lexicons
    (BENCHMARKS.md measures both). Processes suit work that holds the GIL; they report
    progress per shard, threads per batch.
    """
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield process_shard(job, _ticking(progress) if progress else None)
        return
    width = min(workers, len(jobs))
    if executor == "processes":
        yield from _execute_processes(jobs, width, progress)
        return
    pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="shard")
    on_batch = progress.batch if progress else None
    try:
        yield from _drain(pool, iter(jobs), width, progress, on_batch, suspects=[])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _execute_processes(jobs: list[ShardJob], width: int, progress: Progress | None) -> Iterator[ShardResult]:
    """Shards in worker processes. A worker that dies (killed, out of memory, a crash in native
    code) breaks the whole pool, failing every shard queued in it: those are retried once, each
    alone in a fresh process, so the shard that kills its worker fails alone and the others
    complete; the rest of the queue continues in a fresh pool."""
    context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
    queue = iter(jobs)
    while True:
        suspects: list[ShardJob] = []
        pool = ProcessPoolExecutor(max_workers=width, mp_context=context)
        try:
            yield from _drain(pool, queue, width, progress, None, suspects)  # callbacks stay in-process
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if not suspects:
            return
        log.warning("a shard worker process died; retrying its %d shard(s) one per process", len(suspects))
        yield from _retry_alone(suspects, width, context, progress)


def _drain(pool: Executor, queue: Iterator[ShardJob], width: int, progress: Progress | None,
           on_batch: Callable | None, suspects: list[ShardJob]) -> Iterator[ShardResult]:
    """Keep 2 x width jobs queued in `pool` until `queue` is empty; the jobs of a pool that broke
    go to `suspects` (with the ones not yet submitted left in `queue`)."""
    running: dict[Future, ShardJob] = {}

    def submit(job: ShardJob) -> bool:
        try:
            running[pool.submit(process_shard, job, on_batch)] = job
        except BrokenProcessPool:
            suspects.append(job)  # never ran: retried like the others of the broken pool
            return False
        return True

    for job in itertools.islice(queue, 2 * width):
        if not submit(job):
            break
    while running:
        done, _ = wait(running, timeout=TICK_SECONDS, return_when=FIRST_COMPLETED)
        if progress:
            progress.tick()
        for future in done:
            job = running.pop(future)
            if isinstance(future.exception(), BrokenProcessPool):
                suspects.append(job)
                continue
            yield _result(future, job)
            if not suspects:
                for following in itertools.islice(queue, 1):
                    submit(following)


def _retry_alone(suspects: list[ShardJob], width: int, context: multiprocessing.context.BaseContext,
                 progress: Progress | None) -> Iterator[ShardResult]:
    """Each job in a pool of its own (up to `width` at once): a second death is that job's."""
    for start in range(0, len(suspects), width):
        pools = {}
        try:
            for job in suspects[start : start + width]:
                pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
                pools[pool.submit(process_shard, job, None)] = (pool, job)
            for future in as_completed(pools):
                if progress:
                    progress.tick()
                yield _result(future, pools[future][1])
        finally:
            for pool, _ in pools.values():
                pool.shutdown(wait=True, cancel_futures=True)


def _ticking(progress: Progress):
    """In-thread runs: report the batch and redraw right away."""
    def on_batch(shard_id: str, rows: int, total: int | None, skipped: int) -> None:
        progress.batch(shard_id, rows, total, skipped)
        progress.tick()
    return on_batch


def _result(future: Future, job: ShardJob) -> ShardResult:
    """The shard's result; a worker that died again (killed, out of memory) fails only its shard."""
    try:
        return future.result()
    except UserError:
        raise  # a user mistake found inside a shard (embedding dimension, thresholds) ends the run
    except Exception as error:
        outcome = failed_outcome(job, f"worker died: {type(error).__name__}: {error}", 0.0)
        save_outcome(RunFolder(Path(job.out)), outcome)
        return outcome.result


def _units_note(plan: ShardPlan) -> str:
    """How the shards to profile split into work units, when any did."""
    if len(plan.jobs) == len(plan.profiled) and not plan.units_reused:
        return ""
    reused = f", {plan.units_reused} already complete" if plan.units_reused else ""
    return f" as {len(plan.jobs)} work unit(s){reused}"


def _engine_label(spec: RunSpec, jobs: int) -> str:
    if spec.engine == "ray":
        return f"Ray ({spec.address or 'a local instance'})"
    width = min(spec.workers, max(jobs, 1))
    kind = {"threads": "thread", "processes": "process"}[spec.executor]
    return f"{width} worker {kind}{'' if width == 1 else ('es' if kind == 'process' else 's')}"


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
    from profiler.demo_data import generate_sample

    target = Path(spec.sources[0])
    if target.exists() and any(target.glob("*.parquet")):
        return
    settings = dict(spec.sample or {})
    generate_sample(target, **settings)
    log.info("generated demo shards in %s", target)
