"""Bad input gets counted, never lost: a corpus of drifted, broken and odd shards in one run."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from profiler.cli import main


def test_drifted_and_broken_shards_are_accounted_for(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table({"TEXT": ["Asian woman", None, "", "   ", "x" * 100_000, "Latina"]}),
                   data / "odd-captions.parquet")
    pq.write_table(pa.table({"TEXT": pa.array([b"\xff\xfe Asian woman", b"ok caption", b"\x00\x01"],
                                              pa.binary())}), data / "bytes.parquet")
    pq.write_table(pa.table({"TEXT": [1, 2, 3]}), data / "retyped.parquet")
    pq.write_table(pa.table({"caption_text": ["a"], "extra": [1]}), data / "renamed.parquet")
    pq.write_table(pa.table({"TEXT": pa.array([], pa.string())}), data / "empty.parquet")
    pq.write_table(pa.table({"TEXT": ["Asian woman"], "punsafe": ["high"]}), data / "scores-as-text.parquet")
    whole = (data / "odd-captions.parquet").read_bytes()
    (data / "truncated.parquet").write_bytes(whole[: len(whole) // 2])

    out = tmp_path / "run"
    assert main(["-q", "profile", str(data), "--out", str(out), "--workers", "2"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    rows = stats["rows"]
    assert rows["skipped"] == {
        "caption_null": 1, "caption_empty": 2, "caption_invalid_utf8": 1, "caption_not_text": 3,
        "missing_column:caption": 1,
    }
    assert rows["tagged"] == 3 + 2 + 1  # odd captions, valid bytes, scores-as-text
    assert rows["read"] == rows["tagged"] + sum(rows["skipped"].values())
    assert list(stats["shards"]["failed"]) == ["truncated"]
    html = (out / "index.html").read_text()
    assert "caption_invalid_utf8" in html and "truncated" in html
