"""sexual_terms tagger: explicit / suggestive vocabulary in the caption (a lexicon signal).

Levels, lowest first: none, apparel (intimate apparel offered as a product), suggestive,
explicit. One RE2 pass over all captions finds candidates; only those are lower-cased, cleared
of neutral uses (the colour nude, thong sandals, news about abuse, ...) and matched per level.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.schema import CAPTION, SEXUAL_LEVELS
from profiler.taggers.base import FilterRule, Signal, StandardFilter, Tagger
from profiler.taggers.lexicon import load_lexicon, require
from profiler.taggers.text import alternation, bind_letters, bind_letters_in, match_mask

LEVEL = "sexual_terms.level"
_NONE, _APPAREL, _SUGGESTIVE, _EXPLICIT = (SEXUAL_LEVELS.index(v) for v in
                                           ("none", "apparel", "suggestive", "explicit"))


class SexualTermsTagger(Tagger):
    name = "sexual_terms"
    requires = (CAPTION,)
    ordered_vocabulary = ((LEVEL, SEXUAL_LEVELS),)
    example_columns = (LEVEL,)

    def __init__(self, lexicon_path: str | None = None):
        data = load_lexicon("sexual_terms", lexicon_path)
        self._meta = data["meta"]
        levels = data.get("levels", {})
        apparel_spec = levels.get("apparel", {})
        written = (require(data, "levels.explicit.terms"), require(data, "levels.suggestive.terms"),
                   apparel_spec.get("terms", []))
        # Level patterns run on candidates whose non-ASCII letters are bound (text.bind_letters).
        explicit, suggestive, apparel = ([bind_letters(t) for t in terms] for terms in written)
        explicit_re = _patterns(levels.get("explicit", {}))
        suggestive_re = _patterns(levels.get("suggestive", {}))
        self.explicit_pattern = _join(alternation(explicit, plural=True), explicit_re)
        self.suggestive_pattern = _join(alternation(suggestive, plural=True), suggestive_re)
        self.apparel_pattern = alternation(apparel, plural=True)
        # One candidate pass on the captions as written: the terms as written ride along in the
        # same RE2 alternation with the level patterns (a superset of every level). (Captions
        # whose words only underscores join, "ebony_babe_nude.jpg", are not candidates: taking
        # every caption with an underscore cost this tagger 7%.)
        self.any_pattern = _join(alternation([t for terms in written for t in terms], plural=True),
                                 explicit_re + suggestive_re)
        # An apparel term worn by a person outside a listing reads as suggestive; on a
        # children's product it is no level at all.
        self.person_pattern = alternation([bind_letters(t) for t in apparel_spec.get("person", [])],
                                          plural=True)
        self.listing_pattern = _join(alternation(apparel_spec.get("listing", [])),
                                     _patterns(apparel_spec, "listing_patterns"))
        self.worn_pattern = "|".join(_patterns(apparel_spec, "worn_patterns"))
        self.child_pattern = alternation(apparel_spec.get("child", []))
        neutral = data.get("neutral", {})
        # "nude" next to a garment is its colour: drop the word, keep the garment (\1), before
        # it ("Nude Push Up Bra") or after it ("Push Up Bra 34B Nude", "Strapless Bra - Nude").
        colours, garments = neutral.get("colour_words", []), neutral.get("coloured_garments", [])
        self.colour_patterns = [
            rf"{alternation(colours)}((?:[\s\-]+\w+){{0,2}}[\s\-]+{alternation(garments, plural=True)})",
            rf"({alternation(garments, plural=True)}(?:[\s\-]+\w+){{0,2}}[\s\-]+){alternation(colours)}",
        ] if colours and garments else []
        # Neutral phrases and patterns in three RE2 passes: one alternation of them all outgrows
        # RE2's DFA memory and runs slower than the three together (20 ms against 11 per 1,150 rows).
        phrases = [bind_letters(p) for p in neutral.get("phrases", [])]
        patterns = [f"(?:{bind_letters(p)})" for p in neutral.get("patterns", [])]
        half = (len(patterns) + 1) // 2
        self.neutral_patterns = [p for p in (alternation(phrases, plural=True) if phrases else "",
                                             "|".join(patterns[:half]), "|".join(patterns[half:]))
                                 if p]
        self._levels = pa.array(SEXUAL_LEVELS, pa.string())

    def versions(self) -> dict[str, str]:
        return {self._meta["name"]: str(self._meta["version"])}

    def describe(self) -> dict:
        return {"lexicon": self._meta["source"], "lexicon_sha256": self._meta["sha256"]}

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        captions = batch.column(CAPTION)
        level = np.full(len(captions), _NONE, np.int8)
        candidates = np.flatnonzero(match_mask(captions, self.any_pattern))
        if len(candidates):
            text = bind_letters_in(pc.utf8_lower(captions.take(pa.array(candidates))))
            for colour_pattern in self.colour_patterns:
                text = pc.replace_substring_regex(text, colour_pattern, r" \1 ")
            for neutral_pattern in self.neutral_patterns:
                text = pc.replace_substring_regex(text, neutral_pattern, " ")
            level[candidates] = self._levels_of(text)
        return {LEVEL: self._levels.take(pa.array(level))}

    def _levels_of(self, text: pa.Array) -> np.ndarray:
        """Level codes of lower-cased, neutral-cleared candidate captions."""
        explicit = match_mask(text, self.explicit_pattern, ignore_case=False)
        suggestive = match_mask(text, self.suggestive_pattern, ignore_case=False)
        apparel = match_mask(text, self.apparel_pattern, ignore_case=False) & ~(explicit | suggestive)
        if apparel.any():
            rows = np.flatnonzero(apparel)
            only = text.take(pa.array(rows))
            child = match_mask(only, self.child_pattern, ignore_case=False)
            worn = match_mask(only, self.person_pattern, ignore_case=False)
            worn &= ~match_mask(only, self.listing_pattern, ignore_case=False)
            if self.worn_pattern:
                worn |= match_mask(only, self.worn_pattern, ignore_case=False)
            apparel[rows[child]] = False
            suggestive[rows[worn & ~child]] = True
            apparel[rows[worn]] = False
        return np.select([explicit, suggestive, apparel], [_EXPLICIT, _SUGGESTIVE, _APPAREL], _NONE)


def _patterns(level: dict, key: str = "patterns") -> list[str]:
    """A level's RE2 patterns (for word combinations a term list cannot say: "hot asian girl")."""
    return [f"(?:{bind_letters(p)})" for p in level.get(key, [])]


def _join(terms_pattern: str, patterns: list[str]) -> str:
    return "|".join([terms_pattern, *patterns])


def _level_in(lowest: int, highest: int):
    def evaluate(tags: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        column = tags.column(LEVEL)
        observed = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), bool)
        codes = np.asarray(
            pc.index_in(column, value_set=pa.array(SEXUAL_LEVELS)).fill_null(-1).to_numpy()
        )
        return observed, (codes >= lowest) & (codes <= highest)

    return evaluate


SexualTermsTagger.declared_signals = (
    Signal("sexual_terms.any", "Caption: sexual terms",
           "caption contains a suggestive or explicit term", _level_in(_SUGGESTIVE, _EXPLICIT),
           from_caption=True, expression='sexual_terms.level >= "suggestive"'),
    Signal("sexual_terms.explicit", "Caption: explicit terms",
           "caption contains an explicit term", _level_in(_EXPLICIT, _EXPLICIT),
           from_caption=True, expression='sexual_terms.level == "explicit"'),
    Signal("sexual_terms.apparel", "Caption: intimate apparel listing",
           "caption offers intimate apparel (bikinis, thongs, corsets, ...) with no "
           "suggestive or explicit term", _level_in(_APPAREL, _APPAREL),
           from_caption=True, expression='sexual_terms.level == "apparel"'),
)
_ANY, _EXPLICIT_SIGNAL, _APPAREL_SIGNAL = SexualTermsTagger.declared_signals
# The report compares dropping what each signal flags.
SexualTermsTagger.standard_filters = (
    StandardFilter("caption_explicit", "Caption: explicit terms", "explicit terms",
                   (FilterRule(_EXPLICIT_SIGNAL.expression, (LEVEL,), _EXPLICIT_SIGNAL.evaluate),), rank=1),
    StandardFilter("caption_sexual", "Caption: any sexual term", "any sexual term",
                   (FilterRule(_ANY.expression, (LEVEL,), _ANY.evaluate),), rank=2),
)
