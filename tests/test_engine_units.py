"""Work units below the file: a multi-row-group parquet file profiled as row-group ranges gives
the same rows, tags, samples and stats.json as the file run whole, and as the same rows spread
over many files; units resume one by one; a changed file invalidates all its units."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.config import RunSpec
from profiler.curate.tagged import open_tagged_run
from profiler.engine import run_profile
from profiler.engine.runfolder import RunFolder
from profiler.errors import UserError
from profiler.sources import read_shard
from profiler.sources.discover import discover_shards
from profiler.sources.selection import Selection
from profiler.sources.units import plan_units, row_group_rows, split_row_groups, unit_id
from tests.engine_data import cli, comparable, load_stats, write_shards

ROWS = 24_000
ROW_GROUP = 1_000
UNIT_ROWS = 3_000  # 8 units of the 24 row groups


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """One parquet file of 24 row groups."""
    folder = tmp_path_factory.mktemp("units-one")
    write_shards(folder, ["big.parquet"], ROWS, row_group=ROW_GROUP)
    return folder


@pytest.fixture(scope="module")
def many(big, tmp_path_factory) -> Path:
    """The same rows, in the same order, as six files."""
    folder = tmp_path_factory.mktemp("units-many")
    table = pq.read_table(big / "big.parquet")
    for i in range(6):
        pq.write_table(table.slice(i * 4000, 4000), folder / f"part-{i}.parquet", row_group_size=ROW_GROUP)
    return folder


def spec(data: Path, out: Path, **changes) -> RunSpec:
    base = RunSpec(name="units", sources=[str(data)], out=out, workers=2, progress_seconds=60)
    return replace(base, **changes)


def same_rows_view(stats: dict) -> dict:
    """stats.json without what depends on how the rows are cut into files: the run block, the
    shard list, and the between-shard bootstrap (its clusters are the files)."""
    stats = comparable(stats)
    for key in ("run", "shards", "bootstrap"):
        stats.pop(key)
    stats["curation"].pop("run", None)
    return stats


def part_files(out: Path) -> dict[str, int]:
    """Every unit file under parts/ with its modification time (ns)."""
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns
            for p in (out / "parts").rglob("rg*") if p.is_file()}


# -- planning ----------------------------------------------------------------------------------

def test_split_covers_every_row_group_once_in_balanced_contiguous_ranges():
    rng = random.Random(5)
    for _ in range(300):
        rows = [rng.randint(0, 5000) for _ in range(rng.randint(1, 60))]
        unit_rows = rng.randint(1, 20000)
        spans = split_row_groups(rows, unit_rows)
        assert spans[0][0] == 0 and spans[-1][1] == len(rows)
        assert all(hi > lo for lo, hi in spans)  # at least one row group each
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # contiguous
        expected = min(len(rows), max(1, round(sum(rows) / unit_rows))) if sum(rows) else 1
        assert len(spans) == expected
        share = sum(rows) / len(spans)  # balanced: each cut is off the even split by < a row group
        assert all(abs(sum(rows[lo:hi]) - share) <= 2 * max(rows) for lo, hi in spans)
    assert split_row_groups([10_000_000], 1000) == [(0, 1)]  # one row group: one unit
    assert split_row_groups([100] * 50, 0) == [(0, 50)]  # 0: whole files


def test_units_are_planned_from_the_footer(big):
    (shard,) = discover_shards([str(big)])
    assert row_group_rows(shard) == [ROW_GROUP] * (ROWS // ROW_GROUP)
    units = plan_units(shard, row_group_rows(shard), UNIT_ROWS)
    assert [unit_id(u) for u in units] == [f"big/rg{i:05d}-{i + 3:05d}" for i in range(0, 24, 3)]
    assert plan_units(shard, row_group_rows(shard), 10**9) == [shard]


@pytest.mark.parametrize("selection", [None, Selection(limit=9_500), Selection(sample=700, seed=3),
                                       Selection(sample=700, limit=300, seed=3)])
def test_units_read_exactly_the_files_selected_rows(big, selection):
    """Keys and captions of the units, concatenated, are the whole file's (head, limit, sample)."""
    (shard,) = discover_shards([str(big)])

    def read(s):
        batches = list(read_shard(s, ["caption"], batch_size=1500, selection=selection))
        return pa.Table.from_batches(batches).select(["key", "caption"]) if batches else None

    whole = read(shard)
    units = [t for t in (read(u) for u in plan_units(shard, row_group_rows(shard), 2_500)) if t is not None]
    assert len(units) > 1
    assert pa.concat_tables(units).equals(whole)


# -- whole runs -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def whole_run(big, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    run_profile(spec(big, out, unit_rows=0))
    return out


def test_split_file_equals_whole_file_and_many_files(big, many, whole_run, tmp_path):
    split = run_profile(spec(big, tmp_path / "split", unit_rows=UNIT_ROWS)).out
    spread = run_profile(spec(many, tmp_path / "many", unit_rows=UNIT_ROWS)).out
    assert comparable(load_stats(split)) == comparable(load_stats(whole_run))
    assert same_rows_view(load_stats(spread)) == same_rows_view(load_stats(split))
    assert len(list((split / "parts" / "big").glob("*.done"))) == 8
    assert not (split / "parts" / "big.done").exists()
    assert load_stats(split)["shards"]["completed"] == 1
    # tags: one file per unit, read in file order they are the whole file's tags
    unit_tags = sorted((split / "tags" / "big").glob("rg*.parquet"))
    assert len(unit_tags) == 8
    whole_tags = pq.read_table(whole_run / "tags" / "big.parquet")
    assert pa.concat_tables([pq.read_table(p) for p in unit_tags]).equals(whole_tags)
    # the report's examples come out the same too
    assert json.loads((split / "examples.json").read_text()) == json.loads(
        (whole_run / "examples.json").read_text())


def test_processes_executor_runs_units(big, whole_run, tmp_path):
    out = run_profile(spec(big, tmp_path / "procs", unit_rows=UNIT_ROWS, executor="processes")).out
    assert comparable(load_stats(out)) == comparable(load_stats(whole_run))


def test_curate_reads_a_split_run_as_its_files(big, whole_run, tmp_path):
    split = run_profile(spec(big, tmp_path / "split", unit_rows=UNIT_ROWS)).out
    run = open_tagged_run(split)
    assert run.shard_ids == ["big"] and run.incomplete == []
    columns = ["key", *[c for c in run.schema.names if c != "key"][:3]]
    read = pa.concat_tables(list(run.batches("big", columns)))
    assert read.equals(pq.read_table(whole_run / "tags" / "big.parquet", columns=columns))
    # one unit's marker missing: the file is incomplete, never curated by halves
    next((split / "parts" / "big").glob("*.done")).unlink()
    with pytest.raises(UserError, match="no shard has finished"):
        open_tagged_run(split)


def test_sample_per_shard_is_per_file_whatever_the_split(big, tmp_path):
    """The sample of a file is the same rows whether it runs whole or as units."""
    whole = run_profile(spec(big, tmp_path / "w", unit_rows=0, sample_per_shard=900, sample_seed=4)).out
    split = run_profile(spec(big, tmp_path / "s", unit_rows=UNIT_ROWS, sample_per_shard=900,
                             sample_seed=4)).out
    assert comparable(load_stats(split)) == comparable(load_stats(whole))
    keys = pq.read_table(split / "tags" / "big", columns=["key"]).column("key").to_pylist()
    assert keys == pq.read_table(whole / "tags" / "big.parquet", columns=["key"]).column("key").to_pylist()
    assert load_stats(split)["run"]["sampling"]["rows_available"] == ROWS


def test_limit_quota_over_units(big, tmp_path):
    whole = run_profile(spec(big, tmp_path / "w", unit_rows=0, limit=7_777)).out
    split = run_profile(spec(big, tmp_path / "s", unit_rows=UNIT_ROWS, limit=7_777)).out
    assert load_stats(split)["rows"]["read"] == 7_777
    assert comparable(load_stats(split)) == comparable(load_stats(whole))


def test_changed_file_invalidates_all_its_units(tmp_path):
    data = tmp_path / "data"
    write_shards(data, ["f.parquet"], 12_000, row_group=1_000)
    out = tmp_path / "run"
    run_profile(spec(data, out, unit_rows=2_000))
    before = part_files(out)
    assert len([p for p in before if p.endswith(".done")]) == 6
    # the file is rewritten with other rows and another row-group layout
    table = pq.read_table(data / "f.parquet")
    pq.write_table(table.slice(0, 9_000), data / "f.parquet", row_group_size=1_500)
    run_profile(spec(data, out, unit_rows=2_000))
    after = part_files(out)
    assert not set(before.items()) & set(after.items())  # every unit redone (or removed)
    fresh = run_profile(spec(data, tmp_path / "fresh", unit_rows=2_000)).out
    assert comparable(load_stats(out)) == comparable(load_stats(fresh))
    assert sorted(p.name for p in (out / "tags" / "f").iterdir()) == sorted(
        p.name for p in (fresh / "tags" / "f").iterdir())
    # changed again, now run whole: the units' outputs go, the whole file's come
    pq.write_table(table.slice(0, 6_000), data / "f.parquet", row_group_size=1_000)
    run_profile(spec(data, out, unit_rows=0))
    assert not (out / "tags" / "f").exists() and (out / "tags" / "f.parquet").is_file()
    assert RunFolder(out).unit_ids("f") == ["f"]


def test_resume_keeps_the_recorded_split_and_redoes_only_missing_units(big, whole_run, tmp_path):
    out = tmp_path / "run"
    run_profile(spec(big, out, unit_rows=UNIT_ROWS))
    done = sorted((out / "parts" / "big").glob("*.done"))
    for marker in done[2:5]:  # as if killed before these three units finished
        marker.unlink()
    kept = {p: p.stat().st_mtime_ns for p in (out / "parts" / "big").glob("*.counts.json")
            if p.with_name(p.name.replace(".counts.json", ".done")).exists()}
    seen: list[str] = []
    # another --unit-rows now: the recorded split of the unfinished file still holds
    run_profile(spec(big, out, unit_rows=500), on_shard=lambda r: seen.append(r.shard_id))
    assert sorted(seen) == sorted(f"big/{p.name.removesuffix('.done')}" for p in done[2:5])
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert comparable(load_stats(out)) == comparable(load_stats(whole_run))


def test_unit_rows_must_not_be_negative(big, tmp_path):
    with pytest.raises(UserError, match="unit-rows"):
        run_profile(spec(big, tmp_path / "x", unit_rows=-1))


def test_a_failed_unit_fails_alone(tmp_path):
    """A unit that cannot be read is reported under its id, its rows counted as unreadable, and
    left without a marker (the next run retries it); the file's other units complete."""
    data = tmp_path / "data"
    (path,) = write_shards(data, ["f.parquet"], 8_000, row_group=1_000)
    raw = bytearray(path.read_bytes())
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(5).column(meta.schema.names.index("TEXT"))
    start = column.dictionary_page_offset or column.data_page_offset
    raw[start:start + column.total_compressed_size] = np.random.default_rng(0).bytes(
        column.total_compressed_size)
    path.write_bytes(bytes(raw))
    result = run_profile(spec(data, tmp_path / "run", unit_rows=1_000))
    stats = load_stats(result.out)
    failed = stats["shards"]["failed"]
    assert list(failed) == ["f/rg00005-00006"]
    assert stats["rows"]["skipped"].get("shard_unreadable") == 1_000
    assert stats["rows"]["read"] == 8_000 and stats["shards"]["completed"] == 0
    markers = sorted(p.name for p in (result.out / "parts" / "f").glob("*.done"))
    assert len(markers) == 7 and "rg00005-00006.done" not in markers


def test_ray_engine_runs_units(big, whole_run, tmp_path):
    """Ray tasks per unit: the driver saves each unit's parts; the merge is the local one's."""
    pytest.importorskip("ray")
    out = run_profile(spec(big, tmp_path / "ray", unit_rows=UNIT_ROWS, engine="ray")).out
    assert comparable(load_stats(out)) == comparable(load_stats(whole_run))
    assert len(list((out / "parts" / "big").glob("*.done"))) == 8


def test_unit_rows_from_the_command_line_and_the_toml(big, tmp_path):
    bad = cli("profile", str(big), "--out", str(tmp_path / "x"), "--unit-rows", "-5")
    assert bad.returncode == 2 and "unit-rows" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    config = tmp_path / "units.toml"
    config.write_text(f"[run]\nunit_rows = {UNIT_ROWS}\nprogress_seconds = 60\n")
    good = cli("profile", str(big), "--out", str(tmp_path / "y"), "--config", str(config), "--workers", "2")
    assert good.returncode == 0, good.stderr
    assert len(RunFolder(tmp_path / "y").unit_ids("big")) == 8


def test_examples_do_not_depend_on_batches_or_units(tmp_path):
    """The report's snippets are the first N per group in file order, however rows are cut
    (a batch holds more person mentions than any cap on the rows looked at)."""
    write_shards(tmp_path / "data", ["long.parquet"], 72_000, row_group=4_000)
    one = run_profile(spec(tmp_path / "data", tmp_path / "one", unit_rows=0, examples_per_group=600)).out
    cut = run_profile(spec(tmp_path / "data", tmp_path / "cut", unit_rows=12_000, batch_size=700,
                           examples_per_group=600)).out
    examples = json.loads((one / "examples.json").read_text())
    assert sum(len(v) for v in examples.values()) > 5000
    assert json.loads((cut / "examples.json").read_text()) == examples
