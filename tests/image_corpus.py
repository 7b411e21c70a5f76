"""Good and bad images as in-memory bytes, each with what decoding it must give.

Used by the decode and pipeline tests and reusable by any test that needs image columns (image
taggers, readers of img2dataset tars): `good_cases()`, `bad_cases()`, `all_cases()` return
`ImageCase`s; `jpeg_bytes` / `png_bytes` / `webp_bytes` make photo-like images of any size
(gradients, shapes and sensor-like noise, so JPEG sizes and decode costs are realistic).
Everything is generated (seeded); only `real_photos()` reads files, from ../shared.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from profiler.images.decode import (
    IMAGE_CORRUPT,
    IMAGE_EMPTY,
    IMAGE_MISSING,
    IMAGE_TOO_LARGE,
    IMAGE_TRUNCATED,
    IMAGE_UNSUPPORTED,
)

REAL_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-photos"

RED, WHITE, BLUE, GREEN = (255, 0, 0), (255, 255, 255), (0, 0, 255), (0, 255, 0)


@dataclass(frozen=True)
class ImageCase:
    """One input and its expected decoding: `reason` (None: decodes), the decoded RGB `size`
    (width, height; orientation applied), and pixels `(x, y) -> RGB` it must show (+-tolerance)."""

    name: str
    data: bytes | None
    reason: str | None = None
    size: tuple[int, int] | None = None
    pixels: dict[tuple[int, int], tuple[int, int, int]] = field(default_factory=dict)
    tolerance: int = 40

    def __repr__(self) -> str:  # pytest ids and messages: not the bytes
        return f"ImageCase({self.name})"


# -- photo-like pixels -----------------------------------------------------------------------------


def photo_like(width: int, height: int, seed: int = 0) -> np.ndarray:
    """uint8 (height, width, 3): smooth gradients, a few blobs and edges, and per-pixel noise.

    The noise gives JPEG sizes close to real photos at the same quality (pure gradients would
    compress 10x better and decode faster than anything on the web)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x /= max(width, 1)
    y /= max(height, 1)
    channels = []
    for c in range(3):
        a, b, phase = rng.uniform(0.5, 3.0, 3)
        channels.append(128 + 70 * np.sin(a * 3 * x + phase) * np.cos(b * 3 * y + c))
    image = np.stack(channels, axis=-1)
    for _ in range(6):  # blobs with hard edges
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25)
        mask = (x - cx) ** 2 + ((y - cy) * height / max(width, 1)) ** 2 < r**2
        image[mask] = rng.uniform(0, 255, 3)
    image += rng.normal(0, 9, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_bytes(width: int, height: int, seed: int = 0, quality: int = 90, **options) -> bytes:
    return _save(Image.fromarray(photo_like(width, height, seed)), "JPEG", quality=quality, **options)


def png_bytes(width: int, height: int, seed: int = 0) -> bytes:
    return _save(Image.fromarray(photo_like(width, height, seed)), "PNG")


def webp_bytes(width: int, height: int, seed: int = 0, quality: int = 85) -> bytes:
    return _save(Image.fromarray(photo_like(width, height, seed)), "WEBP", quality=quality)


def marked(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like image with a red block in its top-left corner (where orientation shows)."""
    array = photo_like(width, height, seed)
    array[: height // 4, : width // 4] = RED
    return Image.fromarray(array)


# -- good images -----------------------------------------------------------------------------------


def exif_rotated_jpeg(width: int = 120, height: int = 80) -> ImageCase:
    """Stored width x height with the red block top-left; EXIF orientation 6 (rotate 90 degrees
    clockwise to display): decoded it is height x width with the block top-right."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _save(marked(width, height, seed=1), "JPEG", quality=92, exif=exif.tobytes())
    return ImageCase("jpeg_exif_orientation_6", data, size=(height, width),
                     pixels={(height - 5, 5): RED, (5, 5): _pixel(marked(width, height, 1), 5, height - 6)})


def _pixel(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    r, g, b = image.convert("RGB").getpixel((x, y))[:3]
    return int(r), int(g), int(b)


def transparent_rgba() -> ImageCase:
    """RGBA with a fully transparent left half (composited on white) and an opaque blue right."""
    array = np.zeros((40, 60, 4), np.uint8)
    array[:, 30:] = (*BLUE, 255)
    array[:, :30] = (*GREEN, 0)
    data = _save(Image.fromarray(array, "RGBA"), "PNG")
    return ImageCase("png_rgba_transparent", data, size=(60, 40), pixels={(5, 5): WHITE, (50, 20): BLUE},
                     tolerance=2)


def gray_alpha() -> ImageCase:
    array = np.zeros((30, 50, 2), np.uint8)
    array[:, :25] = (0, 0)  # transparent black -> white
    array[:, 25:] = (0, 255)  # opaque black
    data = _save(Image.fromarray(array, "LA"), "PNG")
    return ImageCase("png_la", data, size=(50, 30), pixels={(3, 3): WHITE, (45, 15): (0, 0, 0)}, tolerance=2)


def palette_transparency() -> ImageCase:
    """Palette PNG whose index 0 is transparent (tRNS): those pixels become white."""
    image = Image.new("P", (40, 30), 0)
    image.putpalette([*GREEN, *RED] + [0] * (254 * 3))
    image.paste(1, (20, 0, 40, 30))
    data = _save(image, "PNG", transparency=0)
    return ImageCase("png_palette_transparency", data, size=(40, 30), pixels={(2, 2): WHITE, (30, 10): RED},
                     tolerance=2)


def cmyk_jpeg() -> ImageCase:
    image = Image.new("CMYK", (64, 48), (0, 255, 255, 0))  # pure red in CMYK
    image.paste((255, 255, 0, 0), (32, 0, 64, 48))  # blue
    data = _save(image, "JPEG", quality=95)
    return ImageCase("jpeg_cmyk", data, size=(64, 48), pixels={(8, 24): RED, (56, 24): BLUE}, tolerance=30)


def sixteen_bit_png() -> ImageCase:
    """I;16 grayscale: 0 left, 65535 right, 32896 (128 in 8 bits) in the middle."""
    array = np.zeros((20, 60), np.uint16)
    array[:, 20:40] = 32896
    array[:, 40:] = 65535
    data = _save(Image.fromarray(array), "PNG")
    return ImageCase("png_16bit_gray", data, size=(60, 20),
                     pixels={(5, 5): (0, 0, 0), (30, 5): (128, 128, 128), (55, 5): WHITE}, tolerance=1)


def float_tiff() -> ImageCase:
    """Mode F in [0, 1]: scaled by 255."""
    array = np.zeros((20, 40), np.float32)
    array[:, 20:] = 1.0
    data = _save(Image.fromarray(array, "F"), "TIFF")
    return ImageCase("tiff_float", data, size=(40, 20), pixels={(5, 5): (0, 0, 0), (35, 5): WHITE},
                     tolerance=1)


def one_bit_png() -> ImageCase:
    image = Image.new("1", (32, 16), 0)
    image.paste(1, (16, 0, 32, 16))
    return ImageCase("png_1bit", _save(image, "PNG"), size=(32, 16),
                     pixels={(4, 4): (0, 0, 0), (28, 4): WHITE}, tolerance=0)


def animated_gif() -> ImageCase:
    """Three frames (red, green, blue): the first frame is decoded."""
    frames = [Image.new("RGB", (30, 20), color) for color in (RED, GREEN, BLUE)]
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return ImageCase("gif_animated", data, size=(30, 20), pixels={(15, 10): RED}, tolerance=2)


def animated_webp() -> ImageCase:
    frames = [Image.new("RGB", (30, 20), color) for color in (BLUE, RED, GREEN)]
    data = _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    return ImageCase("webp_animated", data, size=(30, 20), pixels={(15, 10): BLUE}, tolerance=2)


def grayscale_jpeg() -> ImageCase:
    image = Image.new("L", (50, 40), 30)
    image.paste(220, (25, 0, 50, 40))
    return ImageCase("jpeg_grayscale", _save(image, "JPEG", quality=95), size=(50, 40),
                     pixels={(5, 20): (30, 30, 30), (45, 20): (220, 220, 220)}, tolerance=6)


def good_cases() -> list[ImageCase]:
    """Images that must decode, with their expected size (and pixels where they tell)."""
    photo = marked(96, 64, seed=2)
    return [
        ImageCase("jpeg_rgb", jpeg_bytes(320, 240), size=(320, 240)),
        ImageCase("jpeg_progressive", jpeg_bytes(300, 200, progressive=True), size=(300, 200)),
        ImageCase("png_rgb", _save(photo, "PNG"), size=(96, 64), pixels={(3, 3): RED}, tolerance=0),
        ImageCase("webp_rgb", webp_bytes(200, 150), size=(200, 150)),
        ImageCase("bmp_rgb", _save(photo, "BMP"), size=(96, 64), pixels={(3, 3): RED}, tolerance=0),
        exif_rotated_jpeg(), transparent_rgba(), gray_alpha(), palette_transparency(), cmyk_jpeg(),
        sixteen_bit_png(), float_tiff(), one_bit_png(), animated_gif(), animated_webp(), grayscale_jpeg(),
    ]


# -- bad images ------------------------------------------------------------------------------------


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def scrambled_after(data: bytes, offset: int, seed: int = 0) -> bytes:
    """The first `offset` bytes kept (a valid start), the rest replaced by random bytes."""
    rng = np.random.default_rng(seed)
    return data[:offset] + rng.integers(0, 256, len(data) - offset, dtype=np.uint8).tobytes()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR declaring width x height, with a few bytes of pixel data
    (a bogus header: a reader that trusts it allocates width x height x 3 bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose SOF0 frame header is rewritten to declare width x height."""
    data = bytearray(jpeg_bytes(16, 16, quality=80))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@functools.cache
def png_bomb(side: int) -> bytes:
    """A real side x side 1-bit PNG of zeros: a few KB that decode to side^2 pixels (cached)."""
    return _save(Image.new("1", (side, side), 0), "PNG", optimize=False)


def bad_cases() -> list[ImageCase]:
    """Inputs that must give a reason (and never an exception)."""
    jpeg = jpeg_bytes(320, 240, seed=3)
    png = png_bytes(120, 90, seed=4)
    webp = webp_bytes(200, 150, seed=5)
    rng = np.random.default_rng(6)
    return [
        ImageCase("missing", None, IMAGE_MISSING),
        ImageCase("zero_bytes", b"", IMAGE_EMPTY),
        ImageCase("random_bytes", rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), IMAGE_CORRUPT),
        ImageCase("html_page", b"<!DOCTYPE html><html><body>404 Not Found</body></html>", IMAGE_CORRUPT),
        ImageCase("text", b"hello", IMAGE_CORRUPT),
        ImageCase("jpeg_truncated_half", truncated(jpeg), IMAGE_TRUNCATED),
        ImageCase("jpeg_truncated_header", jpeg[:300], IMAGE_TRUNCATED),
        ImageCase("png_truncated_half", truncated(png), IMAGE_TRUNCATED),
        ImageCase("webp_truncated_half", truncated(webp), IMAGE_TRUNCATED),
        ImageCase("jpeg_scrambled_after_soi", scrambled_after(jpeg, 20), IMAGE_CORRUPT),
        ImageCase("png_scrambled_after_ihdr", scrambled_after(png, 33), IMAGE_CORRUPT),
        ImageCase("png_bomb_10000", png_bomb(10_000), IMAGE_TOO_LARGE),  # over the limit: PIL warns
        ImageCase("png_bomb_15000", png_bomb(15_000), IMAGE_TOO_LARGE),  # over twice: PIL raises
        ImageCase("png_ihdr_30000", png_declaring(30_000, 30_000), IMAGE_TOO_LARGE),
        ImageCase("jpeg_sof_65000", jpeg_declaring(65_000, 65_000), IMAGE_TOO_LARGE),
        ImageCase("png_ihdr_zero_width", png_declaring(0, 10), IMAGE_CORRUPT),
        ImageCase("svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
                         b'height="10"><rect width="10" height="10"/></svg>', IMAGE_UNSUPPORTED),
        ImageCase("pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", IMAGE_UNSUPPORTED),
        ImageCase("eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n",
                  IMAGE_UNSUPPORTED),
        ImageCase("pcx_refused_format", _save(marked(20, 10), "PCX"), IMAGE_UNSUPPORTED),
    ]


def all_cases() -> list[ImageCase]:
    return good_cases() + bad_cases()


# -- real photos -----------------------------------------------------------------------------------


def real_photos(folder: Path = REAL_PHOTOS) -> list[tuple[str, bytes]]:
    """(name, bytes) of ../shared/data/real-photos/*.jpg (named WIDTH_HEIGHT.jpg); [] when absent."""
    return [(path.name, path.read_bytes()) for path in sorted(folder.glob("*.jpg"))]


# A chunk holding these bytes kills the decode worker process that gets it (pipeline recovery tests).
CRASH_MARKER = b"\xde\xadkill this decode worker"


def crashing_prepare_batch(images: list, spec):
    """`prepare_batch`, except that a chunk holding CRASH_MARKER kills its worker process at once
    (as a segfaulting decoder or the OOM killer would)."""
    import os

    from profiler.images.decode import prepare_batch

    if any(item == CRASH_MARKER for item in images):
        os._exit(3)
    return prepare_batch(images, spec)


def laion_like(n: int, seed: int = 0, sides: tuple[int, int] = (256, 640),
               source: Callable[[int, int, int], bytes] | None = None) -> list[bytes]:
    """`n` JPEGs with LAION-typical sides (uniform in `sides`, random aspect), quality 85-95."""
    rng = np.random.default_rng(seed)
    make = source or (lambda w, h, s: jpeg_bytes(w, h, seed=s, quality=int(rng.integers(85, 96))))
    return [make(int(rng.integers(*sides)), int(rng.integers(*sides)), seed + i) for i in range(n)]
