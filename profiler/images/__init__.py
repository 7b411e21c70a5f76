"""Images for the image taggers: safe decoding, CLIP preprocessing, and the encoding pipeline.

    decode.py    bytes -> RGB image or a problem reason (never raises); open_clip's eval resize and
                 crop to uint8 pixels (`PreprocessSpec`, `prepare_pixels`); PIL and numpy only, so
                 decode worker processes start fast
    pipeline.py  `ImageEncoder`: decoding in worker processes overlapped with model inference,
                 problem rows as NaN embeddings with their reasons (torch imported lazily)

Importing this package imports neither torch nor PIL.
"""

from __future__ import annotations

IMAGE_PROBLEMS: tuple[str, ...] = (
    "image_missing", "image_empty", "image_too_large", "image_truncated", "image_corrupt",
    "image_unsupported",
)

__all__ = ["IMAGE_PROBLEMS"]
