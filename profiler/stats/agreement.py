"""Agreement between signals: cross-tabs and Cohen's kappa.

Sexualized-content signals per population: caption terms, the dataset's own scores and CLIP see
different things; where they disagree, a group's skew may come from one signal's blind spot.
Identity per group: the caption lexicon against CLIP's zero-shot reading of the same caption;
where they part, either the lexicon misses a wording or the model associates a group with words
that do not name it.
"""

from __future__ import annotations

import math
from typing import Any

from profiler.counting.counts import Counts
from profiler.stats.rates import two_sided_z

MIN_ROWS = 30


def signal_agreement(counts: Counts, populations: list[str] | None = None) -> list[dict]:
    """One row per population and signal pair with both signals known on enough rows."""
    rows = []
    for pi, population in enumerate(counts.populations):
        if populations is not None and population not in populations:
            continue
        for i, a in enumerate(counts.signals):
            for j in range(i + 1, len(counts.signals)):
                neither, b_only, a_only, both = (int(v) for v in counts.joint[pi, i, j])
                table = cross_tab(both, a_only, b_only, neither)
                if table is not None:
                    rows.append({"population": population, "signal_a": a,
                                 "signal_b": counts.signals[j], **table})
    return rows


def identity_agreement(counts: Counts) -> list[dict]:
    """One row per identity group that either side found: lexicon (a) against CLIP's caption
    zero-shot (b)."""
    rows = []
    for group, tally in counts.identity_agreement.items():
        neither, clip_only, lexicon_only, both = (int(v) for v in tally)
        if not both + clip_only + lexicon_only:
            continue  # neither side ever saw the group: a row of zeros says nothing
        table = cross_tab(both, lexicon_only, clip_only, neither)
        if table is not None:
            rows.append({"group": group, **table})
    return rows


def cross_tab(both: int, a_only: int, b_only: int, neither: int) -> dict[str, Any] | None:
    """Counts, raw agreement and Cohen's kappa with its interval (None below MIN_ROWS rows;
    kappa None when a signal does not vary)."""
    n = neither + b_only + a_only + both
    if n < MIN_ROWS:
        return None
    row = {"n": n, "both": both, "a_only": a_only, "b_only": b_only, "neither": neither,
           "agreement": (both + neither) / n, "kappa": None, "kappa_low": None, "kappa_high": None}
    if 0 < both + a_only < n and 0 < both + b_only < n:  # both signals vary
        row["kappa"], row["kappa_low"], row["kappa_high"] = cohens_kappa(both, a_only, b_only, neither)
    return row


def cohens_kappa(both: int, a_only: int, b_only: int, neither: int) -> tuple[float, float, float]:
    """Cohen's kappa of two yes/no signals with its 95% interval from the large-sample variance
    (Fleiss, Cohen & Everitt), the formula of statsmodels' `cohens_kappa` (tests compare them):
    the library call cost the run a statsmodels import."""
    n = both + a_only + b_only + neither
    table = ((both / n, a_only / n), (b_only / n, neither / n))
    rows = (table[0][0] + table[0][1], table[1][0] + table[1][1])  # signal a: yes, no
    cols = (table[0][0] + table[1][0], table[0][1] + table[1][1])  # signal b: yes, no
    expected = rows[0] * cols[0] + rows[1] * cols[1]
    kappa = (table[0][0] + table[1][1] - expected) / (1 - expected)
    diagonal = sum(table[i][i] * (1 - (rows[i] + cols[i]) * (1 - kappa)) ** 2 for i in (0, 1))
    off = (1 - kappa) ** 2 * sum(table[i][j] * (cols[i] + rows[j]) ** 2
                                 for i in (0, 1) for j in (0, 1) if i != j)
    variance = (diagonal + off - (kappa - expected * (1 - kappa)) ** 2) / (1 - expected) ** 2 / n
    half = two_sided_z(0.95) * math.sqrt(max(variance, 0.0))
    return kappa, kappa - half, kappa + half
