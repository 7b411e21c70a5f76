"""The tagger contract: read canonical columns, add prefixed tag columns, declare signals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Signal:
    """A yes/no sexualized-content signal that counts tally per population.

    `evaluate` maps the tag table to (observed, positive) boolean arrays: rows where the signal
    is unknown (no score in the dataset) are not observed and stay out of its denominator.
    """

    name: str
    label: str
    description: str
    evaluate: Callable[[pa.Table], tuple[np.ndarray, np.ndarray]]
    # Read off the caption's own words: term drivers of such a signal would only list its terms.
    from_caption: bool = False
    # The same rule as a filter expression over the tag columns (profiler.curate.expr), so
    # curation and filter impact read a run without building taggers; "": not filterable.
    expression: str = ""


@dataclass(frozen=True)
class Membership:
    """The tag columns that say who is in which population (see profiler.counting.populations).

    Declared by the one tagger that finds identity person mentions; counting, curation and the
    report derive every population cell from it.
    """

    person: str  # bool: the row has an identity person mention
    mentions: str  # list<string> of "group:gender" mentions
    gender: str  # the row's gender (one of profiler.schema.GENDERS)
    groups: str  # list<string> of groups mentioned (examples, agreement)
    mention_genders: tuple[str, ...]  # genders a mention can carry


@dataclass(frozen=True)
class FilterRule:
    """One way to apply a standard filter: `evaluate` (counting, while profiling) and the same
    rule as a filter expression (curation, display). `columns`: the tag columns it needs."""

    expression: str
    columns: tuple[str, ...]
    # (judged, matched) per row: rows not judged (unknown value) are never removed
    evaluate: Callable[[pa.Table], tuple[np.ndarray, np.ndarray]]

    def removed(self, tags: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(removed, unjudged) per row when the filter drops what it matches."""
        judged, matched = self.evaluate(tags)
        return judged & matched, ~judged


@dataclass(frozen=True)
class StandardFilter:
    """A filter the report's curation section compares: drop rows matching it.

    `candidates`: rules tried in order, the first whose columns the run has wins; with several,
    the chosen expression is shown in the label.
    """

    name: str
    label: str
    short_label: str
    candidates: tuple[FilterRule, ...]
    rank: int  # order of the report's columns

    def choose(self, columns: set[str] | list[str]) -> FilterRule | None:
        return next((r for r in self.candidates if all(c in columns for c in r.columns)), None)

    def label_for(self, rule: FilterRule | None) -> str:
        if len(self.candidates) == 1 or rule is None:
            return self.label
        return f"{self.label} ({rule.expression.strip('`')})"


def score_at_least(column: str, threshold: float) -> Callable[[pa.Table], tuple[np.ndarray, np.ndarray]]:
    """(judged, matched) of `column >= threshold` over a nullable score column."""

    def evaluate(tags: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        values = tags.column(column)
        judged = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), bool)
        matched = np.asarray(pc.greater_equal(values, threshold).fill_null(False)
                             .to_numpy(zero_copy_only=False), bool)
        return judged, matched

    return evaluate


@dataclass(frozen=True)
class Score:
    """A continuous 0-1 score whose histogram counts keep, for threshold sweeps."""

    name: str
    column: str


class Tagger:
    """Base class: subclasses set `name` and `requires`, and implement `tag`."""

    name: str = ""
    requires: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    # Alternatives: from each tuple, the reader reads only the first column the source has
    # (precomputed embeddings win over image bytes, so no image is read when they exist).
    one_of: tuple[tuple[str, ...], ...] = ()
    # Rows per batch this tagger can hold in memory at once (image bytes: a few thousand).
    max_batch_rows: int | None = None
    # Tag columns the engine stores in the run's embedding cache instead of the tag files, and
    # hands back in the input batch (same names) on a later run whose cache identity matches.
    cached_columns: tuple[str, ...] = ()
    # A string tag column naming why a row could not be scored (null: scored); counted by reason.
    problem_column: str | None = None
    # The tagger that finds identity person mentions declares the population columns.
    membership: ClassVar[Membership | None] = None
    # A list<string> column of identity groups another way (model-perceived), compared with the
    # membership's groups (lexicon vs CLIP agreement).
    compared_groups: ClassVar[str | None] = None
    # Tag columns shown beside the report's example captions.
    example_columns: ClassVar[tuple[str, ...]] = ()
    # Filters the report's curation section compares (see StandardFilter).
    standard_filters: ClassVar[tuple[StandardFilter, ...]] = ()
    # Known values of text tag columns (a typo'd value in a filter is an error), and of ordered
    # ones (comparisons like >= follow this order).
    vocabulary: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()  # (column, values)
    ordered_vocabulary: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()
    # Signals as declared once per tagger class; `signals()` may refine descriptions (thresholds).
    declared_signals: ClassVar[tuple[Signal, ...]] = ()

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        """Return new columns (named `<name>.<field>`) aligned with the batch rows."""
        raise NotImplementedError

    def cache_identity(self) -> str | None:
        """What the cached columns depend on (model and weights, preprocessing); None: no cache."""
        return None

    def inputs_from_cache(self) -> tuple[str, ...]:
        """Canonical input columns not needed when the cached columns are handed back."""
        return ()

    def versions(self) -> dict[str, str]:
        """Taxonomy / lexicon / model versions to stamp into results."""
        return {}

    def describe(self) -> dict:
        """Settings worth showing in the report's methodology section."""
        return {}

    def configuration(self) -> dict:
        """What makes this tagger's outputs what they are: a run folder's fingerprint. It is
        `describe()` less what only a run finds out (how images were decoded), so a tagger
        reused in one process fingerprints the same before and after its first batch."""
        return self.describe()

    def signals(self) -> tuple[Signal, ...]:
        return self.declared_signals

    def taxonomy(self) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]] | None:
        """(groups, aggregates) of the population axis, from the tagger declaring `membership`."""
        return None

    def covered_languages(self) -> tuple[str, ...]:
        """Languages the population axis can be read in (the membership tagger's lexicon):
        rows in other languages are not counted as naming nobody. Empty: every language."""
        return ()

    def scores(self) -> tuple[Score, ...]:
        return ()


def as_numpy_bool(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(observed, value) arrays from a nullable boolean column."""
    observed = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    value = np.asarray(column.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    return observed, value
