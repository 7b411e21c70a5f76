"""Language coverage for stats.json: rows the lexicons cannot read, by language.

From a language column the numbers are exact counts; from the detection sample of sources
without one, the share of rows in other languages is a weighted estimate (each sampled row
stands for 1 / its inclusion probability rows) with a
Wilson interval at Kish's effective sample size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from profiler.counting.languages import LanguageTally
from profiler.stats.rates import wilson_of_share
from profiler.taggers.language import UNDETERMINED


def language_coverage(tally: LanguageTally, languages: Sequence[str],
                      confidence: float = 0.95) -> dict[str, Any]:
    """`column`: exact rows by source-given language (null without a column); `estimate`: the
    sampled share of rows in languages outside `languages` (null without a sample)."""
    return {
        "lexicon_languages": list(languages),
        "column": _column(tally, set(languages)) if tally.rows else None,
        "estimate": _estimate(tally, set(languages), confidence) if tally.sampled else None,
    }


def _covered(code: str, languages: set[str]) -> bool | None:
    """None: the row's language is unknown, so it stays counted as covered."""
    return None if code == UNDETERMINED else (not languages or code in languages)


def _column(tally: LanguageTally, languages: set[str]) -> dict[str, Any]:
    total = sum(tally.rows.values())
    not_covered = sum(n for code, n in tally.rows.items() if _covered(code, languages) is False)
    return {
        "rows": total,
        "not_covered": not_covered,
        "not_covered_share": not_covered / total,
        "by_language": [
            {"language": code, "rows": n, "share": n / total, "covered": _covered(code, languages),
             "person_mention": int(tally.mentions.get(code, 0))}
            for code, n in _ranked(tally.rows)
        ],
    }


def _estimate(tally: LanguageTally, languages: set[str], confidence: float) -> dict[str, Any]:
    total = sum(tally.weight.values())
    other = [code for code in tally.sampled if _covered(code, languages) is False]
    share = sum(tally.weight[code] for code in other) / total
    n_effective = total * total / sum(tally.weight_sq.values())
    low, high = wilson_of_share(share, n_effective, confidence)
    return {
        "sampled": int(sum(tally.sampled.values())),
        "other": int(sum(tally.sampled[code] for code in other)),
        "undetermined": int(tally.sampled.get(UNDETERMINED, 0)),
        "effective_sample_size": n_effective,
        "share_other": {"value": share, "low": low, "high": high},
        "by_language": [
            {"language": code, "sampled": k, "share": tally.weight[code] / total,
             "covered": _covered(code, languages)}
            for code, k in _ranked(tally.sampled)
        ],
    }


def _ranked(tally: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(((code, int(n)) for code, n in tally.items()), key=lambda item: (-item[1], item[0]))
