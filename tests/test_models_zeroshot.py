"""Prompt banks (bundled and user files) and zero-shot scoring over embeddings."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from profiler.errors import UserError
from profiler.models import zeroshot
from profiler.models.prompts import load_prompt_bank
from profiler.models.zeroshot import (
    SEXUAL,
    SEXUAL_CLASS,
    SEXUAL_SCORE,
    ZeroShotClassifier,
    as_matrix,
    class_embeddings,
    identity_groups,
    sexual_columns,
)
from profiler.taggers.lexicon import load_lexicon

SEXUAL_IDS = ["explicit_nudity", "partial_nudity", "suggestive", "clothed_person", "no_person"]

BANK = """
templates = ["a photo of {}.", "{}"]

[meta]
name = "my_bank"
version = "7"
kind = "sexual_content"
threshold = 0.4

[classes.nude]
sexual = true
descriptions = ["a nude person"]
prompts = ["verbatim prompt"]

[classes.other]
label = "Anything else"
sexual = false
descriptions = ["a cat", "a dog"]
"""


def write(tmp_path, text: str, name: str = "bank.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def reference_probabilities(embeddings, weights, scale):
    """float64 softmax of scale * cos(embedding, class): the definition, written out."""
    e = embeddings.astype(np.float64)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    logits = scale * e @ weights.astype(np.float64).T
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def unit(rows):
    rows = np.asarray(rows, np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def sexual_bank():
    return load_prompt_bank("sexual_content", kind="sexual_content")


@pytest.fixture(scope="module")
def classifier(sexual_bank):
    rng = np.random.default_rng(0)
    return ZeroShotClassifier(unit(rng.standard_normal((5, 64))), 100.0, sexual_bank, "test-model")


# -- prompt banks ----------------------------------------------------------------------------------


def test_bundled_sexual_content_bank(sexual_bank):
    assert sexual_bank.ids == SEXUAL_IDS
    assert sexual_bank.version and sexual_bank.name == "clip_sexual_content"
    assert sexual_bank.positive.tolist() == [True, True, True, False, False]
    assert sexual_bank.threshold == 0.5
    for cls in sexual_bank.classes:
        assert len(cls.prompts) >= 10, cls.id  # prompt ensembles: templates x descriptions
        assert all("{}" not in p for p in cls.prompts)
    assert sexual_bank.describe()["classes"]["suggestive"]["sexual"] is True


def test_bundled_identity_bank_uses_the_lexicon_groups():
    bank = load_prompt_bank("identity", kind="identity")
    lexicon_groups = set(load_lexicon("identity")["groups"])
    groups = [c.id for c in bank.classes if c.positive]
    assert set(groups) <= lexicon_groups and len(groups) >= 10
    assert {"east_asian", "black", "white", "latino"} <= set(groups)
    assert any(not c.positive for c in bank.classes)  # captions that mention no group
    assert bank.threshold == 0.3 and bank.name == "clip_identity"


def test_user_bank_replaces_the_bundled_one(tmp_path):
    bank = load_prompt_bank("sexual_content", write(tmp_path, BANK), kind="sexual_content")
    assert (bank.name, bank.version, bank.threshold) == ("my_bank", "7", 0.4)
    assert bank.classes[0].prompts == ("a photo of a nude person.", "a nude person", "verbatim prompt")
    assert bank.classes[1].label == "Anything else"
    assert bank.source.endswith("bank.toml") and len(bank.sha256) == 16


@pytest.mark.parametrize("edit, message", [
    (("version = \"7\"\n", ""), "no \\[meta\\] version"),
    (("kind = \"sexual_content\"", "kind = \"nsfw\""), "kind must be one of"),
    (("threshold = 0.4", "threshold = 1.5"), "threshold must be a number between 0 and 1"),
    (("descriptions = [\"a cat\", \"a dog\"]", "descriptons = [\"a cat\"]"), "unknown key.*descriptons"),
    (("\"a photo of {}.\"", "\"a photo of\""), "each with a"),
    (("sexual = false", "sexual = true"), "classes with sexual = true and classes with sexual = false"),
    (("sexual = false\n", ""), "needs sexual = true or false"),
    (("descriptions = [\"a cat\", \"a dog\"]", "descriptions = [\"\"]"), "non-empty strings"),
    (("[meta]", "[meta\n"), "not valid TOML"),
])
def test_bad_banks_are_one_line_user_errors(tmp_path, edit, message):
    old, new = edit
    assert old in BANK
    with pytest.raises(UserError, match=message) as error:
        load_prompt_bank("x", write(tmp_path, BANK.replace(old, new, 1)))
    assert "\n" not in str(error.value)


def test_missing_or_wrong_kind_of_bank(tmp_path):
    with pytest.raises(UserError, match="prompt bank not found"):
        load_prompt_bank("x", tmp_path / "nope.toml")
    with pytest.raises(UserError, match="is a folder"):
        load_prompt_bank("x", tmp_path)
    with pytest.raises(UserError, match="this tagger needs kind = 'identity'"):
        load_prompt_bank("x", write(tmp_path, BANK), kind="identity")
    one_class = BANK[: BANK.index("[classes.other]")]
    with pytest.raises(UserError, match="at least two"):
        load_prompt_bank("x", write(tmp_path, one_class))


# -- class embeddings and scoring ------------------------------------------------------------------


def test_class_embeddings_average_normalized_prompt_embeddings(tmp_path):
    bank = load_prompt_bank("x", write(tmp_path, BANK))
    rng = np.random.default_rng(1)
    table = {p: rng.standard_normal(16) * rng.uniform(0.1, 10) for c in bank.classes for p in c.prompts}
    weights = class_embeddings(lambda texts: np.stack([table[t] for t in texts]), bank)
    for row, cls in zip(weights, bank.classes, strict=True):
        mean = np.mean([table[p] / np.linalg.norm(table[p]) for p in cls.prompts], axis=0)
        np.testing.assert_allclose(row, mean / np.linalg.norm(mean), rtol=1e-6, atol=1e-7)
    assert weights.dtype == np.float32


def test_probabilities_are_the_softmax_at_the_logit_scale(classifier):
    rng = np.random.default_rng(2)
    embeddings = rng.standard_normal((300, 64)).astype(np.float32) * 5  # any scale
    probs, valid = classifier.probabilities(embeddings)
    assert valid.all() and probs.dtype == np.float32
    expected = reference_probabilities(embeddings, classifier.weights, 100.0)
    np.testing.assert_allclose(probs, expected, atol=2e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_chunks_float16_and_invalid_rows(classifier, monkeypatch):
    rng = np.random.default_rng(3)
    embeddings = rng.standard_normal((41, 64)).astype(np.float32)
    embeddings[[3, 17, 40]] = [np.zeros(64), np.full(64, np.nan), np.full(64, np.inf)]
    whole, valid = classifier.probabilities(embeddings)
    monkeypatch.setattr(zeroshot, "CHUNK_ROWS", 8)
    chunked, valid_chunked = classifier.probabilities(embeddings)
    np.testing.assert_array_equal(valid, valid_chunked)
    assert np.flatnonzero(~valid).tolist() == [3, 17, 40]
    assert np.isnan(whole[~valid]).all()
    np.testing.assert_allclose(chunked[valid], whole[valid], atol=1e-6)
    half, _ = classifier.probabilities(embeddings.astype(np.float16))
    np.testing.assert_allclose(half[valid], whole[valid], atol=5e-3)
    empty, empty_valid = classifier.probabilities(np.zeros((0, 64), np.float32))
    assert empty.shape == (0, 5) and empty_valid.shape == (0,)


def test_sexual_columns(classifier, sexual_bank):
    rng = np.random.default_rng(4)
    planted = classifier.weights[[0, 1, 2, 3, 4]] + 0.01 * rng.standard_normal((5, 64)).astype(np.float32)
    embeddings = np.vstack([planted, rng.standard_normal((50, 64)), np.zeros((1, 64))]).astype(np.float32)
    columns = sexual_columns(embeddings, classifier)
    probs, _ = classifier.probabilities(embeddings)
    score = columns[SEXUAL_SCORE].to_numpy(zero_copy_only=False)
    np.testing.assert_allclose(score[:-1], probs[:-1, :3].sum(axis=1), atol=1e-6)
    assert columns[SEXUAL_CLASS].to_pylist()[:5] == SEXUAL_IDS
    assert columns[SEXUAL_CLASS].to_pylist()[5:-1] == [SEXUAL_IDS[i] for i in probs[5:-1].argmax(axis=1)]
    assert columns[SEXUAL].to_pylist()[:5] == [True, True, True, False, False]
    assert columns[SEXUAL].to_pylist()[:-1] == (score[:-1] >= 0.5).tolist()
    for column in columns.values():
        assert len(column) == 56 and column.null_count == 1 and not column[55].is_valid
    assert columns[SEXUAL_SCORE].type == pa.float32() and columns[SEXUAL].type == pa.bool_()
    strict = sexual_columns(embeddings, classifier, threshold=0.99)
    assert strict[SEXUAL].to_pylist()[:-1] == (score[:-1] >= 0.99).tolist()


def test_dimension_and_threshold_mistakes(classifier):
    with pytest.raises(UserError, match="dimension 768 but test-model embeds in 64") as error:
        sexual_columns(np.zeros((3, 768), np.float32), classifier)
    assert "\n" not in str(error.value)
    with pytest.raises(UserError, match="dimension"):
        classifier.probabilities(np.zeros(64, np.float32))
    with pytest.raises(UserError, match="threshold must be"):
        sexual_columns(np.ones((1, 64), np.float32), classifier, threshold=1.5)


def test_identity_groups_lists():
    bank = load_prompt_bank("identity", kind="identity")
    ids, groups = bank.ids, [c.id for c in bank.classes if c.positive]
    probs = np.zeros((4, len(ids)), np.float32)
    probs[0, ids.index("east_asian")] = 0.9
    probs[1, ids.index("black")], probs[1, ids.index("white")] = 0.45, 0.45
    probs[2, ids.index("person")] = 0.99  # a non-group class is never listed
    valid = np.array([True, True, True, False])
    column = identity_groups(probs, valid, bank)
    assert column.type == pa.list_(pa.string())
    assert column.to_pylist() == [["east_asian"], ["black", "white"], [], None]
    assert identity_groups(probs, valid, bank, threshold=0.5).to_pylist()[1] == []
    assert set(groups) >= {"east_asian", "black", "white"}


def test_embedding_columns_as_matrices():
    fixed = pa.array([[1.0, 2.0], None, [3.0, 4.0]], pa.list_(pa.float32(), 2))
    matrix = as_matrix(fixed)
    assert matrix.shape == (3, 2) and np.isnan(matrix[1]).all()
    np.testing.assert_array_equal(matrix[[0, 2]], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(as_matrix(pa.chunked_array([fixed.slice(2)])), [[3, 4]])
    listed = as_matrix(pa.array([[1.0, 2.0], None], pa.list_(pa.float64())))
    assert listed.shape == (2, 2) and np.isnan(listed[1]).all()
    with pytest.raises(UserError, match="different lengths"):
        as_matrix(pa.array([[1.0, 2.0], [1.0]], pa.list_(pa.float64())))
