"""Bad input gets counted, never lost: a corpus of drifted, broken and odd shards in one run."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.cli import main
from tests.image_corpus import bad_cases, good_cases
from tests.source_fixtures import JPEG, laion_samples, member, sample_members, tar_bytes, write_tar


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
    pq.write_table(pa.table({"TEXT": ["Asian woman", "a Korean man"], "key": pa.array([[1], [2]]),
                             "punsafe": pa.array([{"p": 0.9}, {"p": 0.1}]), "url": pa.array([[1], [2]])}),
                   data / "nested.parquet")
    whole = (data / "odd-captions.parquet").read_bytes()
    (data / "truncated.parquet").write_bytes(whole[: len(whole) // 2])

    out = tmp_path / "run"
    assert main(["-q", "profile", str(data), "--out", str(out), "--workers", "2"]) == 3  # truncated failed
    stats = json.loads((out / "stats.json").read_text())
    rows = stats["rows"]
    assert rows["skipped"] == {
        "caption_null": 1, "caption_empty": 2, "caption_invalid_utf8": 1, "caption_not_text": 3,
        "missing_column:caption": 1,
    }
    assert rows["tagged"] == 3 + 2 + 1 + 2  # odd captions, valid bytes, scores-as-text, nested
    assert rows["read"] == rows["tagged"] + sum(rows["skipped"].values())
    assert list(stats["shards"]["failed"]) == ["truncated"]
    html = (out / "index.html").read_text()
    assert "caption_invalid_utf8" in html and "truncated" in html


# -- images, tars and embeddings: the same guarantees with a CLIP tagger --------------------------


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    pytest.importorskip("open_clip")
    from tests import tiny_models as testing

    folder = tmp_path_factory.mktemp("bad-input-model")
    name = testing.register_model(folder, "tiny-bad-input")
    return name, testing.write_checkpoint(name, folder / "tiny.pt", seed=5)


def profile_with_clip(source: Path, out: Path, model) -> dict:
    name, checkpoint = model
    code = main(["-q", "profile", str(source), "--taggers", "identity,sexual_terms,clip",
                 "--model", name, "--pretrained", str(checkpoint), "--device", "cpu",
                 "--out", str(out), "--workers", "1"])
    assert code == 0
    return json.loads((out / "stats.json").read_text())


def tags_by_key(out: Path) -> dict[str, dict]:
    tables = [pq.read_table(p) for p in sorted((out / "tags").rglob("*.parquet"))]
    return {row["key"]: row for table in tables for row in table.to_pylist()}


def test_hostile_tars_and_broken_images_are_accounted_for(tmp_path, tiny_clip):
    """Every image case of the corpus (CMYK, 16-bit, animated, bombs, truncated, zero bytes...)
    in a webdataset shard beside hostile members, a truncated shard and an empty one."""
    cases = [c for c in good_cases() + bad_cases() if c.data is not None]
    members = [m for c in cases for m in sample_members(c.name, f"an Asian woman, {c.name}", image=c.data)]
    members += [("../escaped.txt", b"evil"), ("/abs/x.jpg", JPEG)]  # unsafe names
    members += sample_members("dup", "first") + sample_members("dup", "second")  # duplicate key
    data = tmp_path / "data"
    write_tar(data / "images.tar", members)
    whole = tar_bytes(laion_samples(6))
    (data / "truncated.tar").write_bytes(whole[: len(whole) * 2 // 3])
    (data / "empty.tar").write_bytes(tar_bytes([]))
    with tarfile.open(data / "links.tar", "w") as tar:
        member(tar, "s.txt", kind=tarfile.SYMTYPE, linkname="/etc/passwd")
        member(tar, "h.jpg", kind=tarfile.LNKTYPE, linkname="../../x.jpg")
        for name, blob in sample_members("fine", "a Latina woman", image=good_cases()[0].data):
            member(tar, name, blob)

    out = tmp_path / "run"
    stats = profile_with_clip(data, out, tiny_clip)
    rows = stats["rows"]
    assert rows["read"] == rows["tagged"] + sum(rows["skipped"].values())
    tar_reasons = {"tar_unsafe_name", "tar_duplicate_key", "tar_link_member", "tar_truncated"}
    assert tar_reasons <= set(rows["skipped"])
    assert not stats["shards"]["failed"] and stats["shards"]["completed"] == 4
    assert not (tmp_path / "escaped.txt").exists() and not (data / "escaped.txt").exists()

    # each broken image is kept (its caption counts) but not scored, under its decoder reason
    tags = tags_by_key(out)
    for case in cases:
        assert tags[case.name]["clip.problem"] == case.reason, case.name
        assert (tags[case.name]["clip.sexual_score"] is None) == (case.reason is not None), case.name
    # stats.json's unscored counts are exactly the per-row reasons (the other shards' placeholder
    # JPEGs too)
    per_row = Counter(t["clip.problem"] for t in tags.values() if t["clip.problem"] is not None)
    assert rows["unscored"]["clip.problem"] == dict(per_row)
    assert sum(per_row.values()) == rows["tagged"] - sum(t["clip.problem"] is None for t in tags.values())
    html = (out / "index.html").read_text()
    for reason in [*per_row, "tar_unsafe_name", "tar_link_member", "tar_truncated"]:
        assert reason in html, reason


def test_nan_and_misshapen_embeddings_are_accounted_for(tmp_path, tiny_clip):
    from profiler.models.loading import load_model_cached

    name, checkpoint = tiny_clip
    dim = load_model_cached(name, str(checkpoint), "cpu").info.embed_dim
    rng = np.random.default_rng(0)
    good = [rng.normal(size=dim).tolist() for _ in range(5)]
    embeddings = [*good, [float("nan")] * dim, [float("inf"), *good[0][1:]], [0.0] * dim,
                  good[0][:-1], good[0] + [1.0], None]
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table({
        "key": [f"e{i}" for i in range(len(embeddings))],
        "caption": ["a Korean woman"] * len(embeddings),
        "img_emb": pa.array(embeddings, pa.list_(pa.float32())),
    }), data / "embeddings.parquet")

    out = tmp_path / "run"
    stats = profile_with_clip(data, out, tiny_clip)
    rows = stats["rows"]
    assert rows["read"] == len(embeddings) == rows["tagged"] + sum(rows["skipped"].values())
    assert rows["skipped"] == {"embedding_bad_shape": 2}
    assert rows["unscored"]["clip.problem"] == {"embedding_invalid": 4}  # NaN, inf, zero, null
    tags = tags_by_key(out)
    assert [tags[f"e{i}"]["clip.sexual_score"] is not None for i in range(5)] == [True] * 5
