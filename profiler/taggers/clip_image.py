"""clip tagger: sexualized content a CLIP model perceives in the IMAGE (model-perceived, zero-shot).

Input, per batch, the first that exists:
  1. `clip.image_embedding` handed back from the run's embedding cache (no image read),
  2. the canonical `image_embedding` column (LAION's precomputed img_emb; no image read),
  3. the canonical `image` bytes: decoded in worker processes and encoded by the image tower.
Embeddings are scored against the sexual-content prompt bank (`profiler/resources/prompts/
sexual_content.toml`): `clip.sexual_score`, `clip.sexual_class`, `clip.sexual`, and one
`clip.prob.<class>` column per class (what `bias-profiler calibrate` fits thresholds on).

A row whose image is missing or broken keeps its caption signals; `clip.problem` says why the
image could not be scored, and the clip signal is unobserved there (coverage in the report).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.errors import UserError
from profiler.models.loading import DEFAULT_MODEL, DEFAULT_PRETRAINED, load_model_cached
from profiler.models.prompts import load_prompt_bank
from profiler.models.zeroshot import (
    SEXUAL,
    SEXUAL_SCORE,
    ZeroShotClassifier,
    as_matrix,
    as_vectors,
    sexual_columns,
)
from profiler.schema import IMAGE, IMAGE_EMBEDDING
from profiler.taggers.base import (
    FilterRule,
    Score,
    Signal,
    StandardFilter,
    Tagger,
    as_numpy_bool,
    score_at_least,
)

PROBLEM = "clip.problem"
CACHED_EMBEDDING = "clip.image_embedding"  # float16 unit vectors in the embedding cache
CACHED_PROBLEM = "clip.image_problem"
INPUTS = ("auto", "images", "embeddings")
# Changes when decoding / preprocessing changes in a way that moves embeddings: cache identity.
PREPROCESSING = "open_clip-eval-transform+pil-draft/1"
# Rows per batch when image bytes are read: ~15 KB each, so a batch stays ~30-60 MB.
IMAGE_BATCH_ROWS = 2048


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError(f"[taggers.clip] {what} must be a non-negative integer, got {value!r}")
    return value


class ClipImageTagger(Tagger):
    """Settings come from the pipeline's `[taggers.clip]` table (or the CLI's model flags)."""

    name = "clip"
    problem_column = PROBLEM
    example_columns = (SEXUAL,)
    # the calibrated boolean when the run has it, else the score at 0.5
    standard_filters = (
        StandardFilter("clip", "CLIP: model-perceived sexual", "CLIP", (
            FilterRule("`clip.sexual`", (SEXUAL,), lambda tags: as_numpy_bool(tags.column(SEXUAL))),
            FilterRule("clip.sexual_score >= 0.5", (SEXUAL_SCORE,), score_at_least(SEXUAL_SCORE, 0.5)),
        ), rank=3),
    )
    declared_signals = (Signal(
        SEXUAL, "CLIP: sexualized image",
        "the image as a CLIP model perceives it scores at or above the threshold on the "
        "sexual-content prompt bank (model-perceived content, never identity)",
        lambda tags: as_numpy_bool(tags.column(SEXUAL)), expression="`clip.sexual`",
    ),)
    cached_columns = (CACHED_EMBEDDING, CACHED_PROBLEM)
    max_batch_rows = IMAGE_BATCH_ROWS

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        pretrained: str = DEFAULT_PRETRAINED,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 64,
        allow_random_weights: bool = False,
        prompts_path: str | None = None,
        threshold: float | None = None,
        class_thresholds: dict[str, float] | None = None,
        thresholds_path: str | None = None,
        cache_dir: str | None = None,
        decode_workers: int | None = None,
        input: str = "auto",
        embeddings_model: str | None = None,
    ):
        if _positive_int(batch_size, "batch_size") < 1:
            raise UserError("[taggers.clip] batch_size must be at least 1")
        if decode_workers is not None:
            _positive_int(decode_workers, "decode_workers")
        if input not in INPUTS:
            raise UserError(f"[taggers.clip] input must be one of {', '.join(INPUTS)}, got {input!r}")
        if embeddings_model is not None and embeddings_model != model:
            raise UserError(
                f"[taggers.clip] the embeddings were computed by {embeddings_model} but the model is "
                f"{model}: set model (and pretrained) to the model that computed them"
            )
        self.input = input
        self.bank = load_prompt_bank("sexual_content", prompts_path, kind="sexual_content")
        self.thresholds = _thresholds(threshold, class_thresholds, thresholds_path)
        self.loaded = load_model_cached(
            model, pretrained, device, precision, bool(allow_random_weights), cache_dir
        )
        from profiler.models.text import TextEncoder

        info = self.loaded.info
        self.classifier = ZeroShotClassifier.build(
            TextEncoder(self.loaded).encode, self.bank, info.logit_scale, info.name
        )
        # a threshold naming an unknown class fails here, before any shard runs
        sexual_columns(np.zeros((0, self.classifier.dim), np.float32), self.classifier,
                       self.thresholds["threshold"], self.thresholds["classes"])
        self.batch_size = batch_size
        self.decode_workers = decode_workers
        self._encoder = None
        self._encoder_lock = threading.Lock()
        self.one_of = ((IMAGE_EMBEDDING, IMAGE),) if input == "auto" else (
            ((IMAGE,),) if input == "images" else ((IMAGE_EMBEDDING,),)
        )
        # read by the Ray engine to place this tagger's shards on GPU nodes
        self.num_gpus = 1 if info.device.startswith("cuda") else 0

    # -- the contract ----------------------------------------------------------------------------

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        names = batch.schema.names
        cached = None
        if CACHED_EMBEDDING in names:
            embeddings = as_matrix(batch.column(CACHED_EMBEDDING))
            problems = batch.column(CACHED_PROBLEM)
        elif IMAGE_EMBEDDING in names and self.input != "images":
            embeddings = as_matrix(batch.column(IMAGE_EMBEDDING))
            self.classifier.check(embeddings)
            problems = None
        elif IMAGE in names and self.input != "embeddings":
            embeddings, reasons = self._encode_images(batch.column(IMAGE))
            # scored as stored in the cache, so re-tagging from the cache gives identical tags
            embeddings = embeddings.astype(np.float16)
            problems = pa.array(reasons, pa.string())
            cached = {CACHED_EMBEDDING: as_vectors(embeddings), CACHED_PROBLEM: problems}
        else:
            missing = IMAGE_EMBEDDING if self.input == "embeddings" else IMAGE
            embeddings = np.full((batch.num_rows, self.classifier.dim), np.nan, np.float32)
            problems = pa.array([f"missing_column:{missing}"] * batch.num_rows, pa.string())
        columns = sexual_columns(embeddings, self.classifier, self.thresholds["threshold"],
                                 self.thresholds["classes"], with_probs=True)
        unscored = columns[SEXUAL_SCORE].is_null()
        if problems is None:
            problems = pc.if_else(unscored, "embedding_invalid", pa.scalar(None, pa.string()))
        else:  # a decoded image can still embed to NaN (a model fault): never leave it unexplained
            problems = pc.if_else(pc.and_(unscored, problems.is_null()), "embedding_invalid", problems)
        columns[PROBLEM] = problems
        if cached is not None:
            columns.update(cached)
        return columns

    def _encode_images(self, images: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
        from profiler.images.pipeline import ImageEncoder

        if not (pa.types.is_binary(images.type) or pa.types.is_large_binary(images.type)):
            # a drifted image column (text, numbers): every row unscorable, not a crash
            return (np.full((len(images), self.classifier.dim), np.nan, np.float32),
                    ["image_not_bytes"] * len(images))
        with self._encoder_lock:  # one encoder per process; its pool and the model are shared
            if self._encoder is None:
                self._encoder = ImageEncoder(self.loaded, self.batch_size, self.decode_workers)
            return self._encoder.encode(images.to_pylist())

    def scores(self) -> tuple[Score, ...]:
        return (Score(SEXUAL_SCORE, SEXUAL_SCORE),)

    def cache_identity(self) -> str:
        """Cached embeddings are reusable by the same weights with the same preprocessing."""
        info = self.loaded.info
        return f"{info.version_string()} sha256={info.checkpoint_sha256} preprocessing={PREPROCESSING}"

    def inputs_from_cache(self) -> tuple[str, ...]:
        return (IMAGE, IMAGE_EMBEDDING)

    def versions(self) -> dict[str, str]:
        out = {self.bank.name: self.bank.version, "clip.model": self.loaded.info.version_string()}
        if self.thresholds["version"]:
            out["clip.thresholds"] = self.thresholds["version"]
        return out

    def configuration(self) -> dict[str, Any]:
        return {k: v for k, v in self.describe().items() if k != "image_encoding"}

    def describe(self) -> dict[str, Any]:
        encoder = self._encoder.describe() if self._encoder is not None else None
        return {
            "model": self.loaded.info.to_dict(),
            "prompt_bank": self.bank.describe(),
            "thresholds": {k: v for k, v in self.thresholds.items() if v is not None},
            "input": self.input,
            "batch_size": self.batch_size,
            "decode_workers": self.decode_workers,
            **({"image_encoding": encoder} if encoder else {}),
            "signal": "model-perceived sexualized content of the image (zero-shot, prompt ensembles)",
        }


def _thresholds(threshold: float | None, classes: dict[str, float] | None,
                path: str | None) -> dict[str, Any]:
    """Cut-offs in force: explicit settings win over a calibrated thresholds file."""
    calibrated: dict[str, Any] = {"threshold": None, "classes": {}, "version": None, "fit": None}
    if path is not None:
        from profiler.taggers.thresholds import load_thresholds

        loaded = load_thresholds(path, expect_score="clip")
        calibrated = {"threshold": loaded.threshold, "classes": dict(loaded.classes),
                      "version": loaded.version, "fit": loaded.fit}
    if threshold is not None:
        calibrated["threshold"] = threshold
    if classes is not None:
        if not isinstance(classes, dict):
            raise UserError("[taggers.clip] class_thresholds must be a table of class id = cut-off")
        calibrated["classes"] = dict(classes)
    return calibrated
