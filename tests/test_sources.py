"""Parquet source: paths, folders, globs, fsspec URLs, column mappings, streaming by row group."""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.errors import UserError
from profiler.sources import ColumnMapping, discover_shards, read_shard
from profiler.sources.parquet import MissingColumnsError


def write(path, columns: dict, row_group_size: int | None = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def test_files_folders_and_globs(tmp_path):
    for name in ("a/one.parquet", "a/two.parquet", "a/nested/three.parquet", "b/four.parquet"):
        write(tmp_path / name, {"TEXT": ["x"]})
    (tmp_path / "a" / "notes.txt").write_text("not a shard")
    assert len(discover_shards([str(tmp_path / "a")])) == 3
    assert len(discover_shards([str(tmp_path / "a" / "*.parquet")])) == 2
    shards = discover_shards([str(tmp_path / "a" / "one.parquet"), str(tmp_path / "b")])
    assert len(shards) == 2
    assert len({s.id for s in discover_shards([str(tmp_path)])}) == 4  # ids are unique


def test_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file or folder"):
        discover_shards([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"holds no \.parquet files"):
        discover_shards([str(tmp_path / "empty")])


def test_fsspec_url(tmp_path):
    fs = fsspec.filesystem("memory")
    with fs.open("memory://bucket/laion/part-0.parquet", "wb") as handle:
        pq.write_table(pa.table({"TEXT": ["Asian woman", "cat"], "punsafe": [0.7, 0.1]}), handle)
    shards = discover_shards(["memory://bucket/laion/"])
    assert len(shards) == 1
    assert shards[0].url.startswith("memory://")
    assert shards[0].url.endswith("bucket/laion/part-0.parquet")
    batch = next(read_shard(shards[0], ["caption"], ["punsafe"]))
    assert batch.column("caption").to_pylist() == ["Asian woman", "cat"]


@pytest.mark.parametrize(
    ("columns", "expected_key"),
    [
        ({"TEXT": ["t"], "URL": ["u"], "punsafe": [0.1], "NSFW": ["UNLIKELY"]}, None),  # LAION
        ({"caption": ["t"], "url": ["u"], "key": ["000001"]}, "000001"),  # img2dataset
        ({"text": ["t"], "url": ["u"], "uid": ["abc"]}, "abc"),  # DataComp
    ],
)
def test_known_layouts_map_to_canonical_names(tmp_path, columns, expected_key):
    shard = discover_shards([str(write(tmp_path / "s.parquet", columns))])[0]
    batch = next(read_shard(shard, ["caption"], ["url", "punsafe", "nsfw"]))
    assert batch.column("caption").to_pylist() == ["t"]
    assert batch.column("url").to_pylist() == ["u"]
    key = batch.column("key").to_pylist()[0]
    assert key == (expected_key or f"{shard.id}/0")
    assert batch.column("shard").to_pylist() == [shard.id]


def test_user_mapping_and_projection(tmp_path):
    path = write(tmp_path / "s.parquet", {
        "alt_text": ["Latina"], "jpg": [b"\xff" * 1000], "id": [7],
    })
    shard = discover_shards([str(path)])[0]
    mapping = ColumnMapping.parse(["caption=alt_text", "key=id"])
    batch = next(read_shard(shard, ["caption"], mapping=mapping))
    assert batch.schema.names == ["caption", "key", "shard"]  # image bytes never read
    assert batch.column("key").to_pylist() == ["7"]
    with pytest.raises(UserError, match="CANONICAL=SOURCE"):
        ColumnMapping.parse(["caption"])


def test_missing_required_column_reports_rows(tmp_path):
    shard = discover_shards([str(write(tmp_path / "s.parquet", {"URL": ["a", "b", "c"]}))])[0]
    with pytest.raises(MissingColumnsError) as error:
        next(read_shard(shard, ["caption"]))
    assert error.value.missing == ["caption"] and error.value.num_rows == 3


def test_streams_row_groups_with_stable_keys(tmp_path):
    n = 10_000
    path = write(tmp_path / "s.parquet", {"TEXT": [f"c{i}" for i in range(n)]}, row_group_size=1000)
    shard = discover_shards([str(path)])[0]
    batches = list(read_shard(shard, ["caption"], batch_size=1000))
    assert len(batches) == 10 and all(b.num_rows == 1000 for b in batches)
    keys = [k for b in batches for k in b.column("key").to_pylist()]
    assert keys == [f"{shard.id}/{i}" for i in range(n)]
