"""Ray engine: the same shard jobs as the local engine, as Ray tasks on a cluster.

One task per shard runs `profile_shard` (the same reader, taggers and counting as the local
engine) and ships the shard's counts back; the driver writes parts and completion markers into
the run folder, so resume, incremental runs and the merge are exactly the local engine's and
the merged stats.json is identical. Tasks are per work unit (a shard, or a row-group range of a
big parquet file) rather than Ray Data blocks because a unit is the unit of completion: a block
split would lose the per-unit markers.

Each task declares its resources: 1 CPU for the caption stage, plus the GPUs a tagger asks
for (`num_gpus` on a tagger, for model taggers), so Ray places model shards on GPU nodes.
Workers write per-sample tags straight to `--out`: on a multi-node cluster that must be a
shared filesystem (or pass --no-tags); counts need no shared storage.

`ray` is imported only here, only for `--engine ray`: the caption path never loads it.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from profiler.engine.progress import Progress
from profiler.engine.runfolder import RunFolder
from profiler.engine.shard import (
    ShardJob,
    ShardOutcome,
    ShardResult,
    cached_taggers,
    failed_outcome,
    profile_shard,
    save_outcome,
)
from profiler.errors import UserError
from profiler.extras import install_command

log = logging.getLogger("profiler")
TICK_SECONDS = 0.25


def run_shard_task(job: ShardJob) -> ShardOutcome:
    """The body of a Ray task: profile one shard where it runs, return counts to the driver."""
    return profile_shard(job)


def stage_resources(job: ShardJob) -> dict[str, float]:
    """Ray resources of the shard stage: one CPU, and the most GPUs any of its taggers needs."""
    taggers = cached_taggers(job.taggers, job.tagger_settings_json)
    gpus = max((float(getattr(t, "num_gpus", 0) or 0) for t in taggers), default=0.0)
    return {"num_cpus": 1, "num_gpus": gpus}


def execute_ray(
    jobs: list[ShardJob], spec: Any, folder: RunFolder, progress: Progress | None = None
) -> Iterator[ShardResult]:
    """Run the jobs as Ray tasks, at most 2 x cluster CPUs in flight; results as they finish."""
    ray = _import_ray()
    started_here = connect(ray, spec.address, spec.workers)
    try:
        task = ray.remote(run_shard_task).options(**stage_resources(jobs[0]))
        width = max(2 * int(ray.cluster_resources().get("CPU", 1)), 2)
        queue = iter(jobs)
        running: dict[Any, ShardJob] = {task.remote(job): job for job in itertools.islice(queue, width)}
        warned = False
        while running:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=TICK_SECONDS)
            if progress:
                progress.tick()
            for ref in ready:
                job = running.pop(ref)
                try:
                    outcome = _outcome(ray, ref, job)
                except UserError:
                    for other in running:  # the run ends here, as on the local engine
                        ray.cancel(other)
                    raise
                save_outcome(folder, outcome)
                warned = warned or _check_tags(folder, job, outcome)
                yield outcome.result
                for following in itertools.islice(queue, 1):
                    running[task.remote(following)] = following
    finally:
        if started_here:
            ray.shutdown()


def connect(ray: Any, address: str | None, workers: int) -> bool:
    """Join the cluster at `address` ("auto", "ray://host:10001", "host:6379"), or RAY_ADDRESS,
    or start a local instance with `workers` CPUs. True when this call started Ray."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no telemetry from our runs
    options: dict[str, Any] = {"logging_level": logging.WARNING, "include_dashboard": False}
    target = address or os.environ.get("RAY_ADDRESS")
    try:
        if target:
            ray.init(address=target, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=workers, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {target}" if target else "a local Ray instance"
        raise UserError(
            f"cannot start or reach {where}: {str(error).splitlines()[0]} (start one with "
            "`ray start --head`, then pass --address auto or ray://HEAD:10001)"
        ) from None
    return True


def _outcome(ray: Any, ref: Any, job: ShardJob) -> ShardOutcome:
    """The task's outcome; a task whose worker died fails only its shard (retried next run).
    A user mistake found inside the task (a UserError) is raised again here, on the driver, so
    it ends the run with its one line and exit 2, as on the local engine."""
    try:
        return ray.get(ref)
    except Exception as error:  # RayTaskError, WorkerCrashedError, ObjectLostError, ...
        cause = getattr(error, "cause", None)
        if isinstance(cause, UserError):
            raise UserError(*cause.args) from None
        message = str(error).strip().splitlines()[-1] if str(error).strip() else ""
        return failed_outcome(job, f"Ray task failed: {type(error).__name__}: {message}", 0.0)


def _check_tags(folder: RunFolder, job: ShardJob, outcome: ShardOutcome) -> bool:
    """Warn (once) when a worker's tag file did not land in --out: no shared filesystem."""
    tagged = outcome.counts.tagged
    if not job.write_tags or outcome.result.error or not tagged or folder.tags_path(job.unit_id).exists():
        return False
    log.warning("tags of shard %s were written on a worker that does not share %s: use a shared "
                "filesystem for --out on a multi-node cluster, or pass --no-tags",
                job.unit_id, Path(job.out))
    return True


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError(f"--engine ray needs Ray: {install_command('ray')}") from None
    return ray
