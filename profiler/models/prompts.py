"""Zero-shot prompt banks: versioned TOML (package data, or the user's file) -> PromptBank.

A bank lists classes; each class's prompts are every `templates` entry filled with each of its
`descriptions` ("a photo of {}." x "a person in lingerie"), plus any verbatim `prompts`: the
prompt ensemble whose mean embedding is the class. Each class says whether it counts: `sexual`
in a sexual-content bank (its probability adds to the sexual score), `group` in an identity bank
(the class id is an identity group). `[meta] version` is stamped into results.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from profiler.errors import UserError
from profiler.resources import resource_path
from profiler.tomlcompat import read_toml_file

# bank kind -> the boolean each class must carry
KINDS = {"sexual_content": "sexual", "identity": "group"}
_CLASS_KEYS = {"label", "descriptions", "prompts"}
_META_KEYS = {"name", "version", "kind", "threshold", "description"}


@dataclass(frozen=True)
class PromptClass:
    id: str
    label: str
    prompts: tuple[str, ...]
    positive: bool  # sexual (sexual-content bank) / an identity group (identity bank)


@dataclass(frozen=True)
class PromptBank:
    name: str
    version: str
    kind: str
    threshold: float  # the documented default cut-off for this bank's boolean output
    classes: tuple[PromptClass, ...]
    source: str
    sha256: str

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.classes]

    @property
    def positive(self) -> np.ndarray:
        return np.array([c.positive for c in self.classes], bool)

    def describe(self) -> dict[str, Any]:
        flag = KINDS[self.kind]
        return {
            "name": self.name, "version": self.version, "source": self.source, "sha256": self.sha256,
            "threshold": self.threshold,
            "classes": {c.id: {"label": c.label, flag: c.positive, "prompts": len(c.prompts)}
                        for c in self.classes},
        }


def load_prompt_bank(name: str, path: str | Path | None = None, kind: str | None = None) -> PromptBank:
    """The bundled `prompts/<name>.toml`, or the user's file at `path`; `kind` is checked."""
    source = Path(path).expanduser() if path else resource_path("prompts", f"{name}.toml")
    label = str(source) if path else f"builtin:prompts/{name}"
    data, raw = read_toml_file(source, "prompt bank", "check prompts_path in your config")
    bank = _parse(data, label, hashlib.sha256(raw).hexdigest()[:16])
    if kind is not None and bank.kind != kind:
        raise UserError(f"prompt bank {label} is a {bank.kind!r} bank; this tagger needs kind = {kind!r}")
    return bank


def _parse(data: dict[str, Any], source: str, sha256: str) -> PromptBank:
    def fail(message: str) -> UserError:
        return UserError(f"prompt bank {source}: {message}")

    meta = data.get("meta", {})
    unknown = set(meta) - _META_KEYS
    if unknown:
        raise fail(f"unknown [meta] key(s) {sorted(unknown)}: use {sorted(_META_KEYS)}")
    if not meta.get("version"):
        raise fail('no [meta] version: add version = "..."')
    kind = meta.get("kind")
    if kind not in KINDS:
        raise fail(f"[meta] kind must be one of {sorted(KINDS)}, got {kind!r}")
    threshold = meta.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise fail(f"[meta] threshold must be a number between 0 and 1, got {threshold!r}")
    templates = data.get("templates", ["{}"])
    if not isinstance(templates, list) or not templates or not all(
        isinstance(t, str) and "{}" in t for t in templates
    ):
        raise fail('templates must be a list of strings, each with a "{}" for the description')
    tables = data.get("classes")
    if not isinstance(tables, dict) or len(tables) < 2:
        raise fail("needs at least two [classes.<id>] tables")
    flag = KINDS[kind]
    classes = tuple(_class(cid, table, templates, flag, fail) for cid, table in tables.items())
    if not any(c.positive for c in classes) or all(c.positive for c in classes):
        raise fail(f"needs classes with {flag} = true and classes with {flag} = false")
    return PromptBank(
        name=str(meta.get("name") or kind), version=str(meta["version"]), kind=kind,
        threshold=float(threshold), classes=classes, source=source, sha256=sha256,
    )


def _class(cid: str, table: Any, templates: list[str], flag: str, fail) -> PromptClass:
    if not isinstance(table, dict):
        raise fail(f"classes.{cid} must be a table")
    unknown = set(table) - _CLASS_KEYS - {flag}
    if unknown:
        raise fail(f"classes.{cid}: unknown key(s) {sorted(unknown)}: use {sorted(_CLASS_KEYS | {flag})}")
    if not isinstance(table.get(flag), bool):
        raise fail(f"classes.{cid} needs {flag} = true or false")
    descriptions = _strings(table.get("descriptions", []), f"classes.{cid}.descriptions", fail)
    verbatim = _strings(table.get("prompts", []), f"classes.{cid}.prompts", fail)
    prompts = [t.replace("{}", d) for d in descriptions for t in templates] + verbatim
    if not prompts:
        raise fail(f"classes.{cid} has no descriptions or prompts")
    return PromptClass(cid, str(table.get("label", cid)), tuple(dict.fromkeys(prompts)), table[flag])


def _strings(value: Any, where: str, fail) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(f"{where} must be a list of non-empty strings")
    return [v.strip() for v in value]
