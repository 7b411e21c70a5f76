"""The run folder: per-shard partial results with completion markers, written atomically.

    <out>/run.json                    the spec and the fingerprint of what produced the parts
    <out>/parts/<shard>.counts.json   the shard's mergeable counts
    <out>/parts/<shard>.examples.json a few caption snippets per group
    <out>/parts/<shard>.done          written last: the shard is complete
    <out>/tags/<shard>.parquet        per-sample tags, keyed like the input rows
    <out>/stats.json, index.html, tables/*.csv, run.log
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from profiler.errors import UserError
from profiler.files import atomic_write_bytes, atomic_write_json


def fingerprint(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


class RunFolder:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.parts = self.root / "parts"
        self.tags = self.root / "tags"

    def prepare(self, config_fingerprint: str, spec_json: dict[str, Any], overwrite: bool) -> None:
        """Create the folder; refuse to mix parts made by a different configuration."""
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
            self.tags.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"cannot write the output folder {self.root}: {error.strerror}") from None
        if not os.access(self.root, os.W_OK):
            raise UserError(f"cannot write the output folder {self.root}: permission denied")
        run_file = self.root / "run.json"
        if run_file.exists():
            previous = json.loads(run_file.read_text()).get("fingerprint")
            if previous != config_fingerprint:
                if not overwrite:
                    raise UserError(
                        f"{self.root} holds a run with other taggers or settings: "
                        "choose another --out, or pass --overwrite to replace it"
                    )
                self.clear()
        atomic_write_json(run_file, {"fingerprint": config_fingerprint, "spec": spec_json})

    def clear(self) -> None:
        for folder in (self.parts, self.tags):
            for file in folder.iterdir():
                file.unlink()

    def counts_path(self, shard_id: str) -> Path:
        return self.parts / f"{shard_id}.counts.json"

    def examples_path(self, shard_id: str) -> Path:
        return self.parts / f"{shard_id}.examples.json"

    def done_path(self, shard_id: str) -> Path:
        return self.parts / f"{shard_id}.done"

    def tags_path(self, shard_id: str) -> Path:
        return self.tags / f"{shard_id}.parquet"

    def is_done(self, shard_id: str) -> bool:
        return self.done_path(shard_id).exists()

    def mark_done(self, shard_id: str) -> None:
        atomic_write_bytes(self.done_path(shard_id), b"ok\n")
