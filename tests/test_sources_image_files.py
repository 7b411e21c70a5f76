"""Image bytes: img2dataset "files" folders (image + .txt/.json sidecars) and image columns in parquet
(img2dataset `jpg` bytes, HF image structs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.errors import UserError
from profiler.schema import IMAGE, IMAGE_EMBEDDING, ROW_PROBLEM
from profiler.sources import ReadInfo, discover_shards, read_shard, shard_num_rows
from profiler.sources.selection import Selection, sample_rows
from tests.source_fixtures import JPEG, write_image_folder


def rows_of(shard, *required: str, **kwargs) -> list[dict]:
    return [r for b in read_shard(shard, list(required) or ["caption"], **kwargs) for r in b.to_pylist()]


def test_img2dataset_files_layout(tmp_path):
    write_image_folder(tmp_path / "out" / "00000", 4, "0000")
    write_image_folder(tmp_path / "out" / "00001", 2, "0001")
    (tmp_path / "out" / "00000_stats.json").write_text("{}")
    shards = discover_shards([str(tmp_path / "out")])
    assert [(s.id, s.format) for s in shards] == [("00000", "image_files"), ("00001", "image_files")]
    batches = list(read_shard(shards[0], ["caption"], ["url", "punsafe"], one_of=[(IMAGE_EMBEDDING, IMAGE)]))
    rows = [r for b in batches for r in b.to_pylist()]
    assert [r["key"] for r in rows] == [f"0000{i:05d}" for i in range(4)]
    assert [r["caption"] for r in rows] == [f"caption {i}" for i in range(4)]
    assert rows[2]["url"] == "https://e.com/2" and rows[2]["image"] == JPEG + b"\x02"
    assert batches[0].schema.field("image").type == pa.binary()
    assert "image" not in next(read_shard(shards[0], ["caption"])).schema.names
    assert [shard_num_rows(s) for s in shards] == [4, 2]
    alone = discover_shards([str(tmp_path / "out" / "00001")])
    assert [s.id for s in alone] == ["00001"]


def test_parquet_beside_folders_wins_and_format_forces(tmp_path):
    write_image_folder(tmp_path / "00000", 2)
    pq.write_table(pa.table({"caption": ["a", "b"]}), tmp_path / "00000.parquet")
    assert [s.format for s in discover_shards([str(tmp_path)])] == ["parquet"]
    assert [s.format for s in discover_shards([str(tmp_path)], format="image_files")] == ["image_files"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no"):
        discover_shards([str(tmp_path / "empty")], format="image_files")


def test_selection_and_info(tmp_path):
    shard = discover_shards([str(write_image_folder(tmp_path / "f", 30))])[0]
    info = ReadInfo()
    rows = rows_of(shard, selection=Selection(sample=7, seed=2), info=info, batch_size=3)
    expected = sample_rows(2, shard.id, 30, 7)
    assert [r["caption"] for r in rows] == [f"caption {i}" for i in expected]
    assert (info.rows_in_shard, info.rows_selected) == (30, 7)
    assert len(rows_of(shard, selection=Selection(limit=4))) == 4


def test_version_changes_with_any_file(tmp_path):
    folder = write_image_folder(tmp_path / "f", 3)
    before = discover_shards([str(folder)])[0]
    (folder / "0000000001.txt").write_text("a longer caption than before")
    after = discover_shards([str(folder)])[0]
    assert (after.size, after.version) != (before.size, before.version)


def test_links_outside_the_folder_are_not_followed(tmp_path):
    folder = write_image_folder(tmp_path / "data" / "f", 1)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"SECRET")
    (folder / "b.jpg").symlink_to(secret)
    (folder / "c.jpg").symlink_to(folder / "000000000.jpg")  # inside: fine
    (folder / "d.txt").symlink_to(secret)
    (folder / "d.jpg").write_bytes(JPEG)
    outside = tmp_path / "outside"
    write_image_folder(outside, 1)
    (tmp_path / "data" / "linked").symlink_to(outside, target_is_directory=True)
    os.mkfifo(folder / "e.jpg")  # never listed: opening a FIFO would block
    os.mkfifo(tmp_path / "data" / "fifo")
    (folder / "g.jpg").symlink_to(tmp_path / "data" / "fifo")
    shards = discover_shards([str(tmp_path / "data")])
    assert [s.id for s in shards] == ["f"]  # the symlinked folder is not walked
    rows = rows_of(shards[0], one_of=[(IMAGE,)])
    assert [r["key"] for r in rows] == ["000000000", "b", "c", "d", "g"]
    assert [r.get(ROW_PROBLEM) for r in rows] == [None, "file_link_outside", None, "file_link_outside",
                                                  "file_not_regular"]
    assert rows[2]["image"] == JPEG + b"\x00"
    assert all(b"SECRET" not in (r["image"] or b"") for r in rows)


def test_duplicate_stems_sidecar_problems_and_size_limit(tmp_path, monkeypatch):
    folder = tmp_path / "f"
    folder.mkdir()
    for name, data in {"a.jpg": JPEG, "a.png": JPEG, "b.jpg": JPEG, "b.txt": b"caf\xe9",
                       "c.jpg": JPEG, "c.json": b"{broken", "c.txt": b"fine",
                       "d.webp": b"x" * 5000, "e.jpg": JPEG,
                       "e.json": json.dumps({"caption": "from json"}).encode(),
                       "notes.txt": b"no image: not a row"}.items():
        (folder / name).write_bytes(data)
    monkeypatch.setattr("profiler.sources.image_files.MAX_MEMBER_BYTES", 1000)
    shard = discover_shards([str(folder)])[0]
    rows = rows_of(shard, one_of=[(IMAGE,)])
    assert [r["key"] for r in rows] == ["a", "a", "b", "c", "d", "e"]
    assert [r.get(ROW_PROBLEM) for r in rows] == [None, "duplicate_key", "caption_invalid_utf8", None,
                                                  "file_too_large", None]
    assert rows[3]["caption"] == "fine" and rows[5]["caption"] == "from json"
    assert [r.get(ROW_PROBLEM) for r in rows_of(shard)][4] is None  # image not read: no limit


# Image columns in parquet.

def test_parquet_image_bytes_and_hf_structs(tmp_path):
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"SECRET")
    pq.write_table(pa.table({"caption": ["a", "b"], "jpg": pa.array([JPEG, None], pa.large_binary())}),
                   tmp_path / "i2d.parquet")
    struct = pa.array([{"bytes": JPEG, "path": "x.jpg"}, {"bytes": None, "path": str(outside)}],
                      pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    pq.write_table(pa.table({"text": ["a", "b"], "image": struct}), tmp_path / "hf.parquet")
    pq.write_table(pa.table({"text": ["a"], "img": ["not bytes"]}), tmp_path / "str.parquet")
    shards = {s.id: s for s in discover_shards([str(tmp_path)])}
    for shard_id in ("i2d", "hf"):
        batch = next(read_shard(shards[shard_id], ["caption"], one_of=[(IMAGE_EMBEDDING, IMAGE)]))
        assert batch.column(IMAGE).type == pa.binary()
        assert batch.column(IMAGE).to_pylist() == [JPEG, None]  # a path in the data is never opened
    batch = next(read_shard(shards["str"], ["caption"], one_of=[(IMAGE,)]))
    assert batch.column(ROW_PROBLEM).to_pylist() == ["image_not_binary"]
    assert IMAGE not in next(read_shard(shards["i2d"], ["caption"])).schema.names


def test_image_batches_follow_the_batch_size_function(tmp_path):
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"caption": ["c"] * 50, "jpg": [JPEG] * 50}), path, row_group_size=20)
    shard = discover_shards([str(path)])[0]

    def size(columns: frozenset[str]) -> int:
        return 8 if IMAGE in columns else 1000

    assert [b.num_rows for b in read_shard(shard, ["caption"], batch_size=size)] == [50]
    with_images = [b.num_rows for b in read_shard(shard, ["caption"], batch_size=size, one_of=[(IMAGE,)])]
    assert max(with_images) <= 8 and sum(with_images) == 50
    sampled = [b.num_rows for b in read_shard(shard, ["caption"], batch_size=size, one_of=[(IMAGE,)],
                                              selection=Selection(sample=30, seed=1))]
    assert max(sampled) <= 8 and sum(sampled) == 30


def test_remote_image_folders():
    fs = fsspec.filesystem("memory")
    for i in range(3):
        fs.pipe(f"memory://bucket/files/00000/{i:04d}.jpg", JPEG)
        fs.pipe(f"memory://bucket/files/00000/{i:04d}.txt", f"cap {i}".encode())
    fs.pipe("memory://bucket/files/00001/x.png", b"png")
    shards = discover_shards(["memory://bucket/files"])
    assert [(s.id, s.format) for s in shards] == [("00000", "image_files"), ("00001", "image_files")]
    rows = rows_of(shards[0], one_of=[(IMAGE,)])
    assert [(r["key"], r["caption"], r["image"]) for r in rows] == [(f"{i:04d}", f"cap {i}", JPEG)
                                                                     for i in range(3)]


def test_missing_folder_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError, match="no such file or folder"):
        discover_shards([str(tmp_path / "nope")], format="image_files")
