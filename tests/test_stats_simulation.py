"""Simulation checks of profiler.stats and profiler.counts against planted truths.

Every test draws data from fixed numpy seeds, so results are deterministic. The figures they
check are the frequentist promises the report makes in its methodology:

- Wilson, subset (delta-method) and independent (log-adjusted) intervals cover the planted
  truth about 95% of the time;
- Benjamini-Hochberg over `compute_cells` keeps the false discovery rate at or under alpha;
- cells under `min_support` are suppressed and stay out of the BH family;
- intervals and q-values are internally consistent on arbitrary counts;
- `count_batch` + `merge` tally a tag table exactly and `compute_cells` recovers planted rates.

Monte-Carlo margins: with 2,000 draws the standard error of a 95% coverage estimate is
sqrt(0.95 * 0.05 / 2000) ~ 0.005, so the [0.93, 0.97] band is four standard errors wide.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import binom

from profiler.counting.counts import CountPlan, Counts, count_batch
from profiler.counting.populations import ANY_GENDER, GENDER_AXIS, NO_IDENTITY, PERSON, SPECIAL_POPULATIONS
from profiler.stats import (
    StatsSettings,
    compute_cells,
    independent_rate_ratio,
    subset_rate_ratio,
    wilson,
)
from profiler.taggers.identity_lexicon import MENTION_GENDERS
from profiler.taggers.sexual_terms import SexualTermsTagger

COVERAGE_BAND = (0.93, 0.97)
SIGNAL = "sig"
G_ANY = GENDER_AXIS.index(ANY_GENDER)


# ---------------------------------------------------------------------------------------------
# 1. Wilson interval


# Settings with n * p >= 20: there Wilson's coverage is close to nominal. For n * p around 5
# (e.g. n=100, p=0.05) its coverage oscillates with p (the discreteness of the binomial) and
# can sit a couple of points off 95%, which would make a fixed band test a test of the seed.
WILSON_SETTINGS = [
    (400, 0.05), (2000, 0.05),
    (100, 0.2), (400, 0.2), (2000, 0.2),
    (100, 0.5), (400, 0.5), (2000, 0.5),
]



def test_wilson_equals_statsmodels():
    """The closed form matches the library's Wilson interval on a grid of counts and levels."""
    from statsmodels.stats.proportion import proportion_confint

    for confidence in (0.9, 0.95, 0.999):
        for n in (1, 2, 7, 30, 101, 5000, 10**7):
            for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
                if not 0 <= k <= n:
                    continue
                want = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
                got = wilson(k, n, confidence)
                assert np.allclose(got, [max(min(want[0], k / n), 0), min(max(want[1], k / n), 1)],
                                   rtol=1e-12, atol=1e-15), (k, n, confidence)


@pytest.mark.parametrize(("n", "p"), WILSON_SETTINGS)
def test_wilson_coverage(n, p):
    rng = np.random.default_rng(1000 + n + int(p * 100))
    k = rng.binomial(n, p, size=4000)
    # The product function on every distinct k (there are at most n + 1 of them).
    bounds = {int(v): wilson(int(v), n, 0.95) for v in np.unique(k)}
    low = np.array([bounds[int(v)][0] for v in k])
    high = np.array([bounds[int(v)][1] for v in k])
    covered = np.mean((low <= p) & (p <= high))
    assert COVERAGE_BAND[0] <= covered <= COVERAGE_BAND[1], covered
    assert np.all(low <= k / n) and np.all(k / n <= high)
    assert np.all(low >= 0) and np.all(high <= 1)


@pytest.mark.parametrize("n", [100, 400, 2000])
def test_wilson_exact_coverage(n):
    # Exact coverage (no Monte Carlo): sum the binomial pmf over the k whose interval covers p.
    for p in (0.05, 0.2, 0.5):
        k = np.arange(n + 1)
        pmf = binom.pmf(k, n, p)
        support = k[pmf > 1e-12]
        covers = np.array([lo <= p <= hi for lo, hi in (wilson(int(v), n) for v in support)])
        coverage = pmf[support][covers].sum()
        # n p = 5 (n=100, p=0.05) is the discreteness-affected corner: 0.966 there.
        assert 0.935 <= coverage <= 0.97, (n, p, coverage)


def test_wilson_width_follows_confidence():
    # A wider confidence must give a strictly wider interval; 99.9% >> 95%.
    low95, high95 = wilson(40, 400, 0.95)
    low999, high999 = wilson(40, 400, 0.999)
    assert low999 < low95 < 0.1 < high95 < high999
    # Approximate width check against the normal approximation (Wilson ~ Wald for np >> 1).
    assert high95 - low95 == pytest.approx(2 * 1.96 * np.sqrt(0.1 * 0.9 / 400), rel=0.05)


# ---------------------------------------------------------------------------------------------
# 2. Rate ratio of a group to its whole reference (the group is a subset of the reference)


SUBSET_SETTINGS = [
    # (n_g, n_rest, p_g, p_rest)
    (1000, 4000, 0.10, 0.10),  # ratio 1
    (300, 4700, 0.20, 0.10),  # small group (300 of a 5,000 reference), ratio ~1.9
    (300, 4700, 0.10, 0.10),  # small group, ratio 1
    (2000, 3000, 0.05, 0.15),  # large share of the reference, ratio < 1
    (500, 4500, 0.30, 0.15),  # ratio ~1.8
]


@pytest.mark.parametrize(("n_g", "n_r", "p_g", "p_r"), SUBSET_SETTINGS)
def test_subset_rate_ratio_coverage(n_g, n_r, p_g, p_r):
    rng = np.random.default_rng(2000 + n_g)
    sims = 2000
    k_g = rng.binomial(n_g, p_g, size=sims)
    k_r = rng.binomial(n_r, p_r, size=sims)
    w = n_g / (n_g + n_r)
    truth = p_g / (w * p_g + (1 - w) * p_r)
    hits = 0
    for a, b in zip(k_g.tolist(), k_r.tolist(), strict=True):
        estimate, low, high = subset_rate_ratio(a, n_g, b, n_r, 0.95)
        assert estimate == pytest.approx((a / n_g) / ((a + b) / (n_g + n_r)), rel=1e-12)
        assert low <= estimate <= high
        hits += low <= truth <= high
    coverage = hits / sims
    assert COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1], (truth, coverage)


def test_subset_rate_ratio_is_not_the_independent_ratio():
    # The group is part of its reference: the ratio is to (group + rest), not to the rest.
    estimate, low, high = subset_rate_ratio(60, 300, 470, 4700, 0.95)
    assert estimate == pytest.approx(0.2 / (530 / 5000))
    assert estimate != pytest.approx(0.2 / 0.1)
    # The overlap shrinks the variance below that of an independent comparison with the rest.
    _, i_low, i_high = independent_rate_ratio(60, 300, 470, 4700, 0.95)
    assert np.log(high / low) < np.log(i_high / i_low)


def test_subset_rate_ratio_undefined_cases():
    assert subset_rate_ratio(0, 0, 5, 100) == (None, None, None)
    assert subset_rate_ratio(5, 100, 0, 0) == (None, None, None)
    assert subset_rate_ratio(0, 100, 0, 100) == (None, None, None)


# ---------------------------------------------------------------------------------------------
# 3. Rate ratio of two independent samples


INDEPENDENT_SETTINGS = [
    # (n1, n2, p1, p2)
    (2000, 8000, 0.10, 0.10),
    (500, 5000, 0.20, 0.10),
    (300, 3000, 0.05, 0.08),
    (4000, 1000, 0.30, 0.15),
]


@pytest.mark.parametrize(("n1", "n2", "p1", "p2"), INDEPENDENT_SETTINGS)
def test_independent_rate_ratio_coverage(n1, n2, p1, p2):
    rng = np.random.default_rng(3000 + n1)
    sims = 1500
    k1 = rng.binomial(n1, p1, size=sims)
    k2 = rng.binomial(n2, p2, size=sims)
    hits = 0
    for a, b in zip(k1.tolist(), k2.tolist(), strict=True):
        estimate, low, high = independent_rate_ratio(a, n1, b, n2, 0.95)
        assert estimate == pytest.approx((a / n1) / (b / n2), rel=1e-12)
        hits += low <= p1 / p2 <= high
    coverage = hits / sims
    assert COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1], coverage


# ---------------------------------------------------------------------------------------------
# 4. The full pipeline on Counts built by hand


def _counts_one_gender(groups: list[str], n_g, k_g, n_extra=0, k_extra=0, n_none=0, k_none=0):
    """Counts at gender '*' only: disjoint groups, person_mention = groups (+ an unlisted part).

    `n_extra` rows are person mentions outside the listed groups (e.g. groups a plan leaves out);
    they belong to the reference and to the "rest" of every group.
    """
    counts = Counts(populations=[*SPECIAL_POPULATIONS, *groups], signals=[SIGNAL])
    n_g, k_g = np.asarray(n_g, np.int64), np.asarray(k_g, np.int64)
    n_person, k_person = int(n_g.sum()) + n_extra, int(k_g.sum()) + k_extra
    rows = {"all": n_person + n_none, PERSON: n_person, NO_IDENTITY: n_none}
    positives = {"all": k_person + k_none, PERSON: k_person, NO_IDENTITY: k_none}
    for i, name in enumerate(counts.populations):
        if name in rows:
            n, k = rows[name], positives[name]
        else:
            n, k = int(n_g[i - 3]), int(k_g[i - 3])
        counts.rows_in[i, G_ANY] = n
        counts.observed[i, G_ANY, 0] = n
        counts.positive[i, G_ANY, 0] = k
    return counts


def _group_cells(cells, groups):
    by_name = {c.population: c for c in cells if c.gender == ANY_GENDER}
    return [by_name[g] for g in groups]


def test_benjamini_hochberg_controls_fdr_with_power():
    rng = np.random.default_rng(4)
    groups = [f"g{i:02d}" for i in range(20)]
    elevated = np.zeros(20, bool)
    elevated[:5] = True
    n_group, p0, p1 = 400, 0.10, 0.20
    # An unlisted part of the reference at a slightly lower rate, chosen so that every null
    # group's "rest" (reference minus the group) has exactly rate p0 in expectation:
    # 5 n (p1 - p0) + n_extra (p_extra - p0) = 0. Then the 15 null groups are exact nulls of
    # Fisher's test against the rest, and a rejection among them is a false discovery.
    n_extra = 4000
    p_extra = p0 - 5 * n_group * (p1 - p0) / n_extra
    settings = StatsSettings(min_support=30, confidence=0.95, alpha=0.05)
    runs, fdp, power, null_rejections = 500, [], [], 0
    for _ in range(runs):
        k_g = rng.binomial(n_group, np.where(elevated, p1, p0))
        k_extra = int(rng.binomial(n_extra, p_extra))
        counts = _counts_one_gender(groups, [n_group] * 20, k_g, n_extra, k_extra)
        cells = compute_cells(counts, settings)
        tested = [c for c in cells if c.p_value is not None]
        assert {c.population for c in tested} == set(groups)  # no reference, no person vs none
        significant = np.array([c.significant for c in _group_cells(cells, groups)])
        false = int((significant & ~elevated).sum())
        fdp.append(false / max(int(significant.sum()), 1))
        power.append(significant[elevated].mean())
        null_rejections += false
    fdr = float(np.mean(fdp))
    print(f"BH over {runs} datasets: FDR {fdr:.4f}, power {np.mean(power):.4f}")
    assert fdr <= 0.06, fdr
    assert float(np.mean(power)) >= 0.8, np.mean(power)
    # Sanity: BH is not trivially conservative here; nulls do get rejected now and then.
    assert null_rejections > 0


def test_global_null_rarely_discovers_anything():
    rng = np.random.default_rng(5)
    groups = [f"g{i:02d}" for i in range(20)]
    sizes = rng.integers(150, 500, size=20)
    runs, any_discovery, p_small = 500, 0, 0
    for _ in range(runs):
        k_g = rng.binomial(sizes, 0.12)
        cells = compute_cells(_counts_one_gender(groups, sizes, k_g), StatsSettings())
        group_cells = _group_cells(cells, groups)
        any_discovery += any(c.significant for c in group_cells)
        p_small += sum(c.p_value < 0.05 for c in group_cells)
    rate = any_discovery / runs
    print(f"global null over {runs} datasets: any discovery {rate:.3f}, "
          f"raw p < 0.05 {p_small / (runs * 20):.4f}")
    assert rate <= 0.05 + 0.02, rate
    # The raw p-values are (conservatively) valid too: about 5% of nulls or fewer fall below
    # 0.05 (margin: ~2 Monte-Carlo standard errors over 6,000 correlated tests) ...
    assert p_small / (runs * 20) <= 0.055
    # ... but not absurdly conservative (Fisher's test at these sizes is only mildly so).
    assert p_small / (runs * 20) >= 0.02


def test_min_support_suppression_and_bh_family():
    groups = ["big", "small", "edge", "under"]
    # 'small' has 29 rows (< 30), 'edge' exactly 30, 'under' 10.
    counts = _counts_one_gender(
        groups, [1000, 29, 30, 10], [300, 20, 25, 9], n_extra=500, k_extra=40,
        n_none=2000, k_none=100,
    )
    cells = {c.population: c for c in compute_cells(counts, StatsSettings(min_support=30))}
    for name in ("small", "under"):
        cell = cells[name]
        assert cell.suppressed
        assert (cell.n, cell.k) == ((29, 20) if name == "small" else (10, 9))
        fields = (cell.rate, cell.ci_low, cell.ci_high, cell.rate_ratio, cell.rr_low,
                  cell.rr_high, cell.p_value, cell.q_value, cell.significant)
        assert all(v is None for v in fields), cell
    for name in ("big", "edge"):
        cell = cells[name]
        assert not cell.suppressed
        assert cell.rate == cell.k / cell.n
        assert cell.p_value is not None and cell.q_value is not None
    # The BH family is every comparison made: big and edge against all person mentions and
    # against no-identity captions, plus person_mention vs no_identity (m = 5); adding the
    # suppressed cells would change every q.
    tested = sorted(
        (comp for c in cells.values() for comp in c.comparisons if comp.p_value is not None),
        key=lambda comp: comp.p_value,
    )
    assert sorted(c.population for c in cells.values() if c.p_value is not None) == sorted(
        ["big", "edge", PERSON])
    m = len(tested)
    assert m == 5
    q_expected = [min(1.0, min(tested[j].p_value * m / (j + 1) for j in range(i, m)))
                  for i in range(m)]
    assert [c.q_value for c in tested] == pytest.approx(q_expected, rel=1e-9)
    # Raising min_support to 31 suppresses 'edge' too and shrinks the family to 3.
    cells31 = {c.population: c for c in compute_cells(counts, StatsSettings(min_support=31))}
    assert cells31["edge"].suppressed and cells31["edge"].q_value is None
    assert sum(comp.p_value is not None for c in cells31.values() for comp in c.comparisons) == 3
    # A group whose rest of the reference is under min_support gets a rate but no comparison.
    lone = _counts_one_gender(["only"], [500], [50], n_extra=10, k_extra=1)
    only = next(c for c in compute_cells(lone) if c.population == "only")
    assert not only.suppressed and only.rate == 0.1
    assert only.rate_ratio is None and only.p_value is None and only.q_value is None
    assert only.comparison_note


def _random_counts(rng) -> Counts:
    """Arbitrary consistent counts over all genders: groups nested in person_mention."""
    groups = [f"g{i}" for i in range(rng.integers(1, 5))]
    signals = ["s1", "s2"]
    counts = Counts(populations=[*SPECIAL_POPULATIONS, *groups], signals=signals)
    p_all, p_person, p_none = 0, 1, 2
    genders = range(1, len(GENDER_AXIS))
    for gi in genders:
        for j in range(len(groups)):
            row = 3 + j
            n = int(rng.choice([0, int(rng.integers(0, 60)), int(rng.integers(0, 2000))]))
            counts.rows_in[row, gi] = n
            for s in range(len(signals)):
                obs = n - int(rng.integers(0, max(n // 10, 0) + 1))
                rate = rng.choice([0.0, 1.0, rng.uniform(0, 0.05), rng.uniform(0, 1)])
                counts.observed[row, gi, s] = obs
                counts.positive[row, gi, s] = rng.binomial(obs, rate)
        # person_mention >= each group: the groups plus an unlisted part; groups may overlap
        # (a row mentioning two groups), so the reference is at least the largest group.
        extra = int(rng.integers(0, 500))
        counts.rows_in[p_person, gi] = counts.rows_in[3:, gi].sum() + extra
        counts.rows_in[p_none, gi] = int(rng.choice([0, int(rng.integers(0, 4000))]))
        for s in range(len(signals)):
            e_obs = int(rng.integers(0, extra + 1))
            counts.observed[p_person, gi, s] = counts.observed[3:, gi, s].sum() + e_obs
            counts.positive[p_person, gi, s] = (
                counts.positive[3:, gi, s].sum() + rng.binomial(e_obs, rng.uniform(0, 1))
            )
            n_none = counts.rows_in[p_none, gi]
            counts.observed[p_none, gi, s] = n_none
            counts.positive[p_none, gi, s] = rng.binomial(n_none, rng.uniform(0, 0.3))
    counts.rows_in[p_all] = counts.rows_in[p_person] + counts.rows_in[p_none]
    counts.observed[p_all] = counts.observed[p_person] + counts.observed[p_none]
    counts.positive[p_all] = counts.positive[p_person] + counts.positive[p_none]
    # '*' is the sum over genders (disjoint gender cells here).
    counts.rows_in[:, G_ANY] = counts.rows_in[:, 1:].sum(axis=1)
    counts.observed[:, G_ANY] = counts.observed[:, 1:].sum(axis=1)
    counts.positive[:, G_ANY] = counts.positive[:, 1:].sum(axis=1)
    return counts


def test_invariants_on_random_counts():
    rng = np.random.default_rng(6)
    checked_rr = zero_numerator = 0
    for _ in range(250):
        counts = _random_counts(rng)
        settings = StatsSettings(min_support=int(rng.choice([1, 10, 30])))
        cells = compute_cells(counts, settings)
        for c in cells:
            assert (c.n, c.k) == counts.cell(c.population, c.gender, c.signal)
            assert c.suppressed == (c.n < settings.min_support)
            if c.suppressed:
                assert c.rate is None and c.p_value is None and c.q_value is None
                continue
            assert c.ci_low >= 0 and c.ci_high <= 1, c
            assert c.ci_low <= c.rate <= c.ci_high, c
            if c.rate_ratio is not None:
                assert c.rr_low >= 0 and np.isfinite(c.rr_high)
                if c.k == 0:
                    zero_numerator += 1
                    assert c.rate_ratio == 0 and c.rr_low == 0 and c.rr_high > 0, c
                assert c.rr_low <= c.rate_ratio <= c.rr_high, c
                checked_rr += 1
            if c.p_value is not None:
                assert 0 <= c.p_value <= 1
                assert c.p_value <= c.q_value <= 1 + 1e-12, c
                assert c.significant == (c.q_value <= settings.alpha)
            else:
                assert c.q_value is None and c.significant is None
    assert checked_rr > 1000
    assert zero_numerator > 0


def test_zero_numerator_ratio_inside_its_interval():
    # Group with 0 positives of 100, rest 50 of 900: the interval comes from +0.5-adjusted
    # counts, and must still hold the raw estimate 0 (lower bound 0).
    for estimate, low, high in (subset_rate_ratio(0, 100, 50, 900, 0.95),
                                independent_rate_ratio(0, 100, 50, 900, 0.95)):
        assert estimate == 0.0 and low == 0.0 and 1.0 < high < 3.0


def test_wilson_extreme_counts_contain_their_rate_exactly():
    # statsmodels' Wilson formula rounds: wilson(0, 50) had low ~6.9e-18 > 0 and
    # wilson(57, 57) had high 0.9999999999999998 < 1; the product clamps them.
    low0, _ = wilson(0, 50)
    _, high1 = wilson(57, 57)
    assert low0 <= 0.0 and high1 >= 1.0


# ---------------------------------------------------------------------------------------------
# 5. Planted-rate recovery through count_batch, merge and compute_cells


GROUPS = ("east_asian", "black", "white", "south_asian", "latino", "middle_eastern")
# Planted P(suggestive), P(explicit) per group; the rest of the mass is level "none".
PLANTED = {
    "east_asian": (0.12, 0.08),
    "black": (0.06, 0.03),
    "white": (0.05, 0.02),
    "south_asian": (0.10, 0.01),
    "latino": (0.08, 0.06),
    "middle_eastern": (0.04, 0.00),
}
NO_IDENTITY_PROBS = (0.03, 0.01)
LEVELS = ("none", "suggestive", "explicit")


def _planted_table(rng, n_rows: int):
    """A tag table like the identity + sexual_terms taggers produce, with per-row truths.

    Returns the table and, per row, its mentions and its (P(any), P(explicit)); a row that
    mentions several groups takes the mean of their planted probabilities.
    """
    keys, person, genders, mentions, groups, levels, probs = [], [], [], [], [], [], []
    for i in range(n_rows):
        kind = rng.random()
        if kind < 0.3:  # no identity mention; a bare person noun may still carry a gender
            row_mentions = []
            gender = str(rng.choice(["none", "female", "male", "unspecified"]))
            sugg, expl = NO_IDENTITY_PROBS
        else:
            if kind < 0.85:  # one group, one gender
                picks = [(str(rng.choice(GROUPS)), str(rng.choice(MENTION_GENDERS)))]
            elif kind < 0.93:  # one group, two genders ("an asian man and woman")
                g = str(rng.choice(GROUPS))
                picks = [(g, s) for s in rng.choice(MENTION_GENDERS, 2, replace=False)]
            else:  # two groups
                pair = rng.choice(GROUPS, 2, replace=False)
                picks = [(str(g), str(rng.choice(MENTION_GENDERS))) for g in pair]
            row_mentions = [f"{g}:{s}" for g, s in picks]
            row_groups = list(dict.fromkeys(g for g, _ in picks))
            sexes = {str(s) for _, s in picks}
            gender = sexes.pop() if len(sexes) == 1 else "mixed"
            sugg = float(np.mean([PLANTED[g][0] for g in row_groups]))
            expl = float(np.mean([PLANTED[g][1] for g in row_groups]))
        u = rng.random()
        level = None if rng.random() < 0.02 else (
            "explicit" if u < expl else "suggestive" if u < expl + sugg else "none"
        )
        keys.append(f"row{i}")
        person.append(bool(row_mentions))
        genders.append(gender)
        mentions.append(row_mentions)
        groups.append(list(dict.fromkeys(m.split(":")[0] for m in row_mentions)))
        levels.append(level)
        probs.append((sugg + expl, expl))
    table = pa.table({
        "key": pa.array(keys, pa.string()),
        "identity.person_mention": pa.array(person, pa.bool_()),
        "identity.gender": pa.array(genders, pa.string()),
        "identity.mentions": pa.array(mentions, pa.list_(pa.string())),
        "identity.groups": pa.array(groups, pa.list_(pa.string())),
        "sexual_terms.level": pa.array(levels, pa.string()),
    })
    return table, mentions, genders, levels, probs


def _members(population: str, gender: str, mentions: list[str], row_gender: str) -> bool:
    """Independent reimplementation of who is in a population x gender cell."""
    if population == "all":
        return gender in (ANY_GENDER, row_gender)
    if population == NO_IDENTITY:
        return not mentions and gender in (ANY_GENDER, row_gender)
    pairs = [m.split(":") for m in mentions]
    if population != PERSON:
        pairs = [(g, s) for g, s in pairs if g == population]
    return any(gender in (ANY_GENDER, s) for _, s in pairs)


def test_count_batch_merge_and_planted_rate_recovery():
    rng = np.random.default_rng(7)
    table, mentions, genders, levels, probs = _planted_table(rng, 20000)
    signals = SexualTermsTagger().signals()
    plan = CountPlan(groups=GROUPS, aggregates={}, signals=signals, scores=())

    single = count_batch(table, plan)
    order = rng.permutation(table.num_rows)
    cuts = np.sort(rng.choice(np.arange(1, table.num_rows), 2, replace=False))
    parts = [table.take(pa.array(idx)) for idx in np.split(order, cuts)]
    merged = count_batch(parts[0], plan).merge(count_batch(parts[1], plan)).merge(
        count_batch(parts[2], plan)
    )
    assert merged.populations == single.populations == plan.populations
    assert merged.signals == single.signals == [s.name for s in signals]
    np.testing.assert_array_equal(merged.rows_in, single.rows_in)
    np.testing.assert_array_equal(merged.observed, single.observed)
    np.testing.assert_array_equal(merged.positive, single.positive)
    assert merged.tagged == single.tagged == table.num_rows

    cells = compute_cells(merged, StatsSettings(confidence=0.999, min_support=30))
    level_code = np.array([-1 if lv is None else LEVELS.index(lv) for lv in levels])
    observed = level_code >= 0
    p_any, p_explicit = np.array(probs).T
    checked = 0
    for cell in cells:
        member = np.array([
            _members(cell.population, cell.gender, m, g)
            for m, g in zip(mentions, genders, strict=True)
        ])
        # The planted table has no `apparel` level: that signal's planted rate is 0.
        positive, planted = {
            "sexual_terms.any": (level_code >= 1, p_any),
            "sexual_terms.explicit": (level_code >= 2, p_explicit),
            "sexual_terms.apparel": (np.zeros(len(level_code), bool), np.zeros(len(p_any))),
        }[cell.signal]
        rows = member & observed
        # Realised counts, exactly.
        assert cell.n == int(rows.sum()), cell
        assert cell.k == int((rows & positive).sum()), cell
        assert merged.population_rows(cell.population, cell.gender) == int(member.sum())
        if cell.suppressed:
            continue
        # The planted rate of the cell given who is in it (mean of its rows' probabilities).
        truth = float(planted[rows].mean())
        assert cell.ci_low <= truth <= cell.ci_high, (cell, truth)
        checked += 1
    # Every group at '*' and the specials were checked, not just a few cells.
    starred = {c.population for c in cells if c.gender == ANY_GENDER and not c.suppressed}
    assert starred == set(plan.populations)
    assert checked >= 60
