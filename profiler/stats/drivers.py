"""Term drivers: which caption words carry a group's sexualized-content rate.

Within each population (captions mentioning that group) and signal, a word's normalised
pointwise mutual information with the signal says how much more often the signal fires on rows
with the word than independence predicts (-1 never together, 0 independent, 1 only together).
Each shown word also carries its counts, both rates with intervals and a Fisher test, and the
shown words' p-values get Benjamini-Hochberg together.
"""

from __future__ import annotations

import math

from profiler.counting.counts import Counts
from profiler.counting.populations import ANY_GENDER, GENDER_AXIS, NO_IDENTITY
from profiler.defaults import ALPHA, CONFIDENCE
from profiler.stats.fisher import fisher_p
from profiler.stats.rates import benjamini_hochberg, wilson

MIN_ROWS_WITH_WORD = 10
MIN_TOGETHER = 5
TOP = 10


def term_drivers(counts: Counts, alpha: float = ALPHA, confidence: float = CONFIDENCE,
                 top: int = TOP, signals: list[str] | None = None) -> list[dict]:
    """Top words per population and signal (only `signals`, when given)."""
    table = counts.terms.table
    if table.num_rows == 0:
        return []
    data = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    g = GENDER_AXIS.index(ANY_GENDER)
    rows: list[dict] = []
    for pi, population in enumerate(counts.populations):
        if population == NO_IDENTITY:
            continue
        in_population = data["population"] == population
        for si, signal in enumerate(counts.signals):
            column = f"observed:{signal}"
            if column not in data or (signals is not None and signal not in signals):
                continue
            n, k = int(counts.observed[pi, g, si]), int(counts.positive[pi, g, si])
            if k == 0 or k == n:
                continue
            with_word = data[column][in_population]
            together = data[f"positive:{signal}"][in_population]
            words = data["word"][in_population]
            keep = (with_word >= MIN_ROWS_WITH_WORD) & (together >= MIN_TOGETHER)
            candidates = [
                (_npmi(int(c_ws), int(c_w), k, n), str(w), int(c_w), int(c_ws))
                for w, c_w, c_ws in zip(words[keep], with_word[keep], together[keep], strict=True)
            ]
            candidates = [c for c in candidates if c[0] > 0]
            candidates.sort(key=lambda c: (-c[0], c[1]))
            for npmi, word, c_w, c_ws in candidates[:top]:
                rows.append(_row(population, signal, word, c_w, c_ws, n, k, npmi, confidence))
    q_values, rejected = benjamini_hochberg([r["p_value"] for r in rows], alpha)
    for row, q, reject in zip(rows, q_values, rejected, strict=True):
        row["q_value"], row["significant"] = q, reject
    return rows


def _npmi(c_ws: int, c_w: int, k: int, n: int) -> float:
    p_ws, p_w, p_s = c_ws / n, c_w / n, k / n
    if p_ws >= 1:
        return 1.0
    return math.log(p_ws / (p_w * p_s)) / -math.log(p_ws)


def _row(population, signal, word, c_w, c_ws, n, k, npmi, confidence) -> dict:
    rest_n, rest_k = n - c_w, k - c_ws
    low, high = wilson(c_ws, c_w, confidence)
    rest_low, rest_high = wilson(rest_k, rest_n, confidence) if rest_n else (None, None)
    return {
        "population": population, "signal": signal, "word": word, "npmi": npmi,
        "rows_with_word": c_w, "flagged_with_word": c_ws,
        "rate_with_word": c_ws / c_w, "ci_low": low, "ci_high": high,
        "rate_without_word": rest_k / rest_n if rest_n else None,
        "without_low": rest_low, "without_high": rest_high,
        "p_value": fisher_p(c_ws, c_w, rest_k, rest_n) if rest_n else 1.0,
        "q_value": None, "significant": None,
    }


