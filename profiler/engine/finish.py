"""Finish a run: merge the shards' partial counts, compute the statistics, write the outputs."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from profiler import __version__
from profiler.counting.counts import CountPlan, Counts
from profiler.counting.term_counts import TermCounts
from profiler.engine.plan import sampling_meta
from profiler.engine.runfolder import RunFolder
from profiler.engine.shard import count_plan
from profiler.engine.shard_parts import shard_counts, shard_examples
from profiler.report import write_outputs
from profiler.report.compare_report import load_stats_document
from profiler.report.document import report_labels
from profiler.stats import compute_cells
from profiler.stats.impact import standard_impacts
from profiler.taggers import Tagger, declared_signals, standard_filters


def finish_run(
    folder: RunFolder, shard_ids: list[str], taggers: tuple[Tagger, ...], spec: Any,
    versions: dict[str, str], started: float,
) -> tuple[Path, Path, Counts]:
    """Merge parts (keeping per-shard tallies for the bootstrap) and write every output."""
    plan = count_plan(taggers)
    counts = plan.empty()
    shard_parts: list[Counts] = []
    for shard_id in shard_ids:
        part = shard_counts(folder, shard_id)  # a split file: its units' parts added up
        counts = counts.merge(part)
        shard_parts.append(replace(part, terms=TermCounts.empty()))  # the bootstrap needs no words
    examples = merge_examples(folder, shard_ids, spec.examples_per_group)
    cells = compute_cells(counts, spec.stats)
    meta = {
        "name": spec.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tool_version": __version__,
        "sources": spec.sources,
        "shards_total": len(shard_ids),
        "taggers": {t.name: t.describe() for t in taggers},
        "versions": versions,
        "settings": spec.to_json(),
        "seconds": round(time.perf_counter() - started, 3),
        "sampling": sampling_meta(folder, shard_ids, spec),  # None: every row was read
    }
    baseline = load_stats_document(spec.baseline) if getattr(spec, "baseline", None) else None
    curation = None
    if spec.write_tags and counts.tagged:  # the curation section sits beside the run's tags
        curation = curation_section(counts, plan, spec, meta)
    html, stats_path = write_outputs(
        folder.root, counts, cells, plan, meta, examples, spec,
        shard_parts=shard_parts, baseline=baseline, curation=curation,
    )
    return html, stats_path, counts


def curation_section(counts: Counts, plan: CountPlan, spec: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """Standard filters side by side, from the removals tallied while counting."""
    order = {s.name: i for i, s in enumerate(declared_signals())}
    signals = sorted((s for s in plan.signals if s.expression), key=lambda s: order.get(s.name, len(order)))
    labels = report_labels(plan, meta)
    return standard_impacts(
        counts, standard_filters(), plan.population_axis, [(s.name, s.label, s.expression) for s in signals],
        labels, spec.stats.min_support, spec.stats.confidence, spec.name,
    )


def merge_examples(folder: RunFolder, shard_ids: list[str], per_group: int) -> dict[str, list]:
    merged: dict[str, list] = {}
    for shard_id in shard_ids:
        for group, rows in shard_examples(folder, shard_id, per_group).items():
            bucket = merged.setdefault(group, [])
            bucket.extend(rows[: max(per_group - len(bucket), 0)])
    return merged
