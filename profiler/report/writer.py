"""Write a run's outputs: stats.json, tables/*.csv, examples.json and index.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from jinja2 import Environment, PackageLoader, select_autoescape

from profiler.counts import ANY_GENDER, NO_IDENTITY, PERSON, CountPlan, Counts
from profiler.files import atomic_write_bytes, atomic_write_json
from profiler.report.charts import forest_plot, rate_bar
from profiler.report.document import build_document
from profiler.stats import Cell

INTERSECTION_GENDERS = ("female", "male", "unspecified")
# Content-Security-Policy of the report: nothing may load, nothing may run.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def write_outputs(
    root: Path, counts: Counts, cells: list[Cell], plan: CountPlan, meta: dict[str, Any],
    examples: dict[str, list], spec: Any,
) -> tuple[Path, Path]:
    """Write every output of a run; returns (index.html, stats.json) paths."""
    document = build_document(counts, cells, plan, meta, spec.stats)
    stats_path = root / "stats.json"
    atomic_write_json(stats_path, document)
    atomic_write_json(root / "examples.json", examples)
    tables = root / "tables"
    tables.mkdir(exist_ok=True)
    atomic_write_bytes(tables / "cells.csv", _csv(document["cells"], list(Cell.__dataclass_fields__)))
    skipped = [{"reason": k, "rows": v} for k, v in document["rows"]["skipped"].items()]
    atomic_write_bytes(tables / "skipped.csv", _csv(skipped, ["reason", "rows"]))
    html_path = root / "index.html"
    atomic_write_bytes(html_path, render_html(document, examples, spec.redact_captions).encode())
    return html_path, stats_path


def _csv(records: list[dict], columns: list[str]) -> bytes:
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in records]) if records else (
        pa.table({c: pa.array([], pa.string()) for c in columns}))
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def render_html(document: dict[str, Any], examples: dict[str, list], redact: bool) -> str:
    env = Environment(
        loader=PackageLoader("profiler.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.1%}"
    env.filters["num"] = lambda v: "—" if v is None else f"{v:,}"
    env.filters["ratio"] = lambda v: "—" if v is None else f"{v:.2f}"
    env.filters["pval"] = _format_p
    template = env.get_template("report.html.j2")
    return template.render(
        doc=document, csp=CSP, signals=_signal_views(document), examples=examples, redact=redact,
        labels={p: v["label"] for p, v in document["populations"].items()},
        genders=INTERSECTION_GENDERS,
    )


def _format_p(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1e-300:
        return "<1e-300"
    return f"{value:.1e}" if value < 1e-3 else f"{value:.3f}"


def _signal_views(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per signal: the group table, the intersection grid and the forest plot."""
    labels = {p: v["label"] for p, v in document["populations"].items()}
    kinds = {p: v["kind"] for p, v in document["populations"].items()}
    views = []
    for name, info in document["signals"].items():
        cells = [c for c in document["cells"] if c["signal"] == name]
        if not any(c["n"] for c in cells):
            continue
        overall = [c for c in cells if c["gender"] == ANY_GENDER]
        scale = max([c["ci_high"] or 0 for c in overall] + [0.01])
        groups = sorted(
            (c for c in overall
             if kinds.get(c["population"]) in ("group", "aggregate") and c["n"] > 0),
            key=lambda c: (c["suppressed"], -(c["rate"] or 0), c["population"]),
        )
        references = [c for c in overall if kinds.get(c["population"]) in ("reference", "all")]
        for c in [*references, *groups]:
            c["bar"] = rate_bar(c["rate"], c["ci_low"], c["ci_high"], scale)
            c["label"] = labels.get(c["population"], c["population"])
        grid = {
            (c["population"], c["gender"]): c for c in cells if c["gender"] in INTERSECTION_GENDERS
        }
        reference_rates = {g: grid.get((PERSON, g), {}).get("rate") for g in INTERSECTION_GENDERS}
        intersections = [
            {"label": labels.get(p, p),
             "cells": [_heat(grid.get((p, g)), reference_rates[g]) for g in INTERSECTION_GENDERS]}
            for p in [PERSON, NO_IDENTITY, *[c["population"] for c in groups]]
            if any(grid.get((p, g)) for g in INTERSECTION_GENDERS)
        ]
        forest_rows = [c for c in groups if not c["suppressed"]]
        views.append({
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


def rerender(run_dir: Path, redact: bool = False) -> Path:
    """Re-render index.html from a finished run's stats.json (e.g. with captions redacted)."""
    document = json.loads((run_dir / "stats.json").read_text())
    examples_file = run_dir / "examples.json"
    examples = json.loads(examples_file.read_text()) if examples_file.exists() else {}
    html_path = run_dir / "index.html"
    atomic_write_bytes(html_path, render_html(document, examples, redact).encode())
    return html_path
