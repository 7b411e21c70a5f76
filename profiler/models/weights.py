"""Where a model's weights come from, decided before anything slow happens.

open_clip downloads pretrained weights on first use. Offline, huggingface_hub and urllib would
retry or hang for a long time before failing, so the cache is looked up first (no network) and
a download is attempted only when the hub answers a quick probe. The probe is an HTTP request
through the client huggingface_hub itself downloads with, so it goes wherever the download would:
through HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, around them for NO_PROXY hosts. Every failure is a
one-line UserError that names the model and how to supply weights.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from profiler.errors import UserError

RANDOM = "none"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")
PROBE_SECONDS = 3.0
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class WeightsSource:
    """What to build: `path` is a local checkpoint file, or None for random weights."""

    pretrained: str  # as the user gave it: a tag, a checkpoint path, or "none"
    path: str | None  # what open_clip.create_model is given as `pretrained`
    random: bool = False
    # preprocessing the tag was trained with (mean, std, interpolation, resize mode)
    preprocess: dict[str, Any] = field(default_factory=dict)
    checkpoint_file: str | None = None  # the file read, when open_clip finds it (local-dir:)

    @property
    def file(self) -> str | None:
        """The checkpoint file whose hash names these weights."""
        return self.checkpoint_file or self.path


def resolve_weights(
    model: str, pretrained: str | None, *, cache_dir: str | None = None,
    allow_random_weights: bool = False,
) -> WeightsSource:
    """Decide the checkpoint file for `model` + `pretrained`, downloading only when online."""
    value = str(pretrained if pretrained is not None else "").strip()
    if not value:
        raise UserError(
            f"model {model}: pretrained is empty: give a pretrained tag, a checkpoint file path, "
            "or 'none' (random weights, with allow_random_weights)"
        )
    if value.lower() == RANDOM:
        if not allow_random_weights:
            raise UserError(
                f"model {model}: pretrained 'none' builds random weights, whose scores mean nothing; "
                "pass allow_random_weights = true (--allow-random-weights) only for tests and benchmarks"
            )
        return WeightsSource(RANDOM, None, random=True)
    if _looks_like_path(value):
        return WeightsSource(value, _checkpoint_file(model, value))
    return _from_tag(model, value, cache_dir)


def local_dir_weights(model: str) -> WeightsSource:
    """`local-dir:/folder` (open_clip_config.json + weights, a downloaded hub repository): the
    folder's checkpoint, which open_clip picks itself; `pretrained` does not apply."""
    from open_clip.factory import _find_checkpoint_in_dir

    folder = Path(model.split(":", 1)[1]).expanduser()
    if not (folder / "open_clip_config.json").is_file():
        raise UserError(f"model {model}: no open_clip_config.json in {folder} (a local-dir: model is "
                        "a folder holding open_clip_config.json and its weights)")
    checkpoint = _find_checkpoint_in_dir(folder)
    if checkpoint is None:
        raise UserError(f"model {model}: no checkpoint (.safetensors, .bin, .pth) in {folder}")
    return WeightsSource(f"local-dir:{checkpoint}", None, checkpoint_file=str(checkpoint))


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a checkpoint file (stamped into results so a run names its exact weights)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 23):
            digest.update(chunk)
    return digest.hexdigest()


def hub_offline() -> bool:
    """HF_HUB_OFFLINE as set now, or as huggingface_hub read it at import."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub ships with open_clip
        return False
    return bool(constants.HF_HUB_OFFLINE)


# -- checkpoint files ------------------------------------------------------------------------------


def _looks_like_path(value: str) -> bool:
    """Separators, ~ or . prefixes, or a checkpoint suffix: never an open_clip tag."""
    return (
        os.sep in value or "/" in value or value.startswith(("~", "."))
        or value.lower().endswith(CHECKPOINT_SUFFIXES)
    )


def _checkpoint_file(model: str, value: str) -> str:
    path = Path(value).expanduser()
    if path.is_dir():
        raise UserError(
            f"model {model}: pretrained {value} is a folder: give the checkpoint file inside it "
            "(e.g. open_clip_pytorch_model.bin)"
        )
    if not path.is_file():
        raise UserError(f"model {model}: checkpoint file not found: {value} (check the path)")
    return str(path.resolve())


# -- pretrained tags -------------------------------------------------------------------------------


def _from_tag(model: str, tag: str, cache_dir: str | None) -> WeightsSource:
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, tag)
    if not cfg and os.path.isfile(tag):  # a checkpoint file named like a tag ("weights")
        return WeightsSource(tag, _checkpoint_file(model, tag))
    if not cfg:
        known = open_clip.list_pretrained_tags_by_model(model)
        choices = f"known tags: {', '.join(known)}" if known else "open_clip knows no tags for it"
        raise UserError(
            f"model {model}: unknown pretrained tag {tag!r} ({choices}); or give a checkpoint file path"
        )
    preprocess = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    cached = _cached_file(cfg, cache_dir)
    if cached:
        return WeightsSource(tag, cached, preprocess=preprocess)
    where = _hub_host(cfg)
    if hub_offline() or not reachable(_hub_url(cfg)):
        cache = cache_dir or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        raise UserError(
            f"model {model} pretrained {tag!r}: no cached weights and {where} is unreachable "
            f"(offline); give a local checkpoint (pretrained = '/path/to/checkpoint.bin'), or run once "
            f"online to cache it, or point HF_HOME / cache_dir at a cache that holds it (looked in {cache})"
        )
    try:
        path = open_clip.download_pretrained(cfg, cache_dir=cache_dir)
    except Exception as error:  # network errors come in many types; all mean the same to the user
        raise UserError(
            f"model {model} pretrained {tag!r}: download failed ({first_line(error)}); "
            "give a local checkpoint path instead"
        ) from None
    return WeightsSource(tag, str(path), preprocess=preprocess)


def _cached_file(cfg: dict[str, Any], cache_dir: str | None) -> str | None:
    """The tag's checkpoint if a previous download left it in the cache (no network)."""
    if cfg.get("file"):
        return str(cfg["file"]) if os.path.isfile(cfg["file"]) else None
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(hub)
        for name in _hub_filenames(filename):
            found = try_to_load_from_cache(repo, name, cache_dir=cache_dir)
            if isinstance(found, str) and os.path.isfile(found):
                return found
    url = cfg.get("url", "")
    if url:
        target = Path(cache_dir or os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if target.is_file():
            return str(target)
    return None


def _hub_filenames(filename: str) -> list[str]:
    """The names open_clip tries on the hub, safetensors first."""
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    filename = filename or HF_WEIGHTS_NAME
    names = []
    if filename == HF_WEIGHTS_NAME:
        names.append(HF_SAFE_WEIGHTS_NAME)
    elif filename.endswith((".bin", ".pth")):
        names.append(filename[:-4] + ".safetensors")
    return [*names, filename]


def _hub_host(cfg: dict[str, Any]) -> str:
    if cfg.get("hf_hub"):
        try:
            from huggingface_hub import constants

            return urlparse(constants.ENDPOINT).hostname or "huggingface.co"
        except ImportError:  # pragma: no cover
            return "huggingface.co"
    return urlparse(cfg.get("url", "")).hostname or "the download host"


def _hub_url(cfg: dict[str, Any]) -> str:
    """Where the download would go: the hub endpoint, or the tag's download URL."""
    if cfg.get("hf_hub"):
        try:
            from huggingface_hub import constants

            return constants.ENDPOINT
        except ImportError:  # pragma: no cover
            return "https://huggingface.co"
    return cfg.get("url", "") or "https://huggingface.co"


def reachable(url: str, seconds: float = PROBE_SECONDS) -> bool:
    """Any HTTP answer from `url` within `seconds` (DNS included, which can hang offline), asked
    through huggingface_hub's HTTP client: the proxy settings of the environment apply, as they
    do to the download itself."""
    outcome: list[bool] = []

    def probe() -> None:
        try:
            session = _http_session()
            session.head(url, timeout=seconds, follow_redirects=False)
            outcome.append(True)
        except Exception:  # connection, proxy, TLS, timeout: all mean "not now"
            outcome.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(seconds)
    return bool(outcome and outcome[0])


def _http_session() -> Any:
    """huggingface_hub's shared HTTP client (it reads the proxy variables; a dependency of
    open_clip)."""
    from huggingface_hub.utils import get_session

    return get_session()


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 200 else line[:197] + "..."
