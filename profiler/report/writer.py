"""Write a run's outputs: stats.json, tables/*.csv, examples.json and index.html."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, select_autoescape
from markupsafe import Markup

from profiler.counting.counts import CountPlan, Counts
from profiler.files import atomic_write_bytes, atomic_write_json
from profiler.report.document import build_document
from profiler.report.views import INTERSECTION_GENDERS, report_views
from profiler.stats import Cell

# Content-Security-Policy of the report: nothing may load; only its own sorting script may run.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '{script_hash}'; "
       "base-uri 'none'; form-action 'none'")
TEMPLATES = Path(__file__).parent / "templates"
SORT_SCRIPT = TEMPLATES / "sortable.js"


def write_outputs(
    root: Path, counts: Counts, cells: list[Cell], plan: CountPlan, meta: dict[str, Any],
    examples: dict[str, list], spec: Any, shard_parts: list[Counts] | None = None,
    baseline: dict[str, Any] | None = None, curation: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write every output of a run; returns (index.html, stats.json) paths."""
    document = build_document(counts, cells, plan, meta, spec.stats, shard_parts, baseline, curation)
    document["settings"]["redact_captions"] = bool(spec.redact_captions)
    add_tagger_quality(root, document, strict=False)
    stats_path = root / "stats.json"
    atomic_write_json(stats_path, document)
    atomic_write_json(root / "examples.json", examples)
    write_tables(root / "tables", document)
    html_path = root / "index.html"
    atomic_write_bytes(html_path, render_html(document, examples, spec.redact_captions).encode())
    return html_path, stats_path


def add_tagger_quality(root: Path, document: dict[str, Any], strict: bool = True) -> None:
    """Corrected rates and the Tagger quality section, when the run has an evaluation.json.

    Not `strict` (at the end of a profile): an unreadable evaluation.json is logged and skipped,
    so it never costs the run's other outputs."""
    from profiler.errors import UserError
    from profiler.report.evaluation_file import load_evaluation
    from profiler.report.quality import CORRECTED_FIELDS, apply_evaluation

    for cell in document.get("cells", []):  # numbers of an earlier evaluation never linger
        for key in CORRECTED_FIELDS:
            cell.pop(key, None)
    document.pop("tagger_quality", None)
    try:
        evaluation = load_evaluation(root)
    except UserError as error:
        if strict:
            raise
        logging.getLogger("profiler.report").warning("no corrected rates: %s", error)
        return
    if evaluation is not None:
        apply_evaluation(document, evaluation)


def write_tables(folder: Path, document: dict[str, Any]) -> None:
    """One CSV per table of the report (flat columns; the JSON holds the same numbers)."""
    folder.mkdir(parents=True, exist_ok=True)
    cells = document["cells"]
    comparisons = [
        {"population": c["population"], "gender": c["gender"], "signal": c["signal"], **comp}
        for c in cells for comp in c["comparisons"]
    ]
    comparison = document.get("comparison") or {}
    tables = {
        "cells": [{k: v for k, v in c.items() if k != "comparisons"} for c in cells],
        "comparisons": comparisons,
        "skipped": [{"reason": k, "rows": v} for k, v in document["rows"]["skipped"].items()],
        "unscored": [{"column": column, "reason": k, "rows": v}
                     for column, reasons in document["rows"].get("unscored", {}).items()
                     for k, v in reasons.items()],
        "coverage": document["coverage_by_population"],
        "bootstrap": document["bootstrap"]["cells"],
        "sweeps": document["sweeps"],
        "drivers": document["drivers"],
        "agreement": document["agreement"],
        "identity_agreement": document.get("identity_agreement", []),
        "changes": comparison.get("changes", []),
        "curation": _curation_rows(document.get("curation")),
    }
    if document.get("tagger_quality"):
        from profiler.report.quality import quality_rows

        tables["tagger_quality"] = quality_rows(document["tagger_quality"])
    else:
        (folder / "tagger_quality.csv").unlink(missing_ok=True)
    for name, records in tables.items():
        atomic_write_bytes(folder / f"{name}.csv", csv_bytes(records))


def _curation_rows(curation: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per population x gender x standard filter: what the filter removes."""
    if not curation:
        return []
    return [
        {"population": row["population"], "gender": row["gender"], "n_before": row["n_before"],
         "filter": name, **numbers}
        for row in curation.get("comparison", [])
        for name, numbers in row.get("filters", {}).items()
    ]


def csv_bytes(records: list[dict]) -> bytes:
    """CSV of flat records (columns: the union of their keys, in first-seen order)."""
    columns = list(dict.fromkeys(k for r in records for k in r)) or ["empty"]
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in records]) if records else (
        pa.table({c: pa.array([], pa.string()) for c in columns}))
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def render_html(document: dict[str, Any], examples: dict[str, list], redact: bool) -> str:
    """The self-contained report: autoescaped Jinja2, inline SVG, one hashed inline script."""
    return render_template(
        "report.html.j2", doc=document, examples=examples, redact=redact,
        genders=INTERSECTION_GENDERS,
        has_curation_section=(TEMPLATES / "sections" / "curation.html.j2").exists(),
        **report_views(document),
    )


def render_template(name: str, **context: Any) -> str:
    """Render a report template with the shared filters, the sorting script and its CSP hash."""
    env = Environment(
        loader=PackageLoader("profiler.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        # Compiling the templates took 0.2 s of every run's end; Jinja keeps the compiled code in
        # a private per-user folder of the system temp dir and recompiles when a template changes.
        bytecode_cache=FileSystemBytecodeCache(),
    )
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.1%}"
    env.filters["num"] = lambda v: "—" if v is None else f"{v:,}"
    env.filters["ratio"] = _format_ratio
    env.filters["pval"] = _format_p
    script = SORT_SCRIPT.read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return env.get_template(name).render(
        csp=CSP.format(script_hash=f"sha256-{digest}"), script=Markup(script), **context)


def _format_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return "∞" if value == float("inf") else f"{value:.2f}"


def _format_p(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1e-300:
        return "<1e-300"
    return f"{value:.1e}" if value < 1e-3 else f"{value:.3f}"


def rerender(run_dir: Path, redact: bool = False) -> Path:
    """Re-render index.html from a finished run's stats.json (e.g. with captions redacted); with an
    evaluation.json, first add the corrected rates to stats.json and tables/."""
    document = json.loads((run_dir / "stats.json").read_text())
    if (run_dir / "evaluation.json").is_file() or "tagger_quality" in document:
        add_tagger_quality(run_dir, document)
        atomic_write_json(run_dir / "stats.json", document)
        write_tables(run_dir / "tables", document)
    examples_file = run_dir / "examples.json"
    examples = json.loads(examples_file.read_text()) if examples_file.exists() else {}
    html_path = run_dir / "index.html"
    atomic_write_bytes(html_path, render_html(document, examples, redact).encode())
    return html_path
