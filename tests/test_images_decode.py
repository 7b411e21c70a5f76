"""Safe decoding and open_clip-equal preprocessing (profiler/images/decode.py)."""

from __future__ import annotations

import io
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import profiler.images
from profiler.images.decode import (
    IMAGE_CORRUPT,
    IMAGE_PROBLEMS,
    IMAGE_TOO_LARGE,
    PreprocessSpec,
    decode_image,
    prepare_batch,
    prepare_pixels,
    resize_crop,
)
from tests.conftest import shared_path
from tests.image_corpus import (
    all_cases,
    bad_cases,
    exif_rotated_jpeg,
    good_cases,
    jpeg_bytes,
    marked,
    photo_like,
    png_bomb,
    png_bytes,
    webp_bytes,
)

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_decodes_or_gives_its_reason(case):
    image, reason = decode_image(case.data)
    assert reason == case.reason
    if case.reason is not None:
        assert image is None
        return
    assert image.mode == "RGB"
    assert image.size == case.size
    for (x, y), expected in case.pixels.items():
        got = image.getpixel((x, y))
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= case.tolerance, (
            f"{case.name} pixel {(x, y)}: {got} != {expected}")


def test_problem_vocabulary_is_the_same_without_importing_pil():
    assert profiler.images.IMAGE_PROBLEMS == IMAGE_PROBLEMS
    assert {c.reason for c in bad_cases()} == set(IMAGE_PROBLEMS)  # the corpus covers every reason


def test_exif_rotation_moves_the_corner_and_swaps_the_sides():
    case = exif_rotated_jpeg(120, 80)
    stored = Image.open(io.BytesIO(case.data))
    assert stored.size == (120, 80)  # as stored: the EXIF tag is what rotates it
    image, _ = decode_image(case.data)
    array = np.asarray(image).astype(int)
    red_corner = array[:15, -15:].mean(axis=(0, 1))  # top-right after a clockwise turn
    assert red_corner[0] > 200 and red_corner[1] < 60 and red_corner[2] < 60
    assert array[:15, :15, 0].mean() < 200  # the top-left is not the red block


def test_limits_are_the_callers_not_pils_global(monkeypatch):
    data = jpeg_bytes(64, 48)
    assert decode_image(data, max_pixels=64 * 48)[1] is None
    assert decode_image(data, max_pixels=64 * 48 - 1) == (None, IMAGE_TOO_LARGE)
    assert decode_image(data, max_bytes=len(data) - 1) == (None, IMAGE_TOO_LARGE)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # someone turned PIL's guard off
    assert decode_image(png_bomb(10_000)) == (None, IMAGE_TOO_LARGE)


def test_bomb_warning_becomes_the_reason_not_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert decode_image(png_bomb(10_000)) == (None, IMAGE_TOO_LARGE)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_non_bytes_input_is_a_reason():
    assert decode_image("not bytes")[1] == IMAGE_CORRUPT  # type: ignore[arg-type]
    assert decode_image(memoryview(jpeg_bytes(20, 20)))[1] is None


# -- JPEG draft mode -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_jpeg() -> bytes:
    return jpeg_bytes(1800, 1200, seed=11)


@pytest.mark.parametrize("min_side", [32, 100, 149, 150, 151, 224, 300, 301, 600, 601, 1200, 5000])
def test_draft_decodes_at_the_smallest_scale_not_below_min_side(large_jpeg, min_side):
    image, reason = decode_image(large_jpeg, min_side)
    assert reason is None
    short = min(image.size)
    scale = 1200 / short
    assert scale in (1, 2, 4, 8)
    assert short >= min(min_side, 1200)  # never below what the model needs
    if scale < 8:  # and the next DCT scale down would have been too small
        assert -(-1200 // (2 * scale)) < min_side
    assert image.size == (-(-1800 // scale), -(-1200 // scale))


def test_draft_respects_min_side_on_rotated_images():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = io.BytesIO()
    marked(1000, 500, seed=3).save(data, "JPEG", quality=90, exif=exif.tobytes())
    image, _ = decode_image(data.getvalue(), 224)
    assert image.size == (250, 500)  # 1/2 scale (1/4 would be 125 < 224), then rotated


def test_draft_changes_pixels_only_slightly(large_jpeg):
    spec = PreprocessSpec()
    exact, _ = prepare_pixels(large_jpeg, PreprocessSpec(draft=False))
    draft, _ = prepare_pixels(large_jpeg, spec)
    diff = np.abs(exact.astype(int) - draft)
    assert diff.mean() < 4  # DCT scaling vs a bicubic filter for the same factor
    assert (exact != draft).any()  # it did decode differently (draft mode is in use)


def test_draft_is_off_for_non_jpeg():
    data = png_bytes(900, 700)
    assert decode_image(data, 224)[0].size == (900, 700)


# -- preprocessing equals open_clip ----------------------------------------------------------------


def _open_clip_geometry(image: Image.Image, cfg) -> np.ndarray:
    """open_clip's eval transform without ToTensor / Normalize: resize, crop, RGB."""
    from open_clip.transform import image_transform_v2

    for step in image_transform_v2(cfg, is_train=False).transforms[:-2]:
        image = step(image)
    return np.asarray(image)


@pytest.mark.parametrize("mode", ["shortest", "longest", "squash"])
@pytest.mark.parametrize("size", [(224, 224), (256, 192), (240, 320)])
def test_resize_crop_equals_open_clip(mode, size):
    from open_clip.transform import PreprocessCfg

    cfg = PreprocessCfg(size=size, resize_mode=mode, fill_color=7)
    spec = PreprocessSpec.from_preprocess_cfg(cfg, draft=False)
    rng = np.random.default_rng(hash((mode, size)) % 2**32)
    # up to 10:1 (beyond 16:1 the crop box alone is resampled: next tests)
    shapes = [(size[1], size[0]), (size[1] + 1, size[0]), (20, 30), (600, 60), (60, 600)]
    shapes += [(int(rng.integers(70, 700)), int(rng.integers(70, 700))) for _ in range(12)]
    for width, height in shapes:
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        ours = np.asarray(resize_crop(image, spec))
        assert np.array_equal(ours, _open_clip_geometry(image, cfg)), (mode, size, width, height)


def test_prepare_pixels_equals_open_clip_on_encoded_files():
    from open_clip.transform import PreprocessCfg

    cfg = PreprocessCfg()
    spec = PreprocessSpec.from_preprocess_cfg(cfg, draft=False)
    for data in (png_bytes(333, 250), webp_bytes(250, 400), jpeg_bytes(640, 480)):
        pixels, reason = prepare_pixels(data, spec)
        assert reason is None and pixels.dtype == np.uint8 and pixels.shape == (224, 224, 3)
        reference = _open_clip_geometry(Image.open(io.BytesIO(data)).convert("RGB"), cfg)
        assert np.array_equal(pixels, reference)


def test_thin_strips_never_build_the_huge_intermediate():
    spec = PreprocessSpec(draft=False)
    strip = Image.fromarray(photo_like(2000, 3, seed=5))  # open_clip would resize to 149,333 x 224
    pixels = np.asarray(resize_crop(strip, spec))
    assert pixels.shape == (224, 224, 3)
    data = io.BytesIO()
    Image.new("RGB", (100_000, 1), (10, 200, 30)).save(data, "PNG")
    pixels, reason = prepare_pixels(data.getvalue(), spec)  # 22,400,000 x 224 in open_clip
    assert reason is None and pixels.shape == (224, 224, 3)
    assert np.abs(pixels.astype(int) - (10, 200, 30)).max() <= 1


def test_thin_strip_box_resize_is_close_to_open_clip():
    from open_clip.transform import PreprocessCfg

    strip = Image.fromarray(photo_like(4000, 60, seed=6))  # 66:1, within open_clip's memory
    ours = np.asarray(resize_crop(strip, PreprocessSpec(draft=False))).astype(int)
    assert np.abs(ours - _open_clip_geometry(strip, PreprocessCfg())).mean() < 1.0


def test_spec_from_open_clip_cfg_and_pickle():
    spec = PreprocessSpec.from_preprocess_cfg(
        {"size": 336, "mean": 0.5, "std": (0.2, 0.3, 0.4), "interpolation": "bilinear",
         "resize_mode": "longest", "fill_color": 3}, draft=False)
    assert spec.size == (336, 336) and spec.mean == (0.5, 0.5, 0.5) and spec.min_side is None
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert PreprocessSpec(size=(224, 320)).min_side == 320
    with pytest.raises(ValueError, match="resize_mode"):
        PreprocessSpec(resize_mode="fill")


def test_prepare_batch_zeros_and_reasons():
    spec = PreprocessSpec(size=(32, 32))
    pixels, reasons = prepare_batch([jpeg_bytes(50, 40), None, b"junk", png_bytes(40, 40)], spec)
    assert pixels.shape == (4, 32, 32, 3) and reasons == [None, "image_missing", IMAGE_CORRUPT, None]
    assert not pixels[1].any() and not pixels[2].any() and pixels[0].any() and pixels[3].any()


def test_threads_decode_the_corpus_concurrently_with_the_same_results():
    data = [c.data for c in CASES] * 3
    expected = [decode_image(d)[1] for d in data]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda d: decode_image(d, 16)[1], data))
    assert got == expected


def test_real_photos_decode_at_their_named_size():
    folder = shared_path("data", "real-photos")
    photos = sorted(folder.glob("*.jpg"))
    assert photos
    for path in photos:
        width, height = (int(v) for v in path.stem.split("_"))
        image, reason = decode_image(path.read_bytes())
        assert reason is None and image.size == (width, height), path.name
        pixels, reason = prepare_pixels(path.read_bytes(), PreprocessSpec())
        assert reason is None and pixels.shape == (224, 224, 3)


# -- never raises ----------------------------------------------------------------------------------

FUZZ_SPEC = PreprocessSpec(size=(24, 24), max_pixels=2**22)  # small limits: fuzzed headers stay cheap
SEEDS = [jpeg_bytes(48, 32, seed=1), jpeg_bytes(40, 40, seed=2, progressive=True), png_bytes(40, 30),
         webp_bytes(40, 30)] + [c.data for c in good_cases() if len(c.data) < 20_000]


def _check_contract(data: bytes) -> None:
    image, reason = decode_image(data, 24, max_pixels=FUZZ_SPEC.max_pixels)
    assert (image is None) != (reason is None)
    assert reason is None or reason in IMAGE_PROBLEMS
    assert image is None or image.mode == "RGB"
    pixels, reason = prepare_pixels(data, FUZZ_SPEC)
    assert reason in IMAGE_PROBLEMS if pixels is None else pixels.shape == (24, 24, 3)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data):
    _check_contract(data)


@st.composite
def mutated_images(draw) -> bytes:
    """A valid image with bytes flipped, cut, inserted or deleted (headers included)."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "header"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "header" and len(data) > 40:
            data[draw(st.integers(0, 40))] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_images())
def test_mutated_images_never_raise(data):
    _check_contract(data)
