"""Threshold sensitivity: rates and rate ratios over a sweep of score cut-offs.

A skew that appears only at one threshold is an artefact of that threshold; one that holds from
lenient to strict cut-offs is a property of the data. Computed from the 20-bin score histograms
in the counts, so thresholds are multiples of 0.05.
"""

from __future__ import annotations

from profiler.counting.counts import Counts
from profiler.counting.populations import GENDER_AXIS, HIST_BINS, PERSON, SPECIAL_POPULATIONS, SWEEP_GENDERS
from profiler.defaults import CONFIDENCE, MIN_SUPPORT
from profiler.stats.rates import subset_rate_ratio, wilson

THRESHOLDS = tuple(round(b / HIST_BINS, 2) for b in range(2, HIST_BINS - 1))  # 0.10 .. 0.90


def threshold_sweep(counts: Counts, min_support: int = MIN_SUPPORT,
                    confidence: float = CONFIDENCE) -> list[dict]:
    rows = []
    for si, score in enumerate(counts.scores):
        for population in counts.populations:
            if population in SPECIAL_POPULATIONS and population != PERSON:
                continue
            pi = counts.populations.index(population)
            ref = counts.populations.index(PERSON)
            for gender in SWEEP_GENDERS:
                gi = GENDER_AXIS.index(gender)
                hist = counts.hist[pi, gi, si]
                ref_hist = counts.hist[ref, gi, si]
                n, n_ref = int(hist.sum()), int(ref_hist.sum())
                if n < min_support:
                    continue
                for threshold in THRESHOLDS:
                    b = round(threshold * HIST_BINS)
                    k, k_ref = int(hist[b:].sum()), int(ref_hist[b:].sum())
                    low, high = wilson(k, n, confidence)
                    row = {"score": score, "population": population, "gender": gender,
                           "threshold": threshold, "n": n, "k": k, "rate": k / n,
                           "ci_low": low, "ci_high": high,
                           "rate_ratio": None, "rr_low": None, "rr_high": None}
                    if population != PERSON and n_ref - n >= min_support:
                        row["rate_ratio"], row["rr_low"], row["rr_high"] = subset_rate_ratio(
                            k, n, k_ref - k, n_ref - n, confidence)
                    rows.append(row)
    return rows
