"""The evaluation.json file format as the report reads it (written by `bias-profiler evaluate`,
profiler/evaluation/evaluate.py): the report sits below the evaluation command, so the file's
name, version and reader live here."""

from __future__ import annotations

import json
from pathlib import Path

from profiler.errors import UserError
from profiler.stats.correction import Accuracy

SCHEMA_VERSION = "1.0.0"
EVALUATION_FILE = "evaluation.json"
METRICS = ("precision", "recall", "specificity")


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


def accuracy_of(scope_result: dict, scope: str) -> Accuracy | None:
    """The rate correction's view of an evaluated scope; None when it cannot correct rates."""
    recall, specificity = scope_result.get("recall") or {}, scope_result.get("specificity") or {}
    if recall.get("value") is None or specificity.get("value") is None:
        return None
    posterior = scope_result.get("posterior")
    if not posterior:
        return None
    labels = posterior.get("labels")
    return Accuracy(recall["value"], specificity["value"],
                    *(tuple(tuple(row) for row in posterior[k]) for k in ("population", "a", "b")),
                    scope=scope,
                    labels=tuple(tuple(tuple(cell) for cell in row) for row in labels) if labels else None)
