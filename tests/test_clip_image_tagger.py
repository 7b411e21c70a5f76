"""The clip image tagger end to end: image bytes, precomputed embeddings, the embedding cache,
thresholds and unscored rows, through the real CLI, open_clip (tiny random weights) and parquet."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("open_clip")
from PIL import Image

from profiler.cli import main
from profiler.engine.shard import cached_taggers
from profiler.images.pipeline import ImageEncoder
from profiler.models.loading import load_model_cached
from profiler.models.prompts import load_prompt_bank
from profiler.models.text import TextEncoder
from profiler.models.zeroshot import ZeroShotClassifier, sexual_columns
from tests import tiny_models as testing

CLIP_COLUMNS = ["clip.sexual_score", "clip.sexual_class", "clip.sexual", "clip.problem"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip-image-model")
    name = testing.register_model(folder, "tiny-image-tagger")
    return name, testing.write_checkpoint(name, folder / "tiny.pt", seed=3, logit_scale=30.0)


def jpeg(seed: int, size=(48, 40)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG")
    return out.getvalue()


GOOD = 9
IMAGES = [jpeg(i) for i in range(GOOD)] + [b"", b"not an image at all", None]
PROBLEMS = {"image_empty": 1, "image_corrupt": 1, "image_missing": 1}


def write_shard(path: Path, images=IMAGES, **extra) -> Path:
    n = len(images)
    table = pa.table({
        "key": [f"k{i}" for i in range(n)],
        "caption": [f"photo of a Japanese woman number {i}" for i in range(n)],
        "jpg": pa.array(images, pa.binary()),
        **extra,
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def profile(source: Path, out: Path, model, *extra: str) -> int:
    name, checkpoint = model
    return main(["-q", "profile", str(source), "--taggers", "identity,sexual_terms,clip",
                 "--model", name, "--pretrained", str(checkpoint), "--device", "cpu",
                 "--out", str(out), *extra])


def tags_of(out: Path) -> pa.Table:
    return pq.read_table(next((out / "tags").rglob("*.parquet"))).sort_by("key")


def stats_of(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def expected_columns(model, images, bank: str | None = None) -> dict[str, list]:
    """What the tagger must produce, computed directly: encoder -> float16 -> zero-shot."""
    name, checkpoint = model
    loaded = load_model_cached(name, str(checkpoint), "cpu")
    embeddings, problems = ImageEncoder(loaded, decode_workers=0).encode(images)
    classifier = ZeroShotClassifier.build(
        TextEncoder(loaded).encode, load_prompt_bank("sexual_content", bank, kind="sexual_content"),
        loaded.info.logit_scale)
    columns = sexual_columns(embeddings.astype(np.float16), classifier)
    return {"problems": problems, **{k: v.to_pylist() for k, v in columns.items()}}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, model):
    root = tmp_path_factory.mktemp("clip-run")
    source = write_shard(root / "data" / "part-0.parquet")
    assert profile(source, root / "out", model) == 0
    return source, root / "out"


def test_images_are_scored_and_broken_ones_counted_by_reason(first_run, model):
    _source, out = first_run
    stats = stats_of(out)
    n = len(IMAGES)
    assert stats["rows"]["read"] == stats["rows"]["tagged"] == n  # a broken image keeps its row
    assert stats["rows"]["unscored"] == {"clip.problem": PROBLEMS}
    assert stats["coverage"]["clip.sexual"]["observed"] == GOOD
    assert "clip.sexual" in stats["signals"] and "clip.model" in stats["taxonomy_versions"]
    tags = tags_of(out)
    expected = expected_columns(model, IMAGES)
    order = np.argsort([f"k{i}" for i in range(n)])
    assert tags.column("clip.problem").to_pylist() == [expected["problems"][i] for i in order]
    got = np.array(tags.column("clip.sexual_score").to_pylist(), dtype=float)
    want = np.array([expected["clip.sexual_score"][i] for i in order], dtype=float)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert tags.column("clip.sexual").to_pylist() == [expected["clip.sexual"][i] for i in order]
    probs = [f"clip.prob.{c}" for c in load_prompt_bank("sexual_content").ids]
    total = sum(np.nan_to_num(np.array(tags.column(p).to_pylist(), dtype=float)) for p in probs)
    np.testing.assert_allclose(total[~np.isnan(got)], 1.0, atol=1e-5)
    # the embeddings went to the cache, not into the tag file
    assert "clip.image_embedding" not in tags.column_names
    cache = pq.read_table(out / "embeddings" / "clip" / "part-0.parquet")
    assert cache.num_rows == n and cache.schema.field("clip.image_embedding").type.list_size == 32


OTHER_BANK = """
[meta]
name = "other_bank"
version = "9"
kind = "sexual_content"
threshold = 0.3

[classes.nude]
sexual = true
prompts = ["a nude figure"]

[classes.dressed]
sexual = false
prompts = ["a person in a winter coat", "a landscape"]
"""


def test_a_new_prompt_bank_retags_from_the_cache_without_reading_images(
    first_run, model, tmp_path, monkeypatch
):
    source, out = first_run
    bank = tmp_path / "bank.toml"
    bank.write_text(OTHER_BANK)
    fresh = tmp_path / "fresh"
    assert profile(source, fresh, model, "--prompts", str(bank)) == 0

    cached = tmp_path / "cached"
    shutil.copytree(out, cached)

    def no_images(*args, **kwargs):
        raise AssertionError("images were encoded although the cache holds their embeddings")

    monkeypatch.setattr(ImageEncoder, "encode", no_images)
    assert profile(source, cached, model, "--prompts", str(bank), "--overwrite") == 0
    columns = ["key", *CLIP_COLUMNS]
    assert tags_of(cached).select(columns).equals(tags_of(fresh).select(columns))
    assert stats_of(cached)["rows"] == stats_of(fresh)["rows"]
    assert stats_of(cached)["taxonomy_versions"]["other_bank"] == "9"
    # another run folder can read this cache too
    elsewhere = tmp_path / "elsewhere"
    assert profile(source, elsewhere, model, "--prompts", str(bank),
                   "--embedding-cache", str(out / "embeddings")) == 0
    assert tags_of(elsewhere).select(CLIP_COLUMNS).equals(tags_of(fresh).select(CLIP_COLUMNS))


def test_a_changed_shard_is_encoded_again(tmp_path, model):
    # taggers built afresh: the second run reuses them after their first images, and must
    # still find its own run folder (an encoder made by a run is no setting of the run)
    cached_taggers.cache_clear()
    source = write_shard(tmp_path / "data" / "part-0.parquet")
    out = tmp_path / "out"
    assert profile(source, out, model) == 0
    images = [jpeg(100 + i) for i in range(GOOD)] + IMAGES[GOOD:]
    write_shard(source, images)  # same keys, other pictures: the cache must not be trusted
    assert profile(source, out, model) == 0
    expected = expected_columns(model, images)["clip.sexual_score"]
    order = np.argsort([f"k{i}" for i in range(len(images))])
    got = tags_of(out).column("clip.sexual_score").to_pylist()
    np.testing.assert_allclose(np.array(got, float), np.array([expected[i] for i in order], float), atol=1e-6)


def _reversed(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(table.take(pa.array(range(table.num_rows - 1, -1, -1))), path)


def _zero_the_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    data[4 : len(data) - 8 - footer] = bytes(len(data) - 12 - footer)  # footer intact, pages zeroed
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_reversed, _zero_the_pages], ids=["misaligned", "damaged"])
def test_a_cache_that_cannot_be_used_is_dropped_and_encoded_again(tmp_path, model, damage):
    source = write_shard(tmp_path / "data" / "part-0.parquet")
    out = tmp_path / "out"
    assert profile(source, out, model) == 0
    (cache,) = (out / "embeddings" / "clip").rglob("*.parquet")
    damage(cache)
    bank = tmp_path / "bank.toml"  # a re-tag: the run that reads the cache
    bank.write_text(OTHER_BANK)
    assert profile(source, out, model, "--prompts", str(bank), "--overwrite") == 0
    assert not stats_of(out)["shards"]["failed"]
    fresh = tmp_path / "fresh"
    assert profile(source, fresh, model, "--prompts", str(bank), "--no-embedding-cache") == 0
    columns = ["key", *CLIP_COLUMNS]
    assert tags_of(out).select(columns).equals(tags_of(fresh).select(columns))
    assert pq.read_table(cache).column("key").to_pylist() == [f"k{i}" for i in range(len(IMAGES))]


def embedding_column(rows: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1), pa.float32()), rows.shape[1])


def test_precomputed_embeddings_are_scored_and_no_image_is_read(tmp_path, model):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 32)).astype(np.float32)
    vectors[4] = np.nan
    vectors[5] = 0.0
    garbage = [b"garbage"] * 6  # read, these would be image_corrupt
    source = write_shard(tmp_path / "part.parquet", garbage, embedding=embedding_column(vectors))
    out = tmp_path / "out"
    assert profile(source, out, model) == 0
    assert stats_of(out)["rows"]["unscored"] == {"clip.problem": {"embedding_invalid": 2}}
    name, checkpoint = model
    loaded = load_model_cached(name, str(checkpoint), "cpu")
    classifier = ZeroShotClassifier.build(TextEncoder(loaded).encode, load_prompt_bank("sexual_content"),
                                          loaded.info.logit_scale)
    want = sexual_columns(vectors, classifier)["clip.sexual_score"].to_pylist()
    got = tags_of(out).column("clip.sexual_score").to_pylist()
    assert got[4:] == [None, None]
    np.testing.assert_allclose(np.array(got[:4], float), np.array(want[:4], float), atol=1e-6)
    assert not (out / "embeddings" / "clip").exists()  # nothing computed, nothing cached


def test_embeddings_of_another_dimension_are_a_user_error(tmp_path, model, capsys):
    source = write_shard(tmp_path / "part.parquet", [None] * 3,
                         embedding=embedding_column(np.ones((3, 768), np.float32)))
    assert profile(source, tmp_path / "out", model) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "dimension 768" in err and "Traceback" not in err


def test_a_source_without_images_keeps_its_rows(tmp_path, model):
    source = tmp_path / "captions.parquet"
    pq.write_table(pa.table({"caption": ["a Korean woman in a red dress", "a cat"]}), source)
    out = tmp_path / "out"
    assert profile(source, out, model) == 0
    stats = stats_of(out)
    assert stats["rows"]["tagged"] == 2
    assert stats["rows"]["unscored"] == {"clip.problem": {"missing_column:image": 2}}
    assert stats["coverage"]["clip.sexual"]["observed"] == 0


def test_pipeline_paths_and_class_thresholds(tmp_path, model):
    name, checkpoint = model
    folder = tmp_path / "pipeline"
    (folder / "weights").mkdir(parents=True)
    shutil.copy(checkpoint, folder / "weights" / "tiny.pt")
    (folder / "bank.toml").write_text(OTHER_BANK)
    write_shard(folder / "data" / "part-0.parquet")
    toml = folder / "clip.toml"
    toml.write_text(f"""
[run]
out = "out"
[source]
paths = ["data"]
[taggers]
enabled = ["identity", "clip"]
[taggers.clip]
model = "{name}"
pretrained = "weights/tiny.pt"
prompts_path = "bank.toml"
device = "cpu"
class_thresholds = {{ nude = 0.0 }}
""")
    assert main(["-q", "run", str(toml)]) == 0
    tags = tags_of(folder / "out")
    scored = [s is not None for s in tags.column("clip.sexual_score").to_pylist()]
    assert tags.column("clip.sexual").to_pylist() == [True if ok else None for ok in scored]
    stats = stats_of(folder / "out")
    assert stats["settings"]["taggers"]["clip"]["thresholds"]["classes"] == {"nude": 0.0}
    toml.write_text(toml.read_text().replace("nude = 0.0", "naked = 0.2"))
    assert main(["-q", "run", str(toml), "--overwrite"]) == 2


def test_model_flags_without_a_clip_tagger_are_a_user_error(tmp_path, capsys):
    source = tmp_path / "c.parquet"
    pq.write_table(pa.table({"caption": ["a cat"]}), source)
    assert main(["-q", "profile", str(source), "--model", "ViT-B-32", "--out", str(tmp_path / "o")]) == 2
    assert "--taggers" in capsys.readouterr().err
