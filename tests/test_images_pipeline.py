"""ImageEncoder: decode workers overlapped with the model (profiler/images/pipeline.py)."""

from __future__ import annotations

import io
import multiprocessing
import os

import numpy as np
import pyarrow as pa
import pytest

from profiler.images import pipeline
from profiler.images.decode import IMAGE_CORRUPT, PreprocessSpec, prepare_batch
from profiler.images.pipeline import ImageEncoder, default_decode_workers, default_model_batch
from tests.conftest import shared_path
from tests.image_corpus import CRASH_MARKER, all_cases, crashing_prepare_batch, laion_like


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from profiler.models.loading import load_model
    from tests.tiny_models import register_model, write_checkpoint

    folder = tmp_path_factory.mktemp("tiny-image-model")
    name = register_model(folder, "tiny-image-clip")
    return load_model(name, str(write_checkpoint(name, folder / "tiny.pt", seed=3)), device="cpu")


@pytest.fixture(scope="module")
def corpus():
    """Good and bad images interleaved, plus photo-like JPEGs: (bytes, expected reasons)."""
    cases = all_cases()
    photos = laion_like(24, seed=5, sides=(64, 200))
    data = [c.data for c in cases] + photos
    reasons = [c.reason for c in cases] + [None] * len(photos)
    order = np.random.default_rng(0).permutation(len(data))
    return [data[i] for i in order], [reasons[i] for i in order]


@pytest.fixture(scope="module")
def in_thread(tiny, corpus):
    """The reference: everything decoded in the calling thread."""
    with ImageEncoder(tiny, batch_size=7, decode_workers=0) as encoder:
        return encoder.encode(corpus[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_reasons_and_nan_rows(tiny, corpus, in_thread):
    embeddings, reasons = in_thread
    assert reasons == corpus[1]
    bad = np.array([r is not None for r in reasons])
    assert embeddings.shape == (len(reasons), tiny.info.embed_dim) and embeddings.dtype == np.float32
    assert np.isnan(embeddings[bad]).all()
    assert np.isfinite(embeddings[~bad]).all()
    np.testing.assert_allclose(np.linalg.norm(embeddings[~bad], axis=1), 1.0, atol=1e-5)


def test_worker_processes_agree_with_the_calling_thread_and_go_away(tiny, corpus, in_thread):
    encoder = ImageEncoder(tiny, batch_size=7, decode_workers=2, model_batch=3)  # forward passes of 3
    embeddings, reasons = encoder.encode(corpus[0])
    info = encoder.describe()
    pids = encoder.worker_pids()
    assert info["decode_pool"] == "processes (spawn)" and info["decode_workers"] == 2
    assert info["model_batch"] == 3
    assert pids and all(_alive(pid) for pid in pids) and os.getpid() not in pids
    assert reasons == in_thread[1]
    np.testing.assert_allclose(embeddings, in_thread[0], atol=1e-5)  # NaN rows compare equal
    encoder.close()
    assert not any(_alive(pid) for pid in pids)
    assert encoder.worker_pids() == []
    with pytest.raises(RuntimeError, match="close"):
        encoder.encode(corpus[0][:1])


def test_good_rows_do_not_depend_on_their_neighbours_or_the_chunking(tiny, corpus, in_thread):
    data, expected = corpus
    good = [i for i, r in enumerate(expected) if r is None]
    with ImageEncoder(tiny, batch_size=64, decode_workers=0) as encoder:
        alone, _ = encoder.encode([data[i] for i in good])
        one_by_one = np.concatenate([encoder.encode([data[i]])[0] for i in good[:6]])
    np.testing.assert_allclose(alone, in_thread[0][good], atol=1e-5)
    np.testing.assert_allclose(one_by_one, in_thread[0][good[:6]], atol=1e-5)  # order kept per chunk
    pixels, _ = prepare_batch([data[i] for i in good], PreprocessSpec.from_preprocess_cfg(
        tiny.model.visual.preprocess_cfg))
    distinct_inputs = len({p.tobytes() for p in pixels})  # (the PNG and BMP cases hold one image)
    assert len({tuple(np.round(row, 4)) for row in alone}) == distinct_inputs > len(good) - 3


def test_pyarrow_binary_input_and_empty_input(tiny, corpus, in_thread):
    with ImageEncoder(tiny, batch_size=5, decode_workers=0) as encoder:
        embeddings, reasons = encoder.encode(pa.array(corpus[0], pa.binary()))
        empty, no_reasons = encoder.encode([])
    assert reasons == in_thread[1]
    np.testing.assert_allclose(embeddings, in_thread[0], atol=1e-5)
    assert empty.shape == (0, tiny.info.embed_dim) and no_reasons == []


def test_a_worker_crash_costs_only_the_image_that_caused_it(tiny, corpus, in_thread):
    class Crashing(ImageEncoder):
        prepare_chunk = staticmethod(crashing_prepare_batch)

    data = list(corpus[0])
    data[9] = CRASH_MARKER
    encoder = Crashing(tiny, batch_size=4, decode_workers=2)
    try:
        embeddings, reasons = encoder.encode(data)
        assert encoder.describe()["worker_restarts"] >= 1
    finally:
        encoder.close()
    expected = list(in_thread[1])
    expected[9] = IMAGE_CORRUPT
    assert reasons == expected
    keep = np.arange(len(data)) != 9
    np.testing.assert_allclose(embeddings[keep], in_thread[0][keep], atol=1e-5)
    assert np.isnan(embeddings[9]).all()


def test_falls_back_to_threads_where_no_child_process_can_be_made(tiny, corpus, in_thread, monkeypatch):
    monkeypatch.setattr(pipeline, "_no_child_processes", lambda: "no children here (test)")
    with ImageEncoder(tiny, batch_size=6, decode_workers=2) as encoder:
        embeddings, reasons = encoder.encode(corpus[0])
        info = encoder.describe()
    assert info["decode_pool"] == "threads (fallback)" and "no children here" in info["fallback"]
    assert reasons == in_thread[1]
    np.testing.assert_allclose(embeddings, in_thread[0], atol=1e-5)


EXIT_SCRIPT = """
import sys
from profiler.images.pipeline import ImageEncoder
from profiler.models.loading import load_model
from tests.tiny_models import register_model, write_checkpoint
from tests.image_corpus import laion_like

if __name__ == "__main__":
    name = register_model(sys.argv[1], "tiny-exit-clip")
    loaded = load_model(name, str(write_checkpoint(name, sys.argv[1] + "/t.pt")), device="cpu")
    encoder = ImageEncoder(loaded, batch_size=2, decode_workers=2)
    encoder.encode(laion_like(6, sides=(40, 80)))
    print(*encoder.worker_pids())
    # no close(): interpreter exit must stop the workers
"""


def test_interpreter_exit_stops_the_workers_without_close(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "encode_and_exit.py"
    script.write_text(EXIT_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(pipeline.__file__).rsplit("/profiler/", 1)[0]}
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2 and not any(_alive(pid) for pid in pids)
    assert "Traceback" not in done.stderr


def test_a_daemonic_pool_worker_knows_it_cannot_have_children():
    assert pipeline._no_child_processes() is None
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert "daemonic" in pool.apply(pipeline._no_child_processes)


def test_describe_and_defaults(tiny):
    encoder = ImageEncoder(tiny, batch_size=16, decode_workers=0, draft=False)
    info = encoder.describe()
    assert info["batch_size"] == 16 and info["decode_pool"] == "calling thread" and info["draft"] is False
    assert info["model_batch"] == 16  # the CPU default (32) is capped by the chunk
    assert default_model_batch("cpu") == 32 and default_model_batch("cuda") >= 1024
    assert info["preprocess"]["size"] == (32, 32)
    assert default_decode_workers("cuda", 16) == 15 and default_decode_workers("cuda", 64) == 16
    assert default_decode_workers("cpu", 2) == 1 and default_decode_workers("cpu", 64) == 8
    with pytest.raises(ValueError):
        ImageEncoder(tiny, decode_workers=-1)


# -- closeness to open_clip's own preprocess on real photos ----------------------------------------


def _open_clip_embeddings(loaded, photos: list[bytes]) -> np.ndarray:
    import torch
    from PIL import Image

    preprocess = loaded.image_transform()
    batch = torch.stack([preprocess(Image.open(io.BytesIO(p)).convert("RGB")) for p in photos])
    return loaded.encode_images(batch)


def _real_photos() -> list[bytes]:
    return [path.read_bytes() for path in sorted(shared_path("data", "real-photos").glob("*.jpg"))]


@pytest.fixture(scope="module")
def vit_b_32():
    from profiler.models.loading import load_model

    return load_model("ViT-B-32", "none", allow_random_weights=True, device="cpu")


@pytest.mark.integration
@pytest.mark.parametrize("model", ["tiny", "vit_b_32"])
def test_embeddings_match_open_clip_preprocess_on_real_photos(model, request):
    photos = _real_photos()
    loaded = request.getfixturevalue(model)
    reference = _open_clip_embeddings(loaded, photos)
    with ImageEncoder(loaded, batch_size=4, decode_workers=0, draft=False) as exact:
        same, reasons = exact.encode(photos)
    assert reasons == [None] * len(photos)
    np.testing.assert_allclose(same, reference, atol=1e-5)  # without draft mode: the same pixels
    with ImageEncoder(loaded, batch_size=4, decode_workers=0) as drafted:
        close, _ = drafted.encode(photos)
    cosine = (close * reference).sum(axis=1)
    # draft mode: JPEGs whose short side is >= 2x the input side are decoded at 1/2..1/8 DCT scale
    assert cosine.min() > 0.99, cosine


def test_draft_mode_embeddings_stay_close_on_large_photo_like_jpegs(vit_b_32):
    photos = laion_like(6, seed=9, sides=(500, 1400))  # every one decoded at a reduced scale
    reference = _open_clip_embeddings(vit_b_32, photos)
    with ImageEncoder(vit_b_32, batch_size=6, decode_workers=0) as encoder:
        ours, _ = encoder.encode(photos)
    assert (ours * reference).sum(axis=1).min() > 0.99


def test_non_square_spec_through_the_pipeline(tiny):
    spec = PreprocessSpec(size=(32, 32), resize_mode="longest", fill_color=0)
    with ImageEncoder(tiny, batch_size=3, decode_workers=0, spec=spec) as encoder:
        embeddings, reasons = encoder.encode(laion_like(4, seed=2, sides=(40, 90)))
    assert reasons == [None] * 4 and np.isfinite(embeddings).all()
