"""View models for the HTML report: rows, charts and groupings built from stats.json."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from profiler.counting.populations import ALL, ANY_GENDER, NO_IDENTITY, PERSON
from profiler.report.charts import forest_plot, rate_bar, sweep_chart

INTERSECTION_GENDERS = ("female", "male", "unspecified")


def identity_profiled(document: dict[str, Any]) -> bool:
    """Populations come from the identity tagger; without it (image-only audits: clip, nsfw)
    there are no groups, and every rate is over all rows."""
    return "identity" in document["settings"]["taggers"]


def report_views(document: dict[str, Any]) -> dict[str, Any]:
    labels = {p: v["label"] for p, v in document["populations"].items()}
    profiled = identity_profiled(document)
    if not profiled:
        labels[ALL] = "All rows"
    return {
        "labels": labels,
        "identity_profiled": profiled,
        "signals": _signal_views(document, labels, profiled),
        "coverage_rows": _coverage_rows(document),
        "sweeps": _sweep_views(document, labels),
        "drivers": [(key, list(rows)) for key, rows in groupby(
            document["drivers"], key=lambda r: (r["population"], r["signal"]))],
        "agreement": [r for r in document["agreement"]
                      if document["populations"].get(r["population"], {}).get("kind") != "aggregate"],
        "identity_agreement": document.get("identity_agreement", []),
    }


def _signal_views(document: dict[str, Any], labels: dict[str, str],
                  profiled: bool = True) -> list[dict[str, Any]]:
    """Per signal: the group table, the intersection grid and the forest plot (without the
    identity tagger: the rate over all rows alone)."""
    kinds = {p: v["kind"] for p, v in document["populations"].items()}
    if not profiled:
        kinds = {p: k for p, k in kinds.items() if p == ALL}
    views = []
    for name, info in document["signals"].items():
        cells = [c for c in document["cells"] if c["signal"] == name]
        if not any(c["n"] for c in cells):
            continue
        overall = [_row_view(c, labels) for c in cells if c["gender"] == ANY_GENDER]
        scale = max([c["ci_high"] or 0 for c in overall] + [0.01])
        groups = sorted(
            (c for c in overall
             if kinds.get(c["population"]) in ("group", "aggregate") and c["n"] > 0),
            key=lambda c: (c["suppressed"], -(c["rate"] or 0), c["population"]),
        )
        references = [c for c in overall if kinds.get(c["population"]) in ("reference", "all")]
        for c in [*references, *groups]:
            c["bar"] = rate_bar(c["rate"], c["ci_low"], c["ci_high"], scale)
        grid = {
            (c["population"], c["gender"]): c for c in cells if c["gender"] in INTERSECTION_GENDERS
        }
        reference_rates = {g: grid.get((PERSON, g), {}).get("rate") for g in INTERSECTION_GENDERS}
        intersections = [
            {"label": labels.get(p, p),
             "cells": [_heat(grid.get((p, g)), reference_rates[g]) for g in INTERSECTION_GENDERS]}
            for p in [PERSON, NO_IDENTITY, *[c["population"] for c in groups]]
            if profiled and any(grid.get((p, g)) for g in INTERSECTION_GENDERS)
        ]
        forest_rows = [c for c in groups if not c["suppressed"]]
        views.append({
            "index": len(views) + 1,
            "name": name, "label": info["label"], "description": info["description"],
            "references": references, "groups": groups, "intersections": intersections,
            "forest": forest_plot(forest_rows, f"Rate ratio vs all person mentions: {info['label']}"),
        })
    return views


def _heat(cell: dict | None, reference: float | None) -> dict[str, Any]:
    """A grid cell with a background class by how far its rate sits from the reference."""
    if cell is None:
        return {"text": "", "css": "empty"}
    if cell["suppressed"]:
        return {"text": f"n={cell['n']:,} (too few)", "css": "suppressed"}
    css = "neutral"
    if reference and cell["rate"] is not None:
        ratio = cell["rate"] / reference if reference else 1
        css = "hot3" if ratio >= 2 else "hot2" if ratio >= 1.5 else "hot1" if ratio > 1.1 else (
            "cold" if ratio < 0.9 else "neutral")
    return {
        "text": f"{cell['rate']:.1%} [{cell['ci_low']:.1%}–{cell['ci_high']:.1%}] n={cell['n']:,}",
        "css": css, "significant": cell.get("significant"),
    }




def _row_view(cell: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """A copy of a cell with its label and its comparisons by reference."""
    by_reference = {c["reference"]: c for c in cell.get("comparisons", [])}
    return {**cell, "label": labels.get(cell["population"], cell["population"]),
            "vs_person": by_reference.get(PERSON), "vs_none": by_reference.get(NO_IDENTITY)}


def _coverage_rows(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows: dict[str, dict[str, Any]] = {}
    for r in document["coverage_by_population"]:
        entry = rows.setdefault(r["population"], {"rows": r["rows"], "signals": {}})
        entry["signals"][r["signal"]] = r
    return list(rows.items())


def _sweep_views(document: dict[str, Any], labels: dict[str, str]) -> list[dict[str, Any]]:
    views = []
    for score in document["scores"]:
        rows = [r for r in document["sweeps"] if r["score"] == score and r["gender"] == ANY_GENDER]
        charts = []
        for population, points in groupby(rows, key=lambda r: r["population"]):
            if population == PERSON:
                continue
            chart = sweep_chart(list(points), labels.get(population, population))
            if chart:
                charts.append(chart)
        views.append({"score": score, "label": f"Score: {score}", "charts": charts, "rows": rows})
    return [v for v in views if v["rows"]]
