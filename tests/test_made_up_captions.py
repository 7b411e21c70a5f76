"""The caption taggers on made-up captions labelled from the guide alone (no ../shared needed).

tests/data/made_up_captions_labelled.csv (tests/data/LABELLING.md, "Made-up captions") holds
captions written and labelled by annotators who never saw the lexicons or the taggers. Wave 1 is
hash-split into tune and holdout; waves 2 and 3 were written to tune on; wave 4 was measured on
once and then tuned on; wave 5 was written after the sixth round's first tuning to measure on,
and is all holdout; waves 6 and 7, written after it, were tuned on; wave 8, written after the
last tuning, is all holdout. These tests keep
the file what the guide says it is, and hold the taggers to floors on the holdout (regression
guards, about two rows below the figures at lexicons 2026.11.6; the figures themselves:
bench/caption_quality.py --set made-up --by-wave).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from profiler.taggers.identity import PERSON_MENTION
from profiler.taggers.sexual_terms import LEVEL

from .conftest import captions_batch

LABELS = Path(__file__).parent / "data" / "made_up_captions_labelled.csv"
SEXUAL = ("suggestive", "explicit")
# holdout (waves 1, 5 and 8, every language): precision, recall floors
FLOORS = {"identity.person_mention": (0.96, 0.84), "sexual_terms.any": (0.94, 0.91)}


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


def test_split_follows_the_wave(rows):
    for r in rows:
        if r["source"].endswith(("5", "8")):
            expected = "holdout"
        elif r["source"].endswith(("2", "3", "4", "6", "7")):
            expected = "tune"
        else:
            digest = hashlib.sha256(f"made-up:{r['caption']}".encode()).digest()
            expected = "holdout" if digest[0] & 1 else "tune"
        assert r["split"] == expected, r["id"]


@pytest.mark.parametrize("signal", sorted(FLOORS))
def test_holdout_holds_its_floors(identity, sexual_terms, rows, signal):
    holdout = [r for r in rows if r["split"] == "holdout"]
    batch = captions_batch([r["caption"] for r in holdout])
    if signal == "identity.person_mention":
        predicted = identity.tag(batch)[PERSON_MENTION].to_pylist()
        truth = [r["person_mention"] == "1" for r in holdout]
    else:
        predicted = [level in SEXUAL for level in sexual_terms.tag(batch)[LEVEL].to_pylist()]
        truth = [r["sexual_level"] in SEXUAL for r in holdout]
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    precision, recall = tp / sum(predicted), tp / sum(truth)
    print(f"\nmade-up holdout {signal}: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= FLOORS[signal][0]
    assert recall >= FLOORS[signal][1]
