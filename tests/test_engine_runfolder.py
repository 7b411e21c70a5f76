"""The run folder: a parts/tags tree mirroring the input tree, completion markers that know
the file they were made from, stable shard ids, seeding a run from a previous one."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from profiler.cli import main
from profiler.engine.runfolder import RunFolder
from profiler.errors import UserError
from profiler.sources import discover_shards
from tests.engine_data import comparable, load_stats, tag_tables, write_shards

NESTED = ["2024-01/part-0.parquet", "2024-01/part-1.parquet", "2024-02/eu/part-0.parquet"]


def profile(*args: str) -> int:
    return main(["-q", "profile", *args])


@pytest.fixture
def nested(tmp_path) -> Path:
    data = tmp_path / "data"
    write_shards(data, NESTED, 3000, keys=False)
    return data


def test_parts_and_tags_mirror_the_input_tree(nested, tmp_path):
    out = tmp_path / "run"
    assert profile(str(nested), "--out", str(out), "--workers", "2") == 0
    ids = [name.removesuffix(".parquet") for name in NESTED]
    assert sorted(tag_tables(out)) == sorted(f"{i}.parquet" for i in ids)
    for shard_id in ids:
        for suffix in (".counts.json", ".examples.json", ".done"):
            assert (out / "parts" / f"{shard_id}{suffix}").is_file()
        tags = pq.read_table(out / "tags" / f"{shard_id}.parquet")
        source = pq.read_table(nested / f"{shard_id}.parquet")
        keys = tags.column("key").to_pylist()
        # keyed like the input: <shard id>/<row number in the input file>
        assert all(k.startswith(f"{shard_id}/") for k in keys)
        rows = [int(k.rsplit("/", 1)[1]) for k in keys]
        captions = source.column("TEXT").take(rows).to_pylist()
        assert all(c and c.strip() for c in captions)  # the tagged rows are the usable ones
    assert load_stats(out)["shards"]["completed"] == 3


def test_ids_stay_put_when_other_folders_appear(tmp_path):
    data = tmp_path / "data"
    write_shards(data, ["2024-01/a.parquet"], 10)
    assert [s.id for s in discover_shards([str(data)])] == ["2024-01/a"]
    write_shards(data, ["2024-02/b.parquet"], 10)
    assert [s.id for s in discover_shards([str(data)])] == ["2024-01/a", "2024-02/b"]
    glob = discover_shards([str(data / "*" / "*.parquet")])
    assert [s.id for s in glob] == ["2024-01/a", "2024-02/b"]
    both = discover_shards([str(data / "2024-01"), str(data / "2024-02")])
    assert [s.id for s in both] == ["2024-01/a", "2024-02/b"]
    assert all(s.size and s.version for s in both)


def test_a_changed_shard_is_profiled_again_and_nothing_else(nested, tmp_path):
    out = tmp_path / "run"
    assert profile(str(nested), "--out", str(out), "--name", "r") == 0
    counts = {i: out / "parts" / f"{i.removesuffix('.parquet')}.counts.json" for i in NESTED}
    stamps = {i: p.stat().st_mtime_ns for i, p in counts.items()}
    changed = NESTED[2]
    write_shards(nested, [changed], 2000)  # new content, same path
    assert profile(str(nested), "--out", str(out), "--name", "r") == 0
    assert {i for i, p in counts.items() if p.stat().st_mtime_ns != stamps[i]} == {changed}
    fresh = tmp_path / "fresh"
    assert profile(str(nested), "--out", str(fresh), "--name", "r") == 0
    assert comparable(load_stats(out)) == comparable(load_stats(fresh))


def test_a_shard_without_its_marker_is_redone(nested, tmp_path):
    out = tmp_path / "run"
    assert profile(str(nested), "--out", str(out), "--name", "r") == 0
    before = comparable(load_stats(out))
    marker = out / "parts" / "2024-01" / "part-1.done"
    marker.unlink()
    counts = out / "parts" / "2024-01" / "part-0.counts.json"
    stamp = counts.stat().st_mtime_ns
    assert profile(str(nested), "--out", str(out), "--name", "r") == 0
    assert marker.is_file() and counts.stat().st_mtime_ns == stamp
    assert comparable(load_stats(out)) == before


def test_old_style_markers_still_count_as_complete(tmp_path):
    folder = RunFolder(tmp_path)
    folder.done_path("a/b").parent.mkdir(parents=True)
    folder.done_path("a/b").write_text("ok\n")
    assert folder.is_done("a/b", {"size": 1, "version": "x", "selection": None})
    folder.mark_done("a/b", {"signature": {"size": 2}})
    assert not folder.is_done("a/b", {"size": 1})
    assert folder.is_done("a/b", {"size": 2})


def test_seeding_links_parts_and_leaves_the_previous_run_intact(nested, tmp_path):
    first = tmp_path / "first"
    assert profile(str(nested), "--out", str(first), "--name", "r") == 0
    (first / "tags" / "2024-01" / "part-0.parquet.partial").write_bytes(b"half")  # a killed run
    second = tmp_path / "second"
    linked = RunFolder(second).link_from(first)
    assert linked == 3 * 3 + 3  # counts, examples, marker per shard, and the tag files
    assert not list(second.rglob("*.partial"))
    part = second / "parts" / "2024-01" / "part-0.counts.json"
    assert part.stat().st_ino == (first / "parts" / "2024-01" / "part-0.counts.json").stat().st_ino
    before = part.read_bytes()
    os.utime(nested / NESTED[0], ns=(1, 1))  # the file "changed": its shard is redone in second
    assert profile(str(nested), "--out", str(second), "--name", "r") == 0
    assert (first / "parts" / "2024-01" / "part-0.counts.json").read_bytes() == before
    assert part.stat().st_ino != (first / "parts" / "2024-01" / "part-0.counts.json").stat().st_ino
    with pytest.raises(UserError, match="already holds a run"):
        RunFolder(second).link_from(first)
    with pytest.raises(UserError, match="not a run folder"):
        RunFolder(tmp_path / "third").link_from(tmp_path / "nothing")
