"""CSV, TSV and JSON Lines caption files (optionally gzip): the same counts as the same rows in
parquet, the same column mapping, streaming in batches, and which failures are whose."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiler.cli import main
from profiler.demo_data import generate_sample
from profiler.engine.shard import ShardJob, process_shard
from profiler.sources import ColumnMapping, Shard, discover_shards, read_shard
from profiler.sources.selection import Selection
from tests.engine_data import cli

ROWS = 3000


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> pa.Table:
    folder = tmp_path_factory.mktemp("delimited-sample")
    generate_sample(folder, shards=1, rows_per_shard=ROWS, seed=4)
    return pq.read_table(folder / "part-00000.parquet")


def write_as(table: pa.Table, path: Path) -> Path:
    """`table` in the format its name says (.parquet, .csv, .tsv, .jsonl; + .gz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.removesuffix(".gz")
    if name.endswith(".parquet"):
        pq.write_table(table, path)
        return path
    if name.endswith(".jsonl"):
        data = "".join(json.dumps(row) + "\n" for row in table.to_pylist()).encode()
    else:
        tsv = name.endswith(".tsv")
        options = pacsv.WriteOptions(delimiter="\t" if tsv else ",", include_header=not tsv,
                                     quoting_style="none" if tsv else "needed")
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink, options)
        header = ("\t".join(table.column_names) + "\n").encode() if tsv else b""  # TSV: unquoted
        data = header + sink.getvalue().to_pybytes()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def profile(source: Path, out: Path, *extra: str) -> dict:
    code = main(["-q", "profile", str(source), "--out", str(out), "--workers", "1", *extra])
    assert code == 0
    return json.loads((out / "stats.json").read_text())


def numbers(stats: dict) -> dict:
    return {key: stats[key] for key in ("rows", "shards", "coverage", "populations", "cells",
                                         "findings", "drivers", "agreement")}


@pytest.mark.parametrize("name", ["rows.csv", "rows.tsv", "rows.jsonl", "rows.csv.gz", "rows.tsv.gz",
                                  "rows.jsonl.gz"])
def test_same_counts_as_the_same_rows_in_parquet(table, tmp_path, name):
    parquet = profile(write_as(table, tmp_path / "p" / "rows.parquet"), tmp_path / "out-parquet")
    text = profile(write_as(table, tmp_path / "t" / name), tmp_path / "out-text")
    assert numbers(text) == numbers(parquet)
    assert text["rows"]["read"] == ROWS and text["rows"]["tagged"] > 0
    assert set(text["rows"]["skipped"]) == {"caption_null", "caption_empty"}
    tags = {p.name: pq.read_table(p) for p in (tmp_path / "out-text" / "tags").glob("*.parquet")}
    reference = pq.read_table(tmp_path / "out-parquet" / "tags" / "rows.parquet")
    assert list(tags) == ["rows.parquet"]  # shard id without .csv / .gz
    assert tags["rows.parquet"].column("key").equals(reference.column("key"))


def test_streamed_in_batches_with_the_same_selection_as_parquet(table, tmp_path):
    csv = write_as(table, tmp_path / "rows.csv")
    parquet = write_as(table, tmp_path / "rows.parquet")
    (shard,) = discover_shards([str(csv)])
    (reference,) = discover_shards([str(parquet)])
    assert shard.format == "csv" and shard.id == reference.id == "rows"
    selections = (None, Selection(limit=777), Selection(sample=500, seed=3), Selection(sample=400, limit=100))
    for selection in selections:
        batches = list(read_shard(shard, ["caption"], ["punsafe"], batch_size=256, selection=selection))
        expected = list(read_shard(reference, ["caption"], ["punsafe"], batch_size=256, selection=selection))
        assert max(b.num_rows for b in batches) <= 256 and len(batches) > 1
        got, want = pa.Table.from_batches(batches), pa.Table.from_batches(expected)
        for column in ("key", "caption", "punsafe"):
            assert got.column(column).to_pylist() == want.column(column).to_pylist(), (selection, column)


def test_column_mapping_and_keys_stay_text(tmp_path):
    path = tmp_path / "captions.csv"
    path.write_text('id,alt_text,score\n007,"an Asian woman, smiling",0.9\n008,NA,0.1\n'
                    '009,"say ""hi""\nnext line",\n')
    (shard,) = discover_shards([str(path)])
    mapping = ColumnMapping.parse(["caption=alt_text", "punsafe=score"])
    (batch,) = read_shard(shard, ["caption"], ["punsafe"], mapping)
    assert batch.column("key").to_pylist() == ["007", "008", "009"]
    assert batch.column("caption").to_pylist() == ["an Asian woman, smiling", "NA", 'say "hi"\nnext line']
    assert batch.column("punsafe").to_pylist() == [0.9, 0.1, None]


def test_malformed_lines_are_skipped_rows_by_reason(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.tsv").write_text("caption\turl\nan Asian woman\tu1\ttoo\tmany\na cat\tu2\nbroken\n")
    (data / "c.csv").write_bytes(b"caption\n\xff\xfe an Asian woman\na Latina\n")
    (data / "b.jsonl").write_text('{"text": "a Korean man", "key": 1}\n{"text": null, "key": 2}\n'
                                  '{"key": 3}\n')
    out = tmp_path / "out"
    stats = profile(data, out)
    rows = stats["rows"]
    assert rows["skipped"] == {"row_malformed": 2, "caption_null": 2, "caption_invalid_utf8": 1}
    assert rows["read"] == 8 and rows["tagged"] == 3
    assert stats["shards"]["failed"] == {}


def test_a_missing_caption_column_counts_its_rows(tmp_path):
    path = tmp_path / "urls.csv"
    path.write_text("url\nu1\nu2\nu3\n")
    out = tmp_path / "out"
    assert main(["-q", "profile", str(path), "--out", str(out)]) == 2  # no input had a caption column
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rows"]["skipped"] == {"missing_column:caption": 3}


def test_a_file_of_an_unknown_format_is_a_user_error(tmp_path):
    notes = tmp_path / "notes.docx"
    notes.write_bytes(b"PK\x03\x04 a word document")
    result = cli("-q", "profile", str(notes), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    for named in (".parquet", ".csv", ".tsv", ".jsonl", "--source-format"):
        assert named in result.stderr
    # named explicitly, the same file is read as that format (and fails as a damaged one)
    shards = discover_shards([str(notes)], "csv")
    assert [s.format for s in shards] == ["csv"]


def test_a_parquet_file_without_the_suffix_is_still_parquet(table, tmp_path):
    path = write_as(table, tmp_path / "part-0.parquet").rename(tmp_path / "part-0")
    assert [s.format for s in discover_shards([str(path)])] == ["parquet"]


def test_a_damaged_file_of_a_known_format_is_a_failed_shard(table, tmp_path):
    data = tmp_path / "data"
    write_as(table.slice(0, 50), data / "good.csv")
    (data / "bad.csv.gz").write_bytes(b"\x1f\x8b\x08\x00 this is not gzip data")
    (data / "torn.jsonl").write_text('{"caption": "a cat"}\n{"caption": "unterminated\n')
    result = cli("-q", "profile", str(data), "--out", str(tmp_path / "out"), "--workers", "1")
    assert result.returncode == 3, result.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert sorted(stats["shards"]["failed"]) == ["bad", "torn"]
    assert stats["shards"]["completed"] == 1 and "bad" in result.stderr and "torn" in result.stderr
    assert stats["rows"]["read"] == 50


def test_source_format_names_the_format(table, tmp_path):
    path = write_as(table.slice(0, 40), tmp_path / "captions.tsv").rename(tmp_path / "captions.txt")
    stats = profile(path, tmp_path / "out", "--source-format", "tsv")
    assert stats["rows"]["read"] == 40


FUZZ_DIR = Path(tempfile.mkdtemp(prefix="fuzz-text-shards-"))
(FUZZ_DIR / "parts").mkdir()


# pyarrow reports a malformed line that is not UTF-8 as an "exception ignored" (the shard fails)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from(["csv", "tsv", "jsonl"]), st.booleans())
def test_text_readers_never_crash_on_random_bytes(payload, kind, header):
    """Random files of each text format: read, failed or skipped, and accounted for, never raised."""
    path = FUZZ_DIR / f"random.{kind}"
    path.write_bytes((b"caption,key\n" if header and kind != "jsonl" else b"") + payload)
    job = ShardJob(Shard("random", str(path), format=kind), str(FUZZ_DIR),
                   ("identity", "sexual_terms"), "{}", (), 64, False, 0)
    result = process_shard(job)
    part = json.loads((FUZZ_DIR / "parts" / "random.counts.json").read_text())
    rows = part["rows"]
    assert rows["read"] == rows["tagged"] + sum(rows["skipped"].values())
    assert result.error is not None or result.rows == rows["read"]


def test_curating_a_csv_run_copies_key_lists_but_refuses_shard_copies(table, tmp_path):
    run = tmp_path / "run"
    profile(write_as(table.slice(0, 200), tmp_path / "data" / "rows.csv"), run)
    assert main(["-q", "curate", str(run), "--where", "dataset.sexual", "--out", str(tmp_path / "c")]) == 0
    result = cli("-q", "curate", str(run), "--where", "dataset.sexual", "--shards",
                 "--out", str(tmp_path / "c2"))
    assert result.returncode == 2 and "parquet inputs only" in result.stderr, result.stderr
