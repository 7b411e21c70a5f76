"""Tagger quality in stats.json: corrected rates per cell and the report's Tagger quality section.

When the run folder holds an evaluation.json (`bias-profiler evaluate`), every cell of each
evaluated signal gains `corrected_rate`, `corrected_low`, `corrected_high` and `corrected_scope`
(whose labels measured the error: the cell's own group when it has enough labels, else the
pooled person-mention or all-rows labels), and its primary comparison gains `corrected_rr`,
`corrected_rr_low`, `corrected_rr_high`. Findings whose corrected ratio interval reaches 1 are
listed as not surviving the correction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from profiler.counting.populations import ALL, NO_IDENTITY, PERSON
from profiler.report.evaluation_file import METRICS, accuracy_of
from profiler.stats.correction import Accuracy, corrected_rate, corrected_ratio

SEED = 0
CORRECTED_FIELDS = ("corrected_rate", "corrected_low", "corrected_high", "corrected_scope",
                    "corrected_rr", "corrected_rr_low", "corrected_rr_high")


def _scopes(evaluation: dict[str, Any]) -> dict[str, dict[str, dict]]:
    """signal -> scope -> evaluated result (scope 'all' is the column's overall result)."""
    out = {}
    for signal, column in evaluation.get("columns", {}).items():
        out[signal] = {"all": column, **column.get("populations", {})}
    return out


def _scope_for(population: str, scopes: dict[str, dict]) -> str | None:
    """The narrowest scope with enough labels for a population's cells."""
    if population == ALL:
        order = [ALL]
    elif population in (PERSON, NO_IDENTITY):
        order = [population, ALL]
    else:
        order = [population, PERSON, ALL]
    for scope in order:
        result = scopes.get(scope)
        if result and (result.get("enough_for_correction") or scope == ALL) and accuracy_of(result, scope):
            return scope
    return None


def apply_evaluation(document: dict[str, Any], evaluation: dict[str, Any]) -> None:
    """Add corrected numbers to the cells and a `tagger_quality` block to a stats document."""
    confidence = float(document.get("settings", {}).get("confidence", 0.95))
    scopes = _scopes(evaluation)
    rng = np.random.default_rng(SEED)
    by_key = {(c["population"], c["gender"], c["signal"]): c for c in document["cells"]}
    for cell in document["cells"]:
        signal_scopes = scopes.get(cell["signal"])
        if signal_scopes is None:
            continue
        _correct_cell(cell, signal_scopes, by_key, rng, confidence)
    document["tagger_quality"] = _quality(document, evaluation, scopes)


def _accuracy(population: str, scopes: dict[str, dict]) -> Accuracy | None:
    scope = _scope_for(population, scopes)
    return accuracy_of(scopes[scope], scope) if scope else None


def _correct_cell(cell: dict, scopes: dict[str, dict], by_key: dict, rng: np.random.Generator,
                  confidence: float) -> None:
    cell.update(dict.fromkeys(CORRECTED_FIELDS))
    accuracy = _accuracy(cell["population"], scopes)
    if accuracy is None or cell["suppressed"] or not cell["n"]:
        return
    rate, low, high = corrected_rate(cell["k"], cell["n"], accuracy, rng, confidence)
    cell.update(corrected_rate=rate, corrected_low=low, corrected_high=high,
                corrected_scope=accuracy.scope)
    reference = cell.get("reference")
    comparisons = cell.get("comparisons") or []
    other = by_key.get((reference, cell["gender"], cell["signal"])) if reference else None
    ref_accuracy = _accuracy(reference, scopes) if reference else None
    if other is None or ref_accuracy is None or cell.get("rate_ratio") is None or not comparisons:
        return
    ratio = corrected_ratio(cell["k"], cell["n"], other["k"], other["n"], comparisons[0]["subset"],
                            accuracy, ref_accuracy, rng, confidence)
    cell.update(corrected_rr=ratio[0], corrected_rr_low=ratio[1], corrected_rr_high=ratio[2])


def _quality(document: dict, evaluation: dict, scopes: dict[str, dict[str, dict]]) -> dict[str, Any]:
    labels = {p: v.get("label", p) for p, v in document.get("populations", {}).items()}
    signals = []
    for signal, by_scope in scopes.items():
        rows = []
        for scope, result in by_scope.items():
            rows.append({"population": scope, "label": labels.get(scope, scope),
                         **{k: result.get(k) for k in ("n", "tp", "fp", "fn", "tn")},
                         **{m: result.get(m) for m in METRICS},
                         "own_labels_used": bool(result.get("enough_for_correction"))})
        signals.append({"signal": signal,
                        "label": document.get("signals", {}).get(signal, {}).get("label", signal),
                        "populations": rows})
    findings = []
    for cell in document["cells"]:
        if (cell["signal"] not in scopes or not cell.get("significant")
                or cell["population"] == PERSON
                or not cell.get("rate_ratio") or cell["rate_ratio"] <= 1):
            continue
        low = cell.get("corrected_rr_low")
        findings.append({
            "population": cell["population"], "label": labels.get(cell["population"], cell["population"]),
            "gender": cell["gender"], "signal": cell["signal"], "rate": cell["rate"],
            "corrected_rate": cell.get("corrected_rate"), "rate_ratio": cell["rate_ratio"],
            "rr_low": cell["rr_low"], "corrected_rr": cell.get("corrected_rr"), "corrected_rr_low": low,
            "corrected_rr_high": cell.get("corrected_rr_high"),
            "corrected_scope": cell.get("corrected_scope"),
            "survives": None if cell.get("corrected_rr") is None else bool(low is not None and low > 1),
        })
    measured, now = evaluation.get("taxonomy_versions"), document.get("taxonomy_versions")
    changed = sorted(k for k in set(measured or {}) | set(now or {})
                     if (measured or {}).get(k) != (now or {}).get(k)) if measured else []
    return {"labels": evaluation.get("labels"), "created": evaluation.get("created"),
            "signals": signals, "findings": findings, "versions_changed": changed}


def quality_rows(quality: dict[str, Any]) -> list[dict[str, Any]]:
    """tables/tagger_quality.csv: one row per signal x population, metrics as flat columns."""
    rows = []
    for signal in quality["signals"]:
        for row in signal["populations"]:
            flat = {"signal": signal["signal"], **{k: v for k, v in row.items() if k not in METRICS}}
            for metric in METRICS:
                for part in ("value", "low", "high"):
                    flat[f"{metric}_{part}"] = (row.get(metric) or {}).get(part)
            rows.append(flat)
    return rows
