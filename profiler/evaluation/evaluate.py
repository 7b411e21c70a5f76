"""`bias-profiler evaluate RUN --labels FILE.csv`: each tagger measured against hand labels.

Joins the labels with the run's tags by key, then for every labelled column and every scope
(all rows, rows with / without an identity mention, each group with labels) writes counts and
post-stratified precision / recall / specificity with intervals (profiler.evaluation.metrics) to
RUN/evaluation.json, which `report` uses to correct rates.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.errors import UserError
from profiler.evaluation.labels import Labels, read_labels
from profiler.evaluation.metrics import LabelledRows, enough_labels, evaluate_scope
from profiler.evaluation.runview import RunView, open_run_view
from profiler.files import atomic_write_json

SCHEMA_VERSION = "1.0.0"
EVALUATION_FILE = "evaluation.json"
SCHEMA_FILE = Path(__file__).with_name("evaluation.schema.json")
SEED = 0
ALL, PERSON, NO_IDENTITY = "all", "person_mention", "no_identity"


def evaluate_run(run_dir: str, labels_path: str, confidence: float = 0.95) -> tuple[Path, dict]:
    """Write RUN/evaluation.json; returns its path and content."""
    view = open_run_view(run_dir)
    labels = read_labels(labels_path, list(view.columns))
    columns = [c for c, values in labels.values.items() if any(v is not None for v in values)]
    if not columns:
        raise UserError(f"labels file {labels_path} has no label filled in yet")
    strata = len(view.strata)
    scopes = [ALL, PERSON, NO_IDENTITY, *view.groups, *view.aggregates]
    population = {c: np.zeros((len(scopes), strata, 2), np.int64) for c in columns}
    position = {key: i for i, key in enumerate(labels.keys)}
    found = np.zeros(len(labels.keys), bool)
    row_stratum = np.zeros(len(labels.keys), np.int32)
    row_flags = {c: np.full(len(labels.keys), -1, np.int8) for c in columns}
    row_groups: list[list[int]] = [[] for _ in labels.keys]
    key_set = pa.array(labels.keys, pa.string())
    for batch in view.batches(columns):
        pair_rows, pair_groups = view.scope_pairs(batch.groups)
        for column in columns:
            _tally(population[column], batch.stratum, batch.flags[column], pair_rows, pair_groups,
                   strata)
        hit = np.flatnonzero(np.asarray(pc.is_in(batch.keys, value_set=key_set).to_numpy(
            zero_copy_only=False), bool))
        if not hit.size:
            continue
        for local in hit:
            slot = position[batch.keys[int(local)].as_py()]
            if found[slot]:
                raise UserError(f"key {labels.keys[slot]} appears more than once in {run_dir}: "
                                "its labels cannot be attached to one row")
            found[slot] = True
            row_stratum[slot] = batch.stratum[local]
            for column in columns:
                row_flags[column][slot] = batch.flags[column][local]
        hit_set = set(hit.tolist())
        for local, group in zip(pair_rows.tolist(), pair_groups.tolist(), strict=True):
            if local in hit_set:
                row_groups[position[batch.keys[local].as_py()]].append(group)
    if not found.all():
        missing = [k for k, f in zip(labels.keys, found, strict=True) if not f]
        raise UserError(f"{len(missing)} labelled key(s) are not rows of {run_dir} "
                        f"(e.g. {', '.join(missing[:3])}): were the labels drawn from another run?")
    rng = np.random.default_rng(SEED)
    results = {}
    for column in columns:
        results[column] = _evaluate_column(
            view, labels, column, population[column], row_stratum, row_flags[column], row_groups,
            scopes, rng, confidence)
    document = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": view.run.spec.get("name"),
        "labels": {"file": Path(labels_path).name, "sha256": _sha256(Path(labels_path)),
                   "rows": len(labels.keys), "weighted": labels.weighted},
        "confidence": confidence,
        "method": ("post-stratified by identity group mentioned first (or none) x flagged, with "
                   "the run's row counts; Jeffreys Beta posteriors per cell; percentile intervals"),
        "strata": view.strata,
        "taxonomy_versions": _versions(view.run.root),
        "columns": results,
    }
    path = view.run.root / EVALUATION_FILE
    atomic_write_json(path, document)
    return path, document


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


def _evaluate_column(view: RunView, labels: Labels, column: str, population: np.ndarray,
                     stratum: np.ndarray, flags: np.ndarray, groups: list[list[int]],
                     scopes: list[str], rng: np.random.Generator, confidence: float) -> dict[str, Any]:
    truth = np.array([v is True for v in labels.values[column]])
    labelled = np.array([v is not None for v in labels.values[column]]) & (flags >= 0)
    none = len(view.strata) - 1
    masks = {ALL: labelled, PERSON: labelled & (stratum != none), NO_IDENTITY: labelled & (stratum == none)}
    for g, name in enumerate([*view.groups, *view.aggregates]):
        masks[name] = labelled & np.array([g in row for row in groups], bool)
    out: dict[str, Any] = {"unobserved": int(sum(v is not None for v in labels.values[column])
                                            - labelled.sum())}
    by_scope = {}
    for index, scope in enumerate(scopes):
        mask = masks[scope]
        if not mask.any() and scope != ALL:
            continue
        rows = LabelledRows(stratum[mask], flags[mask] == 1, truth[mask], labels.weights[mask])
        result = evaluate_scope(population[index], rows, rng, confidence)
        result["enough_for_correction"] = enough_labels(result)
        by_scope[scope] = result
    out.update(by_scope.pop(ALL))
    out["populations"] = by_scope
    return out


def _versions(root: Path) -> dict[str, str] | None:
    """The taggers' versions of the run the labels measured (from its stats.json), so a report
    of a re-profiled run can say when the measurement may be stale."""
    try:
        return json.loads((root / "stats.json").read_text()).get("taxonomy_versions")
    except (OSError, json.JSONDecodeError):
        return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_evaluation(run_dir: str | Path) -> dict | None:
    """RUN/evaluation.json, or None when the run has not been evaluated."""
    path = Path(run_dir) / EVALUATION_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not valid JSON ({error}): run bias-profiler evaluate again") from None
    if str(document.get("schema_version", "")).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise UserError(f"{path} has schema version {document.get('schema_version')!r}, this tool "
                        f"reads {SCHEMA_VERSION}: run bias-profiler evaluate again")
    return document
