"""Profile one shard: stream batches, drop unusable rows by reason, tag, count, write parts.

Runs in a worker process; everything it needs arrives as plain data so it pickles cleanly.
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from profiler.counts import CountPlan, Counts, count_batch
from profiler.engine.runfolder import RunFolder
from profiler.files import atomic_write_json
from profiler.schema import CAPTION, KEY, ROW_PROBLEM
from profiler.sources import ColumnMapping, Shard, read_shard
from profiler.sources.parquet import MissingColumnsError, ReadInfo, shard_num_rows
from profiler.sources.selection import Selection
from profiler.taggers import Tagger, build_taggers
from profiler.taggers.identity import GROUPS, PERSON_MENTION, IdentityTagger

SNIPPET_CHARS = 160


@dataclass(frozen=True)
class ShardJob:
    """Plain-data description of the work, shipped to a worker process or a Ray task."""

    shard: Shard
    out: str
    taggers: tuple[str, ...]
    tagger_settings_json: str
    columns: tuple[tuple[str, str], ...]
    batch_size: int
    write_tags: bool
    examples_per_group: int
    selection: Selection | None = None  # None: every row
    signature: dict[str, Any] | None = None  # recorded in the completion marker


@dataclass
class ShardResult:
    shard_id: str
    rows: int
    seconds: float
    error: str | None = None
    skipped: int = 0
    rows_in_shard: int | None = None


@dataclass
class ShardOutcome:
    """A profiled shard before it is saved: Ray tasks ship it to the driver, which saves it."""

    result: ShardResult
    counts: Counts
    examples: dict[str, list[dict[str, Any]]]
    marker: dict[str, Any] | None  # None: failed; no completion marker, retried next run


# on_batch(shard id, rows read so far, rows to read or None, rows skipped so far)
BatchCallback = Callable[[str, int, "int | None", int], None]


@functools.lru_cache(maxsize=4)
def cached_taggers(names: tuple[str, ...], settings_json: str) -> tuple[Tagger, ...]:
    """Built once per worker process: compiling lexicons is the slow part of start-up."""
    return tuple(build_taggers(names, json.loads(settings_json)))


def count_plan(taggers: tuple[Tagger, ...]) -> CountPlan:
    identity = next((t for t in taggers if isinstance(t, IdentityTagger)), None)
    groups = tuple(identity.lexicon.groups) if identity else ()
    aggregates = {k: tuple(v) for k, v in identity.lexicon.aggregates.items()} if identity else {}
    return CountPlan(
        groups=groups,
        aggregates=aggregates,
        signals=tuple(s for t in taggers for s in t.signals()),
        scores=tuple(s for t in taggers for s in t.scores()),
    )


def process_shard(job: ShardJob, on_batch: BatchCallback | None = None) -> ShardResult:
    """Profile one shard into the run folder; a failing shard is recorded, never raised."""
    outcome = profile_shard(job, on_batch)
    save_outcome(RunFolder(Path(job.out)), outcome)
    return outcome.result


def profile_shard(job: ShardJob, on_batch: BatchCallback | None = None) -> ShardOutcome:
    """Stream, tag and count one shard; writes only its tag file (atomically, by rename)."""
    started = time.perf_counter()
    folder = RunFolder(Path(job.out))
    shard_id = job.shard.id
    taggers = cached_taggers(job.taggers, job.tagger_settings_json)
    plan = count_plan(taggers)
    counts = plan.empty()
    examples: dict[str, list[dict[str, Any]]] = {}
    tags_path = folder.tags_path(shard_id)
    tags_tmp = tags_path.with_name(tags_path.name + ".partial")
    info = ReadInfo()
    try:
        writer = None
        for batch in _batches(job, taggers, info):
            counts.read += batch.num_rows
            usable, reasons = _usable_rows(batch, taggers)
            counts.skipped.update(reasons)
            batch = batch.filter(pa.array(usable)) if not usable.all() else batch
            tags = _tag(batch, taggers)
            counts = counts.merge(count_batch(tags, plan, batch.column(CAPTION)))
            _collect_examples(examples, batch, tags, job.examples_per_group)
            if job.write_tags:
                if writer is None:
                    tags_tmp.parent.mkdir(parents=True, exist_ok=True)
                    tags_tmp.unlink(missing_ok=True)  # never write through a hard link
                    writer = pq.ParquetWriter(tags_tmp, tags.schema, compression="zstd")
                writer.write_table(tags)
            if on_batch:
                on_batch(shard_id, counts.read, info.rows_selected, sum(counts.skipped.values()))
            del batch, tags
            pa.default_memory_pool().release_unused()  # else mimalloc's RSS creeps up per batch
        if writer is not None:
            writer.close()
            tags_tmp.replace(tags_path)
        else:
            tags_path.unlink(missing_ok=True)  # no rows tagged: no stale tags of an older file
    except MissingColumnsError as error:
        tags_path.unlink(missing_ok=True)
        counts = plan.empty()
        counts.read = error.num_rows
        counts.skipped.update({f"missing_column:{name}": error.num_rows for name in error.missing[:1]})
    except Exception as error:  # a corrupt shard must not stop the run
        tags_tmp.unlink(missing_ok=True)
        return failed_outcome(job, f"{type(error).__name__}: {error}", time.perf_counter() - started)
    counts.shards_completed.append(shard_id)
    marker = {"signature": job.signature, "rows_in_shard": info.rows_in_shard,
              "rows_read": counts.read}
    result = ShardResult(shard_id, counts.read, time.perf_counter() - started,
                         skipped=sum(counts.skipped.values()), rows_in_shard=info.rows_in_shard)
    return ShardOutcome(result, counts, examples, marker)


def failed_outcome(job: ShardJob, message: str, seconds: float) -> ShardOutcome:
    """A shard that could not be profiled: its rows (when the footer says how many) count as
    skipped `shard_unreadable`, and it gets no completion marker, so the next run retries it."""
    plan = count_plan(cached_taggers(job.taggers, job.tagger_settings_json))
    counts = plan.empty()
    rows = shard_num_rows(job.shard)
    if rows is not None:
        rows = (job.selection or Selection()).count(rows)
        counts.read = rows
        counts.skipped["shard_unreadable"] = rows
    counts.shards_failed[job.shard.id] = message
    result = ShardResult(job.shard.id, 0, seconds, message, rows or 0, rows)
    return ShardOutcome(result, counts, {}, None)


def save_outcome(folder: RunFolder, outcome: ShardOutcome) -> None:
    """Counts and examples first, the completion marker last: a kill in between means redo."""
    shard_id = outcome.result.shard_id
    atomic_write_json(folder.counts_path(shard_id), outcome.counts.to_dict())
    atomic_write_json(folder.examples_path(shard_id), outcome.examples)
    if outcome.marker is not None:
        folder.mark_done(shard_id, outcome.marker)


def _batches(job: ShardJob, taggers: tuple[Tagger, ...], info: ReadInfo):
    required = [c for t in taggers for c in t.requires]
    optional = [c for t in taggers for c in t.optional]
    return read_shard(
        job.shard, required, optional, ColumnMapping(dict(job.columns)), job.batch_size,
        job.selection, info,
    )


def _usable_rows(batch: pa.RecordBatch, taggers: tuple[Tagger, ...]) -> tuple[np.ndarray, Counter]:
    """Rows every tagger can use; the others are counted by reason (readers flag rows they
    could not make sense of in ROW_PROBLEM: undecodable captions, unsafe tar members, ...)."""
    usable = np.ones(batch.num_rows, bool)
    reasons: Counter = Counter()
    if ROW_PROBLEM in batch.schema.names:
        problem = batch.column(ROW_PROBLEM)
        flagged = np.asarray(problem.is_valid().to_numpy(zero_copy_only=False), bool)
        reasons.update(Counter(p for p in problem.filter(problem.is_valid()).to_pylist()))
        usable &= ~flagged
    if any(CAPTION in t.requires for t in taggers) and CAPTION in batch.schema.names:
        caption = batch.column(CAPTION)
        null = np.asarray(caption.is_null().to_numpy(zero_copy_only=False), bool) & usable
        blank = np.asarray(
            pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(caption)), 0)
            .fill_null(False).to_numpy(zero_copy_only=False), bool,
        ) & usable
        reasons.update({"caption_null": int(null.sum()), "caption_empty": int(blank.sum())})
        usable &= ~null & ~blank
    return usable, +reasons


def _tag(batch: pa.RecordBatch, taggers: tuple[Tagger, ...]) -> pa.Table:
    columns: dict[str, pa.Array] = {KEY: batch.column(KEY)}
    for tagger in taggers:
        columns.update(tagger.tag(batch))
    return pa.table(columns)


def _collect_examples(examples: dict, batch: pa.RecordBatch, tags: pa.Table, per_group: int) -> None:
    """Keep the first few person-mention captions per group (snippets for the report)."""
    if PERSON_MENTION not in tags.column_names or per_group <= 0:
        return
    rows = np.flatnonzero(tags.column(PERSON_MENTION).to_numpy(zero_copy_only=False))[:5000]
    if not len(rows):
        return
    picked = pa.array(rows)
    groups = tags.column(GROUPS).take(picked).to_pylist()
    captions = batch.column(CAPTION).take(picked).to_pylist()
    keys = batch.column(KEY).take(picked).to_pylist()
    extra = {name: tags.column(name).take(picked).to_pylist()
             for name in ("sexual_terms.level", "dataset.sexual") if name in tags.column_names}
    for i, row_groups in enumerate(groups):
        for group in row_groups:
            bucket = examples.setdefault(group, [])
            if len(bucket) < per_group:
                bucket.append({"key": keys[i], "caption": captions[i][:SNIPPET_CHARS],
                               **{name: values[i] for name, values in extra.items()}})
