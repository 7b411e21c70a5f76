"""Zero-shot classification over embeddings: class embeddings from prompt ensembles, softmax scores.

Scoring precomputed image embeddings needs only the class embeddings (computed once with the
model's text tower, or loaded from a cache) and a matrix product: no model. torch is imported
inside `probabilities` for its matrix product, never when this module is imported.

Defaults (documented in the banks): `clip.sexual` = sexual score >= the bank's threshold (0.5
for the bundled sexual-content bank); `clip.identity_groups` = identity groups with probability
>= the bank's threshold (0.3 for the bundled identity bank). Both are uncalibrated.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from profiler.errors import UserError
from profiler.models.prompts import PromptBank

SEXUAL_SCORE = "clip.sexual_score"
SEXUAL_CLASS = "clip.sexual_class"
SEXUAL = "clip.sexual"
IDENTITY_GROUPS = "clip.identity_groups"
PROB_PREFIX = "clip.prob."  # + class id: per-class probabilities (for calibration)
# rows scored at a time: bounds the float32 copy of float16 input (128 MB at 512-d)
CHUNK_ROWS = 65536


def class_embeddings(encode: Callable[[list[str]], np.ndarray], bank: PromptBank) -> np.ndarray:
    """(classes, dim) unit vectors: per class, the mean of its normalized prompt embeddings,
    renormalized (CLIP's prompt ensembling)."""
    prompts = [p for c in bank.classes for p in c.prompts]
    owner = np.repeat(np.arange(len(bank.classes)), [len(c.prompts) for c in bank.classes])
    embedded = _unit_rows(np.asarray(encode(prompts), np.float64))
    sums = np.zeros((len(bank.classes), embedded.shape[1]))
    np.add.at(sums, owner, embedded)
    return _unit_rows(sums / np.bincount(owner)[:, None]).astype(np.float32)


@dataclass(frozen=True)
class ZeroShotClassifier:
    """Class embeddings of a bank under one model, and that model's softmax scale."""

    weights: np.ndarray  # (classes, dim), unit rows
    logit_scale: float
    bank: PromptBank
    model: str = "the model"

    def __post_init__(self) -> None:
        if self.weights.ndim != 2 or self.weights.shape[0] != len(self.bank.classes):
            raise ValueError("weights must be (classes, dim), one row per bank class")

    @classmethod
    def build(cls, encode: Callable[[list[str]], np.ndarray], bank: PromptBank,
              logit_scale: float, model: str = "the model") -> ZeroShotClassifier:
        return cls(class_embeddings(encode, bank), float(logit_scale), bank, model)

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    def check(self, embeddings: np.ndarray) -> None:
        """Embeddings must be (rows, the model's embedding dimension)."""
        shape = getattr(embeddings, "shape", ())
        if len(shape) != 2 or shape[1] != self.dim:
            got = shape[1] if len(shape) == 2 else f"shape {tuple(shape)}"
            raise UserError(
                f"embeddings have dimension {got} but {self.model} embeds in {self.dim}: "
                "score embeddings with the model that computed them (set model / pretrained to it)"
            )

    def probabilities(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, classes) float32 softmax probabilities at the logit scale, and the valid rows.

        Rows are normalized here (any scale is fine); zero, NaN or infinite rows are not valid
        and get NaN probabilities.
        """
        import torch  # its skinny product (MKL) is ~10x numpy's (OpenBLAS) here

        self.check(embeddings)
        n = embeddings.shape[0]
        # (classes, dim) row-major through F.linear: MKL's fast layout for this skinny product
        scaled = torch.from_numpy(np.ascontiguousarray(self.weights * self.logit_scale, np.float32))
        probs = np.empty((n, scaled.shape[0]), np.float32)
        valid = np.empty(n, bool)
        with torch.inference_mode(), warnings.catch_warnings():
            # read-only input (memory-mapped .npy, Arrow buffers) is never written to
            warnings.simplefilter("ignore", UserWarning)
            # float16 (LAION's img_emb) is converted into one reused buffer: a fresh float32
            # copy per chunk costs more in page faults than the conversion itself
            buffer = None
            for start in range(0, n, CHUNK_ROWS):
                chunk = torch.from_numpy(np.ascontiguousarray(embeddings[start : start + CHUNK_ROWS]))
                if chunk.dtype != torch.float32:
                    if buffer is None:
                        buffer = torch.empty(min(CHUNK_ROWS, n), self.dim)
                    chunk = buffer[: len(chunk)].copy_(chunk)
                norms = torch.linalg.vector_norm(chunk, dim=1)
                ok = torch.isfinite(norms) & (norms > 0)
                logits = torch.nn.functional.linear(chunk, scaled)
                logits /= torch.where(ok, norms, 1.0)[:, None]
                chunk_probs = torch.softmax(logits, dim=1)
                chunk_probs[~ok] = float("nan")
                probs[start : start + len(chunk)] = chunk_probs.numpy()
                valid[start : start + len(chunk)] = ok.numpy()
        return probs, valid


def sexual_columns(embeddings: np.ndarray, classifier: ZeroShotClassifier,
                   threshold: float | None = None, class_thresholds: Mapping[str, float] | None = None,
                   with_probs: bool = False) -> dict[str, pa.Array]:
    """`clip.sexual_score` (mass of the sexual classes), `clip.sexual_class` (argmax class) and
    `clip.sexual`; null for invalid rows. `clip.sexual` is score >= threshold (the bank's default
    when None); with calibrated `class_thresholds` ({class id: cut}) it is "some listed class
    reaches its cut" (or'ed with the score rule only when `threshold` is given too).
    `with_probs` adds `clip.prob.<class id>` columns (what `bias-profiler calibrate` fits on)."""
    if classifier.bank.kind != "sexual_content":
        raise UserError(f"prompt bank {classifier.bank.source} is not a sexual-content bank")
    probs, valid = classifier.probabilities(embeddings)
    score = probs @ classifier.bank.positive.astype(np.float32)
    np.clip(score, 0.0, 1.0, out=score)
    if class_thresholds:
        sexual = _class_rule(probs, classifier.bank, class_thresholds)
        if threshold is not None:
            sexual |= score >= _threshold(classifier.bank, threshold)
    else:
        sexual = score >= _threshold(classifier.bank, threshold)
    invalid = ~valid
    best = pa.array(probs.argmax(axis=1).astype(np.int32), mask=invalid)
    columns = {
        SEXUAL_SCORE: pa.array(score, pa.float32(), mask=invalid),
        SEXUAL_CLASS: pa.array(classifier.bank.ids, pa.string()).take(best),
        SEXUAL: pa.array(sexual, pa.bool_(), mask=invalid),
    }
    if with_probs:
        for i, class_id in enumerate(classifier.bank.ids):
            columns[PROB_PREFIX + class_id] = pa.array(probs[:, i], pa.float32(), mask=invalid)
    return columns


def _class_rule(probs: np.ndarray, bank: PromptBank, cuts: Mapping[str, float]) -> np.ndarray:
    unknown = sorted(set(cuts) - set(bank.ids))
    if unknown:
        raise UserError(f"class thresholds name classes {unknown} that prompt bank {bank.source} lacks "
                        f"(it has {', '.join(bank.ids)}): recalibrate with this bank")
    hit = np.zeros(len(probs), bool)
    for class_id, cut in cuts.items():
        hit |= probs[:, bank.ids.index(class_id)] >= _threshold(bank, cut)
    return hit


def identity_groups(probs: np.ndarray, valid: np.ndarray, bank: PromptBank,
                    threshold: float | None = None) -> pa.Array:
    """`clip.identity_groups`: per row, the group classes with probability >= threshold, in
    bank order; null for invalid rows."""
    cut = _threshold(bank, threshold)
    hit = (probs >= cut) & bank.positive[None, :]
    rows, cols = np.nonzero(hit)
    offsets = np.zeros(len(probs) + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=len(probs)), out=offsets[1:])
    values = pa.array(bank.ids, pa.string()).take(pa.array(cols.astype(np.int32)))
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(~valid))


def as_vectors(embeddings: np.ndarray) -> pa.Array:
    """(rows, dim) as a fixed-size list column (the embedding cache stores float16: half the size,
    and scoring the rounded values makes a re-tag from the cache identical to the first run)."""
    values = pa.array(np.ascontiguousarray(embeddings).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(values, embeddings.shape[1])


def as_matrix(column: pa.Array | pa.ChunkedArray | Sequence | np.ndarray) -> np.ndarray:
    """An embedding column (fixed-size list, list of floats, or an array) as a (rows, dim)
    float array; null rows become NaN rows (scored as invalid)."""
    if isinstance(column, np.ndarray):
        return column
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not isinstance(column, pa.Array):
        return np.asarray(column, np.float32)
    if pa.types.is_fixed_size_list(column.type):
        width = column.type.list_size
        values = column.values.slice(column.offset * width, len(column) * width)
        matrix = values.to_numpy(zero_copy_only=False).reshape(len(column), width)
        if column.null_count:
            matrix = matrix.astype(np.float32, copy=True)
            matrix[column.is_null().to_numpy(zero_copy_only=False)] = np.nan
        return matrix
    rows = column.to_pylist()  # variable-size lists: rare (readers give fixed-size lists)
    widths = {len(r) for r in rows if r is not None}
    if len(widths) > 1:
        raise UserError(f"embedding rows have different lengths {sorted(widths)[:5]}: one model's "
                        "embeddings have one dimension")
    width = widths.pop() if widths else 0
    return np.array([r if r is not None else [np.nan] * width for r in rows], np.float32)


def _threshold(bank: PromptBank, threshold: float | None) -> float:
    value = bank.threshold if threshold is None else threshold
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise UserError(f"threshold must be a number between 0 and 1, got {threshold!r}")
    return float(value)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
