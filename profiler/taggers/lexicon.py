"""Load versioned TOML lexicons (package data or a user's file) with clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from profiler.errors import UserError
from profiler.resources import resource_path
from profiler.tomlcompat import read_toml_file

# Lexicons written before languages were declared are English.
DEFAULT_LANGUAGES = ("en",)


def load_lexicon(name: str, path: str | Path | None = None) -> dict[str, Any]:
    """Parse a lexicon TOML: the bundled `<name>.toml`, or the user's file at `path`."""
    source = Path(path) if path else resource_path("lexicons", f"{name}.toml")
    data, raw = read_toml_file(source, "lexicon file", "check the path in your config")
    meta = data.get("meta", {})
    if not meta.get("version"):
        raise UserError(f"lexicon {source} has no [meta] version: add version = \"...\"")
    data.setdefault("meta", meta).setdefault("name", name)
    data["meta"]["source"] = str(source) if path else f"builtin:{name}"
    data["meta"]["sha256"] = hashlib.sha256(raw).hexdigest()[:16]
    data["meta"]["languages"] = _languages(meta.get("languages", list(DEFAULT_LANGUAGES)), source)
    return data


def _languages(value: Any, source: Path) -> list[str]:
    """The declared languages as lower-case codes; rows in other languages are not covered."""
    if not isinstance(value, list) or not value or not all(
        isinstance(code, str) and code.strip() for code in value
    ):
        raise UserError(f'lexicon {source}: [meta] languages must be a non-empty list of language '
                        f'codes, e.g. languages = ["en"]')
    return [code.strip().lower() for code in value]


def require(data: dict[str, Any], dotted: str) -> Any:
    """Fetch a required key, raising a UserError that names the lexicon and the key."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise UserError(f"lexicon {data['meta']['source']} lacks [{dotted}]")
        node = node[part]
    return node
