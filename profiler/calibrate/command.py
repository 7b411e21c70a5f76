"""`bias-profiler calibrate`: join hand labels with a finished run's tags, fit, write the file."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.calibrate.fit import BOOTSTRAP_RESAMPLES, FEW_POSITIVES, MIN_PER_SIDE, Fit, fit_threshold
from profiler.calibrate.labels import TRUE_LABELS, label_kind, read_labels
from profiler.errors import UserError
from profiler.files import atomic_write_bytes
from profiler.schema import KEY
from profiler.taggers.thresholds import Thresholds, format_thresholds

log = logging.getLogger("profiler.calibrate")

DEFAULT_SCORE = "clip.sexual_score"
PROB_PREFIX = "clip.prob."


@dataclass
class CalibrateRequest:
    run_dir: Path
    labels: Path
    out: Path
    score: str = DEFAULT_SCORE
    target_precision: float | None = None
    overwrite: bool = False
    bootstrap: int = BOOTSTRAP_RESAMPLES


@dataclass
class CalibrationResult:
    path: Path
    thresholds: Thresholds
    fits: dict[str, Fit]  # score column -> fit
    table: str  # the printed summary


def run_calibrate(request: CalibrateRequest) -> CalibrationResult:
    """Join labels with the run's tags, fit, write the thresholds file, return a summary."""
    from profiler.curate.tagged import open_tagged_run

    target = request.target_precision
    if target is not None and not 0.0 < target <= 1.0:
        raise UserError(f"--target-precision must be in (0, 1], got {target:g}")
    out = Path(request.out)
    if out.is_dir():
        raise UserError(f"--out {out} is a folder: give a file name such as thresholds.toml")
    if out.exists() and not request.overwrite:
        raise UserError(f"{out} exists: pass --overwrite to replace it (or choose another --out)")
    labels_path = Path(request.labels)
    labels = read_labels(labels_path)
    run = open_tagged_run(request.run_dir)
    names = set(run.schema.names)
    bank = _bank(run.spec) if request.score.startswith("clip.") else None
    class_ids = bank.ids if bank is not None else []
    kind = label_kind(set(labels.values()), class_ids)
    if kind == "classes" and request.score != DEFAULT_SCORE:
        raise UserError(f"class-id labels fit the clip.prob.<class> columns, not {request.score}: "
                        "use binary labels with --score, or drop --score")
    if kind == "binary":
        columns = [request.score]
    else:
        assert bank is not None
        columns = [PROB_PREFIX + c.id for c in bank.classes]
    missing = [c for c in columns if c not in names]
    if missing:
        have = sorted(n for n in names if n.startswith(("clip.", "nsfw.")))
        hint = (f"(its score columns: {', '.join(have)})" if have else
                "(it was profiled without an image tagger: add --taggers ...,clip or ...,nsfw)")
        raise UserError(f"the tags of {run.root} have no column {missing[0]} {hint}")
    if run.incomplete:
        log.warning("calibrate: %d shard(s) of %s are unfinished; their samples are not read",
                    len(run.incomplete), run.root)
    keys, matrix = _labelled_scores(run, labels, columns)
    found = len(keys)
    if not found:
        example = next(iter(labels))
        raise UserError(f"none of the {len(labels)} label keys (e.g. {example!r}) is a key in the tags of "
                        f"{run.root}: label samples of this run (its key column)")
    if found < len(labels):
        unknown = [k for k in labels if k not in set(keys)][:3]
        log.warning("calibrate: %d of %d label keys are not in the run (e.g. %s); fitting on the %d found",
                    len(labels) - found, len(labels), ", ".join(unknown), found)
    scored = ~np.isnan(matrix).any(axis=1)
    if not scored.all():
        log.warning("calibrate: %d labelled sample(s) have no score (their image could not be "
                    "scored); fitting on the other %d", int((~scored).sum()), int(scored.sum()))
    keys = [k for k, ok in zip(keys, scored, strict=True) if ok]
    matrix = matrix[scored]
    values = [labels[k].lower() for k in keys]
    if kind == "binary":
        positive = np.array([v in TRUE_LABELS for v in values], bool)
        fit = fit_threshold(matrix[:, 0], positive, target, request.score, request.bootstrap)
        _warn_few(fit, request.score)
        fits = {request.score: fit}
        thresholds_classes: dict[str, float] = {}
        threshold: float | None = fit.threshold
        fit_table = {**_sizes(len(keys), positive), **fit.to_dict()}
        del fit_table["threshold"]
    else:
        assert bank is not None
        fits, combined = _fit_classes(bank, matrix, values, target, request.bootstrap)
        thresholds_classes = {c: f.threshold for c, f in ((col[len(PROB_PREFIX):], f)
                                                         for col, f in fits.items())}
        threshold = None
        sexual = np.isin(values, [c.id.lower() for c in bank.classes if c.positive])
        fit_table = {**_sizes(len(keys), sexual), **combined,
                     "classes": {col[len(PROB_PREFIX):]: f.to_dict() for col, f in fits.items()}}
    digest = hashlib.sha256(labels_path.read_bytes()).hexdigest()
    today = datetime.now(timezone.utc)
    score_name = request.score if kind == "binary" else PROB_PREFIX + "<class>"
    thresholds = Thresholds(
        threshold=threshold, classes=thresholds_classes,
        version=f"calibrated-{today:%Y-%m-%d}-{digest[:8]}", score=score_name,
        fit={
            "labels": str(request.labels), "labels_sha256": digest,
            "created": today.isoformat(timespec="seconds"), "run": str(run.root),
            "label_kind": kind, "objective": "f1" if target is None else f"precision>={target:g}",
            **({"target_precision": target} if target is not None else {}),
            **_provenance(run.root, score_name, bank),
            **fit_table,
        },
    )
    use = (f'thresholds_path = "{out.name}" in [taggers.nsfw]' if request.score.startswith("nsfw.")
           else f'--thresholds {out.name}, or thresholds_path = "{out.name}" in [taggers.clip]')
    header = (f"Thresholds fitted by `bias-profiler calibrate` on {len(keys)} labelled samples of "
              f"{run.root.name}.\nUse: {use}.\nRe-run calibrate instead of editing the numbers by hand.")
    atomic_write_bytes(out, format_thresholds(thresholds, header).encode("utf-8"))
    return CalibrationResult(out, thresholds, fits, _summary(fits, kind, fit_table))


def _sizes(rows: int, positive: np.ndarray) -> dict[str, int]:
    return {"rows": rows, "positives": int(positive.sum()), "negatives": int((~positive).sum())}


def _fit_classes(bank, matrix: np.ndarray, values: list[str], target: float | None,
                 bootstrap: int) -> tuple[dict[str, Fit], dict[str, Any]]:
    """One-vs-rest per sexual class; classes with too few labels are left out (warned)."""
    fits: dict[str, Fit] = {}
    hits = np.zeros(len(values), bool)
    for index, klass in enumerate(bank.classes):
        if not klass.positive:
            continue
        column = PROB_PREFIX + klass.id
        positive = np.array([v == klass.id.lower() for v in values], bool)
        if positive.sum() < MIN_PER_SIDE or (~positive).sum() < MIN_PER_SIDE:
            log.warning("calibrate: class %s has %d positive label(s); at least %d are needed to fit "
                        "its threshold, so it gets none (label more %s samples)",
                        klass.id, int(positive.sum()), MIN_PER_SIDE, klass.id)
            continue
        fit = fit_threshold(matrix[:, index], positive, target, column, bootstrap)
        _warn_few(fit, column)
        fits[column] = fit
        hits |= matrix[:, index] >= fit.threshold
    if not fits:
        raise UserError(f"no sexual class has {MIN_PER_SIDE} or more labels: label more samples per "
                        "class, or use binary labels (1/0) to fit one threshold on clip.sexual_score")
    sexual = np.isin(values, [c.id.lower() for c in bank.classes if c.positive])
    tp, fp = int((hits & sexual).sum()), int((hits & ~sexual).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / int(sexual.sum()) if sexual.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    # the rule the clip tagger applies: some class reaches its cut -> sexual
    combined = {"precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6)}
    return fits, combined


def _warn_few(fit: Fit, what: str) -> None:
    if fit.positives < FEW_POSITIVES:
        ci = fit.threshold_ci
        log.warning("calibrate: %s has only %d positive labels; the threshold is noisy (bootstrap "
                    "interval %s): label more positives", what, fit.positives,
                    "n/a" if ci is None else f"{ci[0]:.3f}-{ci[1]:.3f}")


def _labelled_scores(run, labels: dict[str, str], columns: list[str]) -> tuple[list[str], np.ndarray]:
    """Keys of labelled samples found in the run's tags, in tag order, and their score columns
    (NaN where a score is null). A key found twice keeps its first row (warned)."""
    wanted = pa.array(list(labels), pa.string())
    keys: list[str] = []
    blocks: list[np.ndarray] = []
    seen: set[str] = set()
    repeated = 0
    for shard_id in run.shard_ids:
        for table in run.batches(shard_id, [KEY, *columns]):
            key = pc.cast(table.column(KEY), pa.string())
            mask = pc.is_in(key, value_set=wanted)
            if not pc.any(mask).as_py():
                continue
            table = table.filter(mask)
            found = pc.cast(table.column(KEY), pa.string()).to_pylist()
            values = np.column_stack([
                table.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False) for c in columns
            ]).astype(np.float64)
            keep = []
            for i, k in enumerate(found):
                if k in seen:
                    repeated += 1
                else:
                    seen.add(k)
                    keep.append(i)
            keys.extend(found[i] for i in keep)
            blocks.append(values[keep])
    if repeated:
        log.warning("calibrate: %d labelled key(s) appear more than once in the tags; the first "
                    "row of each is used", repeated)
    matrix = np.vstack(blocks) if blocks else np.zeros((0, len(columns)))
    return keys, matrix


def _bank(spec: dict[str, Any]):
    """The sexual-content prompt bank the run's clip tagger used (its class ids and flags)."""
    from profiler.models.prompts import load_prompt_bank

    settings = (spec.get("tagger_settings") or {}).get("clip") or {}
    return load_prompt_bank("sexual_content", settings.get("prompts_path"), kind="sexual_content")


def _provenance(root: Path, score: str, bank) -> dict[str, str]:
    """Model and prompt-bank versions the scores came from (stats.json, when the run has one)."""
    out: dict[str, str] = {"score_column": score}
    if bank is not None:
        out["prompt_bank"] = f"{bank.name} {bank.version}"
    try:
        versions = json.loads((root / "stats.json").read_text()).get("taxonomy_versions") or {}
    except (OSError, ValueError):
        return out
    prefix = score.split(".", 1)[0]
    model = versions.get(f"{prefix}.model")
    if model:
        out["model"] = str(model)
    if prefix == "nsfw" and versions.get("nsfw.weights_sha256"):
        out["weights_sha256"] = str(versions["nsfw.weights_sha256"])
    return out


def _summary(fits: dict[str, Fit], kind: str, fit_table: dict[str, Any]) -> str:
    """A short fixed-width table: one row per fitted score column."""
    header = (f"{'score':<28} {'threshold':>9} {'precision (95% CI)':>20} {'recall (95% CI)':>20} "
              f"{'F1':>6} {'ROC AUC':>8} {'PR AUC':>7} {'pos/neg':>9}")
    lines = [header, "-" * len(header)]
    for column, fit in fits.items():
        support = f"{fit.positives}/{fit.negatives}"
        lines.append(
            f"{column:<28} {fit.threshold:>9g} {_with_ci(fit.precision, fit.precision_ci):>20} "
            f"{_with_ci(fit.recall, fit.recall_ci):>20} {fit.f1:>6.3f} {fit.roc_auc:>8.3f} "
            f"{fit.pr_auc:>7.3f} {support:>9}")
    if kind == "classes":
        support = f"{fit_table['positives']}/{fit_table['negatives']}"
        lines.append(
            f"{'any sexual class (combined)':<28} {'':>9} {fit_table['precision']:>20.3f} "
            f"{fit_table['recall']:>20.3f} {fit_table['f1']:>6.3f} {'':>8} {'':>7} "
            f"{support:>9}")
    return "\n".join(lines)


def _with_ci(value: float, ci: tuple[float, float]) -> str:
    return f"{value:.3f} ({ci[0]:.2f}-{ci[1]:.2f})"
