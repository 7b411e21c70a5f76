"""The CLI end to end: outputs and their contract, resume, bad input, user errors, safe HTML."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from html import unescape
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.cli import main


def profile(*args: str) -> int:
    return main(["-q", "profile", *args])


def load_stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def test_outputs_and_public_contract(demo_run, demo_data):
    stats = load_stats(demo_run)
    assert stats["schema_version"]
    assert set(stats["taxonomy_versions"]) == {"identity", "sexual_terms"}
    rows = stats["rows"]
    assert rows["read"] == 6 * 3000
    assert rows["read"] == rows["tagged"] + sum(rows["skipped"].values())
    assert set(rows["skipped"]) == {"caption_null", "caption_empty"}
    assert (demo_run / "index.html").is_file() and (demo_run / "tables" / "cells.csv").is_file()

    tag_files = sorted((demo_run / "tags").glob("*.parquet"))
    assert len(tag_files) == 6
    tags = pq.read_table(tag_files[0])
    schema = tags.schema
    assert schema.field("key").type == pa.string()
    assert schema.field("identity.person_mention").type == pa.bool_()
    assert schema.field("identity.groups").type == pa.list_(pa.string())
    assert schema.field("dataset.punsafe").type == pa.float64()
    assert schema.field("dataset.sexual").type == pa.bool_()
    assert set(tags.column("identity.gender").to_pylist()) <= {
        "female", "male", "mixed", "unspecified", "none"}
    assert set(tags.column("sexual_terms.level").to_pylist()) <= {"none", "suggestive", "explicit"}
    source = pq.read_table(sorted(demo_data.glob("*.parquet"))[0])
    assert tags.num_rows == source.num_rows - rows_skipped_in(source)
    assert set(tags.column("key").to_pylist()) <= set(source.column("key").to_pylist())


def rows_skipped_in(table: pa.Table) -> int:
    return sum(1 for c in table.column("TEXT").to_pylist() if c is None or not c.strip())


def test_report_recovers_planted_rates(demo_run, demo_data):
    """Caption signals match the generator's realised counts exactly; image rates lie in 99.9% CIs."""
    truth = json.loads((demo_data / "ground_truth.json").read_text())["cells"]
    cells = {(c["population"], c["gender"], c["signal"]): c for c in load_stats(demo_run)["cells"]}
    from profiler.stats import wilson

    for key, expected in truth.items():
        group, gender = key.split(":")
        if group == "no_identity":
            continue
        for signal in ("sexual_terms.any", "sexual_terms.explicit"):
            cell = cells[(group, gender, signal)]
            assert (cell["n"], cell["k"]) == (expected["rows"], expected[signal]), (key, signal)
        cell = cells[(group, gender, "dataset.sexual")]
        low, high = wilson(cell["k"], cell["n"], 0.999)
        assert low <= expected["planted"]["dataset.sexual"] <= high, key


def test_report_shows_the_planted_skew(demo_run):
    stats = load_stats(demo_run)
    flagged = {(f["population"], f["gender"]) for f in stats["findings"]}
    assert ("east_asian", "female") in flagged
    assert not any(pop in ("white", "pacific_islander") for pop, _ in flagged)
    html = (demo_run / "index.html").read_text()
    assert "Captions describing East Asian women" in html


def test_same_command_resumes_without_recomputing(demo_run, demo_data):
    before = load_stats(demo_run)
    marker = demo_run / "parts" / "part-00001.counts.json"
    stamp = marker.stat().st_mtime_ns
    assert profile(str(demo_data), "--out", str(demo_run), "--workers", "2") == 0
    assert marker.stat().st_mtime_ns == stamp
    after = load_stats(demo_run)
    assert after["cells"] == before["cells"] and after["rows"] == before["rows"]


def test_other_settings_refuse_to_mix_with_a_run(demo_run, demo_data, capsys):
    assert profile(str(demo_data), "--out", str(demo_run), "--taggers", "identity") == 2
    assert "--overwrite" in capsys.readouterr().err


def test_bad_shards_are_counted_not_fatal(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table({"TEXT": ["Asian woman", None, " ", "cat"]}), data / "a.parquet")
    pq.write_table(pa.table({"URL": ["u1", "u2"]}), data / "b.parquet")  # no caption column
    (data / "c.parquet").write_bytes(b"PAR1 this is not parquet")
    out = tmp_path / "out"
    assert profile(str(data), "--out", str(out), "--workers", "1") == 3  # finished, partial
    stats = load_stats(out)
    assert stats["rows"]["skipped"] == {
        "caption_null": 1, "caption_empty": 1, "missing_column:caption": 2}
    assert stats["rows"]["read"] == 6 and stats["rows"]["tagged"] == 2
    assert list(stats["shards"]["failed"]) == ["c"]
    assert not (out / "parts" / "c.done").exists()  # retried by the next run


def test_hostile_captions_are_inert_in_the_report(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    hostile = ["<script>alert(1)</script> Asian woman", "<img src=x onerror=alert(1)> Latina",
               "Korean actress <a href='http://evil.example'>x</a>"]
    pq.write_table(pa.table({"TEXT": hostile * 20}), data / "a.parquet")
    out = tmp_path / "out"
    assert profile(str(data), "--out", str(out)) == 0
    html = (out / "index.html").read_text()
    assert html.count("<script") == 1  # the report's own table-sorting script, nothing else
    assert "<img" not in html and "evil.example'>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    csp = unescape(html.split('http-equiv="Content-Security-Policy" content="')[1].split('"')[0])
    assert "default-src 'none'" in csp
    script = html.split("<script>")[1].split("</script>")[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp  # only that exact script may run
    assert main(["-q", "report", str(out), "--redact"]) == 0
    assert "&lt;script&gt;" not in (out / "index.html").read_text()


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "profiler", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", "/no/such/shards"], "no such file or folder"),
        (["profile", ".", "--taggers", "identity,clipz"], "unknown tagger"),
        (["profile", ".", "--columns", "caption"], "CANONICAL=SOURCE"),
        (["run", "/no/such/pipeline.toml"], "config file not found"),
        (["report", "/tmp"], "not a finished run"),
    ],
)
def test_user_errors_exit_2_with_one_line(args, message):
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_pipeline_files_exit_2(tmp_path):
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[run\nname=")
    typo = tmp_path / "typo.toml"
    typo.write_text('[source]\npaths = ["x"]\n[stats]\nmin_suport = 5\n')
    wrong_type = tmp_path / "type.toml"
    wrong_type.write_text('[source]\npaths = "x"\n')
    blocked = tmp_path / "file"
    blocked.write_text("")
    data = tmp_path / "d.parquet"
    pq.write_table(pa.table({"TEXT": ["a"]}), data)
    for args, message in [
        (["run", str(bad_toml)], "not valid TOML"),
        (["run", str(typo)], "unknown key 'min_suport'"),
        (["run", str(wrong_type)], "paths must be a list"),
        (["profile", str(data), "--out", str(blocked / "run")], "cannot write the output folder"),
    ]:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr


def test_run_pipeline_generates_its_demo_data(tmp_path):
    pipeline = tmp_path / "demo.toml"
    pipeline.write_text(
        '[run]\nname = "tiny"\nout = "out"\nworkers = 1\n'
        '[source]\npaths = ["data"]\nsample = { shards = 2, rows_per_shard = 500, seed = 1 }\n'
    )
    result = run_cli("-q", "run", str(pipeline))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("index.html")
    assert Path(result.stdout.strip()).is_file()
    assert (tmp_path / "data" / "ground_truth.json").is_file()
    assert load_stats(tmp_path / "out")["rows"]["read"] == 1000


def test_model_and_source_mistakes_exit_2(tmp_path):
    data = tmp_path / "d.parquet"
    pq.write_table(pa.table({"TEXT": ["a"]}), data)
    for args, message in [
        (["--taggers", "clip", "--model", "ViT-B-99"], "unknown open_clip model"),
        (["--taggers", "clip", "--model", "ViT-B-32", "--pretrained", "none"], "allow-random-weights"),
        (["--taggers", "clip", "--pretrained", str(tmp_path / "missing.pt")], "missing.pt"),
        (["--source-format", "zip"], "source format must be one of"),
        (["--columns", "captoin=TEXT"], "unknown column name(s) ['captoin']"),
        (["--columns", "caption=alt_text"], "no shard has the column(s) caption (mapped as caption=alt"),
    ]:
        result = run_cli("-q", "profile", str(data), "--out", str(tmp_path / "out"), *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_library_warnings_do_not_double_the_log(tmp_path):
    """open_clip warns through the root logger (random weights); that must not install a root
    handler that prints every profiler line a second time."""
    pytest.importorskip("open_clip")
    data = tmp_path / "d.parquet"
    pq.write_table(pa.table({"TEXT": ["an Asian woman", "a cat"]}), data)
    code = (
        "import sys; from tests import tiny_models as testing; from profiler.cli import main;"
        f"name = testing.register_model({str(tmp_path)!r}, 'tiny-log');"
        f"sys.exit(main(['profile', {str(data)!r}, '--taggers', 'identity,clip_text', '--model', name,"
        f" '--pretrained', 'none', '--allow-random-weights', '--device', 'cpu',"
        f" '--out', {str(tmp_path / 'out')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "shard" in line]
    assert lines and len(lines) == len(set(lines)), result.stderr
    assert "INFO:profiler" not in result.stderr


def test_an_output_folder_inside_the_input_is_not_read_as_input(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table({"TEXT": ["an Asian woman", "a cat", "a Korean man"]}), data / "a.parquet")
    out = data / "report"  # its tags/*.parquet lie inside the folder profiled
    for _ in range(2):  # the second run resumes the same single shard
        assert profile(str(data), "--out", str(out)) == 0
        stats = load_stats(out)
        assert stats["rows"]["read"] == 3 and stats["shards"]["total"] == 1
    assert list((out / "tags").glob("*.parquet"))


def test_a_full_disk_is_one_line_and_the_run_resumes(tmp_path, monkeypatch, capsys):
    import errno

    import profiler.report.writer as writer

    data = tmp_path / "d.parquet"
    pq.write_table(pa.table({"TEXT": ["an Asian woman", "a cat"]}), data)
    out = tmp_path / "out"
    real = writer.atomic_write_json

    def full(path, document):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(writer, "atomic_write_json", full)
    assert profile(str(data), "--out", str(out)) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("bias-profiler: error: No space left on device writing") and "resume" in error
    assert len(error.splitlines()) == 1
    monkeypatch.setattr(writer, "atomic_write_json", real)
    assert profile(str(data), "--out", str(out)) == 0  # the completed shard is reused
    assert load_stats(out)["rows"]["read"] == 2
