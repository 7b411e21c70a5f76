"""`bias-profiler evaluate RUN --labels FILE.csv`: each tagger measured against hand labels.

Joins the labels with the run's tags by key, then for every labelled column and every scope
(all rows, rows with / without an identity mention, each group with labels) writes counts and
post-stratified precision / recall / specificity with intervals (profiler.evaluation.metrics) to
RUN/evaluation.json, which `report` uses to correct rates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.counting.populations import ALL, NO_IDENTITY, PERSON
from profiler.errors import UserError
from profiler.evaluation.labels import Labels, read_labels
from profiler.evaluation.metrics import LabelledRows, enough_labels, evaluate_scope
from profiler.evaluation.runview import RunView, open_run_view
from profiler.files import atomic_write_json
from profiler.report.evaluation_file import EVALUATION_FILE, SCHEMA_VERSION

SEED = 0


@dataclass
class _Joined:
    """The labelled rows found in the run, and the run's row counts per scope x stratum x flag."""

    population: dict[str, np.ndarray]  # column -> counts[scope, stratum, flag]
    stratum: np.ndarray  # per labelled key
    flags: dict[str, np.ndarray]  # column -> per labelled key: 1, 0, -1 unknown
    scopes: list[list[int]]  # per labelled key: indices of its groups and aggregates


def evaluate_run(run_dir: str, labels_path: str, confidence: float = 0.95) -> tuple[Path, dict]:
    """Write RUN/evaluation.json; returns its path and content."""
    view = open_run_view(run_dir)
    labels = read_labels(labels_path, list(view.columns))
    columns = [c for c, values in labels.values.items() if any(v is not None for v in values)]
    if not columns:
        raise UserError(f"labels file {labels_path} has no label filled in yet")
    scopes = [ALL, PERSON, NO_IDENTITY, *view.groups, *view.aggregates]
    joined = _join(view, labels, columns, len(scopes), run_dir)
    rng = np.random.default_rng(SEED)
    results = {
        column: _evaluate_column(view, labels, column, joined, scopes, rng, confidence)
        for column in columns
    }
    document = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": view.run.spec.get("name"),
        "labels": {"file": Path(labels_path).name, "sha256": _sha256(Path(labels_path)),
                   "rows": len(labels.keys), "weighted": labels.weighted},
        "confidence": confidence,
        "method": ("post-stratified by identity group mentioned first (or none) x flagged, with "
                   "the run's row counts; Beta posteriors per cell; percentile intervals"),
        "strata": view.strata,
        "taxonomy_versions": _versions(view.run.root),
        "columns": results,
    }
    path = view.run.root / EVALUATION_FILE
    atomic_write_json(path, document)
    return path, document


def _join(view: RunView, labels: Labels, columns: list[str], scopes: int, run_dir: str) -> _Joined:
    """One pass over the run: count its rows per scope, find each labelled key's row."""
    strata = len(view.strata)
    size = len(labels.keys)
    joined = _Joined({c: np.zeros((scopes, strata, 2), np.int64) for c in columns},
                     np.zeros(size, np.int32), {c: np.full(size, -1, np.int8) for c in columns},
                     [[] for _ in range(size)])
    position = {key: i for i, key in enumerate(labels.keys)}
    found = np.zeros(size, bool)
    key_set = pa.array(labels.keys, pa.string())
    for batch in view.batches(columns):
        pair_rows, pair_scopes = view.scope_pairs(batch.groups)
        for column in columns:
            _tally(joined.population[column], batch.stratum, batch.flags[column], pair_rows,
                   pair_scopes, strata)
        hit = np.flatnonzero(np.asarray(pc.is_in(batch.keys, value_set=key_set).to_numpy(
            zero_copy_only=False), bool))
        slots = {}
        for local in hit.tolist():
            slot = position[batch.keys[local].as_py()]
            if found[slot]:
                raise UserError(f"key {labels.keys[slot]} appears more than once in {run_dir}: "
                                "its labels cannot be attached to one row")
            found[slot] = True
            slots[local] = slot
            joined.stratum[slot] = batch.stratum[local]
            for column in columns:
                joined.flags[column][slot] = batch.flags[column][local]
        mine = np.isin(pair_rows, hit)
        for local, scope in zip(pair_rows[mine].tolist(), pair_scopes[mine].tolist(), strict=True):
            joined.scopes[slots[local]].append(scope)
    if not found.all():
        missing = [k for k, f in zip(labels.keys, found, strict=True) if not f]
        raise UserError(f"{len(missing)} labelled key(s) are not rows of {run_dir} "
                        f"(e.g. {', '.join(missing[:3])}): were the labels drawn from another run?")
    return joined


def _tally(counts: np.ndarray, stratum: np.ndarray, flags: np.ndarray, pair_rows: np.ndarray,
           pair_groups: np.ndarray, strata: int) -> None:
    """Add a batch's rows to counts[scope, stratum, flag] (unknown flags left out)."""
    known = flags >= 0
    none = strata - 1
    cell = stratum.astype(np.int64) * 2 + flags.astype(np.int64)
    for scope, mask in ((0, known), (1, known & (stratum != none)), (2, known & (stratum == none))):
        counts[scope] += np.bincount(cell[mask], minlength=strata * 2).reshape(strata, 2)
    keep = known[pair_rows]
    index = (pair_groups[keep] * strata * 2) + cell[pair_rows[keep]]
    groups = counts.shape[0] - 3
    counts[3:] += np.bincount(index, minlength=groups * strata * 2).reshape(groups, strata, 2)


def _evaluate_column(view: RunView, labels: Labels, column: str, joined: _Joined, scopes: list[str],
                     rng: np.random.Generator, confidence: float) -> dict[str, Any]:
    flags = joined.flags[column]
    truth = np.array([v is True for v in labels.values[column]])
    given = np.array([v is not None for v in labels.values[column]])
    labelled = given & (flags >= 0)
    none = len(view.strata) - 1
    masks = {ALL: labelled, PERSON: labelled & (joined.stratum != none),
             NO_IDENTITY: labelled & (joined.stratum == none)}
    for index, name in enumerate([*view.groups, *view.aggregates]):
        masks[name] = labelled & np.array([index in row for row in joined.scopes], bool)
    by_scope = {}
    for index, scope in enumerate(scopes):
        mask = masks[scope]
        if not mask.any() and scope != ALL:
            continue
        rows = LabelledRows(joined.stratum[mask], flags[mask] == 1, truth[mask], labels.weights[mask])
        result = evaluate_scope(joined.population[column][index], rows, rng, confidence)
        result["enough_for_correction"] = enough_labels(result)
        by_scope[scope] = result
    return {"unobserved": int((given & (flags < 0)).sum()), **by_scope.pop(ALL), "populations": by_scope}


def _versions(root: Path) -> dict[str, str] | None:
    """The taggers' versions of the run the labels measured (from its stats.json), so a report
    of a re-profiled run can say when the measurement may be stale."""
    try:
        return json.loads((root / "stats.json").read_text()).get("taxonomy_versions")
    except (OSError, json.JSONDecodeError):
        return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
