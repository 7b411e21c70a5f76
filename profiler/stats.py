"""Rates, intervals, rate ratios and tests over merged counts: pure functions, no I/O.

Conventions (stated in the report's methodology):
- rate: Wilson score interval (statsmodels).
- group vs all person mentions (the group is a subset of its reference): the rate ratio's
  interval comes from the delta method on log(p_group / p_reference), with the covariance of
  the overlap taken into account; the test is Fisher's exact test of the group against the rest
  of the reference, which is equivalent and uses independent samples.
- person mentions vs captions with no identity mention (independent samples): statsmodels'
  log-adjusted ratio interval and Fisher's exact test.
- Benjamini-Hochberg over every comparison shown, across all signals.
- cells (or comparison remainders) under `min_support` rows are suppressed, not shown as 0%.

scipy and statsmodels are imported inside the functions: they take a second to import, and
shard workers (which only count) never need them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from profiler.counts import ANY_GENDER, GENDER_AXIS, NO_IDENTITY, PERSON, SPECIAL_POPULATIONS, Counts


@dataclass(frozen=True)
class StatsSettings:
    min_support: int = 30
    confidence: float = 0.95
    alpha: float = 0.05


@dataclass
class Cell:
    """One population x gender x signal: its rate and, where defined, its comparison."""

    population: str
    gender: str
    signal: str
    n: int
    k: int
    suppressed: bool
    rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reference: str | None = None
    rate_ratio: float | None = None
    rr_low: float | None = None
    rr_high: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    significant: bool | None = None
    comparison_note: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    rate = k / n
    # Clamp floating-point dust: at k = 0 or k = n the bound must equal the rate exactly.
    return float(max(min(low, rate), 0.0)), float(min(max(high, rate), 1.0))


def subset_rate_ratio(k_g: int, n_g: int, k_rest: int, n_rest: int, confidence: float = 0.95):
    """Rate ratio of a group to its whole reference (group + rest), with a delta-method interval.

    log RR = log p_g - log(w p_g + (1 - w) p_r), w = n_g / (n_g + n_r); p_g and p_r are
    independent. Zero cells get the Haldane-Anscombe +0.5 for the interval only.
    """
    n_ref, k_ref = n_g + n_rest, k_g + k_rest
    if n_g == 0 or n_rest == 0 or k_ref == 0:
        return None, None, None
    estimate = (k_g / n_g) / (k_ref / n_ref)
    zero = min(k_g, n_g - k_g, k_rest, n_rest - k_rest) == 0
    c = 0.5 if zero else 0.0
    p_g = (k_g + c) / (n_g + 2 * c)
    p_r = (k_rest + c) / (n_rest + 2 * c)
    w = n_g / n_ref
    p_all = w * p_g + (1 - w) * p_r
    var = (1 / p_g - w / p_all) ** 2 * p_g * (1 - p_g) / n_g
    var += ((1 - w) / p_all) ** 2 * p_r * (1 - p_r) / n_rest
    from scipy.stats import norm

    z = norm.ppf(0.5 + confidence / 2)
    centre = math.log(p_g / p_all)
    half = z * math.sqrt(var)
    return _contain(estimate, math.exp(centre - half), math.exp(centre + half))


def independent_rate_ratio(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95):
    """Rate ratio of two independent samples with statsmodels' log-adjusted interval."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    if n1 == 0 or n2 == 0 or k2 == 0:
        return None, None, None
    low, high = confint_proportions_2indep(
        k1, n1, k2, n2, compare="ratio", method="log-adjusted", alpha=1 - confidence
    )
    return _contain((k1 / n1) / (k2 / n2), float(low), float(high))


def _contain(estimate: float, low: float, high: float) -> tuple[float, float, float]:
    """The interval comes from adjusted counts; widen it so it always holds the raw estimate
    (0 positives give a ratio of 0 and a lower bound of 0, not a bound above the estimate)."""
    return estimate, min(low, estimate), max(high, estimate)


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    from scipy.stats import fisher_exact

    return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)


def compute_cells(counts: Counts, settings: StatsSettings = StatsSettings()) -> list[Cell]:
    """Every population x gender x signal cell with its rate; comparisons where defined."""
    cells: list[Cell] = []
    for signal in counts.signals:
        for population in counts.populations:
            for gender in GENDER_AXIS:
                if counts.population_rows(population, gender) == 0 and gender != ANY_GENDER:
                    continue
                cells.append(_cell(counts, population, gender, signal, settings))
    _adjust(cells, settings.alpha)
    return cells


def _cell(counts: Counts, population: str, gender: str, signal: str, s: StatsSettings) -> Cell:
    n, k = counts.cell(population, gender, signal)
    cell = Cell(population, gender, signal, n, k, suppressed=n < s.min_support)
    if cell.suppressed:
        return cell
    cell.rate = k / n
    cell.ci_low, cell.ci_high = wilson(k, n, s.confidence)
    if population == PERSON:
        _compare(cell, counts, s, NO_IDENTITY, subset=False)
    elif population not in SPECIAL_POPULATIONS:
        _compare(cell, counts, s, PERSON, subset=True)
    return cell


def _compare(cell: Cell, counts: Counts, s: StatsSettings, reference: str, subset: bool) -> None:
    """Compare a cell with a reference that contains it (`subset`) or is disjoint from it.

    Either way the test uses the two disjoint samples: the cell, and the reference (less the
    cell when it is part of it).
    """
    n_other, k_other = counts.cell(reference, cell.gender, cell.signal)
    if subset:
        n_other, k_other = n_other - cell.n, k_other - cell.k
    cell.reference = reference
    if n_other < s.min_support:
        cell.comparison_note = f"{'rest of the ' if subset else ''}reference below minimum support"
        return
    ratio = subset_rate_ratio if subset else independent_rate_ratio
    cell.rate_ratio, cell.rr_low, cell.rr_high = ratio(cell.k, cell.n, k_other, n_other, s.confidence)
    cell.p_value = fisher_p(cell.k, cell.n, k_other, n_other)


def _adjust(cells: list[Cell], alpha: float) -> None:
    """Benjamini-Hochberg q-values over every comparison made in the run."""
    from statsmodels.stats.multitest import multipletests

    tested = [c for c in cells if c.p_value is not None]
    if not tested:
        return
    reject, q, _, _ = multipletests([c.p_value for c in tested], alpha=alpha, method="fdr_bh")
    for cell, q_value, rejected in zip(tested, q, reject, strict=True):
        cell.q_value, cell.significant = float(q_value), bool(rejected)


def headline_findings(
    cells: list[Cell], labels: dict[str, str], signal_labels: dict[str, str], limit: int = 6
) -> list[dict]:
    """The largest significant over-representations, in plain words, strongest first.

    One line per population x gender (its strongest signal by the interval's lower bound).
    """
    elevated = [
        c for c in cells
        if c.significant and c.rate_ratio and c.rate_ratio > 1 and c.population != PERSON
    ]
    elevated.sort(key=lambda c: (-(c.rr_low or 0), c.population))
    strongest: dict[tuple[str, str], Cell] = {}
    for c in elevated:
        strongest.setdefault((c.population, c.gender), c)  # one finding per population x gender
    findings = []
    for c in list(strongest.values())[:limit]:
        who, reference = _who(labels.get(c.population, c.population), c.gender)
        findings.append({
            "population": c.population, "gender": c.gender, "signal": c.signal,
            "text": (
                f"Captions describing {who} are flagged by "
                f"'{signal_labels.get(c.signal, c.signal)}' {c.rate_ratio:.1f}x as often as "
                f"captions describing {reference} ({c.rate:.1%} of {c.n:,} rows; 95% interval of "
                f"the ratio {c.rr_low:.2f}-{c.rr_high:.2f}; q = {c.q_value:.2g})."
            ),
        })
    return findings


def _who(label: str, gender: str) -> tuple[str, str]:
    """Plain words for a population x gender and for its reference."""
    nouns = {"female": "women", "male": "men"}
    if gender in nouns:
        return f"{label} {nouns[gender]}", f"{nouns[gender]} of any identity group"
    if gender == "unspecified":
        return f"{label} people (gender unspecified)", "people of any identity group (gender unspecified)"
    return f"{label} people", "people of any identity group"


def to_records(cells: list[Cell]) -> list[dict]:
    return [c.as_dict() for c in cells]

