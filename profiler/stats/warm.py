"""Import the statistics libraries in the background while the shards are profiled.

scipy.stats and statsmodels take one to two seconds to import (bytecode and docstring
processing, cProfile in docs/_fragments/13-profile-notes.md): at the end of a run that was most of
its time. Shard workers spend their time in Arrow / RE2 / numpy kernels that release the GIL, so
importing during the shard phase overlaps with work instead of following it. Nothing here is
required: a failed import is left for the real import at the end of the run to report.
"""

from __future__ import annotations

import importlib
import threading

# What profiler.stats imports lazily (rates, agreement, compare).
MODULES = (
    "scipy.stats",
    "statsmodels.stats.proportion",
    "statsmodels.stats.contingency_tables",
    "statsmodels.stats.multitest",
    "statsmodels.stats.inter_rater",
)


def warm_imports() -> threading.Thread:
    """Start importing MODULES in a daemon thread; the caller never needs to wait for it."""
    thread = threading.Thread(target=_import_all, name="stats-imports", daemon=True)
    thread.start()
    return thread


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # reported by the import that needs it
            return
