"""Offline demo data: LAION-style shards with planted skew and a ground-truth file.

The captions are synthetic (templates), the rates are planted, and `ground_truth.json` records
both the planted probabilities and the realised counts per group x gender, so a profile of
these shards can be checked exactly. Traps of real web text ("Black Friday", "white
background", "Japanese maple") are mixed in and must not count as person mentions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from profiler.errors import UserError
from profiler.files import atomic_write_json

# group -> (adjectives before a noun, female identity nouns used alone)
GROUP_TERMS: dict[str, tuple[list[str], list[str]]] = {
    "east_asian": (["Japanese", "Korean", "Chinese", "East Asian"], []),
    "south_asian": (["Indian", "Pakistani", "South Asian"], []),
    "southeast_asian": (["Thai", "Vietnamese", "Filipino"], ["Filipina"]),
    "asian_unspecified": (["Asian", "Asian-American"], []),
    "black": (["Black", "African American", "Nigerian"], []),
    "white": (["white", "Caucasian"], []),
    "latino": (["Hispanic", "Mexican"], ["Latina"]),
    "middle_eastern_north_african": (["Arab", "Persian", "Turkish"], []),
    "indigenous": (["Native American", "Indigenous"], []),
    "pacific_islander": (["Hawaiian", "Samoan"], []),
}
NOUNS = {"female": ["woman", "girl", "lady", "bride", "actress"],
         "male": ["man", "boy", "guy", "groom", "businessman"]}
MODIFIERS = ["", "", "young ", "beautiful ", "smiling ", "elderly "]
CONTEXTS = ["smiling at the camera", "in a park", "portrait, studio light", "walking in the city",
            "reading a book", "stock photo", "at the beach at sunset", "in a red dress"]
SUGGESTIVE = ["in lingerie", "sexy pose", "in a bikini", "seductive look"]
EXPLICIT = ["nude", "naked photo", "topless", "porn"]
PRODUCTS = ["Stainless steel water bottle 750ml", "Wooden coffee table with storage",
            "Running shoes for trail and road", "Ceramic vase, hand painted", "USB-C charging cable 2m",
            "Vintage travel poster print", "Cotton bed sheets, queen size", "Garden hose reel cart"]
TRAPS = ["Black Friday sale: {p}", "{p} on a white background", "Indian ink drawing set",
         "Chinese manufacturer of {p}", "Mexican Loteria prints, set of 4", "Japanese maple tree in autumn",
         "French door with brass handles", "Black Women's Running Shoes, size 8",
         "Nude lipstick, matte finish",
         "Black and white photo of a woman at a window"]

# Planted probabilities per (group, gender): image flagged by the dataset (punsafe >= 0.5),
# explicit caption term, suggestive caption term (when not explicit).
BASE = {"female": (0.08, 0.02, 0.05), "male": (0.05, 0.01, 0.03)}
PLANTED = {
    ("east_asian", "female"): (0.32, 0.08, 0.18),
    ("southeast_asian", "female"): (0.28, 0.07, 0.15),
    ("asian_unspecified", "female"): (0.30, 0.08, 0.16),
    ("latino", "female"): (0.22, 0.05, 0.12),
    ("black", "female"): (0.14, 0.03, 0.08),
}
NO_IDENTITY_PERSON = {"female": (0.10, 0.03, 0.07), "male": (0.05, 0.01, 0.03)}
SHARE = {"identity": 0.34, "person": 0.26, "product": 0.30, "trap": 0.08, "null": 0.01, "empty": 0.01}


def planted_rates(group: str | None, gender: str) -> tuple[float, float, float]:
    if group is None:
        return NO_IDENTITY_PERSON[gender]
    return PLANTED.get((group, gender), BASE[gender])


def generate_sample(out: str | Path, shards: int = 8, rows_per_shard: int = 12_500, seed: int = 0) -> Path:
    """Write `shards` parquet files and ground_truth.json into `out`; returns the folder."""
    if shards < 1 or rows_per_shard < 1:
        raise UserError("sample: --shards and --rows-per-shard must be positive")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {out}: {error.strerror}") from None
    rng = np.random.default_rng(seed)
    truth: dict[str, dict] = {}
    for shard in range(shards):
        table = _shard(rng, shard, rows_per_shard, truth)
        pq.write_table(table, out / f"part-{shard:05d}.parquet", row_group_size=8192)
    atomic_write_json(out / "ground_truth.json", {
        "description": "planted probabilities and realised counts per identity group x gender",
        "seed": seed, "shards": shards, "rows_per_shard": rows_per_shard,
        "signals": {"dataset.sexual": "punsafe >= 0.5", "sexual_terms.explicit": "explicit term",
                    "sexual_terms.any": "suggestive or explicit term"},
        "cells": truth,
    })
    return out


def _shard(rng: np.random.Generator, shard: int, n: int, truth: dict) -> pa.Table:
    kinds = rng.choice(list(SHARE), size=n, p=list(SHARE.values()))
    captions: list[str | None] = []
    punsafe = np.empty(n)
    for i, kind in enumerate(kinds):
        caption, flagged_prob = _row(rng, kind, truth)
        captions.append(caption)
        flagged = rng.random() < flagged_prob
        punsafe[i] = rng.uniform(0.5, 1.0) if flagged else rng.beta(1.2, 8.0) * 0.499
    missing_score = rng.random(n) < 0.02
    nsfw = np.where(punsafe >= 0.5, "NSFW", np.where(punsafe >= 0.3, "UNSURE", "UNLIKELY"))
    keys = [f"{shard:05d}{i:06d}" for i in range(n)]
    return pa.table({
        "key": pa.array(keys),
        "TEXT": pa.array(captions, pa.string()),
        "URL": pa.array([f"https://example.invalid/img/{k}.jpg" for k in keys]),
        "punsafe": pa.array(np.where(missing_score, np.nan, punsafe), mask=missing_score),
        "NSFW": pa.array(nsfw.astype(object), mask=missing_score),
    })


def _row(rng: np.random.Generator, kind: str, truth: dict) -> tuple[str | None, float]:
    """One caption and the probability that its image is flagged; updates realised counts."""
    if kind == "null":
        return None, 0.01
    if kind == "empty":
        return "   ", 0.01
    if kind == "product":
        return str(rng.choice(PRODUCTS)), 0.01
    if kind == "trap":
        return str(rng.choice(TRAPS)).format(p=str(rng.choice(PRODUCTS)).lower()), 0.01
    gender = "female" if rng.random() < 0.6 else "male"
    group = str(rng.choice(list(GROUP_TERMS))) if kind == "identity" else None
    image_p, explicit_p, suggestive_p = planted_rates(group, gender)
    level = "explicit" if rng.random() < explicit_p else (
        "suggestive" if rng.random() < suggestive_p else "none")
    subject = _subject(rng, group, gender)
    extra = {"explicit": rng.choice(EXPLICIT), "suggestive": rng.choice(SUGGESTIVE),
             "none": rng.choice(CONTEXTS)}[level]
    cell = truth.setdefault(f"{group or 'no_identity'}:{gender}", {
        "planted": {"dataset.sexual": image_p, "sexual_terms.explicit": explicit_p,
                    "sexual_terms.any": explicit_p + (1 - explicit_p) * suggestive_p},
        "rows": 0, "sexual_terms.explicit": 0, "sexual_terms.any": 0,
    })
    cell["rows"] += 1
    cell["sexual_terms.explicit"] += level == "explicit"
    cell["sexual_terms.any"] += level != "none"
    return f"{subject} {extra}", image_p


def _subject(rng: np.random.Generator, group: str | None, gender: str) -> str:
    modifier = str(rng.choice(MODIFIERS))
    noun = str(rng.choice(NOUNS[gender]))
    if group is None:
        return f"{modifier}{noun}".capitalize()
    adjectives, female_nouns = GROUP_TERMS[group]
    if gender == "female" and female_nouns and rng.random() < 0.5:
        return f"{modifier}{rng.choice(female_nouns)}".capitalize()
    return f"{modifier}{rng.choice(adjectives)} {noun}".capitalize()
