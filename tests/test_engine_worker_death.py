"""A shard worker process killed by the OS (out of memory, a crash in native code) while it
profiles a shard, under `--executor processes`: the run finishes, the shards that shared the
broken pool are retried, and only a shard whose worker dies every time is recorded as failed.

The kill is real: a watcher in the test sends SIGKILL to any process of the run, other than the
CLI itself, that holds the chosen shard open (read from /proc, so Linux only).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.engine_data import comparable, load_stats, tag_tables, write_shards
from tests.procfs import descendants

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")

SHARDS = [f"part-{i:02d}.parquet" for i in range(5)]
TARGET = "part-02.parquet"
ROWS = 12_000
TARGET_ROWS = 48_000  # several seconds of small batches: the watcher sees it open


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("worker-death-data")
    write_shards(folder, [s for s in SHARDS if s != TARGET], ROWS)
    write_shards(folder, [TARGET], TARGET_ROWS, row_group=2048)
    return folder


def command(data: Path, out: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "profiler", "profile", str(data), "--out", str(out), "--name",
            "worker-death", "--config", str(config), "--workers", "2", "--executor", "processes"]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("worker-death-config") / "small-batches.toml"
    path.write_text("[run]\nbatch_size = 1024\n")
    return path


@pytest.fixture(scope="module")
def clean_run(dataset, config, tmp_path_factory) -> Path:
    """The same command with no kill: what a run must equal."""
    out = tmp_path_factory.mktemp("worker-death-clean") / "run"
    done = subprocess.run(command(dataset, out, config), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def _holds_open(pid: int, path: Path) -> bool:
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
    except OSError:
        pass
    return False


def run_with_killer(args: list[str], target: Path, max_kills: int | None,
                    ) -> tuple[subprocess.CompletedProcess, int]:
    """Run the CLI; SIGKILL its worker holding `target` open, up to `max_kills` times (None: always)."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kills = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal kills
        killed: set[int] = set()
        while not stop.is_set() and (max_kills is None or kills < max_kills):
            for pid in descendants(process.pid) - killed:
                if _holds_open(pid, target):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                    kills += 1
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stdout, stderr = process.communicate(timeout=300)
    finally:
        stop.set()
        watcher.join()
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr), kills


def test_a_worker_killed_once_costs_nothing(dataset, config, clean_run, tmp_path):
    """The killed shard and those queued beside it are retried: the result equals a clean run."""
    done, kills = run_with_killer(command(dataset, tmp_path / "killed", config), dataset / TARGET, 1)
    assert kills == 1, "the watcher never saw the shard open: nothing was tested"
    assert done.returncode == 0, done.stderr
    assert "worker process died" in done.stderr
    assert comparable(load_stats(tmp_path / "killed")) == comparable(load_stats(clean_run))
    clean_tags, killed_tags = tag_tables(clean_run), tag_tables(tmp_path / "killed")
    assert clean_tags.keys() == killed_tags.keys() and len(clean_tags) == len(SHARDS)
    assert all(killed_tags[name].equals(clean_tags[name]) for name in clean_tags)


def test_a_shard_that_kills_every_worker_fails_alone(dataset, config, clean_run, tmp_path):
    """Killed in the pool and again alone: recorded as failed by reason, every other shard done,
    and the accounting still balances."""
    out = tmp_path / "poisoned"
    done, kills = run_with_killer(command(dataset, out, config), dataset / TARGET, None)
    assert done.returncode == 3, done.stderr  # finished with a failed shard
    assert kills == 2  # once in the shared pool, once retried alone
    stats = load_stats(out)
    rows = stats["rows"]
    failed = stats["shards"]["failed"]
    assert list(failed) == [TARGET.removesuffix(".parquet")]
    assert "worker died" in failed[TARGET.removesuffix(".parquet")]
    assert rows["skipped"]["shard_unreadable"] == TARGET_ROWS
    assert rows["read"] == rows["tagged"] + sum(rows["skipped"].values())
    assert rows["read"] == ROWS * (len(SHARDS) - 1) + TARGET_ROWS
    clean_tags, tags = tag_tables(clean_run), tag_tables(out)
    assert sorted(tags) == sorted(s for s in SHARDS if s != TARGET)
    assert all(tags[name].equals(clean_tags[name]) for name in tags)  # the others: untouched
