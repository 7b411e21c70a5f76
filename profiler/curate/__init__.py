"""Curation: turn a profile into decisions -- filters over the per-sample tags, key lists,
filtered shards, rebalancing weights, and what a filter does to each group."""

from profiler.curate.command import CurateRequest, CurateResult, run_curate
from profiler.curate.compile import Filter, Vocabulary, compile_filter
from profiler.curate.impact import standard_filter_impacts

__all__ = [
    "CurateRequest",
    "CurateResult",
    "Filter",
    "Vocabulary",
    "compile_filter",
    "run_curate",
    "standard_filter_impacts",
]
