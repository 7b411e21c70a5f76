"""Sexualized-content signals as filter expressions over tag columns.

Defining signals as expressions (not tagger objects) lets curation read any run without
building taggers (no lexicon compile, no model load), and picks up new taggers' boolean tag
columns (`clip.sexual`, `nsfw.sexual`, ...) without code changes. A null result is "unknown":
that row stays out of the signal's denominator, as in the profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from profiler.curate.compile import Filter, Vocabulary, compile_filter
from profiler.curate.expr import columns_of, parse

# Same names and labels as the taggers' signals, so tables line up with the profile report.
KNOWN_SIGNALS: tuple[tuple[str, str, str], ...] = (
    ("dataset.sexual", "Dataset: punsafe / NSFW", "dataset.sexual"),
    ("dataset.nsfw_label", "Dataset: NSFW label", 'dataset.nsfw_label == "NSFW"'),
    ("sexual_terms.any", "Caption: sexual terms", 'sexual_terms.level >= "suggestive"'),
    ("sexual_terms.explicit", "Caption: explicit terms", 'sexual_terms.level == "explicit"'),
    ("sexual_terms.apparel", "Caption: intimate apparel listing", 'sexual_terms.level == "apparel"'),
)
NOT_SIGNALS = ("identity.",)  # boolean tag columns that say who, not what


@dataclass(frozen=True)
class SignalSpec:
    name: str
    label: str
    expression: str
    compiled: Filter


def available_signals(schema: pa.Schema, vocabulary: Vocabulary) -> list[SignalSpec]:
    """Known signals whose columns exist, then every other boolean tag column outside identity.*."""
    names = set(schema.names)
    signals = []
    for name, label, expression in KNOWN_SIGNALS:
        if all(c in names for c in columns_of(parse(expression))):
            signals.append(SignalSpec(name, label, expression,
                                      compile_filter(expression, schema, vocabulary)))
    taken = {s.name for s in signals}
    for field in schema:
        if (pa.types.is_boolean(field.type) and field.name not in taken
                and not field.name.startswith(NOT_SIGNALS)):
            expression = f"`{field.name}`"
            signals.append(SignalSpec(field.name, field.name, expression,
                                      compile_filter(expression, schema, vocabulary)))
    return signals

