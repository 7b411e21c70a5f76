"""webdataset tar shards: streaming, columns, selection, and every kind of hostile or broken tar
(each read into memory only, reported by reason, with exact row accounting)."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path

import fsspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiler.engine.shard import ShardJob, process_shard
from profiler.errors import UserError
from profiler.schema import IMAGE, IMAGE_EMBEDDING, ROW_PROBLEM
from profiler.sources import ReadInfo, Shard, ShardDataError, discover_shards, read_shard, shard_num_rows
from profiler.sources.selection import Selection, sample_rows
from profiler.sources.tarstream import tar_samples
from tests.conftest import shared_path
from tests.source_fixtures import JPEG, laion_samples, member, sample_members, tar_bytes, write_tar


def rows_of(shard: Shard, *required: str, **kwargs) -> list[dict]:
    return [row for batch in read_shard(shard, list(required) or ["caption"], **kwargs)
            for row in batch.to_pylist()]


def problems(rows: list[dict]) -> list[str | None]:
    return [row.get(ROW_PROBLEM) for row in rows]


def tar_shard(path: Path, members: list[tuple[str, bytes]] | None = None, data: bytes | None = None) -> Shard:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if data is not None else tar_bytes(members or []))
    return discover_shards([str(path)])[0]


def hostile_tar(path: Path, build) -> Shard:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    return discover_shards([str(path)])[0]


def test_img2dataset_samples_become_canonical_rows(tmp_path):
    shard = tar_shard(tmp_path / "00000.tar", laion_samples(5))
    assert (shard.format, shard.id) == ("webdataset", "00000")
    batches = list(read_shard(shard, ["caption"], ["url", "punsafe", "nsfw", "width"],
                              one_of=[(IMAGE_EMBEDDING, IMAGE)]))
    rows = [r for b in batches for r in b.to_pylist()]
    assert [r["caption"] for r in rows] == [f"caption {i}" for i in range(5)]  # .txt wins over .json
    assert [r["key"] for r in rows] == [f"00000{i:04d}" for i in range(5)]
    assert rows[2]["url"] == "https://example.com/2.jpg" and rows[2]["punsafe"] == 0.4
    assert rows[1]["nsfw"] == "UNLIKELY"
    assert rows[3]["width"] == 103 and rows[0]["image"] == JPEG
    assert batches[0].schema.field("image").type == "binary"
    assert all(r["shard"] == "00000" for r in rows)
    assert shard_num_rows(shard) == 5


def test_caption_from_json_and_projection(tmp_path):
    members = sample_members("a", None, {"caption": "from json", "uid": 7}) + \
        sample_members("b", None, {"text": "text field", "key": True}) + sample_members("c", None, None)
    shard = tar_shard(tmp_path / "s.tar", members)
    batches = list(read_shard(shard, ["caption"]))
    assert batches[0].schema.names == ["caption", "key", "shard"]  # no image bytes read
    rows = [r for b in batches for r in b.to_pylist()]
    assert [r["caption"] for r in rows] == ["from json", "text field", None]
    assert [r["key"] for r in rows] == ["7", "b", "c"]  # the json uid, else the tar key
    embeddings_only = list(read_shard(shard, ["caption"], one_of=[(IMAGE_EMBEDDING,)]))
    assert "image" not in embeddings_only[0].schema.names


def test_batches_selection_and_info(tmp_path):
    shard = tar_shard(tmp_path / "s.tar", laion_samples(23))
    sizes = [b.num_rows for b in read_shard(shard, ["caption"], one_of=[(IMAGE,)],
                                            batch_size=lambda columns: 4 if IMAGE in columns else 100)]
    assert sizes == [4, 4, 4, 4, 4, 3]
    info = ReadInfo()
    head = rows_of(shard, selection=Selection(limit=7), batch_size=5, info=info)
    assert [r["caption"] for r in head] == [f"caption {i}" for i in range(7)]
    assert info.rows_selected == 7
    info = ReadInfo()
    sampled = rows_of(shard, selection=Selection(sample=6, seed=4), info=info)
    expected = sample_rows(4, shard.id, 23, 6)
    assert [r["caption"] for r in sampled] == [f"caption {i}" for i in expected]
    assert (info.rows_in_shard, info.rows_selected) == (23, 6)
    info = ReadInfo()
    assert len(rows_of(shard, info=info)) == 23 and info.rows_in_shard == 23


def test_package_entry_points_dispatch_every_format(tmp_path):
    shard = tar_shard(tmp_path / "s.tar", laion_samples(2))
    assert shard_num_rows(shard) == 2
    assert len([r for b in read_shard(shard, ["caption"]) for r in b.to_pylist()]) == 2
    assert discover_shards([str(tmp_path)])[0] == shard


def test_gzip_and_fsspec_urls(tmp_path):
    data = gzip.compress(tar_bytes(laion_samples(3)))
    gz = tar_shard(tmp_path / "s.tar.gz", data=data)
    assert gz.id == "s" and [r["caption"] for r in rows_of(gz)] == ["caption 0", "caption 1", "caption 2"]
    fs = fsspec.filesystem("memory")
    fs.pipe("memory://bucket/wds/part-1.tar", tar_bytes(laion_samples(2)))
    shards = discover_shards(["memory://bucket/wds/"])
    assert [(s.id, s.format) for s in shards] == [("part-1", "webdataset")]
    assert len(rows_of(shards[0])) == 2


def test_discovery_of_tar_folders(tmp_path):
    write_tar(tmp_path / "a" / "00000.tar", laion_samples(1))
    write_tar(tmp_path / "a" / "sub" / "00001.tgz", laion_samples(1))
    assert [s.id for s in discover_shards([str(tmp_path / "a")])] == ["00000", "sub/00001"]
    (tmp_path / "a" / "00000.parquet").write_bytes(b"img2dataset metadata")
    with pytest.raises(UserError, match=r"both \.parquet and \.tar"):
        discover_shards([str(tmp_path / "a")])
    assert len(discover_shards([str(tmp_path / "a" / "*.tar")])) == 1
    forced = discover_shards([str(tmp_path / "a")], format="webdataset")
    assert [s.format for s in forced] == ["webdataset"] * 2
    with pytest.raises(UserError, match="unknown source format"):
        discover_shards([str(tmp_path / "a")], format="zip")


# Hostile and broken tars: each gives rows with reasons, never files on disk.

def test_unsafe_names_are_reported_and_never_written(tmp_path):
    escape = tmp_path / "escaped.txt"
    target = tmp_path / "work" / "s.tar"
    target.parent.mkdir()

    def build(tar):
        for name, data in sample_members("ok", "fine"):
            member(tar, name, data)
        member(tar, f"../{escape.name}", b"evil")
        member(tar, "../../etc/x.jpg", JPEG)
        member(tar, "/abs/path.jpg", JPEG)
        member(tar, "a/../../b.txt", b"x")
        member(tar, "C:evil.txt", b"x")
        member(tar, "nul\x00name.txt", b"x")
        member(tar, "ok2.txt", b"fine too")

    shard = hostile_tar(target, build)
    before = set(os.listdir(tmp_path)), set(os.listdir(target.parent))
    rows = rows_of(shard, one_of=[(IMAGE,)])
    assert (set(os.listdir(tmp_path)), set(os.listdir(target.parent))) == before
    assert not escape.exists()
    assert problems(rows)[0] is None and problems(rows)[-1] is None
    assert [r["caption"] for r in rows if r[ROW_PROBLEM] is None] == ["fine", "fine too"]
    unsafe = [p for p in problems(rows) if p is not None]
    assert len(unsafe) >= 5 and set(unsafe) == {"tar_unsafe_name"}
    assert len(rows) == shard_num_rows(shard)


def test_link_and_device_members_are_never_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")

    def build(tar):
        member(tar, "a.txt", kind=tarfile.SYMTYPE, linkname=str(secret))
        member(tar, "b.jpg", JPEG)
        member(tar, "b.txt", kind=tarfile.LNKTYPE, linkname="b.jpg")
        member(tar, "c.txt", kind=tarfile.CHRTYPE)
        member(tar, "d.txt", kind=tarfile.FIFOTYPE)
        member(tar, "e.txt", b"good")
        member(tar, "dir", kind=tarfile.DIRTYPE)
        member(tar, "noext", b"not a sample member")

    shard = hostile_tar(tmp_path / "s.tar", build)
    rows = rows_of(shard, one_of=[(IMAGE,)])
    assert [r["key"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert problems(rows) == ["tar_link_member"] * 4 + [None]
    assert all("SECRET" not in str(r) for r in rows)


def test_duplicate_keys(tmp_path):
    members = (sample_members("a", "one") + sample_members("b", "two") + sample_members("a", "again")
               + [("c.txt", b"first"), ("c.txt", b"second")] + sample_members("d", "four"))
    shard = tar_shard(tmp_path / "s.tar", members)
    rows = rows_of(shard)
    assert [r["key"] for r in rows] == ["a", "b", "a", "c", "d"]
    assert problems(rows) == [None, None, "tar_duplicate_key", "tar_duplicate_key", None]


def test_caption_and_json_problems(tmp_path):
    members = (sample_members("a", b"caf\xe9 latin-1") + sample_members("b", "ok", b"{not json")
               + sample_members("c", None, b"\xff\xfe") + sample_members("d", None, {"caption": 5})
               + sample_members("e", "\ufeffbom", [1, 2]) + sample_members("f", None, b"[" * 100_000))
    shard = tar_shard(tmp_path / "s.tar", members)
    rows = rows_of(shard, "caption", optional=["url"])
    assert problems(rows) == ["caption_invalid_utf8", None, None, "caption_not_text", None, None]
    assert [r["caption"] for r in rows] == [None, "ok", None, None, "bom", None]
    assert rows[1]["key"] == "b"  # invalid json ignored: the row keeps its caption and key


def test_member_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr("profiler.sources.webdataset.MAX_MEMBER_BYTES", 1000)
    members = sample_members("a", "small") + sample_members("b", "big", image=b"x" * 5000) + \
        sample_members("c", "x" * 2000)
    shard = tar_shard(tmp_path / "s.tar", members)
    rows = rows_of(shard, one_of=[(IMAGE,)])
    assert problems(rows) == [None, "tar_member_too_large", "tar_member_too_large"]
    assert problems(rows_of(shard)) == [None, None, "tar_member_too_large"]  # image not read: no limit


def test_huge_declared_size_ends_quickly(tmp_path):
    """A header claiming 2**80 bytes must not make the reader loop over what is not there."""
    header = tarfile.TarInfo("a.jpg")
    header.size = 2 ** 80
    data = tar_bytes(sample_members("z", "first"))
    last = _offsets(data)[-1]
    data = data[:last.offset_data + 512 * ((last.size + 511) // 512)]
    data += header.tobuf(format=tarfile.GNU_FORMAT) + b"x" * 5000
    shard = tar_shard(tmp_path / "s.tar", data=data)
    rows = rows_of(shard)
    assert problems(rows) == [None, "tar_truncated"]


def _offsets(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


def test_truncated_tars_keep_rows_before_the_damage(tmp_path):
    data = tar_bytes(laion_samples(4))
    members = _offsets(data)  # 3 members per sample
    cases = {
        "mid_data": members[7].offset_data + 5,  # inside sample 2's .txt
        "mid_header": members[9].offset + 100,  # inside sample 3's first header
        "no_end_blocks": members[11].offset_data + 512,  # after the last member's data
    }
    expected = {
        "mid_data": [None, None, "tar_truncated"],
        "mid_header": [None, None, "tar_truncated"],
        "no_end_blocks": [None, None, None, "tar_truncated"],  # the last sample may lack members
    }
    for name, cut in cases.items():
        shard = tar_shard(tmp_path / f"{name}.tar", data=data[:cut])
        rows = rows_of(shard)
        assert problems(rows) == expected[name], name
        assert shard_num_rows(shard) == len(rows)
    gz = tar_shard(tmp_path / "cut.tar.gz", data=gzip.compress(data)[:-200])
    assert problems(rows_of(gz))[-1] == "tar_truncated"


def test_corrupt_header_and_not_a_tar(tmp_path):
    data = bytearray(tar_bytes(laion_samples(3)))
    third = _offsets(bytes(data))[6]
    data[third.offset + 148: third.offset + 156] = b"garbage!"  # checksum field
    rows = rows_of(tar_shard(tmp_path / "bad.tar", data=bytes(data)))
    assert problems(rows) == [None, "tar_corrupt"]
    shard = tar_shard(tmp_path / "html.tar", data=b"<html>404 not found</html>" * 40)
    with pytest.raises(ShardDataError, match="not a readable tar"):
        rows_of(shard)
    assert shard_num_rows(shard) is None


def test_empty_and_zero_byte_tars(tmp_path):
    for name, data in (("empty", tar_bytes([])), ("zero", b""), ("gz", gzip.compress(b""))):
        shard = tar_shard(tmp_path / f"{name}.tar", data=data)
        info = ReadInfo()
        assert list(read_shard(shard, ["caption"], info=info)) == []
        assert shard_num_rows(shard) == 0 and info.rows_in_shard == 0


def test_engine_counts_every_row_of_a_hostile_tar(tmp_path):
    members = [*laion_samples(3), ("../x.txt", b"a"), *sample_members("d", b"\xff"),
               ("e.txt", b"dup"), ("e.txt", b"dup"), *sample_members("f", "Asian woman")]
    path = tmp_path / "in" / "s.tar"
    data = tar_bytes(members)
    write_tar(path, [])
    path.write_bytes(data[:_offsets(data)[-1].offset_data + 3])  # truncated inside f.txt
    out = tmp_path / "run"
    (out / "parts").mkdir(parents=True)
    job = ShardJob(discover_shards([str(path)])[0], str(out), ("identity", "sexual_terms"), "{}", (), 64,
                   False, 0)
    result = process_shard(job)
    assert result.error is None
    rows = json.loads((out / "parts" / "s.counts.json").read_text())["rows"]
    assert rows["read"] == rows["tagged"] + sum(rows["skipped"].values())
    assert rows["tagged"] == 3
    assert {"tar_unsafe_name", "caption_invalid_utf8", "tar_duplicate_key", "tar_truncated"} \
        <= set(rows["skipped"])


def test_real_webdataset_tars():
    folder = shared_path("data", "webdataset-tars")
    shards = discover_shards([str(folder)])
    assert [s.format for s in shards] == ["webdataset"] * 4
    for shard in shards:
        rows = rows_of(shard, one_of=[(IMAGE_EMBEDDING, IMAGE)])
        assert rows and len(rows) == shard_num_rows(shard)
        assert all(r["image"][:2] == b"\xff\xd8" and r.get(ROW_PROBLEM) is None for r in rows)
        assert all(r["caption"] is None for r in rows)  # these tars carry no captions


# Fuzzing: mutated and random tar bytes never raise anything but ShardDataError, and the rows a
# read yields are exactly the rows the counting pass reports.

BASE_TAR = tar_bytes(laion_samples(3) + [("../u.txt", b"u")] + sample_members("dup", "x") * 2)
FUZZ = Path(tempfile.mkdtemp(prefix="fuzz-tars-"))


def _mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None, compress: bool) -> bytes:
    out = bytearray(data)
    for position, value in flips:
        out[position % len(out)] = value
    out = bytes(out[:cut] if cut is not None else out)
    return gzip.compress(out) if compress else out


def _check_accounting(data: bytes) -> None:
    path = FUZZ / "f.tar"
    path.write_bytes(data)
    shard = Shard("f", str(path), format="webdataset")
    try:
        rows = rows_of(shard, one_of=[(IMAGE,)], batch_size=3)
    except ShardDataError:
        assert shard_num_rows(shard) is None
        return
    assert len(rows) == shard_num_rows(shard)
    for row in rows:
        assert row.get(ROW_PROBLEM) is None or row[ROW_PROBLEM].startswith(("tar_", "caption_"))
        assert isinstance(row["key"], str)


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(BASE_TAR)), st.integers(0, 255)), max_size=6),
       st.one_of(st.none(), st.integers(0, len(BASE_TAR))), st.booleans())
def test_mutated_tars_read_cleanly_with_exact_row_accounting(flips, cut, compress):
    _check_accounting(_mutate(BASE_TAR, flips, cut, compress))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_read_cleanly(data):
    _check_accounting(data)
    with contextlib.suppress(ShardDataError):  # all zeros are an empty tar: either outcome is clean
        list(tar_samples(io.BytesIO(data), frozenset({"txt"})))
