"""Engines drive sources -> taggers -> counts per shard, then merge, compute stats and report."""

from profiler.engine.local import RunResult, run_profile

__all__ = ["RunResult", "run_profile"]
