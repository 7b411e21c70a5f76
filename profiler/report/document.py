"""Assemble stats.json: the schema-versioned, machine-readable result of a run."""

from __future__ import annotations

from typing import Any

from profiler.counts import ALL, ANY_GENDER, GENDER_AXIS, NO_IDENTITY, PERSON, CountPlan, Counts
from profiler.stats import Cell, headline_findings, to_records

SCHEMA_VERSION = "1.0.0"

SPECIAL_LABELS = {
    ALL: "All captions",
    PERSON: "Any identity person mention",
    NO_IDENTITY: "No identity person mention",
}


def population_labels(plan: CountPlan, meta: dict[str, Any]) -> dict[str, str]:
    identity = meta.get("taggers", {}).get("identity", {})
    labels = dict(SPECIAL_LABELS)
    labels.update(identity.get("groups", {}))
    for aggregate in plan.aggregates:
        labels[aggregate] = aggregate.replace("_any", "").replace("_", " ").title() + " (any)"
    return labels


def population_kinds(plan: CountPlan) -> dict[str, str]:
    kinds = {ALL: "all", PERSON: "reference", NO_IDENTITY: "reference"}
    kinds.update({g: "group" for g in plan.groups})
    kinds.update({a: "aggregate" for a in plan.aggregates})
    return kinds


def build_document(
    counts: Counts, cells: list[Cell], plan: CountPlan, meta: dict[str, Any], spec_stats: Any
) -> dict[str, Any]:
    labels = population_labels(plan, meta)
    signal_labels = {s.name: s.label for s in plan.signals}
    skipped = {k: int(v) for k, v in sorted(counts.skipped.items())}
    tagged = counts.tagged
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {k: meta[k] for k in ("name", "created", "tool_version", "sources", "seconds")},
        "taxonomy_versions": meta["versions"],
        "rows": {"read": counts.read, "tagged": tagged, "skipped": skipped},
        "shards": {
            "total": meta["shards_total"],
            "completed": len(counts.shards_completed),
            "failed": counts.shards_failed,
        },
        "coverage": {
            s.name: {
                "observed": counts.cell(ALL, ANY_GENDER, s.name)[0],
                "fraction": (counts.cell(ALL, ANY_GENDER, s.name)[0] / tagged) if tagged else None,
            }
            for s in plan.signals
        },
        "settings": {
            "min_support": spec_stats.min_support,
            "confidence": spec_stats.confidence,
            "alpha": spec_stats.alpha,
            "multiple_comparisons": "benjamini-hochberg over all comparisons",
            "interval": "wilson",
            "taggers": meta["taggers"],
        },
        "signals": {s.name: {"label": s.label, "description": s.description} for s in plan.signals},
        "populations": {
            p: {"label": labels.get(p, p), "kind": population_kinds(plan).get(p, "group"),
                "rows": {g: counts.population_rows(p, g) for g in GENDER_AXIS
                         if counts.population_rows(p, g)}}
            for p in counts.populations
        },
        "findings": headline_findings(cells, labels, signal_labels),
        "cells": to_records(cells),
    }
