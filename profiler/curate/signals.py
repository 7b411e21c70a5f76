"""Sexualized-content signals as compiled filter expressions over a run's tag columns.

Each signal is the taggers' own declaration (`Signal.expression`, read from the tagger classes:
no lexicon compile, no model load), so curation and the profile share names, labels and rules.
Other boolean tag columns outside the identity columns count as signals too, so a tagger that
declares none is still filterable. A null result is "unknown": that row stays out of the
signal's denominator, as in the profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from profiler.curate.compile import Filter, Vocabulary, compile_filter
from profiler.curate.expr import columns_of, parse
from profiler.taggers import declared_signals, population_membership


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
    for declared in declared_signals():
        expression = declared.expression
        if expression and all(c in names for c in columns_of(parse(expression))):
            signals.append(SignalSpec(declared.name, declared.label, expression,
                                      compile_filter(expression, schema, vocabulary)))
    taken = {s.name for s in signals} | {c for s in signals for c in s.compiled.columns}
    who = population_membership().person.split(".")[0] + "."  # that tagger's columns say who, not what
    for field in schema:
        if (pa.types.is_boolean(field.type) and field.name not in taken
                and not field.name.startswith(who)):
            expression = f"`{field.name}`"
            signals.append(SignalSpec(field.name, field.name, expression,
                                      compile_filter(expression, schema, vocabulary)))
    return signals

