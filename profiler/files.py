"""Atomic file writes: a crash never leaves a half-written result behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any, compact: bool = False) -> None:
    """Indented for people to read; `compact` for files only the tool reads (a shard's parts),
    which json's C encoder writes about 5x faster (indenting takes its pure-Python path)."""
    text = json.dumps(data, separators=(",", ":")) if compact else json.dumps(data, indent=1)
    atomic_write_bytes(path, text.encode("utf-8"))
