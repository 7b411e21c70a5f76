"""Test data and helpers for the engine tests: LAION-style shards with distinct contents."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from profiler.demo_data import generate_sample

BASE_ROWS = 24_000
TIMESTAMPS = ("created", "seconds")  # the only fields of stats.json allowed to differ


@lru_cache(maxsize=1)
def _base_table() -> pa.Table:
    """One generated demo shard per test session (generating is the slow part)."""
    with tempfile.TemporaryDirectory(prefix="bias-profiler-engine-") as cache:
        folder = generate_sample(Path(cache), shards=1, rows_per_shard=BASE_ROWS, seed=11)
        return pq.read_table(folder / "part-00000.parquet")


def write_shards(
    folder: Path, names: list[str], rows: int, keys: bool = True, row_group: int = 4096,
) -> list[Path]:
    """Shards `names` (relative paths, nested allowed) of `rows` rows each, each a different
    rotation of one generated demo shard, so no two shards hold the same rows in order."""
    base = _base_table()
    if not keys:
        base = base.drop_columns(["key"])
    paths = []
    for index, name in enumerate(names):
        start = (index * 7919) % base.num_rows
        picked = [(start + i) % base.num_rows for i in range(rows)]
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(base.take(pa.array(picked)), path, row_group_size=row_group)
        paths.append(path)
    return paths


def load_stats(run: Path) -> dict:
    return json.loads((run / "stats.json").read_text())


def comparable(stats: dict) -> dict:
    """stats.json without what may differ between two runs of the same input: timestamps."""
    stats = json.loads(json.dumps(stats))
    for key in TIMESTAMPS:
        stats["run"].pop(key, None)
    return stats


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "profiler", *args], capture_output=True,
                          text=True, timeout=timeout)


def tag_tables(run: Path) -> dict[str, pa.Table]:
    """Every tag file of a run, by its path relative to tags/."""
    root = run / "tags"
    return {p.relative_to(root).as_posix(): pq.read_table(p) for p in sorted(root.rglob("*.parquet"))}
