"""Work units with an image tagger: each unit encodes and caches its own images, the tags equal
a whole-file run's, and a re-tag from the units' embedding cache reads no image."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("open_clip")

from profiler.images.pipeline import ImageEncoder
from tests import tiny_models as testing
from tests.test_clip_image_tagger import CLIP_COLUMNS, IMAGES, OTHER_BANK, jpeg, profile

ROW_GROUP = 6


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("units-clip-model")
    name = testing.register_model(folder, "tiny-units-tagger")
    return name, testing.write_checkpoint(name, folder / "tiny.pt", seed=3, logit_scale=30.0)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    images = IMAGES + [jpeg(100 + i) for i in range(12)]  # 24 rows: 4 row groups of 6
    n = len(images)
    table = pa.table({"key": [f"k{i:02d}" for i in range(n)],
                      "caption": [f"photo of a Japanese woman number {i}" for i in range(n)],
                      "jpg": pa.array(images, pa.binary())})
    path = tmp_path_factory.mktemp("units-clip") / "data" / "part-0.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path, row_group_size=ROW_GROUP)
    return path


def unit_tags(out) -> pa.Table:
    return pq.read_table(out / "tags" / "part-0").select(["key", *CLIP_COLUMNS])


def test_units_encode_cache_and_retag_like_a_whole_file(source, model, tmp_path, monkeypatch):
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert profile(source, whole, model, "--unit-rows", "0") == 0
    assert profile(source, split, model, "--unit-rows", str(ROW_GROUP)) == 0
    assert len(list((split / "embeddings" / "clip" / "part-0").glob("rg*.parquet"))) == 4
    expected = pq.read_table(whole / "tags" / "part-0.parquet").select(["key", *CLIP_COLUMNS])
    assert unit_tags(split).equals(expected)

    bank = tmp_path / "bank.toml"
    bank.write_text(OTHER_BANK)
    fresh = tmp_path / "fresh"
    assert profile(source, fresh, model, "--prompts", str(bank), "--unit-rows", str(ROW_GROUP)) == 0

    def no_images(*args, **kwargs):
        raise AssertionError("images were encoded although the units' cache holds their embeddings")

    monkeypatch.setattr(ImageEncoder, "encode", no_images)
    assert profile(source, split, model, "--prompts", str(bank), "--overwrite",
                   "--unit-rows", str(ROW_GROUP)) == 0
    assert unit_tags(split).equals(unit_tags(fresh))
