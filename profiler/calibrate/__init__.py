"""`bias-profiler calibrate`: fit score thresholds on a few hundred hand-labelled samples of a run.

Zero-shot CLIP scores (and open_nsfw's) are not calibrated: the documented default cut-offs
(0.5 on `clip.sexual_score`, the prompt bank's; 0.8 on `nsfw.score`, the open_nsfw README's) say
nothing about precision on *your* data. A curator labels samples of a finished run (`key,label`
CSV); this module joins the labels with the run's tag files and fits:

  binary labels (1/0, true/false, yes/no, sexual/not_sexual): one threshold on a score column
      (`--score`, default `clip.sexual_score`; `nsfw.score` for the open_nsfw tagger);
  class ids of the prompt bank: one-vs-rest thresholds on `clip.prob.<class>` for each sexual
      class (the clip tagger then flags a row when any class reaches its cut).

The objective is maximum F1, or with a target precision the lowest threshold that reaches it
(most recall at that precision). The written cut is the shortest decimal between the chosen
sample score and the next lower one, so it classifies the labelled samples exactly as the fit
did. Metrics: precision, recall and F1 at the cut with Wilson 95% intervals, ROC AUC, average
precision (PR AUC), support, and a bootstrap interval of the threshold itself (refit on
resampled labels: how much the cut would move with other labels).

The thresholds file is small hand-written TOML (see `format_thresholds`); `load_thresholds`
reads it back for the taggers (`thresholds_path`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.errors import UserError
from profiler.files import atomic_write_bytes
from profiler.schema import KEY

log = logging.getLogger("profiler.calibrate")

DEFAULT_SCORE = "clip.sexual_score"
PROB_PREFIX = "clip.prob."
# Labels per side below which no threshold is fitted: F1 / precision would rest on a handful.
MIN_PER_SIDE = 5
# Below this many positives a fit is made but flagged as noisy.
FEW_POSITIVES = 30
BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_SEED = 0
TRUE_LABELS = ("1", "true", "yes", "sexual")
FALSE_LABELS = ("0", "false", "no", "not_sexual")
_BINARY_HINT = "1/0, true/false, yes/no or sexual/not_sexual"
_TOP_KEYS = {"version", "score", "threshold", "classes", "fit"}


# -- the thresholds file --------------------------------------------------------------------------

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
    """The TOML text of a thresholds file (scalars, arrays of numbers, nested tables only)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    top: dict[str, Any] = {"version": thresholds.version}
    if thresholds.score is not None:
        top["score"] = thresholds.score
    if thresholds.threshold is not None:
        top["threshold"] = thresholds.threshold
    if thresholds.classes:
        top["classes"] = thresholds.classes
    top["fit"] = thresholds.fit
    _toml_table(lines, "thresholds", top)
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_table(lines: list[str], name: str, table: dict[str, Any]) -> None:
    nested = {k: v for k, v in table.items() if isinstance(v, dict)}
    if len(nested) < len(table) or not table:  # a table of tables only needs no header of its own
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
    for key, value in table.items():
        if key not in nested:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in nested.items():
        _toml_table(lines, f"{name}.{_toml_key(key)}", value)


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes (\uXXXX, \", \\, \n, ...)
    return json.dumps(text, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest text that reads back as the same double
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to a thresholds file")


# -- fitting ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fit:
    """One fitted threshold and how it does on the labels it was fitted on."""

    threshold: float
    positives: int
    negatives: int
    true_positives: int
    false_positives: int
    precision: float
    recall: float
    f1: float
    precision_ci: tuple[float, float]
    recall_ci: tuple[float, float]
    roc_auc: float
    pr_auc: float
    threshold_ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "threshold": self.threshold, "positives": self.positives, "negatives": self.negatives,
            "true_positives": self.true_positives, "false_positives": self.false_positives,
        }
        for name in ("precision", "recall", "f1", "roc_auc", "pr_auc"):
            out[name] = round(float(getattr(self, name)), 6)
        out["precision_ci"] = [round(v, 6) for v in self.precision_ci]
        out["recall_ci"] = [round(v, 6) for v in self.recall_ci]
        if self.threshold_ci is not None:
            out["threshold_ci"] = [round(v, 6) for v in self.threshold_ci]
        return out


def fit_threshold(scores: np.ndarray, positive: np.ndarray, target_precision: float | None = None,
                  what: str = "the score", bootstrap: int = BOOTSTRAP_RESAMPLES) -> Fit:
    """Fit `score >= threshold` on labelled samples: max F1, or the lowest threshold whose
    precision reaches `target_precision`. Needs MIN_PER_SIDE positives and negatives."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from profiler.stats.rates import wilson

    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos < MIN_PER_SIDE or n_neg < MIN_PER_SIDE:
        side, count = ("positive", n_pos) if n_pos < MIN_PER_SIDE else ("negative", n_neg)
        raise UserError(f"{what}: only {count} {side} label(s) among {len(positive)} labelled samples; "
                        f"fitting needs at least {MIN_PER_SIDE} of each: label more {side} samples")
    threshold = _choose(scores, positive, target_precision, what)
    predicted = scores >= threshold
    tp = int((predicted & positive).sum())
    fp = int((predicted & ~positive).sum())
    precision, recall = tp / (tp + fp), tp / n_pos
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return Fit(
        threshold=threshold, positives=n_pos, negatives=n_neg, true_positives=tp, false_positives=fp,
        precision=precision, recall=recall, f1=f1,
        precision_ci=wilson(tp, tp + fp), recall_ci=wilson(tp, n_pos),
        roc_auc=float(roc_auc_score(positive, scores)),
        pr_auc=float(average_precision_score(positive, scores)),
        threshold_ci=_bootstrap_threshold(scores, positive, target_precision, bootstrap),
    )


def _choose(scores: np.ndarray, positive: np.ndarray, target: float | None, what: str) -> float:
    """The cut at a sample score (sklearn's curve), written as a short decimal below it."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, cuts = precision_recall_curve(positive, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no cut
    if target is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        index = int(np.argmax(f1))  # ties: the lowest cut (cuts ascend), i.e. the most recall
    else:
        reached = np.flatnonzero(precision >= target - 1e-12)
        if not len(reached):
            best = int(np.argmax(precision))
            raise UserError(
                f"{what}: no threshold reaches precision {target:g} on these labels (the best is "
                f"{precision[best]:.3f} at recall {recall[best]:.3f}): lower --target-precision "
                "or label more samples")
        index = int(reached[0])
    lower = float(cuts[index - 1]) if index > 0 else None
    return short_cut(float(cuts[index]), lower)


def short_cut(cut: float, lower: float | None) -> float:
    """The shortest decimal near the middle of (lower, cut]: the same decisions on every score
    outside that gap, compared in float64 or float32 (tag columns are float32)."""
    low = 0.0 if lower is None else lower
    if cut <= low:
        return cut
    middle = (low + cut) / 2

    def inside(value: float) -> bool:
        f32 = np.float32(value)
        return low < value <= cut and np.float32(low) < f32 <= np.float32(cut)

    for digits in range(1, 10):
        value = round(middle, digits)
        if inside(value):
            return value
    return cut


def _bootstrap_threshold(scores: np.ndarray, positive: np.ndarray, target: float | None,
                         resamples: int) -> tuple[float, float] | None:
    """2.5-97.5 percentiles of the threshold refitted on resampled labels (seeded)."""
    if resamples <= 0:
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    cuts = []
    for _ in range(resamples):
        pick = rng.integers(0, len(scores), len(scores))
        if positive[pick].all() or not positive[pick].any():
            continue
        try:
            cuts.append(_choose(scores[pick], positive[pick], target, ""))
        except UserError:  # the target precision is out of reach on this resample
            continue
    if len(cuts) < resamples // 2:
        return None
    low, high = np.percentile(cuts, [2.5, 97.5])
    return float(low), float(high)


# -- labels -----------------------------------------------------------------------------------

def read_labels(path: Path) -> dict[str, str]:
    """key -> label (stripped) from a CSV with `key` and `label` columns; repeated keys with the
    same label are kept once (warned), with different labels refused."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # spreadsheets write a byte-order mark
    except FileNotFoundError:
        raise UserError(f"labels file not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"labels file {path} is a folder: give a CSV file with key,label columns") from None
    except UnicodeDecodeError:
        raise UserError(f"labels file {path} is not UTF-8 text: save it as a UTF-8 CSV") from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as error:
        raise UserError(f"labels file {path} is not valid CSV: {error}") from None
    if not rows:
        raise UserError(f"labels file {path} is empty: write a header row key,label and one row per sample")
    header = [h.strip().lower() for h in rows[0]]
    if KEY not in header or "label" not in header:
        raise UserError(f"labels file {path} needs a header row with columns key and label "
                        f"(it has {', '.join(repr(h) for h in rows[0][:6]) or 'none'})")
    key_at, label_at = header.index(KEY), header.index("label")
    labels: dict[str, str] = {}
    first_row: dict[str, int] = {}
    repeated = 0
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        key = row[key_at].strip() if key_at < len(row) else ""
        label = row[label_at].strip() if label_at < len(row) else ""
        if not key or not label:
            what = "key" if not key else "label"
            raise UserError(f"labels file {path} line {number} has no {what}: fill it in or delete the line")
        if key in labels:
            if labels[key].lower() != label.lower():
                raise UserError(f"labels file {path}: key {key!r} is labelled {labels[key]!r} on line "
                                f"{first_row[key]} and {label!r} on line {number}: keep one")
            repeated += 1
            continue
        labels[key], first_row[key] = label, number
    if not labels:
        raise UserError(f"labels file {path} has a header but no labelled rows")
    if repeated:
        log.warning("labels: %d repeated key(s) with the same label were counted once", repeated)
    return labels


def label_kind(values: set[str], class_ids: list[str]) -> str:
    """"binary" or "classes"; unknown or mixed labels are user errors naming the valid ones."""
    lowered = {v.lower() for v in values}
    binary = set(TRUE_LABELS) | set(FALSE_LABELS)
    ids = {c.lower() for c in class_ids}
    if lowered <= binary:
        return "binary"
    if lowered <= ids:
        return "classes"
    unknown = sorted(v for v in values if v.lower() not in binary | ids)
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        classes = f" or class ids of the prompt bank ({', '.join(class_ids)})" if class_ids else ""
        raise UserError(f"unknown label(s) {shown}: use {_BINARY_HINT}{classes}")
    raise UserError("the labels mix binary values (yes/no, 1/0) and class ids: use one kind in a file")


# -- the command ------------------------------------------------------------------------------

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
