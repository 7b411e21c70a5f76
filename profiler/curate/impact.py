"""Filter impact over a run's tag files: what a user's filter (`curate`) or the standard filters
do to each group and intersection. The tallies and their summaries (shares, removal, exclusion
amplification with its delta-method interval, rates before and after) are profiler.stats.impact,
the same code `profile` uses on the tallies it counts while profiling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from profiler.counting.populations import Populations
from profiler.curate.compile import Filter, compile_filter
from profiler.curate.expr import columns_of, parse
from profiler.curate.signals import SignalSpec, available_signals
from profiler.curate.tagged import TaggedRun, open_tagged_run
from profiler.defaults import CONFIDENCE, MIN_SUPPORT
from profiler.stats.impact import (
    DROP,
    KEEP,
    CellTally,
    FilterInfo,
    impact_document,
    note_unjudged,
    summarize,
    unavailable_filter,
    unavailable_note,
)
from profiler.taggers import standard_filters

__all__ = ["DROP", "KEEP", "FilterSpec", "ImpactAccumulator", "populations_of", "standard_filter_impacts"]


@dataclass(frozen=True)
class FilterSpec:
    """A named filter and what it does with matching rows (drop them, or keep only them)."""

    name: str
    label: str
    expression: str
    mode: str
    compiled: Filter

    def removed(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(removed, unjudged) per row; unjudged rows (unknown result) never match."""
        value = self.compiled.evaluate(table)
        unknown = np.asarray(value.is_null().to_numpy(zero_copy_only=False), bool)
        matched = np.asarray(value.fill_null(False).to_numpy(zero_copy_only=False), bool)
        return (matched if self.mode == DROP else ~matched), unknown


@dataclass
class ImpactAccumulator:
    """Streams tag batches; `add` returns each filter's removed mask for the caller's outputs."""

    populations: Populations
    signals: list[SignalSpec]
    filters: list[FilterSpec]
    tallies: list[CellTally] = field(init=False)

    def __post_init__(self) -> None:
        size = len(self.populations.cells)
        self.tallies = [CellTally.empty(size, len(self.signals)) for _ in self.filters]

    def columns(self, schema: pa.Schema) -> list[str]:
        """The tag columns to read: membership, signals and filters."""
        wanted = [c for c in self.populations.tag_columns() if c in schema.names]
        for item in [*self.signals, *self.filters]:
            wanted += [c for c in item.compiled.columns if c not in wanted]
        return wanted

    def add(
        self, table: pa.Table, membership: tuple[np.ndarray, np.ndarray] | None = None
    ) -> list[np.ndarray]:
        """Tally a batch; `membership` is `populations.assign(table)` when the caller has it."""
        rows, cells = membership if membership is not None else self.populations.assign(table)
        size = len(self.populations.cells)

        def count(mask: np.ndarray) -> np.ndarray:
            return np.bincount(cells[mask[rows]], minlength=size)

        per_row = np.ones(table.num_rows, bool)
        in_cell = count(per_row)
        signals = []
        for signal in self.signals:
            value = signal.compiled.evaluate(table)
            observed = np.asarray(value.is_valid().to_numpy(zero_copy_only=False), bool)
            positive = np.asarray(value.fill_null(False).to_numpy(zero_copy_only=False), bool)
            signals.append((observed, observed & positive))
        masks = []
        for spec, tally in zip(self.filters, self.tallies, strict=True):
            removed, unknown = spec.removed(table)
            kept = ~removed
            tally.n += in_cell
            tally.removed += count(removed)
            tally.unjudged += int(unknown.sum())
            for j, (observed, positive) in enumerate(signals):
                tally.before[:, j, 0] += count(observed)
                tally.before[:, j, 1] += count(positive)
                tally.after[:, j, 0] += count(observed & kept)
                tally.after[:, j, 1] += count(positive & kept)
            masks.append(removed)
        return masks

    def results(self, labels: dict[str, str], min_support: int, confidence: float) -> list[dict[str, Any]]:
        names = [s.name for s in self.signals]
        return [summarize(FilterInfo(spec.name, spec.label, spec.expression, spec.mode), tally,
                          self.populations, names, labels, min_support, confidence)
                for spec, tally in zip(self.filters, self.tallies, strict=True)]


def populations_of(run: TaggedRun) -> Populations:
    return run.populations()


def standard_filter_impacts(
    run_dir: Path, min_support: int = MIN_SUPPORT, confidence: float = CONFIDENCE
) -> dict[str, Any]:
    """The standard filters side by side over a run's tag files (one pass); JSON-serialisable.

    `profile` computes the same document from the tallies it counts while profiling; this one
    re-reads the tags (any finished run, e.g. one profiled before those tallies existed).
    """
    run = open_tagged_run(run_dir)
    vocabulary = run.vocabulary()
    specs, unavailable, short = [], [], {}
    for tagger, standard in standard_filters():
        short[standard.name] = standard.short_label
        rule = standard.choose(run.schema.names)
        if rule is None:
            expression = standard.candidates[0].expression
            missing = [c for c in columns_of(parse(expression)) if c not in run.schema.names]
            unavailable.append(unavailable_filter(standard.name, standard.label,
                                                  unavailable_note(tagger, standard, missing)))
            continue
        specs.append(FilterSpec(standard.name, standard.label_for(rule), rule.expression, DROP,
                                compile_filter(rule.expression, run.schema, vocabulary)))
    signals = available_signals(run.schema, vocabulary)
    accumulator = ImpactAccumulator(populations_of(run), signals, specs)
    columns = accumulator.columns(run.schema)
    for shard_id in run.shard_ids:
        for table in run.batches(shard_id, columns):
            accumulator.add(table)
    results = accumulator.results(run.population_labels(), min_support, confidence)
    for result in results:
        note_unjudged(result)
    return impact_document(results, unavailable, short, [(s.name, s.label, s.expression) for s in signals],
                           min_support, confidence, run.spec.get("name"))
