"""Taggers: each adds `<name>.*` columns to a canonical batch. Registry by name."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from profiler.errors import UserError
from profiler.extras import require_tagger_extras
from profiler.taggers.base import Membership, Score, Signal, StandardFilter, Tagger
from profiler.taggers.clip_image import ClipImageTagger
from profiler.taggers.clip_text import ClipTextTagger
from profiler.taggers.dataset import DatasetTagger
from profiler.taggers.identity import IdentityTagger
from profiler.taggers.language import LanguageTagger
from profiler.taggers.nsfw import NsfwTagger
from profiler.taggers.sexual_terms import SexualTermsTagger

REGISTRY: dict[str, Callable[..., Tagger]] = {
    "identity": IdentityTagger,
    "sexual_terms": SexualTermsTagger,
    "dataset": DatasetTagger,
    "clip_text": ClipTextTagger,  # model-perceived; needs open_clip weights, not a default
    "clip": ClipImageTagger,  # model-perceived image content; needs open_clip weights
    "nsfw": NsfwTagger,  # model-perceived image content (open_nsfw); needs the [nsfw] extra
    "language": LanguageTagger,  # caption language: rows the lexicons cannot read
}
DEFAULT_TAGGERS = ("identity", "sexual_terms", "dataset", "language")


def build_taggers(names: Iterable[str], settings: Mapping[str, Mapping[str, Any]]) -> list[Tagger]:
    """Instantiate taggers by name with their config tables; unknown names are user errors."""
    names = list(names)
    require_tagger_extras([n for n in names if n in REGISTRY])  # the install hint before any model loads
    taggers = []
    for name in names:
        if name not in REGISTRY:
            raise UserError(f"unknown tagger {name!r}: choose from {', '.join(REGISTRY)}")
        try:
            taggers.append(REGISTRY[name](**dict(settings.get(name, {}))))
        except TypeError as error:
            raise UserError(f"bad settings for tagger {name!r}: {error}") from None
    return taggers


def _classes() -> list[type[Tagger]]:
    return [t for t in REGISTRY.values() if isinstance(t, type)]


def population_membership() -> Membership:
    """The population columns, as declared by the registered tagger that finds person mentions."""
    return next(t.membership for t in _classes() if t.membership is not None)


def compared_group_columns() -> tuple[str, ...]:
    """Columns of model-perceived identity groups that counting compares with the lexicon's."""
    return tuple(t.compared_groups for t in _classes() if t.compared_groups)


def declared_signals() -> list[Signal]:
    """Every registered tagger's signals (class declarations: no tagger is built)."""
    return [s for t in _classes() for s in t.declared_signals]


def tag_vocabulary() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(values, ordered values) of the registered taggers' text tag columns."""
    values = {c: v for t in _classes() for c, v in t.vocabulary}
    ordered = {c: v for t in _classes() for c, v in t.ordered_vocabulary}
    return values, ordered


def standard_filters() -> list[tuple[str, StandardFilter]]:
    """(tagger name, filter) the report's curation section compares, in report order."""
    found = [(t.name, f) for t in _classes() for f in t.standard_filters]
    return sorted(found, key=lambda item: item[1].rank)


__all__ = ["DEFAULT_TAGGERS", "REGISTRY", "Membership", "Score", "Signal", "StandardFilter", "Tagger",
           "build_taggers", "compared_group_columns", "declared_signals", "population_membership",
           "standard_filters", "tag_vocabulary"]
