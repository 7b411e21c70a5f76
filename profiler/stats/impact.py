"""Filter impact summaries: what a filter does to each group and intersection, with intervals.

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
by simulation. Tallies are integer sums, so shards add exactly: `profile` tallies its standard
filters while counting (profiler.counting.impact), `curate` streams a run's tags for its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from profiler.counting.counts import Counts
from profiler.counting.populations import (
    ALL,
    ANY_GENDER,
    GENDER_AXIS,
    NO_IDENTITY,
    PERSON,
    Populations,
    population_kind,
)
from profiler.stats.rates import subset_rate_ratio, wilson
from profiler.taggers.base import StandardFilter

DROP, KEEP = "drop", "keep"
ANY = ANY_GENDER


@dataclass(frozen=True)
class FilterInfo:
    """What a summary shows of a filter: name, label, expression, mode."""

    name: str
    label: str
    expression: str
    mode: str


@dataclass
class CellTally:
    """Integer tallies of one filter: rows and removed rows per cell; signals before and after."""

    n: np.ndarray
    removed: np.ndarray
    before: np.ndarray  # (cells, signals, 2): observed, positive
    after: np.ndarray
    unjudged: int = 0

    @classmethod
    def empty(cls, cells: int, signals: int) -> CellTally:
        zeros = np.zeros
        return cls(zeros(cells, np.int64), zeros(cells, np.int64),
                   zeros((cells, signals, 2), np.int64), zeros((cells, signals, 2), np.int64))


    @classmethod
    def from_counts(cls, counts: Counts, name: str, populations: Populations,
                    signals: Sequence[str]) -> CellTally:
        """A filter's tally over the curation cells from counts tallied while profiling:
        before = the counts' own cells, after = before minus what the filter removed."""
        removal = counts.impact[name]
        cells = populations.cells
        tally = cls.empty(len(cells), len(signals))
        tally.unjudged = removal.unjudged
        for i, (population, gender) in enumerate(cells):
            if population not in counts.populations:
                continue
            p, g = counts.populations.index(population), GENDER_AXIS.index(gender)
            tally.n[i] = counts.rows_in[p, g]
            tally.removed[i] = removal.removed[p, g]
            for j, signal in enumerate(signals):
                s = counts.signals.index(signal)
                before = (counts.observed[p, g, s], counts.positive[p, g, s])
                gone = (removal.observed[p, g, s], removal.positive[p, g, s])
                tally.before[i, j] = before
                tally.after[i, j] = (before[0] - gone[0], before[1] - gone[1])
        return tally


def summarize(
    spec: FilterInfo, tally: CellTally, populations: Populations, signals: Sequence[str],
    labels: dict[str, str], min_support: int, confidence: float,
) -> dict[str, Any]:
    """One filter's JSON summary: overall removal, then per cell shares, removal, amplification
    and each signal's rate before and after."""
    return _summarize(spec, tally, populations, signals, labels, min_support, confidence)


def standard_impacts(
    counts: Counts, filters: Sequence[tuple[str, StandardFilter]], populations: Populations,
    signals: Sequence[tuple[str, str, str]], labels: dict[str, str], min_support: int,
    confidence: float, run_name: str | None,
) -> dict[str, Any]:
    """The report's curation section from counts tallied while profiling (no tag file read).

    `filters`: (tagger, filter) in report order; `signals`: (name, label, expression).
    """
    names = [name for name, _, _ in signals]
    results, unavailable, short = [], [], {}
    for tagger, spec in filters:
        short[spec.name] = spec.short_label
        removal = counts.impact.get(spec.name)
        if removal is None:
            note = unavailable_note(tagger, spec, spec.candidates[0].columns)
            unavailable.append(unavailable_filter(spec.name, spec.label, note))
            continue
        rule = next(r for r in spec.candidates if r.expression == removal.expression)
        info = FilterInfo(spec.name, spec.label_for(rule), rule.expression, DROP)
        tally = CellTally.from_counts(counts, spec.name, populations, names)
        result = summarize(info, tally, populations, names, labels, min_support, confidence)
        note_unjudged(result)
        results.append(result)
    return impact_document(results, unavailable, short, signals, min_support, confidence, run_name)


def impact_document(
    results: list[dict[str, Any]], unavailable: list[dict[str, Any]], short: dict[str, str],
    signals: Sequence[tuple[str, str, str]], min_support: int, confidence: float, run_name: str | None,
) -> dict[str, Any]:
    """Filters side by side in `short`'s order (JSON-serialisable)."""
    order = list(short)
    filters = sorted([*results, *unavailable], key=lambda f: order.index(f["name"]))
    for f in filters:
        f["short_label"] = short[f["name"]]
    return {
        "schema_version": 1,
        "run": run_name,
        "rows": int(results[0]["overall"]["n"]) if results else None,
        "min_support": min_support,
        "confidence": confidence,
        "amplification_reference": "all tagged rows",
        "share_denominator": "rows with an identity person mention",
        "signals": [{"name": n, "label": label, "expression": e} for n, label, e in signals],
        "filters": filters,
        "comparison": comparison_rows([f for f in filters if f["available"]]),
    }


def _proportion(k: int, n: int, min_support: int, confidence: float) -> dict[str, Any]:
    """Rate with Wilson interval; None (suppressed) under min_support rows."""
    k, n = int(k), int(n)
    if n == 0 or n < min_support:
        return {"n": n, "k": k, "rate": None, "low": None, "high": None, "suppressed": True}
    low, high = wilson(k, n, confidence)
    return {"n": n, "k": k, "rate": k / n, "low": low, "high": high, "suppressed": False}


def _summarize(
    spec: FilterInfo, tally: CellTally, populations: Populations, signals: Sequence[str],
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
                s: {
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


def unavailable_note(tagger: str, spec: StandardFilter, missing: Sequence[str]) -> str:
    """Why a standard filter is not in the comparison."""
    if len(spec.candidates) > 1:
        return f"no {spec.short_label} tags in this run (enable the {tagger} tagger)"
    return f"this run has no {', '.join(missing)} tags"


def unavailable_filter(name: str, label: str, note: str) -> dict[str, Any]:
    return {"name": name, "label": label, "expression": None, "mode": DROP, "available": False,
            "note": note, "overall": None, "cells": []}


def note_unjudged(result: dict[str, Any]) -> None:
    overall = result["overall"]
    if overall["n"] and overall["unjudged"] == overall["n"]:
        result.update(available=False, cells=[], note="no row has the values this filter needs "
                      "(e.g. no punsafe scores in this dataset)")
    elif overall["unjudged"]:
        share = overall["unjudged"] / overall["n"]
        result["note"] = (f"{overall['unjudged']:,} rows ({share:.1%}) lack the values this filter "
                          f"needs; they are {overall['unjudged_rows_are']}")
