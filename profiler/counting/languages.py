"""Mergeable language tallies: which rows the lexicons can read at all.

The lexicons are written in a few languages (their `[meta] languages`). A row in another
language makes no identity mention because the lexicon cannot read it, not because it names
nobody, so counting it in `no_identity` would dilute that reference population. Rows whose
source gives a language outside the lexicon's are therefore kept out of `no_identity` and
tallied here by language; sources without a language column get a detection sample instead.
Every tally is a sum over language codes, so merging parts is exact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.taggers.identity import PERSON_MENTION
from profiler.taggers.language import CODE, DETECTED, UNDETERMINED, WEIGHT


@dataclass
class LanguageTally:
    """`rows` / `mentions`: rows (and person-mention rows) by the language the source's column
    gives ("und": none given); `sampled`: detected language of the sampled rows of sources
    without a language column, with the sum of their weights (rows each stands for) and of
    the squared weights (for the effective sample size)."""

    rows: Counter = field(default_factory=Counter)
    mentions: Counter = field(default_factory=Counter)
    sampled: Counter = field(default_factory=Counter)
    weight: Counter = field(default_factory=Counter)
    weight_sq: Counter = field(default_factory=Counter)

    @classmethod
    def count(cls, tags: pa.Table) -> LanguageTally:
        """Tally one batch of tags (no language columns: an empty tally)."""
        tally = cls()
        if CODE in tags.column_names:
            codes = tags.column(CODE)
            known = codes.is_valid()
            tally.rows = _value_counts(codes.filter(known))
            if PERSON_MENTION in tags.column_names:
                person = tags.column(PERSON_MENTION).fill_null(False)
                tally.mentions = _value_counts(codes.filter(pc.and_(known, person)))
        if DETECTED in tags.column_names and WEIGHT in tags.column_names:
            detected = tags.column(DETECTED)
            sampled = detected.is_valid()
            codes = detected.filter(sampled).to_numpy(zero_copy_only=False)
            weights = tags.column(WEIGHT).filter(sampled).to_numpy(zero_copy_only=False)
            for code in np.unique(codes):
                w = weights[codes == code]
                tally.sampled[code] = len(w)
                tally.weight[code] = float(w.sum())
                tally.weight_sq[code] = float((w * w).sum())
        return tally

    def merge(self, other: LanguageTally) -> LanguageTally:
        return LanguageTally(*(getattr(self, f) + getattr(other, f) for f in FIELDS))

    def to_dict(self) -> dict[str, Any]:
        return {f: dict(getattr(self, f)) for f in FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> LanguageTally:
        data = data or {}
        return cls(*(Counter(data.get(f, {})) for f in FIELDS))


FIELDS = ("rows", "mentions", "sampled", "weight", "weight_sq")


def covered_rows(tags: pa.Table, languages: Sequence[str]) -> np.ndarray | None:
    """False for rows whose source-given language is outside `languages`; None when every row
    counts as covered (no language column, or no declared languages)."""
    if not languages or CODE not in tags.column_names:
        return None
    codes = tags.column(CODE)
    inside = pc.is_in(codes, value_set=pa.array([*languages, UNDETERMINED], pa.string()))
    covered = pc.or_kleene(inside, pc.is_null(codes))
    return np.asarray(covered.to_numpy(zero_copy_only=False), bool)


def _value_counts(values: pa.Array | pa.ChunkedArray) -> Counter:
    if not len(values):
        return Counter()
    return Counter({d["values"]: d["counts"] for d in pc.value_counts(values).to_pylist()})
