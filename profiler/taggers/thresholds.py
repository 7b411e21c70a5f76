"""The thresholds file: calibrated cut-offs the `clip` and `nsfw` taggers read (`thresholds_path`).

Written by `bias-profiler calibrate` (profiler.calibrate) as TOML through tomli-w; read here, next
to the taggers that apply it, so taggers never import the command that fits it. Mistakes in a
hand-edited file are one-line user errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from profiler.errors import UserError

_TOP_KEYS = {"version", "score", "threshold", "classes", "fit"}

@dataclass(frozen=True)
class Thresholds:
    """Calibrated cut-offs: one on `score` (binary labels) and/or one per bank class."""

    threshold: float | None
    classes: dict[str, float]
    version: str
    score: str | None = None
    fit: dict[str, Any] = field(default_factory=dict)


def load_thresholds(path: str | Path, expect_score: str | None = None) -> Thresholds:
    """Read a thresholds file written by `bias-profiler calibrate`; mistakes are one-line errors.

    `expect_score`: the score column (or tagger prefix, e.g. "clip") the caller applies the cut
    to; a file fitted on another score is refused instead of silently misapplied.
    """
    from profiler.tomlcompat import read_toml_file

    source = Path(path).expanduser()
    data, _ = read_toml_file(source, "thresholds file", "write one with bias-profiler calibrate")

    def fail(message: str) -> UserError:
        return UserError(f"thresholds file {source}: {message}")

    table = data.get("thresholds")
    if not isinstance(table, dict):
        raise fail("no [thresholds] table: write the file with bias-profiler calibrate")
    unknown = set(table) - _TOP_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)} in [thresholds]: use {sorted(_TOP_KEYS)}")
    version = table.get("version")
    if not isinstance(version, str) or not version.strip():
        raise fail('[thresholds] needs version = "..." (stamped into results)')
    score = table.get("score")
    if score is not None and (not isinstance(score, str) or not score):
        raise fail(f"score must be a column name, got {score!r}")
    threshold = table.get("threshold")
    if threshold is not None:
        threshold = _cut(threshold, "threshold", fail)
    classes = table.get("classes", {})
    if not isinstance(classes, dict):
        raise fail("[thresholds.classes] must be a table of class id = threshold")
    classes = {str(k): _cut(v, f"classes.{k}", fail) for k, v in classes.items()}
    if threshold is None and not classes:
        raise fail("has neither threshold = ... nor a [thresholds.classes] table")
    fit = table.get("fit", {})
    if not isinstance(fit, dict):
        raise fail("[thresholds.fit] must be a table")
    if expect_score is not None and score is not None and not (
        score == expect_score or score.startswith(expect_score + ".")
    ):
        raise fail(f"was fitted on {score}, not {expect_score}: calibrate with --score {expect_score}")
    return Thresholds(threshold=threshold, classes=classes, version=version.strip(), score=score,
                      fit=fit)


def _cut(value: Any, what: str, fail) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise fail(f"{what} must be a number between 0 and 1, got {value!r}")
    return float(value)



def format_thresholds(thresholds: Thresholds, header: str = "") -> str:
    """The TOML text of a thresholds file: `header` as comment lines, then [thresholds]."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    top: dict[str, Any] = {"version": thresholds.version}
    if thresholds.score is not None:
        top["score"] = thresholds.score
    if thresholds.threshold is not None:
        top["threshold"] = thresholds.threshold
    if thresholds.classes:
        top["classes"] = thresholds.classes
    top["fit"] = thresholds.fit
    body = tomli_w.dumps({"thresholds": top})
    return "\n".join([*lines, ""]).lstrip("\n") + ("\n" if lines else "") + body
