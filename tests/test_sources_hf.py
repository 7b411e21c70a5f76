"""Hugging Face datasets, streamed from local data the tests write (no hub access exists here)."""

from __future__ import annotations

import json
import os
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.errors import UserError
from profiler.schema import IMAGE, IMAGE_EMBEDDING, ROW_PROBLEM
from profiler.sources import MissingColumnsError, ReadInfo, discover_shards, read_shard, shard_num_rows
from profiler.sources.hf import _image_bytes, parse_source
from profiler.sources.selection import Selection, sample_rows

pytest.importorskip("datasets")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="module")
def parquet_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf") / "laion-mini"
    (root / "data").mkdir(parents=True)
    for i in range(3):
        table = pa.table({"TEXT": [f"caption {i}-{j}" for j in range(20)],
                          "URL": [f"https://e.com/{i}/{j}" for j in range(20)],
                          "punsafe": [j / 20 for j in range(20)]})
        pq.write_table(table, root / "data" / f"train-{i:05d}.parquet")
    return root


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("hf") / "pics"
    (root / "train").mkdir(parents=True)
    with open(root / "train" / "metadata.jsonl", "w") as handle:
        for j in range(5):
            Image.new("RGB", (8, 8), (j * 40, 0, 0)).save(root / "train" / f"{j}.png")
            handle.write(json.dumps({"file_name": f"{j}.png", "caption": f"a photo {j}"}) + "\n")
    return root


def rows_of(shard, *required: str, **kwargs) -> list[dict]:
    return [r for b in read_shard(shard, list(required) or ["caption"], **kwargs) for r in b.to_pylist()]


def test_one_profiler_shard_per_dataset_shard(parquet_folder):
    shards = discover_shards([f"hf:{parquet_folder}?split=train"])
    assert [s.id for s in shards] == [f"laion-mini/train/{i:05d}" for i in range(3)]
    assert {s.format for s in shards} == {"hf"} and shards[0].size and shards[0].version
    rows = rows_of(shards[1], "caption", optional=["url", "punsafe"])
    assert [r["caption"] for r in rows] == [f"caption 1-{j}" for j in range(20)]  # TEXT -> caption
    assert rows[3]["url"] == "https://e.com/1/3" and rows[3]["punsafe"] == 0.15
    assert rows[3]["key"] == "laion-mini/train/00001/3"
    assert shard_num_rows(shards[2]) == 20


def test_selection_and_missing_columns(parquet_folder):
    shard = discover_shards([f"hf:{parquet_folder}"])[0]
    info = ReadInfo()
    rows = rows_of(shard, selection=Selection(sample=6, seed=5), info=info, batch_size=4)
    assert [r["caption"] for r in rows] == [f"caption 0-{j}" for j in sample_rows(5, shard.id, 20, 6)]
    assert (info.rows_in_shard, info.rows_selected) == (20, 6)
    info = ReadInfo()
    assert [r["caption"] for r in rows_of(shard, selection=Selection(limit=3), info=info)] == \
        ["caption 0-0", "caption 0-1", "caption 0-2"]
    assert info.rows_selected == 3
    with pytest.raises(MissingColumnsError) as error:
        rows_of(shard, "width")
    assert error.value.num_rows == 20


def test_version_follows_the_files(parquet_folder, tmp_path):
    before = discover_shards([f"hf:{parquet_folder}"])[0].version
    path = parquet_folder / "data" / "train-00000.parquet"
    os.utime(path, ns=(1, 1))
    assert discover_shards([f"hf:{parquet_folder}"])[0].version != before


def test_imagefolder_images_become_bytes(image_folder):
    shard = discover_shards([f"hf:{image_folder}?split=train"])[0]
    batches = list(read_shard(shard, ["caption"], one_of=[(IMAGE_EMBEDDING, IMAGE)]))
    rows = [r for b in batches for r in b.to_pylist()]
    assert batches[0].schema.field(IMAGE).type == pa.binary()
    assert [r["caption"] for r in rows] == [f"a photo {j}" for j in range(5)]
    assert all(r["image"].startswith(b"\x89PNG") for r in rows)
    assert IMAGE not in next(read_shard(shard, ["caption"])).schema.names


def test_image_paths_outside_the_named_folder_are_never_opened(tmp_path):
    inside, outside = tmp_path / "data" / "a.jpg", tmp_path / "secret.jpg"
    inside.parent.mkdir()
    inside.write_bytes(b"JPEG")
    outside.write_bytes(b"SECRET")
    column = pa.array([{"bytes": None, "path": str(inside)}, {"bytes": None, "path": str(outside)},
                       {"bytes": b"given", "path": str(outside)}, {"bytes": None, "path": "../secret.jpg"}],
                      pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    data, problems = _image_bytes(column, [str((tmp_path / "data").resolve())])
    assert data.to_pylist() == [b"JPEG", None, b"given", None]
    assert problems.to_pylist() == [None, "image_path_outside", None, "image_path_outside"]


def test_packaged_builder_with_data_files(parquet_folder):
    files = ",".join(str(parquet_folder / "data" / f"train-{i:05d}.parquet") for i in (0, 2))
    shards = discover_shards([f"hf:parquet?data_files={files}"])
    assert len(shards) == 2 and shards[0].id.startswith("parquet-")
    assert rows_of(shards[1])[0]["caption"] == "caption 2-0"
    assert ROW_PROBLEM not in next(read_shard(shards[1], ["caption"])).schema.names
    mixed = discover_shards([str(parquet_folder / "data" / "train-00001.parquet"), f"hf:{parquet_folder}"])
    assert [s.format for s in mixed] == ["parquet", "hf", "hf", "hf"]  # in the order of the sources


def test_offline_hub_id_and_bad_options_are_one_line_errors():
    started = time.perf_counter()
    with pytest.raises(UserError, match="could not be reached offline") as error:
        discover_shards(["hf:nobody/not-a-cached-dataset"])
    assert time.perf_counter() - started < 30 and "\n" not in str(error.value)
    with pytest.raises(UserError, match="unknown option"):
        discover_shards(["hf:x/y?splt=train"])
    assert parse_source("hf:a/b?split=test&name=en") == ("a/b", {"split": "test", "name": "en"})
    with pytest.raises(UserError, match="cannot be read as parquet"):
        discover_shards(["hf:a/b"], format="parquet")
