"""Canonical column names shared by readers, taggers and counts (DESIGN.md, "Canonical batch schema")."""

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
}

# Gender values of `identity.gender`, in report order.
GENDERS = ("female", "male", "mixed", "unspecified", "none")
# Values of `sexual_terms.level`, lowest first.
SEXUAL_LEVELS = ("none", "suggestive", "explicit")
