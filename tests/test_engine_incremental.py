"""--incremental and dated (scheduled) runs: only new or changed shards are profiled, the
merged result equals a fresh run over the current source, and a finished run is never
silently extended."""

from __future__ import annotations

import json
from pathlib import Path

from profiler.cli import main
from tests.engine_data import cli, comparable, load_stats, write_shards

ROWS = 2500


def profile(*args: str) -> int:
    return main(["-q", "profile", *args])


def counts_stamps(run: Path) -> dict[str, int]:
    parts = run / "parts"
    return {p.relative_to(parts).as_posix(): p.stat().st_mtime_ns for p in parts.rglob("*.counts.json")}


def test_incremental_profiles_only_new_shards_and_equals_a_fresh_run(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "run"
    write_shards(data, ["v1/a.parquet", "v1/b.parquet"], ROWS)
    assert profile(str(data), "--out", str(out), "--name", "r") == 0
    stamps = counts_stamps(out)

    write_shards(data, ["v2/c.parquet"], ROWS)
    capsys.readouterr()
    assert profile(str(data), "--out", str(out), "--name", "r") == 2
    refused = capsys.readouterr().err
    assert "--incremental" in refused and len(refused.strip().splitlines()) == 1

    result = cli("profile", str(data), "--out", str(out), "--name", "r", "--incremental")
    assert result.returncode == 0, result.stderr
    assert "incremental: 1 new, 0 changed, 0 removed, 2 reused shard(s); profiling 1" in result.stderr
    after = counts_stamps(out)
    assert {k for k in after if after[k] != stamps.get(k)} == {"v2/c.counts.json"}
    fresh = tmp_path / "fresh"
    assert profile(str(data), "--out", str(fresh), "--name", "r") == 0
    assert comparable(load_stats(out)) == comparable(load_stats(fresh))
    history = json.loads((out / "run.json").read_text())["history"]
    assert [h["profiled"] for h in history] == [2, 1] and history[-1]["new"] == 1


def test_incremental_drops_removed_shards(tmp_path):
    data, out = tmp_path / "data", tmp_path / "run"
    gone, kept = write_shards(data, ["a.parquet", "b.parquet"], ROWS)
    assert profile(str(data), "--out", str(out), "--name", "r") == 0
    gone.unlink()
    assert profile(str(data), "--out", str(out), "--name", "r") == 2
    assert profile(str(data), "--out", str(out), "--name", "r", "--incremental") == 0
    stats = load_stats(out)
    assert stats["rows"]["read"] == ROWS and stats["shards"]["total"] == 1
    assert not (out / "tags" / "a.parquet").exists() and not (out / "parts" / "a.done").exists()
    fresh = tmp_path / "fresh"
    assert profile(str(kept), "--out", str(fresh), "--name", "r") == 0
    fresh_stats = comparable(load_stats(fresh))
    fresh_stats["run"]["sources"] = stats["run"]["sources"]  # a file here, the folder there
    assert comparable(stats) == fresh_stats


def test_unfinished_runs_resume_without_incremental(tmp_path):
    """A run that never finished has no shard set to protect: new files are simply profiled."""
    data, out = tmp_path / "data", tmp_path / "run"
    write_shards(data, ["a.parquet"], ROWS)
    assert profile(str(data), "--out", str(out), "--name", "r") == 0
    run_file = out / "run.json"
    state = json.loads(run_file.read_text())
    state.pop("finished")
    run_file.write_text(json.dumps(state))
    write_shards(data, ["b.parquet"], ROWS)
    assert profile(str(data), "--out", str(out), "--name", "r") == 0
    assert load_stats(out)["rows"]["read"] == 2 * ROWS


def test_dated_runs_build_on_and_compare_with_the_previous_one(tmp_path):
    data, root = tmp_path / "data", tmp_path / "reports" / "weekly"
    write_shards(data, ["a.parquet", "b.parquet"], ROWS)
    pipeline = tmp_path / "scheduled.toml"
    pipeline.write_text(f'[run]\nname = "weekly"\nout = "reports/weekly"\ndated = true\nworkers = 1\n'
                        f'[source]\npaths = ["{data.name}"]\n')
    first = cli("-q", "run", str(pipeline), "--date", "2024-05-01")
    assert first.returncode == 0, first.stderr
    day1 = root / "2024-05-01"
    assert first.stdout.strip() == str(day1 / "index.html")
    assert load_stats(day1)["comparison"] is None
    day1_stats = (day1 / "stats.json").read_bytes()

    write_shards(data, ["c.parquet"], ROWS)
    second = cli("run", str(pipeline), "--date", "2024-05-08")
    assert second.returncode == 0, second.stderr
    day2 = root / "2024-05-08"
    assert "seeded with 8 part file(s)" in second.stderr
    assert "1 new, 0 changed, 0 removed, 2 reused" in second.stderr
    stats = load_stats(day2)
    assert stats["rows"]["read"] == 3 * ROWS
    assert stats["comparison"] is not None  # compared with 2024-05-01 (--baseline)
    assert (day1 / "stats.json").read_bytes() == day1_stats  # the previous run is untouched
    assert load_stats(day1)["rows"]["read"] == 2 * ROWS

    assert main(["-q", "run", str(pipeline), "--date", "2024-05-08"]) == 0  # same day: resume
    assert main(["-q", "run", str(pipeline), "--date", "2024-13-45"]) == 2
