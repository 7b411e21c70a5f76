"""sexual_terms and dataset taggers: levels, neutral phrases, scores and the null contract."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from profiler.errors import UserError
from profiler.taggers.dataset import NSFW_LABEL, PUNSAFE_TAG, SEXUAL, DatasetTagger
from profiler.taggers.sexual_terms import LEVEL

from .conftest import captions_batch


@pytest.mark.parametrize(
    ("caption", "level"),
    [
        ("nude woman on a bed", "explicit"),
        ("XXX porn video", "explicit"),
        ("Sexy girl in LINGERIE", "suggestive"),
        ("bikinis on the beach", "suggestive"),
        ("pin-up style poster", "suggestive"),
        ("sexy lingerie and topless", "explicit"),
        ("nude lipstick, matte", "none"),
        ("Nude heels for women", "none"),
        ("magna cum laude diploma frame", "none"),
        ("Sex and the City DVD box", "none"),
        ("Essex county map", "none"),
        ("XXXL hoodie", "none"),
        ("stainless steel bottle", "none"),
    ],
)
def test_sexual_levels(sexual_terms, caption, level):
    out = sexual_terms.tag(captions_batch([caption]))
    assert out[LEVEL].to_pylist() == [level]


def test_neutral_phrase_does_not_hide_a_real_term(sexual_terms):
    out = sexual_terms.tag(captions_batch(["nude lipstick worn by a nude model"]))
    assert out[LEVEL].to_pylist() == ["explicit"]


def test_sexual_signals_count_levels(sexual_terms):
    captions = ["nude", "sexy", "cat", "porn and lingerie", "Lace Thong 3 Pack - Size M", None]
    table = pa.table(sexual_terms.tag(captions_batch(captions)))
    assert table.column(LEVEL).to_pylist()[4] == "apparel"
    signals = {s.name: s for s in sexual_terms.signals()}
    observed, positive = signals["sexual_terms.any"].evaluate(table)
    assert observed.tolist() == [True] * 6  # a null caption has level none, a known value
    assert positive.tolist() == [True, True, False, True, False, False]  # apparel is not "any"
    assert signals["sexual_terms.explicit"].evaluate(table)[1].tolist() == [
        True, False, False, True, False, False]
    assert signals["sexual_terms.apparel"].evaluate(table)[1].tolist() == [
        False, False, False, False, True, False]


def test_dataset_tagger_scores_and_labels():
    batch = pa.RecordBatch.from_pydict({
        "caption": ["a", "b", "c", "d", "e"],
        "punsafe": pa.array([0.9, 0.1, None, float("nan"), 0.5]),
        "nsfw": pa.array(["NSFW", "UNLIKELY", "NSFW", "unsure", "garbage"]),
    })
    out = DatasetTagger(punsafe_threshold=0.5).tag(batch)
    scores = out[PUNSAFE_TAG].to_pylist()
    assert scores[:3] == [0.9, 0.1, None] and scores[3] is None and math.isclose(scores[4], 0.5)
    # punsafe decides where present; the NSFW label only where punsafe is missing.
    assert out[SEXUAL].to_pylist() == [True, False, True, False, True]
    assert out[NSFW_LABEL].to_pylist() == ["NSFW", "UNLIKELY", "NSFW", "UNSURE", None]


def test_dataset_tagger_without_scores_gives_nulls():
    out = DatasetTagger().tag(captions_batch(["a", "b"]))
    assert out[PUNSAFE_TAG].null_count == 2
    assert out[SEXUAL].null_count == 2
    observed, _ = DatasetTagger().signals()[0].evaluate(pa.table(out))
    assert not observed.any()


def test_unsure_can_count_as_sexual():
    batch = pa.RecordBatch.from_pydict({"caption": ["a"], "nsfw": ["UNSURE"]})
    assert DatasetTagger(unsure_is_sexual=True).tag(batch)[SEXUAL].to_pylist() == [True]
    assert DatasetTagger().tag(batch)[SEXUAL].to_pylist() == [False]


def test_bad_threshold_is_a_user_error():
    with pytest.raises(UserError, match="between 0 and 1"):
        DatasetTagger(punsafe_threshold=5)


def test_scores_stored_as_text_keep_their_numbers():
    batch = pa.RecordBatch.from_pydict({
        "caption": ["a", "b", "c", "d"], "punsafe": ["0.9", " 0.1 ", "high", None]})
    out = DatasetTagger().tag(batch)
    assert out[PUNSAFE_TAG].to_pylist() == [0.9, 0.1, None, None]
    assert out[SEXUAL].to_pylist() == [True, False, None, None]
