"""Profile one shard: stream batches, drop unusable rows by reason, tag, count, write parts.

A job is one work unit: a whole shard, or a row-group range of a parquet file whose outputs go
under the unit's id (`ShardJob.unit_id`); `read_shard` reads only the unit's row groups.

Runs in a worker process; everything it needs arrives as plain data so it pickles cleanly.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
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

from profiler.counting.counts import CountPlan, Counts, count_batch
from profiler.engine.embedding_cache import (
    CACHE_FOLDER,
    CacheMismatch,
    CacheReader,
    CacheWriter,
    open_cache,
)
from profiler.engine.runfolder import RunFolder
from profiler.errors import UserError
from profiler.files import atomic_write_json
from profiler.schema import CAPTION, IMAGE, KEY, ROW_PROBLEM
from profiler.sources import ColumnMapping, Shard, read_shard
from profiler.sources.base import MissingColumnsError, ReadInfo
from profiler.sources.parquet import parquet_unit_selected_rows
from profiler.sources.reader import shard_num_rows
from profiler.sources.selection import Selection
from profiler.sources.units import unit_id, unit_range, unit_size
from profiler.taggers import Membership, Tagger, build_taggers, standard_filters

SNIPPET_CHARS = 160
log = logging.getLogger("profiler")


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
    cache_from: str | None = None  # embedding cache to read (default: the run's own)
    cache_write: bool = True  # store the embeddings model taggers compute under <out>/embeddings

    @property
    def unit_id(self) -> str:
        """Whose outputs this job writes: the shard's, or one work unit's (`<id>/rgLLLLL-HHHHH`)."""
        return unit_id(self.shard)

    @property
    def size(self) -> float | None:
        """Bytes of input this job covers (a unit: its share of the file), for progress."""
        return unit_size(self.shard)


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
    """What to count, from the taggers' declarations (population axis, signals, scores)."""
    taxonomy = next((t.taxonomy() for t in taggers if t.taxonomy() is not None), None)
    groups, aggregates = taxonomy if taxonomy is not None else ((), {})
    return CountPlan(
        groups=groups,
        aggregates=aggregates,
        signals=tuple(s for t in taggers for s in t.signals()),
        scores=tuple(s for t in taggers for s in t.scores()),
        problem_columns=tuple(t.problem_column for t in taggers if t.problem_column),
        languages=next((t.covered_languages() for t in taggers if t.membership is not None), ()),
        membership=next((t.membership for t in taggers if t.membership is not None), None),
        compared_groups=tuple(t.compared_groups for t in taggers if t.compared_groups),
        filters=tuple(f for _, f in standard_filters()),
    )


def process_shard(job: ShardJob, on_batch: BatchCallback | None = None) -> ShardResult:
    """Profile one shard into the run folder; a failing shard is recorded, never raised."""
    outcome = profile_shard(job, on_batch)
    save_outcome(RunFolder(Path(job.out)), outcome)
    return outcome.result


def profile_shard(job: ShardJob, on_batch: BatchCallback | None = None) -> ShardOutcome:
    """Stream, tag and count one shard; writes its tag file and embedding cache by rename.

    A shard that fails (a read error, a torn file on a network store) is tried once more, then
    recorded as failed with its error; user mistakes (UserError) stop the run instead.
    """
    started = time.perf_counter()
    try:
        return _profile_once(job, on_batch, started)
    except UserError:
        raise
    except Exception as first:  # a corrupt shard must not stop the run
        log.warning("shard %s failed (%s: %s); trying it once more", job.unit_id,
                    type(first).__name__, first)
    try:
        return _profile_once(job, on_batch, started)
    except UserError:
        raise
    except Exception as error:
        return failed_outcome(job, f"{type(error).__name__}: {error} (failed twice)",
                              time.perf_counter() - started)


def _profile_once(job: ShardJob, on_batch: BatchCallback | None, started: float) -> ShardOutcome:
    folder = RunFolder(Path(job.out))
    shard_id = job.unit_id
    taggers = cached_taggers(job.taggers, job.tagger_settings_json)
    plan = count_plan(taggers)
    counts = plan.empty()
    examples: dict[str, list[dict[str, Any]]] = {}
    tags_path = folder.tags_path(shard_id)
    tags_tmp = tags_path.with_name(tags_path.name + ".partial")
    info = ReadInfo()
    caches = _Caches(job, taggers)
    try:
        writer = None
        for batch in _batches(job, taggers, info, caches):
            counts.read += batch.num_rows
            usable, reasons = _usable_rows(batch, taggers)
            counts.skipped.update(reasons)
            batch = batch.filter(pa.array(usable)) if not usable.all() else batch
            tags = caches.split(_tag(caches.extend(batch), taggers))
            captions = batch.column(CAPTION) if CAPTION in batch.schema.names else None  # image-only taggers
            counts = counts.merge(count_batch(tags, plan, captions))
            _collect_examples(examples, batch, tags, job.examples_per_group, plan.population_axis.columns,
                              [c for t in taggers for c in t.example_columns])
            if job.write_tags:
                if writer is None:
                    tags_tmp.parent.mkdir(parents=True, exist_ok=True)
                    tags_tmp.unlink(missing_ok=True)  # never write through a hard link
                    # keys are unique: a dictionary for them is wasted work (2 of 11 ms per
                    # 100k rows) and makes the file 2.5x larger
                    writer = pq.ParquetWriter(tags_tmp, tags.schema, compression="zstd",
                                              use_dictionary=[n for n in tags.schema.names if n != KEY])
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
        caches.commit()
    except MissingColumnsError as error:
        caches.abort()
        tags_path.unlink(missing_ok=True)
        counts = plan.empty()
        counts.read = error.num_rows
        counts.skipped.update({f"missing_column:{name}": error.num_rows for name in error.missing[:1]})
    except BaseException:
        caches.abort()
        tags_tmp.unlink(missing_ok=True)
        raise
    counts.shards_completed.append(shard_id)
    marker = {"signature": job.signature, "rows_in_shard": info.rows_in_shard,
              "rows_read": counts.read}
    result = ShardResult(shard_id, counts.read, time.perf_counter() - started,
                         skipped=sum(counts.skipped.values()), rows_in_shard=info.rows_in_shard)
    return ShardOutcome(result, counts, examples, marker)


class _Caches:
    """The embedding cache of one shard: readers for taggers whose cache is valid (their image
    input is then not read at all), writers for taggers that compute embeddings."""

    def __init__(self, job: ShardJob, taggers: tuple[Tagger, ...]):
        read_root = Path(job.cache_from) if job.cache_from else None
        write_root = Path(job.out) / CACHE_FOLDER if job.cache_write else None
        self.readers: dict[str, CacheReader] = {}
        self.writers: dict[str, CacheWriter] = {}
        self.columns = [c for t in taggers for c in t.cached_columns]
        for tagger in (t for t in taggers if t.cached_columns and t.cache_identity()):
            reader = open_cache(read_root, tagger, job.unit_id, job.signature)
            if reader is not None:
                self.readers[tagger.name] = reader
            elif write_root is not None:
                self.writers[tagger.name] = CacheWriter(write_root, tagger, job.unit_id, job.signature)
        self._taggers = {t.name: t for t in taggers}

    def served(self, tagger: Tagger) -> bool:
        return tagger.name in self.readers

    def extend(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch plus the cached columns of the taggers the cache serves."""
        if not self.readers:
            return batch
        columns = dict(zip(batch.schema.names, batch.columns, strict=True))
        for reader in self.readers.values():
            columns.update(reader.take(batch.column(KEY)))
        return pa.RecordBatch.from_pydict(columns)

    def split(self, tags: pa.Table) -> pa.Table:
        """Tags without the cached columns, which go to the cache writers."""
        for name, writer in self.writers.items():
            if all(c in tags.column_names for c in self._taggers[name].cached_columns):
                writer.write(tags.column(KEY).combine_chunks(),
                             {c: tags.column(c).combine_chunks() for c in writer.columns})
        present = [c for c in self.columns if c in tags.column_names]
        return tags.drop_columns(present) if present else tags

    def commit(self) -> None:
        for reader in self.readers.values():
            reader.close()
        for writer in self.writers.values():
            writer.commit()

    def abort(self) -> None:
        for reader in self.readers.values():
            reader.close()
            if not isinstance(sys.exc_info()[1], CacheMismatch):
                continue
            reader.path.unlink(missing_ok=True)  # a cache that lies is dropped; the retry re-encodes
        for writer in self.writers.values():
            writer.abort()


def failed_outcome(job: ShardJob, message: str, seconds: float) -> ShardOutcome:
    """A shard that could not be profiled: its rows (when the footer says how many) count as
    skipped `shard_unreadable`, and it gets no completion marker, so the next run retries it."""
    plan = count_plan(cached_taggers(job.taggers, job.tagger_settings_json))
    counts = plan.empty()
    if unit_range(job.shard) is not None:  # a unit: the file's selected rows in its row groups
        rows = parquet_unit_selected_rows(job.shard, job.selection or Selection())
    else:
        rows = shard_num_rows(job.shard)
        rows = None if rows is None else (job.selection or Selection()).count(rows)
    if rows is not None:
        counts.read = rows
        counts.skipped["shard_unreadable"] = rows
    counts.shards_failed[job.unit_id] = message
    result = ShardResult(job.unit_id, 0, seconds, message, rows or 0, rows)
    return ShardOutcome(result, counts, {}, None)


def save_outcome(folder: RunFolder, outcome: ShardOutcome) -> None:
    """Counts and examples first, the completion marker last: a kill in between means redo."""
    shard_id = outcome.result.shard_id
    atomic_write_json(folder.counts_path(shard_id), outcome.counts.to_dict(), compact=True)
    atomic_write_json(folder.examples_path(shard_id), outcome.examples, compact=True)
    if outcome.marker is not None:
        folder.mark_done(shard_id, outcome.marker)


def _batches(job: ShardJob, taggers: tuple[Tagger, ...], info: ReadInfo, caches: _Caches):
    """The shard's batches, reading only what the taggers need: a tagger the embedding cache
    serves reads no image, and batches are small only while image bytes are read."""
    required = [c for t in taggers for c in t.requires]
    optional = [c for t in taggers for c in t.optional]
    one_of = [group for t in taggers if not caches.served(t) for group in t.one_of]
    image_rows = [t.max_batch_rows for t in taggers if t.max_batch_rows]

    def batch_size(columns: frozenset[str]) -> int:
        return min([job.batch_size, *image_rows]) if IMAGE in columns else job.batch_size

    return read_shard(
        job.shard, required, optional, ColumnMapping(dict(job.columns)), batch_size,
        job.selection, info, one_of=one_of,
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
        # empty or whitespace only (utf8_is_space stops at the first other character: several
        # times faster than trimming every caption)
        blank = np.asarray(
            pc.or_(pc.equal(pc.binary_length(caption), 0), pc.utf8_is_space(caption))
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


def _first_rows_per_group(groups: pa.ChunkedArray, per_group: int) -> np.ndarray:
    """Sorted rows holding one of the first `per_group` mentions of some group: all that the
    row-by-row fill below can use, so the examples do not depend on where batches (or work
    units) start."""
    groups = groups.combine_chunks()
    flat = pc.list_flatten(groups)
    if not len(flat):
        return np.empty(0, np.int64)
    parents = pc.list_parent_indices(groups).to_numpy()
    codes = pc.dictionary_encode(flat).indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")  # by group, rows ascending within a group
    sorted_codes = codes[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_codes, sorted_codes)
    return np.unique(parents[order[rank < per_group]])


def _collect_examples(examples: dict, batch: pa.RecordBatch, tags: pa.Table, per_group: int,
                      membership: Membership, shown: list[str]) -> None:
    """Keep the first few person-mention captions per group (snippets for the report)."""
    if membership.person not in tags.column_names or per_group <= 0:
        return
    mentions = tags.column(membership.groups)
    rows = _first_rows_per_group(  # groups of person-mention rows only, as always
        pc.if_else(tags.column(membership.person), mentions, pa.scalar(None, mentions.type)), per_group)
    if not len(rows):
        return
    picked = pa.array(rows)
    groups = tags.column(membership.groups).take(picked).to_pylist()
    captions = batch.column(CAPTION).take(picked).to_pylist()
    keys = batch.column(KEY).take(picked).to_pylist()
    extra = {name: tags.column(name).take(picked).to_pylist()
             for name in shown if name in tags.column_names}
    for i, row_groups in enumerate(groups):
        for group in row_groups:
            bucket = examples.setdefault(group, [])
            if len(bucket) < per_group:
                bucket.append({"key": keys[i], "caption": captions[i][:SNIPPET_CHARS],
                               **{name: values[i] for name, values in extra.items()}})
