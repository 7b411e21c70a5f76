"""Integration: the identity tagger on real web captions, against labels made by hand.

tests/data/real_captions_labelled.csv holds 530 of the 5,000 real captions in ../shared, labelled
by a person (person mention yes/no, groups, gender): every caption with a broad identity word
(colour-only ones sampled) plus 80 random others. Note: the lexicon was refined while looking at
this set's errors, so these figures are development-set figures, not a held-out estimate.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.taggers.identity import GROUPS, PERSON_MENTION

from .conftest import shared_path

LABELS = Path(__file__).parent / "data" / "real_captions_labelled.csv"
MIN_PRECISION = 0.9
MIN_RECALL = 0.6


@pytest.fixture(scope="module")
def tagged(identity):
    captions = pq.read_table(shared_path("data", "real-captions", "captions-5k.parquet"))["TEXT"]
    out = identity.tag(pa.RecordBatch.from_pydict({"caption": captions.combine_chunks()}))
    with LABELS.open(newline="", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    return out, labels, captions.to_pylist()


def test_labels_refer_to_the_real_captions(tagged):
    _, labels, captions = tagged
    assert len(labels) >= 500
    assert all(captions[int(row["row"])] == row["caption"] for row in labels)


def test_person_mention_precision_and_recall(tagged):
    out, labels, _ = tagged
    predicted = out[PERSON_MENTION].to_pylist()
    tp = sum(predicted[int(r["row"])] and r["person_mention"] == "1" for r in labels)
    fp = sum(predicted[int(r["row"])] and r["person_mention"] == "0" for r in labels)
    fn = sum(not predicted[int(r["row"])] and r["person_mention"] == "1" for r in labels)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"real captions: tp={tp} fp={fp} fn={fn} precision={precision:.3f} recall={recall:.3f}")
    assert precision >= MIN_PRECISION
    assert recall >= MIN_RECALL


def test_groups_of_true_positives_agree_with_labels(tagged):
    out, labels, _ = tagged
    groups = out[GROUPS].to_pylist()
    predicted = out[PERSON_MENTION].to_pylist()
    hits = [r for r in labels if r["person_mention"] == "1" and predicted[int(r["row"])]]
    agree = sum(set(groups[int(r["row"])]) <= set(r["groups"].split(";")) for r in hits)
    assert agree / len(hits) >= 0.9


def test_unlabelled_captions_rarely_flagged(tagged):
    """Outside the labelled rows the real file should hold few mentions (mostly product captions)."""
    out, labels, _ = tagged
    labelled = {int(r["row"]) for r in labels}
    extra = [i for i, flag in enumerate(out[PERSON_MENTION].to_pylist()) if flag and i not in labelled]
    assert len(extra) <= 5, extra
