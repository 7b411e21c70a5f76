"""open_clip is used through a private helper (open_clip.factory._find_checkpoint_in_dir), so its
requirement is pinned below the next major version, and the helper must exist in the version
installed: a new major cannot break `local-dir:` models unnoticed."""

from __future__ import annotations

import importlib
import re
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PRIVATE_IMPORT = re.compile(r"from (open_clip[\w.]*) import (_\w+)")


def requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    listed = [*project.get("dependencies", [])]
    for extra in project.get("optional-dependencies", {}).values():
        listed += extra
    return [Requirement(r) for r in listed]


def test_open_clip_is_pinned_below_the_next_major_and_installed_within():
    pins = [r for r in requirements() if r.name.replace("_", "-") == "open-clip-torch"]
    assert pins, "open_clip_torch is not declared in pyproject.toml"
    for pin in pins:
        uppers = [s for s in pin.specifier if s.operator in ("<", "<=", "~=", "==")]
        assert uppers, f"{pin} has no upper bound: a new open_clip major could break its private helpers"
    pytest.importorskip("open_clip")
    installed = version("open_clip_torch")
    assert all(pin.specifier.contains(installed, prereleases=True) for pin in pins), installed


def test_every_private_open_clip_name_used_exists_in_the_installed_version():
    pytest.importorskip("open_clip")
    used = {match for path in (REPO / "profiler").rglob("*.py")
            for match in PRIVATE_IMPORT.findall(path.read_text(encoding="utf-8"))}
    assert used  # the scan finds the helper this pin is for
    for module, name in sorted(used):
        assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone"
