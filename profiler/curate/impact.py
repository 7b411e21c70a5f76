"""Filter impact: what a filter does to each group and intersection, with intervals.

Per population x gender cell: its share of person mentions before and after the filter, the
fraction of it removed (Wilson interval), that fraction over the overall removal rate
("exclusion amplification"), and each sexualized signal's rate before and after.

Exclusion amplification A = r_g / r_all: r_g is the removed fraction of the cell, r_all that of
all tagged rows. The cell is part of all rows, so the two rates are dependent. With
w = n_g / n_all fixed, r_all = w r_g + (1 - w) r_rest where r_g and r_rest (the rows outside the
cell) are independent binomial proportions; the delta method on
log A = log r_g - log(w r_g + (1 - w) r_rest) gives

    Var(log A) = (1/r_g - w/r_all)^2 r_g (1 - r_g) / n_g + ((1 - w)/r_all)^2 r_rest (1 - r_rest) / n_rest

and the interval exp(log A -+ z sd). That is `profiler.stats.subset_rate_ratio` (the report's
group-vs-reference ratio has the same structure); tests/test_curate_impact.py checks its coverage
by simulation. Tallies are integer sums, so shards add exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from profiler.counting.populations import ALL, ANY_GENDER, NO_IDENTITY, PERSON, Populations, population_kind
from profiler.curate.compile import Filter, compile_filter
from profiler.curate.expr import columns_of, parse
from profiler.curate.signals import SignalSpec, available_signals
from profiler.curate.tagged import TaggedRun, open_tagged_run
from profiler.stats import subset_rate_ratio, wilson
from profiler.taggers import standard_filters

ANY = ANY_GENDER
DROP, KEEP = "drop", "keep"


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
class _Tally:
    """Integer tallies of one filter: rows and removed rows per cell; signals before and after."""

    n: np.ndarray
    removed: np.ndarray
    before: np.ndarray  # (cells, signals, 2): observed, positive
    after: np.ndarray
    unjudged: int = 0

    @classmethod
    def empty(cls, cells: int, signals: int) -> _Tally:
        zeros = np.zeros
        return cls(zeros(cells, np.int64), zeros(cells, np.int64),
                   zeros((cells, signals, 2), np.int64), zeros((cells, signals, 2), np.int64))


@dataclass
class ImpactAccumulator:
    """Streams tag batches; `add` returns each filter's removed mask for the caller's outputs."""

    populations: Populations
    signals: list[SignalSpec]
    filters: list[FilterSpec]
    tallies: list[_Tally] = field(init=False)

    def __post_init__(self) -> None:
        size = len(self.populations.cells)
        self.tallies = [_Tally.empty(size, len(self.signals)) for _ in self.filters]

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
        return [_summarize(spec, tally, self.populations, self.signals, labels, min_support, confidence)
                for spec, tally in zip(self.filters, self.tallies, strict=True)]


def populations_of(run: TaggedRun) -> Populations:
    return run.populations()


# -- summaries --------------------------------------------------------------------------------


def _proportion(k: int, n: int, min_support: int, confidence: float) -> dict[str, Any]:
    """Rate with Wilson interval; None (suppressed) under min_support rows."""
    k, n = int(k), int(n)
    if n == 0 or n < min_support:
        return {"n": n, "k": k, "rate": None, "low": None, "high": None, "suppressed": True}
    low, high = wilson(k, n, confidence)
    return {"n": n, "k": k, "rate": k / n, "low": low, "high": high, "suppressed": False}


def _summarize(
    spec: FilterSpec, tally: _Tally, populations: Populations, signals: list[SignalSpec],
    labels: dict[str, str], min_support: int, confidence: float,
) -> dict[str, Any]:
    index = populations.index()
    all_i, person_i = index[(ALL, ANY)], index[(PERSON, ANY)]
    n_all, removed_all = int(tally.n[all_i]), int(tally.removed[all_i])
    n_person = int(tally.n[person_i])
    person_after = n_person - int(tally.removed[person_i])
    removed_all_rate = _proportion(removed_all, n_all, 1, confidence)
    overall = {
        "n": n_all, "removed": removed_all, "kept": n_all - removed_all,
        "removed_rate": removed_all_rate["rate"], "removed_low": removed_all_rate["low"],
        "removed_high": removed_all_rate["high"],
        "unjudged": tally.unjudged, "unjudged_rows_are": "kept" if spec.mode == DROP else "removed",
    }
    cells = []
    for (population, gender), i in index.items():
        n, removed = int(tally.n[i]), int(tally.removed[i])
        if n == 0 and population != ALL:
            continue
        suppressed = n < min_support
        record: dict[str, Any] = {
            "population": population, "gender": gender, "label": labels.get(population, population),
            "kind": population_kind(population, populations.aggregates),
            "n_before": n, "removed": removed, "n_after": n - removed, "suppressed": suppressed,
        }
        shares = population not in (ALL, NO_IDENTITY) and (population, gender) != (PERSON, ANY) \
            and not suppressed
        before = _proportion(n, n_person, 1, confidence) if shares else {}
        after = _proportion(n - removed, person_after, 1, confidence) if shares else {}
        rate = _proportion(removed, n, min_support, confidence)
        amp: tuple[Any, Any, Any] = (None, None, None)
        if population != ALL and not suppressed:
            amp = subset_rate_ratio(removed, n, removed_all - removed, n_all - n, confidence)
        record.update({
            "share_before": before.get("rate"), "share_before_low": before.get("low"),
            "share_before_high": before.get("high"),
            "share_after": after.get("rate"), "share_after_low": after.get("low"),
            "share_after_high": after.get("high"),
            "removed_rate": rate["rate"], "removed_low": rate["low"], "removed_high": rate["high"],
            "amplification": _float(amp[0]), "amplification_low": _float(amp[1]),
            "amplification_high": _float(amp[2]),
            "flag": _flag(amp[1], amp[2]),
            "signals": {
                s.name: {
                    "before": _proportion(*tally.before[i, j, ::-1], min_support, confidence),
                    "after": _proportion(*tally.after[i, j, ::-1], min_support, confidence),
                }
                for j, s in enumerate(signals)
            },
        })
        cells.append(record)
    return {"name": spec.name, "label": spec.label, "expression": spec.expression, "mode": spec.mode,
            "available": True, "note": None, "overall": overall, "cells": cells}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _flag(low: float | None, high: float | None) -> str | None:
    """'amplified' when the interval lies above 1 (removed more than overall), 'spared' below."""
    if low is not None and low > 1:
        return "amplified"
    if high is not None and high < 1:
        return "spared"
    return None


# -- standard filters for the report ----------------------------------------------------------


def standard_filter_impacts(
    run_dir: Path, min_support: int = 30, confidence: float = 0.95
) -> dict[str, Any]:
    """Compare the standard filters side by side over a run's tags (one pass); JSON-serialisable.

    Reads run.json, tags/ and parts/*.done only, so `profile` can call it before its report.
    """
    run = open_tagged_run(run_dir)
    vocabulary = run.vocabulary()
    specs, unavailable = [], []
    short = {}
    for name, label, short[name], expression, tagger in _standard_candidates(run.schema):
        if expression is None:
            unavailable.append(_unavailable(
                name, label, f"no {short[name]} tags in this run (enable the {tagger} tagger)"))
            continue
        missing = [c for c in columns_of(parse(expression)) if c not in run.schema.names]
        if missing:
            unavailable.append(_unavailable(name, label, f"this run has no {', '.join(missing)} tags"))
            continue
        specs.append(FilterSpec(name, label, expression, DROP,
                                compile_filter(expression, run.schema, vocabulary)))
    signals = available_signals(run.schema, vocabulary)
    populations = populations_of(run)
    accumulator = ImpactAccumulator(populations, signals, specs)
    columns = accumulator.columns(run.schema)
    for shard_id in run.shard_ids:
        for table in run.batches(shard_id, columns):
            accumulator.add(table)
    labels = run.population_labels()
    results = accumulator.results(labels, min_support, confidence)
    for result in results:
        _note_unjudged(result)
    order = list(short)
    filters = sorted([*results, *unavailable], key=lambda f: order.index(f["name"]))
    for f in filters:
        f["short_label"] = short[f["name"]]
    return {
        "schema_version": 1,
        "run": run.spec.get("name"),
        "rows": int(results[0]["overall"]["n"]) if results else None,
        "min_support": min_support,
        "confidence": confidence,
        "amplification_reference": "all tagged rows",
        "share_denominator": "rows with an identity person mention",
        "signals": [{"name": s.name, "label": s.label, "expression": s.expression} for s in signals],
        "filters": filters,
        "comparison": comparison_rows([f for f in filters if f["available"]]),
    }


def comparison_rows(filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Side by side: one row per population x gender cell, one entry per filter."""
    if not filters:
        return []
    rows = []
    for position, cell in enumerate(filters[0]["cells"]):
        entries = {}
        for f in filters:
            c = f["cells"][position]
            entries[f["name"]] = {k: c[k] for k in (
                "removed", "removed_rate", "removed_low", "removed_high", "amplification",
                "amplification_low", "amplification_high", "flag", "suppressed")}
        rows.append({k: cell[k] for k in ("population", "gender", "label", "kind", "n_before")}
                    | {"filters": entries})
    return rows


def _standard_candidates(schema: pa.Schema) -> list[tuple[str, str, str, str | None, str]]:
    """(name, label, short label, expression or None, tagger) of the taggers' standard filters:
    the first candidate expression whose columns the run has."""
    out = []
    for tagger, f in standard_filters():
        usable = [e for e in f.candidates if all(c in schema.names for c in columns_of(parse(e)))]
        if len(f.candidates) == 1:
            out.append((f.name, f.label, f.short_label, f.candidates[0], tagger))
            continue
        chosen = usable[0] if usable else None
        label = f.label + ("" if chosen is None else f" ({chosen.strip('`')})")
        out.append((f.name, label, f.short_label, chosen, tagger))
    return out


def _unavailable(name: str, label: str, note: str) -> dict[str, Any]:
    return {"name": name, "label": label, "expression": None, "mode": DROP, "available": False,
            "note": note, "overall": None, "cells": []}


def _note_unjudged(result: dict[str, Any]) -> None:
    overall = result["overall"]
    if overall["n"] and overall["unjudged"] == overall["n"]:
        result.update(available=False, cells=[], note="no row has the values this filter needs "
                      "(e.g. no punsafe scores in this dataset)")
    elif overall["unjudged"]:
        share = overall["unjudged"] / overall["n"]
        result["note"] = (f"{overall['unjudged']:,} rows ({share:.1%}) lack the values this filter "
                          f"needs; they are {overall['unjudged_rows_are']}")
