"""Precomputed embeddings: clip-retrieval .npy/metadata pairs and embedding columns in parquet."""

from __future__ import annotations

import os
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.errors import UserError
from profiler.schema import IMAGE, IMAGE_EMBEDDING, ROW_PROBLEM
from profiler.sources import ReadInfo, ShardDataError, discover_shards, read_shard, shard_num_rows
from profiler.sources.selection import Selection, sample_rows
from tests.source_fixtures import write_clip_retrieval


def embeddings_of(batches: list[pa.RecordBatch]) -> np.ndarray:
    column = pa.concat_arrays([b.column(IMAGE_EMBEDDING) for b in batches])
    assert pa.types.is_fixed_size_list(column.type) and column.type.value_type == pa.float32()
    return column.values.to_numpy().reshape(len(column), column.type.list_size)


def test_pairs_are_discovered_with_stable_ids_and_versions(tmp_path):
    write_clip_retrieval(tmp_path / "emb", [5, 7, 0])
    shards = discover_shards([str(tmp_path / "emb")])
    assert [s.id for s in shards] == ["metadata/metadata_0", "metadata/metadata_1", "metadata/metadata_2"]
    assert {s.format for s in shards} == {"clip_retrieval"}
    npy = tmp_path / "emb" / "img_emb" / "img_emb_1.npy"
    meta = tmp_path / "emb" / "metadata" / "metadata_1.parquet"
    assert shards[1].size == npy.stat().st_size + meta.stat().st_size
    assert shards[1].option("metadata") == str(meta)
    assert [shard_num_rows(s) for s in shards] == [5, 7, 0]
    assert list(read_shard(shards[2], ["caption"], one_of=[(IMAGE_EMBEDDING,)])) == []
    before = shards[1].version
    os.utime(npy, (1, 1))  # the embeddings changed, the metadata did not
    assert discover_shards([str(tmp_path / "emb")])[1].version != before


def test_rows_join_embeddings_and_metadata(tmp_path):
    matrices = write_clip_retrieval(tmp_path, [50], dim=16)
    shard = discover_shards([str(tmp_path)])[0]
    batches = list(read_shard(shard, ["caption"], ["url"], one_of=[(IMAGE_EMBEDDING, IMAGE)], batch_size=20))
    assert [b.num_rows for b in batches] == [17, 17, 16]  # three equal batches of at most 20
    assert IMAGE not in batches[0].schema.names
    np.testing.assert_array_equal(embeddings_of(batches), matrices[0].astype(np.float32))
    rows = [r for b in batches for r in b.to_pylist()]
    assert rows[7]["caption"] == "caption 0-7" and rows[7]["url"] == "https://e.com/0/7"
    assert rows[7]["key"] == "metadata/metadata_0/7"
    captions_only = list(read_shard(shard, ["caption"]))
    assert IMAGE_EMBEDDING not in captions_only[0].schema.names  # never read when not asked for


def test_selection_reads_matching_rows_of_both_files(tmp_path):
    matrix = write_clip_retrieval(tmp_path, [300], dim=4, dtype=np.float32)[0]
    shard = discover_shards([str(tmp_path)])[0]
    info = ReadInfo()
    batches = list(read_shard(shard, ["caption"], selection=Selection(sample=40, seed=9), info=info,
                              one_of=[(IMAGE_EMBEDDING,)], batch_size=16))
    picked = sample_rows(9, shard.id, 300, 40)
    np.testing.assert_array_equal(embeddings_of(batches), matrix[picked])
    assert [r["caption"] for b in batches for r in b.to_pylist()] == [f"caption 0-{i}" for i in picked]
    assert (info.rows_in_shard, info.rows_selected) == (300, 40)
    head = list(read_shard(shard, ["caption"], selection=Selection(limit=33), one_of=[(IMAGE_EMBEDDING,)]))
    np.testing.assert_array_equal(embeddings_of(head), matrix[:33])


def test_remote_npy_is_read_without_memory_mapping(tmp_path):
    matrix = write_clip_retrieval(tmp_path, [30], dim=6)[0]
    fs = fsspec.filesystem("memory")
    for rel in ("img_emb/img_emb_0.npy", "metadata/metadata_0.parquet"):
        fs.pipe(f"memory://bucket/emb/{rel}", (tmp_path / rel).read_bytes())
    shard = discover_shards(["memory://bucket/emb"])[0]
    assert shard.url.startswith("memory://") and shard.id == "metadata/metadata_0"
    batches = list(read_shard(shard, ["caption"], selection=Selection(sample=9, seed=1),
                              one_of=[(IMAGE_EMBEDDING,)]))
    np.testing.assert_array_equal(embeddings_of(batches), matrix[sample_rows(1, shard.id, 30, 9)])


def test_lone_files_and_misaligned_pairs(tmp_path):
    write_clip_retrieval(tmp_path / "a", [3, 3])
    (tmp_path / "a" / "metadata" / "metadata_1.parquet").unlink()
    with pytest.raises(UserError, match=r"img_emb_1\.npy has no partner metadata/metadata_1\.parquet"):
        discover_shards([str(tmp_path / "a")])
    write_clip_retrieval(tmp_path / "b", [4])
    np.save(tmp_path / "b" / "img_emb" / "img_emb_0.npy", np.zeros((5, 8), np.float16))
    shard = discover_shards([str(tmp_path / "b")])[0]
    with pytest.raises(ShardDataError, match=r"img_emb_0\.npy has 5 rows but .*metadata_0\.parquet has 4"):
        list(read_shard(shard, ["caption"], one_of=[(IMAGE_EMBEDDING,)]))
    assert shard_num_rows(shard) is None
    with pytest.raises(UserError, match="not a clip-retrieval folder"):
        discover_shards([str(tmp_path / "a" / "metadata")], format="clip_retrieval")


class Payload:
    """Unpickling this writes a file: the proof that a loader ran pickle."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "pwned"))


def test_object_npy_is_refused_without_unpickling(tmp_path):
    write_clip_retrieval(tmp_path / "e", [1])
    proof = tmp_path / "pwned.txt"
    npy = tmp_path / "e" / "img_emb" / "img_emb_0.npy"
    np.save(npy, np.array([Payload(proof)], dtype=object), allow_pickle=True)
    shard = discover_shards([str(tmp_path / "e")])[0]
    with pytest.raises(ShardDataError, match="object arrays are refused"):
        list(read_shard(shard, ["caption"], one_of=[(IMAGE_EMBEDDING,)]))
    fs = fsspec.filesystem("memory")
    fs.pipe("memory://o/img_emb/img_emb_0.npy", npy.read_bytes())
    fs.pipe("memory://o/metadata/metadata_0.parquet",
            (tmp_path / "e" / "metadata" / "metadata_0.parquet").read_bytes())
    with pytest.raises(ShardDataError, match="object arrays are refused"):
        list(read_shard(discover_shards(["memory://o"])[0], ["caption"], one_of=[(IMAGE_EMBEDDING,)]))
    assert shard_num_rows(shard) is None
    assert not proof.exists()
    np.load(npy, allow_pickle=True)  # the payload is live: loading with pickle runs it
    assert proof.read_text() == "pwned"


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros(4, np.float32), "2-D"),
    (np.zeros((1, 2, 2), np.float32), "2-D"),
    (np.zeros((1, 4), np.int64), "float16 or float32"),
])
def test_wrong_shapes_and_dtypes_fail_the_shard(tmp_path, array, message):
    write_clip_retrieval(tmp_path, [1])
    np.save(tmp_path / "img_emb" / "img_emb_0.npy", array)
    with pytest.raises(ShardDataError, match=message):
        list(read_shard(discover_shards([str(tmp_path)])[0], ["caption"], one_of=[(IMAGE_EMBEDDING,)]))
    (tmp_path / "img_emb" / "img_emb_0.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ShardDataError, match=r"not a readable \.npy"):
        list(read_shard(discover_shards([str(tmp_path)])[0], ["caption"], one_of=[(IMAGE_EMBEDDING,)]))


def test_nan_rows_stay(tmp_path):
    write_clip_retrieval(tmp_path, [3], dim=4)
    matrix = np.ones((3, 4), np.float16)
    matrix[1] = np.nan
    matrix[2, 0] = np.inf
    np.save(tmp_path / "img_emb" / "img_emb_0.npy", matrix)
    batches = list(read_shard(discover_shards([str(tmp_path)])[0], ["caption"],
                              one_of=[(IMAGE_EMBEDDING,)]))
    values = embeddings_of(batches)
    assert np.isnan(values[1]).all() and np.isinf(values[2, 0])
    assert ROW_PROBLEM not in batches[0].schema.names


def write(path: Path, columns: dict) -> Path:
    pq.write_table(pa.table(columns), path, row_group_size=3)
    return path


def test_parquet_embedding_columns(tmp_path):
    rows = [[1.0, 2.0, 3.0], [1.0, 2.0], None, [float("nan")] * 3, [4.0, 5.0, 6.0], [],
            [7.0, 8.0, 9.0, 10.0]]
    path = write(tmp_path / "s.parquet", {"caption": ["x"] * 7,
                                          "img_emb": pa.array(rows, pa.list_(pa.float64()))})
    shard = discover_shards([str(path)])[0]
    batch = pa.Table.from_batches(list(read_shard(shard, ["caption"], one_of=[(IMAGE_EMBEDDING, IMAGE)])))
    column = batch.column(IMAGE_EMBEDDING).combine_chunks()
    assert column.type == pa.list_(pa.float32(), 3)
    assert batch.column(ROW_PROBLEM).to_pylist() == [None, "embedding_bad_shape", None, None, None,
                                                     "embedding_bad_shape", "embedding_bad_shape"]
    values = column.to_pylist()
    assert values[0] == [1.0, 2.0, 3.0] and values[2] is None and np.isnan(values[3]).all()
    fixed = write(tmp_path / "f.parquet", {
        "caption": ["a", "b"], "embedding": pa.array([[1, 2], [3, 4]], pa.list_(pa.float16(), 2))})
    out = next(read_shard(discover_shards([str(fixed)])[0], ["caption"], one_of=[(IMAGE_EMBEDDING,)]))
    assert out.column(IMAGE_EMBEDDING).type == pa.list_(pa.float32(), 2)
    assert out.column(IMAGE_EMBEDDING).to_pylist() == [[1, 2], [3, 4]]
    text = write(tmp_path / "t.parquet", {"caption": ["a"], "clip_embedding": ["not numbers"]})
    out = next(read_shard(discover_shards([str(text)])[0], ["caption"], one_of=[(IMAGE_EMBEDDING,)]))
    assert out.column(ROW_PROBLEM).to_pylist() == ["embedding_not_numeric"]


def test_embedding_batches_are_capped_by_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr("profiler.sources.embeddings.EMBEDDING_BATCH_BYTES", 4 * 8 * 10)
    write_clip_retrieval(tmp_path, [25], dim=8)
    shard = discover_shards([str(tmp_path)])[0]
    sizes = [b.num_rows for b in read_shard(shard, ["caption"], one_of=[(IMAGE_EMBEDDING,)])]
    assert sizes == [9, 9, 7]  # the fewest equal batches under the 10-row byte cap
