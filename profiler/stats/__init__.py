"""Statistics over merged counts: pure functions, no I/O, closed forms (no scipy or statsmodels
import on a run: see rates.py)."""

from profiler.stats.cells import (
    Cell,
    Comparison,
    StatsSettings,
    compute_cells,
    headline_findings,
    to_records,
)
from profiler.stats.fisher import fisher_p
from profiler.stats.rates import (
    benjamini_hochberg,
    independent_rate_ratio,
    odds_ratio,
    subset_rate_ratio,
    wilson,
)

__all__ = [
    "Cell",
    "Comparison",
    "StatsSettings",
    "benjamini_hochberg",
    "compute_cells",
    "fisher_p",
    "headline_findings",
    "independent_rate_ratio",
    "odds_ratio",
    "subset_rate_ratio",
    "to_records",
    "wilson",
]
