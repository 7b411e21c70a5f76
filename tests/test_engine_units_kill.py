"""A real `kill -9` of `bias-profiler profile` in the middle of one big multi-row-group file, then
the same command: the units completed before the kill are not redone, and stats.json equals an
uninterrupted run's and that of the same rows spread over many files."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.engine_data import cli, comparable, load_stats, write_shards
from tests.test_engine_kill import start_and_kill
from tests.test_engine_units import same_rows_view

ROWS = 48_000
ROW_GROUP = 1_000
UNIT_ROWS = 3_000  # 16 units
UNITS = ROWS // UNIT_ROWS


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    """(one file of 48 row groups, the same rows as eight files)."""
    one = tmp_path_factory.mktemp("kill-one")
    (path,) = write_shards(one, ["big.parquet"], ROWS, row_group=ROW_GROUP)
    many = tmp_path_factory.mktemp("kill-many")
    table = pq.read_table(path)
    for i in range(8):
        pq.write_table(table.slice(i * 6000, 6000), many / f"part-{i}.parquet", row_group_size=ROW_GROUP)
    return one, many


def command(data: Path, out: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "profiler", "profile", str(data), "--out", str(out), "--name", "units-kill",
            "--config", str(config), "--workers", "2", "--unit-rows", str(UNIT_ROWS)]


def unit_markers(out: Path) -> list[Path]:
    folder = out / "parts" / "big"
    return sorted(folder.glob("rg*.done")) if folder.is_dir() else []


def test_kill_9_inside_one_file_then_resume_redoes_only_unfinished_units(data, tmp_path):
    one, many = data
    config = tmp_path / "slow.toml"
    config.write_text("[run]\nbatch_size = 1024\nprogress_seconds = 0.2\n")
    reference = tmp_path / "reference"
    result = cli(*command(one, reference, config)[3:], timeout=180)
    assert result.returncode == 0, result.stderr
    assert len(unit_markers(reference)) == UNITS

    out = tmp_path / "killed"
    start_and_kill(command(one, out, config), out, lambda o: len(unit_markers(o)) >= UNITS // 3)
    finished = unit_markers(out)
    assert UNITS // 3 <= len(finished) < UNITS
    # what the completed units wrote, with modification times: none of it may be written again
    kept = {p: p.stat().st_mtime_ns for marker in finished
            for p in marker.parent.glob(marker.name.replace(".done", ".*"))}
    kept.update({p: p.stat().st_mtime_ns for marker in finished
                 for p in [out / "tags" / "big" / marker.name.replace(".done", ".parquet")]})

    result = cli(*command(one, out, config)[3:], timeout=180)
    assert result.returncode == 0, result.stderr
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())
    plan = re.findall(r"as (\d+) work unit\(s\), (\d+) already complete", (out / "run.log").read_text())
    assert plan[-1] == (str(UNITS - len(finished)), str(len(finished)))
    assert len(unit_markers(out)) == UNITS

    assert comparable(load_stats(out)) == comparable(load_stats(reference))
    spread = tmp_path / "many"
    result = cli(*command(many, spread, config)[3:], timeout=180)
    assert result.returncode == 0, result.stderr
    assert same_rows_view(load_stats(spread)) == same_rows_view(load_stats(out))
    leftovers = [p for p in out.rglob("*") if p.name.endswith((".partial", ".tmp"))]
    assert not leftovers, leftovers
