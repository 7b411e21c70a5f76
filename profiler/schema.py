"""Canonical column names shared by readers, taggers and counts."""

from __future__ import annotations

KEY = "key"
CAPTION = "caption"
URL = "url"
SHARD = "shard"
PUNSAFE = "punsafe"
NSFW = "nsfw"
SIMILARITY = "similarity"
WIDTH = "width"
HEIGHT = "height"
IMAGE = "image"  # encoded image bytes (JPEG, PNG, WebP, ...); binary
IMAGE_EMBEDDING = "image_embedding"  # precomputed CLIP embedding; fixed-size list of floats
LANGUAGE = "language"  # the caption's language as the source gives it (LAION-2B-multi LANGUAGE)
# Set by readers on rows that cannot be used at all (a tar sample with an unsafe name, a caption
# that is not text): the reason as a string, null for good rows. The engine drops those rows and
# counts them under `rows.skipped[reason]`.
ROW_PROBLEM = "_row_problem"

# Canonical name -> source column names tried in order (LAION metadata, img2dataset, DataComp).
KNOWN_ALIASES: dict[str, tuple[str, ...]] = {
    KEY: ("key", "uid", "SAMPLE_ID", "sample_id", "id"),
    CAPTION: ("caption", "TEXT", "text"),
    URL: ("url", "URL"),
    PUNSAFE: ("punsafe", "pwatermark_punsafe"),
    NSFW: ("NSFW", "nsfw"),
    SIMILARITY: ("similarity", "clip_score"),
    WIDTH: ("WIDTH", "width"),
    HEIGHT: ("HEIGHT", "height"),
    IMAGE: ("image", "jpg", "jpeg", "png", "webp", "img"),
    IMAGE_EMBEDDING: ("image_embedding", "img_emb", "embedding", "clip_embedding"),
    LANGUAGE: ("language", "LANGUAGE", "lang"),
}

# Gender values of `identity.gender`, in report order.
GENDERS = ("female", "male", "mixed", "unspecified", "none")
# Values of `sexual_terms.level`, lowest first.
SEXUAL_LEVELS = ("none", "apparel", "suggestive", "explicit")
