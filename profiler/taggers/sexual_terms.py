"""sexual_terms tagger: explicit / suggestive vocabulary in the caption (a lexicon signal)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.schema import CAPTION, SEXUAL_LEVELS
from profiler.taggers.base import FilterRule, Signal, StandardFilter, Tagger
from profiler.taggers.lexicon import load_lexicon, require
from profiler.taggers.text import alternation, match_mask

LEVEL = "sexual_terms.level"
_NONE, _SUGGESTIVE, _EXPLICIT = range(3)


class SexualTermsTagger(Tagger):
    name = "sexual_terms"
    requires = (CAPTION,)
    ordered_vocabulary = ((LEVEL, SEXUAL_LEVELS),)
    example_columns = (LEVEL,)

    def __init__(self, lexicon_path: str | None = None):
        data = load_lexicon("sexual_terms", lexicon_path)
        self._meta = data["meta"]
        explicit = require(data, "levels.explicit.terms")
        suggestive = require(data, "levels.suggestive.terms")
        self.explicit_pattern = alternation(explicit, plural=True)
        self.suggestive_pattern = alternation(suggestive, plural=True)
        self.any_pattern = alternation([*explicit, *suggestive], plural=True)
        neutral = data.get("neutral", {}).get("phrases", [])
        self.neutral_pattern = alternation(neutral, plural=True) if neutral else ""
        self._levels = pa.array(SEXUAL_LEVELS, pa.string())

    def versions(self) -> dict[str, str]:
        return {self._meta["name"]: str(self._meta["version"])}

    def describe(self) -> dict:
        return {"lexicon": self._meta["source"], "lexicon_sha256": self._meta["sha256"]}

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        captions = batch.column(CAPTION)
        level = np.zeros(len(captions), np.int8)
        candidates = np.flatnonzero(match_mask(captions, self.any_pattern))
        if len(candidates):
            text = pc.utf8_lower(captions.take(pa.array(candidates)))
            if self.neutral_pattern:
                text = pc.replace_substring_regex(text, self.neutral_pattern, " ")
            suggestive = match_mask(text, self.suggestive_pattern, ignore_case=False)
            explicit = match_mask(text, self.explicit_pattern, ignore_case=False)
            level[candidates] = np.where(explicit, _EXPLICIT, np.where(suggestive, _SUGGESTIVE, _NONE))
        return {LEVEL: self._levels.take(pa.array(level))}


def _level_at_least(minimum: int):
    def evaluate(tags: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        column = tags.column(LEVEL)
        observed = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), bool)
        codes = pc.index_in(column, value_set=pa.array(SEXUAL_LEVELS)).fill_null(-1).to_numpy()
        return observed, np.asarray(codes) >= minimum

    return evaluate


SexualTermsTagger.declared_signals = (
    Signal("sexual_terms.any", "Caption: sexual terms",
           "caption contains a suggestive or explicit term", _level_at_least(_SUGGESTIVE),
           from_caption=True, expression='sexual_terms.level >= "suggestive"'),
    Signal("sexual_terms.explicit", "Caption: explicit terms",
           "caption contains an explicit term", _level_at_least(_EXPLICIT),
           from_caption=True, expression='sexual_terms.level == "explicit"'),
)
_ANY, _EXPLICIT_SIGNAL = SexualTermsTagger.declared_signals
# The report compares dropping what each signal flags.
SexualTermsTagger.standard_filters = (
    StandardFilter("caption_explicit", "Caption: explicit terms", "explicit terms",
                   (FilterRule(_EXPLICIT_SIGNAL.expression, (LEVEL,), _EXPLICIT_SIGNAL.evaluate),), rank=1),
    StandardFilter("caption_sexual", "Caption: any sexual term", "any sexual term",
                   (FilterRule(_ANY.expression, (LEVEL,), _ANY.evaluate),), rank=2),
)
