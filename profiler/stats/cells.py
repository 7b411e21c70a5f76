"""Cells: every population x gender x signal rate, compared with its references; findings.

Conventions (stated in the report's methodology):
- rate: Wilson score interval.
- group vs all person mentions (the group is a subset of its reference): the rate ratio's
  interval comes from the delta method on log(p_group / p_reference), with the covariance of
  the overlap taken into account; the test is Fisher's exact test of the group against the rest
  of the reference, which is equivalent and uses independent samples.
- person mentions vs captions with no identity mention (independent samples): Katz's
  log-adjusted ratio interval and Fisher's exact test.
- Benjamini-Hochberg over every comparison shown, across all signals.
- cells (or comparison remainders) under `min_support` rows are suppressed, not shown as 0%.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from profiler.counting.counts import Counts
from profiler.counting.populations import ANY_GENDER, GENDER_AXIS, NO_IDENTITY, PERSON, SPECIAL_POPULATIONS
from profiler.defaults import ALPHA, CONFIDENCE, MIN_SUPPORT
from profiler.stats.fisher import fisher_p
from profiler.stats.rates import (
    benjamini_hochberg,
    independent_rate_ratio,
    odds_ratio,
    subset_rate_ratio,
    wilson,
)


@dataclass(frozen=True)
class StatsSettings:
    min_support: int = MIN_SUPPORT
    confidence: float = CONFIDENCE
    alpha: float = ALPHA


@dataclass
class Comparison:
    """A cell against one reference population (same gender and signal)."""

    reference: str
    subset: bool
    rate_ratio: float | None = None
    rr_low: float | None = None
    rr_high: float | None = None
    odds_ratio: float | None = None
    or_low: float | None = None
    or_high: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    significant: bool | None = None
    note: str | None = None


@dataclass
class Cell:
    """One population x gender x signal: its rate and its comparisons with references.

    The flat `reference` .. `comparison_note` fields repeat the primary comparison (the first):
    groups against all person mentions; person mentions against captions with no mention.
    """

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
    comparisons: list[Comparison] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def sync_primary(self) -> None:
        if not self.comparisons:
            return
        first = self.comparisons[0]
        self.reference, self.comparison_note = first.reference, first.note
        self.rate_ratio, self.rr_low, self.rr_high = first.rate_ratio, first.rr_low, first.rr_high
        self.p_value, self.q_value, self.significant = first.p_value, first.q_value, first.significant


# Which references each kind of population is compared with, primary first.
def references_for(population: str) -> list[tuple[str, bool]]:
    if population == PERSON:
        return [(NO_IDENTITY, False)]
    if population in SPECIAL_POPULATIONS:
        return []
    return [(PERSON, True), (NO_IDENTITY, False)]


def compute_cells(counts: Counts, settings: StatsSettings = StatsSettings()) -> list[Cell]:
    """Every population x gender x signal cell with its rate and comparisons (BH-adjusted)."""
    cells: list[Cell] = []
    for signal in counts.signals:
        for population in counts.populations:
            for gender in GENDER_AXIS:
                if counts.population_rows(population, gender) == 0 and gender != ANY_GENDER:
                    continue
                cells.append(_cell(counts, population, gender, signal, settings))
    _adjust(cells, settings.alpha)
    for cell in cells:
        cell.sync_primary()
    return cells


def _cell(counts: Counts, population: str, gender: str, signal: str, s: StatsSettings) -> Cell:
    n, k = counts.cell(population, gender, signal)
    cell = Cell(population, gender, signal, n, k, suppressed=n < s.min_support)
    if cell.suppressed:
        return cell
    cell.rate = k / n
    cell.ci_low, cell.ci_high = wilson(k, n, s.confidence)
    cell.comparisons = [
        compare_with(cell, counts, s, reference, subset)
        for reference, subset in references_for(population)
    ]
    return cell


def compare_with(cell: Cell, counts: Counts, s: StatsSettings, reference: str, subset: bool):
    """Compare a cell with a reference that contains it (`subset`) or is disjoint from it.

    Either way the test and the odds ratio use two disjoint samples: the cell, and the
    reference (less the cell when it is part of it).
    """
    comparison = Comparison(reference, subset)
    n_other, k_other = counts.cell(reference, cell.gender, cell.signal)
    if subset:
        n_other, k_other = n_other - cell.n, k_other - cell.k
    if n_other < s.min_support:
        comparison.note = f"{'rest of the ' if subset else ''}reference below minimum support"
        return comparison
    ratio = subset_rate_ratio if subset else independent_rate_ratio
    c = comparison
    c.rate_ratio, c.rr_low, c.rr_high = ratio(cell.k, cell.n, k_other, n_other, s.confidence)
    c.odds_ratio, c.or_low, c.or_high = odds_ratio(cell.k, cell.n, k_other, n_other, s.confidence)
    c.p_value = fisher_p(cell.k, cell.n, k_other, n_other)
    return comparison


def _adjust(cells: list[Cell], alpha: float) -> None:
    """Benjamini-Hochberg q-values over every comparison made in the run."""
    tested = [c for cell in cells for c in cell.comparisons if c.p_value is not None]
    q_values, rejected = benjamini_hochberg([c.p_value for c in tested], alpha)
    for comparison, q_value, reject in zip(tested, q_values, rejected, strict=True):
        comparison.q_value, comparison.significant = q_value, reject


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

