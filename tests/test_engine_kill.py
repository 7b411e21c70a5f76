"""A real `kill -9` of a real `bias-profiler profile` process, at several points, then the same
command again: stats.json (all but timestamps) and every tag file equal an uninterrupted run's."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine_data import cli, comparable, load_stats, tag_tables, write_shards

SHARDS = [f"part-{i:02d}.parquet" for i in range(4)] + [f"extra/part-{i:02d}.parquet" for i in range(2)]
ROWS = 16_000


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kill-data")
    write_shards(folder, SHARDS, ROWS)
    return folder


def command(data: Path, out: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "profiler", "profile", str(data), "--out", str(out),
            "--name", "kill-test", "--config", str(config), "--workers", "2"]


def slow_config(tmp_path: Path) -> Path:
    """Small batches make each shard take long enough to be killed in the middle of."""
    config = tmp_path / "slow.toml"
    config.write_text("[run]\nbatch_size = 2048\nprogress_seconds = 0.2\n")
    return config


def done_markers(out: Path) -> int:
    return len(list((out / "parts").rglob("*.done"))) if (out / "parts").is_dir() else 0


def start_and_kill(args: list[str], out: Path, when) -> int:
    """Start the command, SIGKILL it as soon as `when(out)` holds; returns .done count then."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while not when(out):
            if process.poll() is not None:
                pytest.fail(f"the run finished before the kill point (rc {process.returncode})")
            if time.monotonic() > deadline:
                pytest.fail("the kill point never came")
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return done_markers(out)


def test_kill_9_at_any_point_then_same_command_equals_uninterrupted(dataset, tmp_path):
    config = slow_config(tmp_path)
    reference = tmp_path / "reference"
    result = subprocess.run(command(dataset, reference, config), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr

    out = tmp_path / "killed"
    args = command(dataset, out, config)
    # 1. mid-shard, before any shard completed: only the run folder's skeleton exists
    assert start_and_kill(args, out, lambda o: (o / "run.json").exists() and any(
        (o / "tags").rglob("*.partial"))) == 0
    # 2. as soon as the first shard's completion marker appears
    first = start_and_kill(args, out, lambda o: done_markers(o) >= 1)
    assert 1 <= first < len(SHARDS)
    # 3. about half way
    half = start_and_kill(args, out, lambda o: done_markers(o) >= len(SHARDS) // 2 + 1)
    assert half < len(SHARDS)
    # 4. every shard complete, the outputs not yet written (merge, statistics, report)
    start_and_kill(args, out, lambda o: done_markers(o) == len(SHARDS))
    assert not (out / "stats.json").exists()

    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert comparable(load_stats(out)) == comparable(load_stats(reference))
    resumed, uninterrupted = tag_tables(out), tag_tables(reference)
    assert sorted(resumed) == sorted(uninterrupted) == sorted(
        name.replace(".parquet", "") + ".parquet" for name in SHARDS)
    for name, table in uninterrupted.items():
        assert resumed[name].equals(table), name
    leftovers = [p for p in out.rglob("*") if p.name.endswith((".partial", ".tmp"))]
    assert not leftovers, leftovers
    log = (out / "run.log").read_text()
    assert log.count("shard(s),") == 5  # every attempt logged its plan to the same run.log
    assert "progress:" in log


def test_second_writer_is_refused_while_a_run_holds_the_folder(dataset, tmp_path):
    out = tmp_path / "busy"
    args = command(dataset, out, slow_config(tmp_path))
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / "run.json").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        second = cli("profile", str(dataset), "--out", str(out), "--name", "kill-test")
        assert second.returncode == 2
        assert "another bias-profiler run is writing to" in second.stderr
    finally:
        process.kill()
        process.wait(timeout=30)
    # the kernel dropped the killed run's lock
    with open(out / "run.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
