"""RE2 word boundaries at non-ASCII letters: captions and lexicon terms are bound alike."""

from __future__ import annotations

import pyarrow as pa
import pytest

from profiler.taggers.text import alternation, bind_letters, bind_letters_in, match_mask


def matches(terms: list[str], captions: list[str]) -> list[bool]:
    pattern = alternation([bind_letters(t) for t in terms], plural=True)
    text = bind_letters_in(pa.array([c.lower() for c in captions]))
    return match_mask(text, pattern, ignore_case=False).tolist()


def test_unbound_re2_boundary_splits_words_at_accents():
    """The failure the binding exists for: plain \\b sees "bras" + "ília" as two words."""
    assert match_mask(pa.array(["brasília"]), alternation(["bra"], plural=True)).tolist() == [True]


@pytest.mark.parametrize(("term", "caption", "expected"), [
    ("bra", "Presidente em Brasília", False),
    ("anal", "análise analítica", False),
    ("nue", "une nuée", False),
    ("baisée", "salope baisée", True),  # accented terms find themselves
    ("baisée", "baisées", True),  # and their plural
    ("coño", "coño", True),
    ("nue", "femme nue, plage", True),
    ("bra", "Bra – Größe 75B", True),  # punctuation and symbols are not letters
    ("sexe", "sexe €", True),
])
def test_bound_terms_match_whole_words_only(term, caption, expected):
    assert matches([term], [caption]) == [expected]


def test_bind_letters_marks_letters_and_marks_only():
    assert bind_letters("café – 5€") == "caf0é – 5€"
    assert bind_letters_in(pa.array(["café – 5€"])).to_pylist() == ["caf0é – 5€"]


def test_terms_ending_in_an_apostrophe_match_as_words():
    """"girls'" ends its word itself: RE2's \\b after the apostrophe would need a letter next."""
    pattern = alternation(["girls'", "kids"])
    captions = pa.array(["girls' cotton underwear", "kids pyjamas", "girlsx", "the girls"])
    assert match_mask(captions, pattern).tolist() == [True, True, False, False]
    # embedded in a longer pattern, the alternation stays one group
    assert match_mask(pa.array(["girls' bra", "kids bra", "bra"]), pattern + r"\s*bra").tolist() == [
        True, True, False]


def test_terms_with_non_ascii_edges_match_as_written():
    """RE2's \\b knows only ASCII letters: no \\b before "érotique" or after "bebê"."""
    pattern = alternation(["érotique", "bebê", "nude"], plural=True)
    captions = pa.array(["film érotique", "sexo do bebê", "nudes", "denude", "erotique"])
    assert match_mask(captions, pattern).tolist() == [True, True, True, False, False]
