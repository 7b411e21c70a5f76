"""The caption taggers on made-up captions labelled from the guide alone (no ../shared needed).

tests/data/made_up_captions_labelled.csv (tests/data/LABELLING.md, "Made-up captions") holds
captions written and labelled by annotators who never saw the lexicons or the taggers. Wave 1 is
hash-split into tune and holdout; waves 2 and 3 were written to tune on; wave 4 was measured on
once and then tuned on; wave 5 was written after the sixth round's first tuning to measure on,
and is all holdout; waves 6 and 7, written after it, were tuned on; wave 8 was measured on once
and then tuned on, as was wave 10 (other languages); wave 9, written to measure on while the
seventh round tuned and read once after its last rule, is all holdout; waves 11 and 13 were
measured on once and then tuned on; wave 12, written to measure on while the eighth round tuned
and read once after its last rule, is all holdout. These tests keep
the file what the guide says it is, and hold the taggers to floors on the holdout (regression
guards, about two rows below the figures at lexicons 2026.11.8; the figures themselves:
bench/caption_quality.py --set made-up --by-wave).
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import pytest

from profiler.taggers.identity import PERSON_MENTION
from profiler.taggers.sexual_terms import LEVEL

from .conftest import captions_batch

LABELS = Path(__file__).parent / "data" / "made_up_captions_labelled.csv"
SEXUAL = ("suggestive", "explicit")
HOLDOUT_WAVES = (5, 9, 12)  # written to measure on: all holdout (wave 1 is hash-split)
# holdout (waves 1, 5, 9 and 12) less the sets written in other languages: precision, recall floors
FLOORS = {"identity.person_mention": (0.965, 0.855), "sexual_terms.any": (0.95, 0.91)}
# wave 9's set written in French, Spanish, Portuguese, German, Italian and others
INTL_FLOORS = {"sexual_terms.any": (0.90, 0.70)}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with LABELS.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_labels_are_well_formed(rows):
    assert len(rows) > 4000
    assert {r["person_mention"] for r in rows} == {"0", "1"}
    assert {r["sexual_level"] for r in rows} == {"none", "apparel", "suggestive", "explicit"}
    assert len({r["caption"].lower() for r in rows}) == len(rows), "a caption appears twice"
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(r["id"].startswith(r["source"] + "-") for r in rows)


def wave(row: dict[str, str]) -> int:
    """The wave that wrote a row: its source's trailing number ("intlD10" is wave 10), else 1."""
    digits = re.search(r"\d*$", row["source"]).group()
    return int(digits) if digits else 1


def test_split_follows_the_wave(rows):
    for r in rows:
        if wave(r) in HOLDOUT_WAVES:
            expected = "holdout"
        elif wave(r) > 1:
            expected = "tune"
        else:
            digest = hashlib.sha256(f"made-up:{r['caption']}".encode()).digest()
            expected = "holdout" if digest[0] & 1 else "tune"
        assert r["split"] == expected, r["id"]


@pytest.mark.parametrize(("other_languages", "signal"),
                         [(False, "identity.person_mention"), (False, "sexual_terms.any"),
                          (True, "sexual_terms.any")])
def test_holdout_holds_its_floors(identity, sexual_terms, rows, other_languages, signal):
    """Floors on the holdout; the sets written in other languages (`intl*`) apart: the identity
    lexicon is English and does not cover them (no floor), the sexual terms partly do."""
    holdout = [r for r in rows if r["split"] == "holdout"
               and r["source"].startswith("intl") == other_languages]
    batch = captions_batch([r["caption"] for r in holdout])
    if signal == "identity.person_mention":
        predicted = identity.tag(batch)[PERSON_MENTION].to_pylist()
        truth = [r["person_mention"] == "1" for r in holdout]
    else:
        predicted = [level in SEXUAL for level in sexual_terms.tag(batch)[LEVEL].to_pylist()]
        truth = [r["sexual_level"] in SEXUAL for r in holdout]
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    precision, recall = tp / sum(predicted), tp / sum(truth)
    print(f"\nmade-up holdout {signal} (other-language sets: {other_languages}): "
          f"precision {precision:.3f}, recall {recall:.3f}")
    floors = (INTL_FLOORS if other_languages else FLOORS)[signal]
    assert precision >= floors[0]
    assert recall >= floors[1]
