"""dataset tagger: sexual-content scores the dataset already carries (LAION punsafe, NSFW)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.errors import UserError
from profiler.schema import NSFW, PUNSAFE
from profiler.taggers.base import (
    FilterRule,
    Score,
    Signal,
    StandardFilter,
    Tagger,
    as_numpy_bool,
    score_at_least,
)

PUNSAFE_TAG = "dataset.punsafe"
SEXUAL = "dataset.sexual"
NSFW_LABEL = "dataset.nsfw_label"
NSFW_LABELS = ("UNLIKELY", "UNSURE", "NSFW")


class DatasetTagger(Tagger):
    """`dataset.sexual` is punsafe >= threshold; without punsafe, the NSFW label (LAION-400M)."""

    name = "dataset"
    optional = (PUNSAFE, NSFW)
    example_columns = (SEXUAL,)
    vocabulary = ((NSFW_LABEL, NSFW_LABELS),)
    standard_filters = (
        StandardFilter("dataset_punsafe", "Dataset punsafe ≥ 0.5 (LAION's own filter)", "punsafe ≥ 0.5",
                       (FilterRule("dataset.punsafe >= 0.5", (PUNSAFE_TAG,),
                                   score_at_least(PUNSAFE_TAG, 0.5)),), rank=0),
    )

    def __init__(self, punsafe_threshold: float = 0.5, unsure_is_sexual: bool = False):
        if not 0.0 <= float(punsafe_threshold) <= 1.0:
            raise UserError(f"punsafe_threshold must be between 0 and 1, got {punsafe_threshold}")
        self.threshold = float(punsafe_threshold)
        self.unsure_is_sexual = bool(unsure_is_sexual)

    def describe(self) -> dict:
        return {"punsafe_threshold": self.threshold, "unsure_is_sexual": self.unsure_is_sexual}

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        n = batch.num_rows
        names = batch.schema.names
        punsafe = _as_scores(batch.column(PUNSAFE)) if PUNSAFE in names else pa.nulls(n, pa.float64())
        # NaN scores are missing scores, not "not sexual".
        punsafe = pc.if_else(pc.is_nan(punsafe), pa.scalar(None, pa.float64()), punsafe)
        label = pa.nulls(n, pa.string())
        if NSFW in names:
            upper = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(batch.column(NSFW), pa.string())))
            label = pc.if_else(pc.is_in(upper, value_set=pa.array(NSFW_LABELS)), upper, None)
        from_score = pc.greater_equal(punsafe, self.threshold)
        positive = ["NSFW", "UNSURE"] if self.unsure_is_sexual else ["NSFW"]
        from_label = pc.if_else(pc.is_valid(label), pc.is_in(label, value_set=pa.array(positive)), None)
        sexual = pc.if_else(pc.is_valid(punsafe), from_score, from_label)
        return {PUNSAFE_TAG: punsafe, SEXUAL: sexual, NSFW_LABEL: label}

    def signals(self) -> tuple[Signal, ...]:
        sexual, label = self.declared_signals
        description = f"dataset score: punsafe >= {self.threshold:g} (or NSFW label where no punsafe)"
        return replace(sexual, description=description), label

    def scores(self) -> tuple[Score, ...]:
        return (Score("dataset.punsafe", PUNSAFE_TAG),)


_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def _as_scores(column: pa.Array) -> pa.Array:
    """Scores as float64; a drifted schema (scores stored as text) keeps its numeric values and
    turns anything else into a missing score, instead of failing the shard."""
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        return pc.cast(column, pa.float64())
    text = pc.utf8_trim_whitespace(pc.cast(column, pa.string()))
    numeric = pc.match_substring_regex(text, _NUMBER)
    return pc.cast(pc.if_else(numeric, text, pa.scalar(None, pa.string())), pa.float64())


def _nsfw_label(tags: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    column = tags.column(NSFW_LABEL)
    observed = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), bool)
    positive = np.asarray(pc.equal(column, "NSFW").fill_null(False).to_numpy(zero_copy_only=False), bool)
    return observed, positive


DatasetTagger.declared_signals = (
    Signal("dataset.sexual", "Dataset: punsafe / NSFW",
           "dataset score: punsafe >= the threshold (or NSFW label where no punsafe)",
           lambda tags: as_numpy_bool(tags.column(SEXUAL)), expression="dataset.sexual"),
    Signal("dataset.nsfw_label", "Dataset: NSFW label", "LAION-400M NSFW column says NSFW",
           _nsfw_label, expression='dataset.nsfw_label == "NSFW"'),
)
