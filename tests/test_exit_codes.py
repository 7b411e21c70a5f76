"""Exit codes a scheduler can act on: 0 complete, 2 a user error, 3 finished with failed shards."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.engine_data import cli


def shards(folder: Path, broken: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"caption": ["an Asian woman", "a cat", "a Nigerian man"]}), folder / "a.parquet")
    for name in broken:
        (folder / f"{name}.parquet").write_bytes(b"PAR1 not parquet at all PAR1")
    return folder


def test_a_complete_run_exits_0(tmp_path):
    result = cli("-q", "profile", str(shards(tmp_path / "data")), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("index.html")


def test_failed_shards_exit_3_with_outputs_written_and_the_shards_listed(tmp_path):
    data = shards(tmp_path / "data", broken=("b", "c"))
    out = tmp_path / "out"
    result = cli("-q", "profile", str(data), "--out", str(out), "--workers", "1")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert sorted(stats["shards"]["failed"]) == ["b", "c"] and stats["rows"]["tagged"] == 3
    assert (out / "index.html").is_file() and result.stdout.strip().endswith("index.html")
    listed = [line.strip().split(":")[0] for line in result.stderr.splitlines() if line.startswith("  ")]
    assert listed == ["b", "c"]
    assert "2 shard(s) failed" in result.stderr
    html = (out / "index.html").read_text()
    assert "Failed shards" in html and "<td>b</td>" in html and "<td>c</td>" in html
    # the broken files repaired: the same command retries only them and exits 0
    shards(data)
    for name in ("b", "c"):
        pq.write_table(pa.table({"caption": [f"{name} photo"]}), data / f"{name}.parquet")
    again = cli("-q", "profile", str(data), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "stats.json").read_text())["shards"]["failed"] == {}


def test_a_user_error_exits_2_in_one_line(tmp_path):
    result = cli("-q", "profile", str(tmp_path / "missing"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("bias-profiler: error:")


def test_help_documents_the_exit_codes():
    for args in (("--help",), ("profile", "--help"), ("run", "--help")):
        result = cli(*args)
        assert result.returncode == 0
        text = result.stdout
        assert "exit codes:" in text, args
        for code, meaning in (("0", "complete"), ("2", "user error"), ("3", "failed shards")):
            lines = text.splitlines()
            assert any(line.split()[:1] == [code] and meaning in line for line in lines), (args, code)


def test_failed_shards_exit_3_on_the_ray_engine_too(tmp_path):
    pytest.importorskip("ray")
    data = shards(tmp_path / "data", broken=("b",))
    out = tmp_path / "out"
    result = cli("-q", "profile", str(data), "--out", str(out), "--engine", "ray", "--workers", "1",
                 timeout=300)
    assert result.returncode == 3, result.stderr
    assert "  b: " in result.stderr
    assert list(json.loads((out / "stats.json").read_text())["shards"]["failed"]) == ["b"]
