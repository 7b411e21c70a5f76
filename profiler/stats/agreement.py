"""Agreement between sexualized-content signals: cross-tabs and Cohen's kappa per population.

Caption terms, the dataset's own scores and (later) CLIP see different things; where they
disagree, a group's skew may come from one signal's blind spot rather than from the data.
"""

from __future__ import annotations

from profiler.counts import Counts

MIN_ROWS = 30


def signal_agreement(counts: Counts, populations: list[str] | None = None) -> list[dict]:
    """One row per population and signal pair with both signals known on enough rows."""
    from statsmodels.stats.inter_rater import cohens_kappa

    rows = []
    for pi, population in enumerate(counts.populations):
        if populations is not None and population not in populations:
            continue
        for i, a in enumerate(counts.signals):
            for j in range(i + 1, len(counts.signals)):
                neither, b_only, a_only, both = (int(v) for v in counts.joint[pi, i, j])
                n = neither + b_only + a_only + both
                if n < MIN_ROWS:
                    continue
                row = {"population": population, "signal_a": a, "signal_b": counts.signals[j],
                       "n": n, "both": both, "a_only": a_only, "b_only": b_only,
                       "neither": neither, "agreement": (both + neither) / n,
                       "kappa": None, "kappa_low": None, "kappa_high": None}
                if 0 < both + a_only < n and 0 < both + b_only < n:  # both signals vary
                    result = cohens_kappa([[both, a_only], [b_only, neither]])
                    row["kappa"] = float(result.kappa)
                    row["kappa_low"], row["kappa_high"] = (float(result.kappa_low),
                                                           float(result.kappa_upp))
                rows.append(row)
    return rows
