"""`bias-profiler status RUN [--json]`: shards complete / failed / pending, rows so far, the
last write and the lock, read from a real run folder; exit 0 for a run folder, 2 otherwise."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from profiler.engine.runfolder import locked
from profiler.engine.status import run_status
from tests.engine_data import cli, write_shards

NAMES = ["a.parquet", "b.parquet", "nested/c.parquet"]
ROWS = 700


def status_json(run: Path) -> dict:
    result = cli("status", str(run), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_status_of_a_run_with_a_failed_shard_and_of_one_stopped_midway(tmp_path):
    data = tmp_path / "data"
    write_shards(data, NAMES, ROWS)
    (data / "broken.parquet").write_bytes(b"PAR1 not parquet at all PAR1")
    out = tmp_path / "out"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert cli("-q", "profile", str(data), "--out", str(out), "--workers", "1").returncode == 3
    status = status_json(out)
    assert {k: status[k] for k in ("total", "complete", "failed", "pending")} == {
        "total": 4, "complete": 3, "failed": 1, "pending": 0}
    assert status["rows"] == 3 * ROWS == json.loads((out / "stats.json").read_text())["rows"]["tagged"] \
        + sum(json.loads((out / "stats.json").read_text())["rows"]["skipped"].values())
    assert list(status["failed_units"]) == ["broken"] and status["locked"] is False
    assert datetime.fromisoformat(status["last_write"]) >= before
    assert status["state"] == "finished with failed shards"

    # as if the run had been killed before two shards finished: they are pending again
    for name in ("a", "nested/c"):
        (out / "parts" / f"{name}.done").unlink()
    status = status_json(out)
    assert (status["complete"], status["failed"], status["pending"]) == (1, 1, 2)
    assert status["rows"] == ROWS
    text = cli("status", str(out))
    assert text.returncode == 0
    assert "4 total, 1 complete, 1 failed, 2 pending" in text.stdout
    assert "broken:" in text.stdout and "lock:       free" in text.stdout

    # the same command resumes; status follows
    assert cli("-q", "profile", str(data), "--out", str(out), "--workers", "1").returncode == 3
    assert status_json(out)["complete"] == 3


def test_status_sees_the_lock_of_a_run_in_progress(tmp_path):
    data = tmp_path / "data"
    write_shards(data, NAMES[:1], 100)
    out = tmp_path / "out"
    assert cli("-q", "profile", str(data), "--out", str(out)).returncode == 0
    with locked(out):  # what a running profile holds
        assert run_status(out).locked is True
        assert status_json(out)["locked"] is True
        assert "lock:       held" in cli("status", str(out)).stdout
    assert run_status(out).locked is False
    # and status never blocks a run: a profile started right after it gets the lock
    assert cli("-q", "profile", str(data), "--out", str(out)).returncode == 0


def test_a_folder_that_is_not_a_run_exits_2(tmp_path):
    for folder in (tmp_path, tmp_path / "missing"):
        result = cli("status", str(folder))
        assert result.returncode == 2
        assert result.stderr.startswith("bias-profiler: error:") and result.stderr.count("\n") == 1
    (tmp_path / "run.json").write_text("{ damaged")
    assert cli("status", str(tmp_path), "--json").returncode == 2


def test_status_counts_the_work_units_of_a_split_file(tmp_path):
    data = tmp_path / "data"
    write_shards(data, ["big.parquet", "small.parquet"], 6_000, row_group=1_000)
    out = tmp_path / "out"
    assert cli("-q", "profile", str(data), "--out", str(out), "--workers", "1",
               "--unit-rows", "2000").returncode == 0
    status = status_json(out)
    # each 6-row-group file splits into 3 units of 2 row groups
    assert (status["total"], status["complete"], status["pending"]) == (6, 6, 0)
    assert status["rows"] == 12_000
    marker = next((out / "parts" / "big").glob("*.done"))
    marker.unlink()  # as if killed before this unit finished
    status = status_json(out)
    assert (status["total"], status["complete"], status["pending"]) == (6, 5, 1)
    assert status["rows"] == 10_000
