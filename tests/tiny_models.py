"""Tiny random-weight open_clip models for tests (no hub, no downloads).

A model config is registered with `open_clip.add_model_config`, and a checkpoint is written with
`torch.save(state_dict)`, so tests load it by path through the real loading code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

TINY_MODEL = "tiny-test-clip"


def tiny_config(embed_dim: int = 32, **text_overrides: Any) -> dict[str, Any]:
    """A tiny ViT + tiny text tower with CLIP's tokenizer (vocab 49408, context 77)."""
    text = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}
    text.update(text_overrides)
    return {
        "embed_dim": embed_dim,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": text,
    }


def register_model(folder: str | Path, name: str = TINY_MODEL, config: dict[str, Any] | None = None) -> str:
    """Write `<name>.json` into `folder` and register it with open_clip; returns the name."""
    import open_clip

    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config or tiny_config()))
    open_clip.add_model_config(path)
    return name


def write_checkpoint(name: str, path: str | Path, seed: int = 0, logit_scale: float | None = None) -> Path:
    """A random-weight state_dict of model `name`, saved with torch.save (tensors only).

    `logit_scale` overrides the model's softmax scale (exp of the stored log value).
    """
    import open_clip
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(name, pretrained=None)
    state = model.state_dict()
    if logit_scale is not None:
        state["logit_scale"] = torch.full_like(state["logit_scale"], math.log(logit_scale))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path
