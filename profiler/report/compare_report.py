"""`bias-profiler compare`: a report of what changed between two runs (dataset versions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from profiler.defaults import ALPHA, CONFIDENCE
from profiler.errors import UserError
from profiler.files import atomic_write_bytes, atomic_write_json
from profiler.report.writer import csv_bytes, render_template
from profiler.stats.compare import compare_documents

SUPPORTED_SCHEMA = "2."


def load_stats_document(path: str | Path) -> dict[str, Any]:
    """A finished run's stats.json, given its run folder or the file itself."""
    path = Path(path)
    stats = path / "stats.json" if path.is_dir() else path
    try:
        document = json.loads(stats.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} has no stats.json: give a finished run folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError, IsADirectoryError):
        raise UserError(f"{stats} is not a stats.json file") from None
    if not str(document.get("schema_version", "")).startswith(SUPPORTED_SCHEMA):
        raise UserError(
            f"{stats} was written by another version (schema {document.get('schema_version')}): "
            "re-run that profile with this version"
        )
    return document


def write_comparison(out: Path, baseline: dict[str, Any], current: dict[str, Any]) -> Path:
    """compare.json, changes.csv and index.html in `out`; returns the HTML path."""
    settings = current.get("settings", {})
    comparison = compare_documents(
        baseline, current, settings.get("alpha", ALPHA), settings.get("confidence", CONFIDENCE),
        settings.get("min_support", 30))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot write the output folder {out}: {error.strerror}") from None
    atomic_write_json(out / "compare.json", comparison)
    atomic_write_bytes(out / "changes.csv", csv_bytes(comparison["changes"]))
    labels = {p: v["label"] for p, v in current["populations"].items()}
    html = render_template(
        "compare.html.j2",
        doc={"comparison": comparison, "signals": current["signals"]}, labels=labels)
    path = out / "index.html"
    atomic_write_bytes(path, html.encode())
    return path
