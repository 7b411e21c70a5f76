"""--sample-per-shard and --limit: seeded, reproducible, nested, exact row accounting, and
stamped into stats.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats as scipy_stats

from profiler.cli import main
from profiler.sources import discover_shards, read_shard
from profiler.sources.parquet import ReadInfo
from profiler.sources.selection import Selection, priorities, sample_rows, shard_key
from tests.engine_data import cli, comparable, load_stats, tag_tables, write_shards

SCHEMA = Path(__file__).resolve().parents[1] / "profiler" / "report" / "stats.schema.json"
NAMES = ["a.parquet", "b.parquet", "sub/c.parquet"]
ROWS = 3000


def profile(*args: str) -> int:
    return main(["-q", "profile", *args])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sampling")
    write_shards(folder, NAMES, ROWS, keys=False, row_group=500)
    return folder


def test_sample_is_seeded_nested_and_chunk_independent():
    rows = sample_rows(7, "part-1", 3_000_000, 500)  # three hashing chunks
    assert np.array_equal(rows, sample_rows(7, "part-1", 3_000_000, 500))
    assert len(np.unique(rows)) == 500 and np.all(np.diff(rows) > 0)
    assert set(sample_rows(7, "part-1", 3_000_000, 100)) <= set(rows)  # a smaller N is a subset
    assert not np.array_equal(rows, sample_rows(8, "part-1", 3_000_000, 500))
    assert not np.array_equal(rows, sample_rows(7, "part-2", 3_000_000, 500))
    everything = priorities(shard_key(7, "part-1"), 0, 3_000_000)  # one pass, no chunks
    assert np.array_equal(rows, np.sort(np.argsort(everything, kind="stable")[:500]))
    assert Selection(sample=10).rows("x", 5) is None  # smaller shards are read whole


def test_sample_is_uniform_over_rows():
    """Across many shards, sampled row numbers are uniform (chi-square over 20 bins)."""
    picked = np.concatenate([sample_rows(0, f"shard-{i}", 10_000, 50) for i in range(400)])
    observed = np.bincount(picked * 20 // 10_000, minlength=20)
    assert scipy_stats.chisquare(observed).pvalue > 0.001


def test_read_shard_reads_exactly_the_sampled_rows(data):
    shard = discover_shards([str(data / "a.parquet")])[0]
    info = ReadInfo()
    batches = list(read_shard(shard, ["caption"], selection=Selection(sample=700, seed=3),
                              batch_size=256, info=info))
    expected = sample_rows(3, shard.id, ROWS, 700)
    keys = [k for b in batches for k in b.column("key").to_pylist()]
    assert keys == [f"{shard.id}/{r}" for r in expected]  # keys are the rows' numbers in the file
    source = pq.read_table(data / "a.parquet").column("TEXT").take(expected).to_pylist()
    assert [c for b in batches for c in b.column("caption").to_pylist()] == source
    assert (info.rows_in_shard, info.rows_selected) == (ROWS, 700)
    head = list(read_shard(shard, ["caption"], selection=Selection(limit=1234), batch_size=500))
    assert [b.num_rows for b in head] == [412, 412, 410]  # the fewest equal batches of <= 500
    assert head[-1].column("key").to_pylist()[-1] == f"{shard.id}/1233"


def test_sample_per_shard_is_reproducible_and_stamped(data, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert profile(str(data), "--out", str(one), "--name", "s", "--sample-per-shard", "400",
                   "--workers", "1") == 0
    assert profile(str(data), "--out", str(two), "--name", "s", "--sample-per-shard", "400",
                   "--workers", "2", "--executor", "processes") == 0
    stats = load_stats(one)
    assert comparable(stats) == comparable(load_stats(two))
    tags_one, tags_two = tag_tables(one), tag_tables(two)
    assert all(tags_one[k].equals(tags_two[k]) for k in tags_one)
    rows = stats["rows"]
    assert rows["read"] == 3 * 400 == rows["tagged"] + sum(rows["skipped"].values())
    sampling = stats["run"]["sampling"]
    assert sampling["per_shard"] == 400 and sampling["seed"] == 0 and sampling["limit"] is None
    assert sampling["rows_available"] == 3 * ROWS and "SplitMix64" in sampling["method"]
    jsonschema.validate(stats, json.loads(SCHEMA.read_text()))
    html = (one / "index.html").read_text()
    assert "<strong>sampled</strong>" in html and "a seeded uniform sample of 400 rows per shard" in html
    reseeded = tmp_path / "reseeded"
    assert profile(str(data), "--out", str(reseeded), "--sample-per-shard", "400",
                   "--sample-seed", "1") == 0
    assert tag_tables(reseeded)["a.parquet"].column("key") != tags_one["a.parquet"].column("key")
    full = tmp_path / "full"
    assert profile(str(data), "--out", str(full)) == 0
    assert load_stats(full)["run"]["sampling"] is None
    assert "<strong>sampled</strong>" not in (full / "index.html").read_text()


def test_limit_fills_shards_in_order_with_any_worker_count(data, tmp_path):
    runs = []
    for workers in ("1", "2"):
        out = tmp_path / f"limit-{workers}"
        assert profile(str(data), "--out", str(out), "--name", "l", "--limit", "4000",
                       "--workers", workers) == 0
        runs.append(out)
    stats = load_stats(runs[0])
    assert comparable(stats) == comparable(load_stats(runs[1]))
    assert stats["rows"]["read"] == 4000
    assert stats["rows"]["read"] == stats["rows"]["tagged"] + sum(stats["rows"]["skipped"].values())
    keys = {name: [int(k.rsplit("/", 1)[1]) for k in t.column("key").to_pylist()]
            for name, t in tag_tables(runs[0]).items()}
    assert max(keys["a.parquet"]) == ROWS - 1 and max(keys["b.parquet"]) < 1000  # a whole, b head
    assert "sub/c.parquet" not in keys  # its quota is 0
    assert stats["shards"]["completed"] == 3 and stats["run"]["sampling"]["limit"] == 4000

    both = tmp_path / "both"
    assert profile(str(data), "--out", str(both), "--sample-per-shard", "1000", "--limit", "2500") == 0
    sampled = tag_tables(both)
    assert load_stats(both)["rows"]["read"] == 2500
    c_rows = {int(k.rsplit("/", 1)[1]) for k in sampled["sub/c.parquet"].column("key").to_pylist()}
    assert 450 < len(c_rows) <= 500  # c's quota: 500 rows (less the skipped ones) ...
    assert c_rows <= set(sample_rows(0, "sub/c", ROWS, 1000))  # ... out of its 1000-row sample


def test_changing_the_sample_needs_overwrite(data, tmp_path):
    out = tmp_path / "run"
    assert profile(str(data), "--out", str(out), "--sample-per-shard", "100") == 0
    result = cli("-q", "profile", str(data), "--out", str(out), "--sample-per-shard", "200")
    assert result.returncode == 2 and "--overwrite" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--sample-per-shard", "0"], "sample-per-shard must be a positive number of rows"),
    (["--limit", "-5"], "limit must be a positive number of rows"),
    (["--address", "auto"], "add --engine ray"),
])
def test_bad_run_options_exit_2_with_one_line(data, tmp_path, args, message):
    result = cli("profile", str(data), "--out", str(tmp_path / "x"), *args)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
