"""A failing shard is tried once more, then recorded as failed; the other shards finish."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

import profiler.engine.shard as shard_module
from profiler.cli import main


def write(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        pq.write_table(pa.table({"caption": [f"Korean woman {i}", "a cat", "Nigerian man"]}),
                       folder / f"{name}.parquet")


def flaky_reader(monkeypatch, failures: dict[str, int]):
    """A reader that fails the named shards the given number of times (a torn network read)."""
    real = shard_module.read_shard

    def read(shard, *args, **kwargs):
        if failures.get(shard.id, 0) > 0:
            failures[shard.id] -= 1
            raise OSError(f"connection reset while reading {shard.id}")
        return real(shard, *args, **kwargs)

    monkeypatch.setattr(shard_module, "read_shard", read)


def test_a_transient_failure_is_retried_once(tmp_path, monkeypatch):
    write(tmp_path / "data", ["a", "b", "c"])
    failures = {"b": 1}
    flaky_reader(monkeypatch, failures)
    out = tmp_path / "out"
    assert main(["-q", "profile", str(tmp_path / "data"), "--out", str(out), "--workers", "2"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert failures == {"b": 0}
    assert stats["shards"]["failed"] == {} and stats["shards"]["completed"] == 3
    assert stats["rows"]["read"] == stats["rows"]["tagged"] == 9


def test_a_shard_failing_twice_is_recorded_and_the_rest_finish(tmp_path, monkeypatch):
    write(tmp_path / "data", ["a", "b", "c"])
    failures = {"b": 5}
    flaky_reader(monkeypatch, failures)
    out = tmp_path / "out"
    assert main(["-q", "profile", str(tmp_path / "data"), "--out", str(out), "--workers", "2"]) == 3
    stats = json.loads((out / "stats.json").read_text())
    assert failures == {"b": 3}  # two attempts, no more
    assert list(stats["shards"]["failed"]) == ["b"]
    reason = stats["shards"]["failed"]["b"]
    assert "connection reset" in reason and "failed twice" in reason
    assert stats["shards"]["completed"] == 2
    # its rows are known from the footer: counted as skipped, so the accounting still balances
    assert stats["rows"]["read"] == 9 and stats["rows"]["skipped"] == {"shard_unreadable": 3}
    assert not (out / "parts" / "b.done").exists()
    # once the store answers again, the same command retries it and completes the run
    failures["b"] = 0
    assert main(["-q", "profile", str(tmp_path / "data"), "--out", str(out)]) == 0
    assert json.loads((out / "stats.json").read_text())["shards"]["failed"] == {}
