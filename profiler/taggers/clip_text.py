"""clip_text tagger: identity groups a CLIP text tower perceives in the caption (model-perceived).

A secondary signal beside the identity lexicon: the caption's embedding is scored against the
identity prompt bank (`profiler/resources/prompts/identity.toml`); `clip.identity_groups` lists
the groups whose probability reaches the threshold. It reads the caption's words only, never a
face, and says what the model associates with the text, not who is depicted.

Caption embeddings go to the run's embedding cache (`clip_text.caption_embedding`, float16), so
a new identity bank or threshold re-tags without running the text tower again.

torch and open_clip load when the tagger is built, never when this module is imported, so the
caption path stays light.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from profiler.errors import UserError
from profiler.models.loading import DEFAULT_MODEL, DEFAULT_PRETRAINED, load_model_cached
from profiler.models.prompts import load_prompt_bank
from profiler.models.zeroshot import (
    IDENTITY_GROUPS,
    ZeroShotClassifier,
    as_matrix,
    as_vectors,
    identity_groups,
)
from profiler.schema import CAPTION
from profiler.taggers.base import Tagger

CACHED_EMBEDDING = "clip_text.caption_embedding"
# Changes when tokenization changes in a way that moves embeddings: part of the cache identity.
TEXT_PREPROCESSING = "open_clip-tokenizer/1"


class ClipTextTagger(Tagger):
    """Settings come from the pipeline's `[taggers.clip_text]` table."""

    name = "clip_text"
    requires = (CAPTION,)
    cached_columns = (CACHED_EMBEDDING,)
    compared_groups = IDENTITY_GROUPS  # model-perceived groups, compared with the lexicon's

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        pretrained: str = DEFAULT_PRETRAINED,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 256,
        allow_random_weights: bool = False,
        prompts_path: str | None = None,
        threshold: float | None = None,
        cache_dir: str | None = None,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise UserError(f"[taggers.clip_text] batch_size must be a positive integer, got {batch_size!r}")
        self.bank = load_prompt_bank("identity", prompts_path, kind="identity")
        self.threshold = self.bank.threshold if threshold is None else threshold
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not (
            0.0 <= self.threshold <= 1.0
        ):
            raise UserError(f"[taggers.clip_text] threshold must be between 0 and 1, got {threshold!r}")
        from profiler.models.text import TextEncoder

        self.loaded = load_model_cached(
            model, pretrained, device, precision, bool(allow_random_weights), cache_dir
        )
        self.encoder = TextEncoder(self.loaded, batch_size=batch_size)
        info = self.loaded.info
        self.classifier = ZeroShotClassifier.build(
            self.encoder.encode, self.bank, info.logit_scale, info.name
        )
        # read by the Ray engine to place this tagger's shards on GPU nodes
        self.num_gpus = 1 if info.device.startswith("cuda") else 0

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        if CACHED_EMBEDDING in batch.schema.names:
            embeddings = as_matrix(batch.column(CACHED_EMBEDDING))
            cached = {}
        else:
            embeddings = self._encode(batch.column(CAPTION).to_pylist())
            cached = {CACHED_EMBEDDING: as_vectors(embeddings)}
        probs, valid = self.classifier.probabilities(embeddings)
        return {IDENTITY_GROUPS: identity_groups(probs, valid, self.bank, self.threshold), **cached}

    def _encode(self, texts: list[str | None]) -> np.ndarray:
        """float16 caption embeddings (NaN rows for null captions), as the cache stores them."""
        embeddings = np.full((len(texts), self.classifier.dim), np.nan, np.float16)
        present = np.array([t is not None for t in texts], bool)
        if present.any():
            embeddings[present] = self.encoder.encode([t for t in texts if t is not None])
        return embeddings

    def cache_identity(self) -> str:
        """Cached caption embeddings are reusable by the same weights with the same tokenizer."""
        info = self.loaded.info
        return f"{info.version_string()} sha256={info.checkpoint_sha256} text={TEXT_PREPROCESSING}"

    def versions(self) -> dict[str, str]:
        return {self.bank.name: self.bank.version, "clip_text.model": self.loaded.info.version_string()}

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.loaded.info.to_dict(),
            "prompt_bank": self.bank.describe(),
            "threshold": float(self.threshold),
            "text_encoding": self.encoder.mode,
            "batch_size": self.encoder.batch_size,
            "signal": "model-perceived identity groups from the caption text (secondary to the lexicon)",
        }
