"""Assemble stats.json: the schema-versioned, machine-readable result of a run."""

from __future__ import annotations

from typing import Any

from profiler.counting.counts import CountPlan, Counts
from profiler.counting.populations import (
    ALL,
    ANY_GENDER,
    GENDER_AXIS,
    population_kind,
    population_labels,
)
from profiler.stats import Cell, headline_findings, to_records
from profiler.stats.agreement import identity_agreement, signal_agreement
from profiler.stats.bootstrap import shard_bootstrap
from profiler.stats.compare import compare_documents
from profiler.stats.drivers import term_drivers
from profiler.stats.language import language_coverage
from profiler.stats.sweep import threshold_sweep

SCHEMA_VERSION = "2.1.0"  # 2.1: language coverage



def report_labels(plan: CountPlan, meta: dict[str, Any]) -> dict[str, str]:
    """Population labels: group labels as the identity tagger described its taxonomy."""
    described = [d.get("groups") for d in meta.get("taggers", {}).values() if isinstance(d, dict)]
    groups = next((g for g in described if isinstance(g, dict)), {})
    return population_labels(groups, list(plan.aggregates))


def build_document(
    counts: Counts, cells: list[Cell], plan: CountPlan, meta: dict[str, Any], settings: Any,
    shard_parts: list[Counts] | None = None, baseline: dict[str, Any] | None = None,
    curation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every number of the run, JSON-ready; `shard_parts` feed the between-shard bootstrap."""
    labels = report_labels(plan, meta)
    signal_labels = {s.name: s.label for s in plan.signals}
    skipped = {k: int(v) for k, v in sorted(counts.skipped.items())}
    tagged = counts.tagged
    document = {
        "schema_version": SCHEMA_VERSION,
        "run": {**{k: meta[k] for k in ("name", "created", "tool_version", "sources", "seconds")},
                "sampling": meta.get("sampling")},
        "taxonomy_versions": meta["versions"],
        "rows": {"read": counts.read, "tagged": tagged, "skipped": skipped,
                 "unscored": {column: {k: int(v) for k, v in sorted(reasons.items())}
                              for column, reasons in sorted(counts.unscored.items())}},
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
        "coverage_by_population": coverage_by_population(counts),
        "language": language_coverage(counts.language, plan.languages, settings.confidence),
        "settings": {
            "min_support": settings.min_support,
            "confidence": settings.confidence,
            "alpha": settings.alpha,
            "multiple_comparisons": "benjamini-hochberg over all comparisons",
            "interval": "wilson",
            "taggers": meta["taggers"],
        },
        "signals": {
            s.name: {"label": s.label, "description": s.description, "from_caption": s.from_caption}
            for s in plan.signals
        },
        "scores": [s.name for s in plan.scores],
        "populations": {
            p: {"label": labels.get(p, p), "kind": population_kind(p, plan.aggregates),
                "rows": {g: counts.population_rows(p, g) for g in GENDER_AXIS
                         if counts.population_rows(p, g)}}
            for p in counts.populations
        },
        "findings": headline_findings(cells, labels, signal_labels),
        "cells": to_records(cells),
        "bootstrap": shard_bootstrap(
            shard_parts or [], counts.populations, counts.signals,
            confidence=settings.confidence, min_support=settings.min_support),
        "sweeps": threshold_sweep(counts, settings.min_support, settings.confidence),
        "drivers": term_drivers(
            counts, settings.alpha, settings.confidence,
            signals=[s.name for s in plan.signals if not s.from_caption]),
        "agreement": signal_agreement(counts),
        "identity_agreement": identity_agreement(counts),
        "comparison": None,
        "curation": curation,
    }
    if baseline is not None:
        document["comparison"] = compare_documents(
            baseline, document, settings.alpha, settings.confidence, settings.min_support)
    return document


def coverage_by_population(counts: Counts) -> list[dict[str, Any]]:
    """Share of each population's rows where each signal is known: missing scores (or, later,
    missing images) that differ by group can bias that group's rate."""
    rows = []
    for population in counts.populations:
        total = counts.population_rows(population)
        if not total:
            continue
        for signal in counts.signals:
            observed = counts.cell(population, ANY_GENDER, signal)[0]
            rows.append({"population": population, "signal": signal, "rows": total,
                         "observed": observed, "fraction": observed / total})
    return rows
