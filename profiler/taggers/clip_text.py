"""clip_text tagger: identity groups a CLIP text tower perceives in the caption (model-perceived).

A secondary signal beside the identity lexicon: the caption's embedding is scored against the
identity prompt bank (`profiler/resources/prompts/identity.toml`); `clip.identity_groups` lists
the groups whose probability reaches the threshold. It reads the caption's words only, never a
face, and says what the model associates with the text, not who is depicted.

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
from profiler.models.zeroshot import IDENTITY_GROUPS, ZeroShotClassifier, identity_groups
from profiler.schema import CAPTION
from profiler.taggers.base import Tagger


class ClipTextTagger(Tagger):
    """Settings come from the pipeline's `[taggers.clip_text]` table."""

    name = "clip_text"
    requires = (CAPTION,)

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
        captions = batch.column(CAPTION)
        texts = captions.to_pylist()
        present = np.array([t is not None for t in texts], bool)
        n = len(texts)
        probs = np.full((n, len(self.bank.classes)), np.nan, np.float32)
        valid = np.zeros(n, bool)
        if present.any():
            embedded = self.encoder.encode([t for t in texts if t is not None])
            probs[present], valid[present] = self.classifier.probabilities(embedded)
        return {IDENTITY_GROUPS: identity_groups(probs, valid, self.bank, self.threshold)}

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
