"""Vectorized caption text helpers on pyarrow string arrays (RE2 through pyarrow.compute)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SEPARATOR = r"[\s\-_.]+"  # "U.S. Ambassador" is the term "u s ambassador"


def term_pattern(term: str) -> str:
    """RE2 pattern for one lexicon term: spaces also match hyphens and underscores."""
    words = term.strip().lower().split()
    return _SEPARATOR.join(re.sub(r"([^\w])", r"\\\1", word) for word in words)


def alternation(terms: Iterable[str], plural: bool = False, possessive_follows: bool = True) -> str:
    """Whole-word RE2 alternation of terms, longest first.

    `plural` accepts a trailing s/es; `possessive_follows=False` refuses a match followed by an
    apostrophe ("women" but not "women's"), which RE2 cannot say with a lookahead.
    """
    unique = sorted({t.strip().lower() for t in terms if t.strip()}, key=lambda t: (-len(t), t))
    if not unique:
        return r"[^\s\S]"  # matches nothing (RE2 has no empty alternation and no lookahead)
    # RE2's \b knows only ASCII letters: a term that starts with another letter ("érotique") takes
    # no \b before it, and one that ends in one ("bebê") or in an apostrophe ("girls'") ends its
    # word itself: no \b after it.
    suffix = "(?:e?s)?" if plural else ""
    end = r"\b" if possessive_follows else "(?:[^\\w'\u2019]|$)"
    groups: dict[tuple[str, str], list[str]] = {}
    for t in unique:
        before = r"\b" if ord(t[0]) < 128 else ""
        after = "" if t.endswith(("'", "\u2019")) or ord(t[-1]) > 127 else suffix + end
        groups.setdefault((before, after), []).append(term_pattern(t))
    parts = [f"{before}(?:{'|'.join(body)}){after}" for (before, after), body in groups.items()]
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


# RE2's \b knows only ASCII letters, so "bra" + "s" matched in "Brasília" and "anal" in
# "analítica". A "0" written before every non-ASCII letter or mark keeps such words whole for
# \b; lexicon terms get the same mark (`bind_letters`) so "baisée" still finds "baisée".
_NON_ASCII_LETTER = r"([^\x00-\x7F\p{P}\p{S}\p{Z}\p{C}])"
_BIND = "0"


def bind_letters_in(text: pa.Array) -> pa.Array:
    """Captions with every non-ASCII letter or mark bound to the letters before it (see above)."""
    return pc.replace_substring_regex(text, _NON_ASCII_LETTER, _BIND + r"\1")


def bind_letters(term: str) -> str:
    """A lexicon term or RE2 pattern written the way `bind_letters_in` writes captions."""
    return "".join(
        _BIND + ch if ord(ch) > 127 and unicodedata.category(ch)[0] in "LMN" else ch
        for ch in term
    )


def match_mask(captions: pa.Array, pattern: str, ignore_case: bool = True) -> np.ndarray:
    """Boolean numpy mask of rows whose caption matches; nulls count as no match."""
    matched = pc.match_substring_regex(captions, pattern, ignore_case=ignore_case)
    return np.asarray(matched.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def normalize_quotes(lowered: pa.Array) -> pa.Array:
    """Typographic apostrophes become ASCII so possessives ("women’s") match the lexicon."""
    # Two literal passes: several times faster than one regex character class.
    return pc.replace_substring(pc.replace_substring(lowered, "\u2019", "'"), "\u2018", "'")


def tokenize(lowered: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Split lowered captions into word tokens (keeping apostrophes); returns tokens and row ids."""
    # An underscore separates words, as in file names ("korean_grandmother_cooking.jpg").
    # (ASCII classes: Unicode letter classes cost a sixth more here, for English lexicons.)
    # One split, then leading apostrophes trimmed and empty pieces dropped: a third faster than
    # replacing separators with spaces and splitting on whitespace.
    lists = pc.split_pattern_regex(lowered, r"[^a-z0-9']+")
    tokens = pc.utf8_ltrim(pc.list_flatten(lists), "'")
    parents = pc.list_parent_indices(lists).to_numpy()
    keep = pc.not_equal(tokens, "")
    return tokens.filter(keep), parents[np.asarray(keep.to_numpy(zero_copy_only=False), bool)]


STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves via new one two free best top buy
sale shop online com www http https jpg png image images photo photos picture pictures stock
""".split())


def caption_words(captions: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Distinct content words per caption (lower case, possessive 's dropped, no stop words).

    Returns the words and, for each, the index of its caption.
    """
    tokens, parents = tokenize(normalize_quotes(pc.utf8_lower(captions)))
    tokens = pc.replace_substring_regex(tokens, "'s?$", "")
    keep = pc.and_(
        pc.match_substring_regex(tokens, "^[a-z][a-z']{2,}$"),
        pc.invert(pc.is_in(tokens, value_set=pa.array(sorted(STOPWORDS)))),
    )
    keep = np.asarray(keep.to_numpy(zero_copy_only=False), bool)
    words = tokens.filter(pa.array(keep))
    parents = parents[keep]
    table = pa.table({"row": parents, "word": words}).group_by(["row", "word"]).aggregate([])
    return table.column("word").combine_chunks(), table.column("row").to_numpy()
