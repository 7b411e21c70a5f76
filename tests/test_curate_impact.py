"""Filter impact and weights on a hand-built run whose answers are known (tests/curate_data.py),
and the coverage of the exclusion-amplification interval by simulation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from profiler.counting.populations import Populations
from profiler.curate import CurateRequest, run_curate, standard_filter_impacts
from profiler.curate.impact import DROP, FilterSpec
from profiler.curate.weights import Raking
from profiler.errors import UserError
from profiler.stats import subset_rate_ratio
from tests.curate_data import block_of, make_run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("hand"))


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("clip"), clip=True)


def cell(result: dict, population: str, gender: str = "*") -> dict:
    return next(c for c in result["cells"] if (c["population"], c["gender"]) == (population, gender))


def test_punsafe_filter_removes_exactly_the_planted_rows(run):
    impact = standard_filter_impacts(run, min_support=30)
    json.dumps(impact, allow_nan=False)  # JSON-serialisable, no NaN
    punsafe = next(f for f in impact["filters"] if f["name"] == "dataset_punsafe")
    assert punsafe["overall"] == {
        "n": 1000, "removed": 130, "kept": 870, "removed_rate": 0.13,
        "removed_low": pytest.approx(0.1104, abs=1e-3), "removed_high": pytest.approx(0.1525, abs=1e-3),
        "unjudged": 40, "unjudged_rows_are": "kept"}
    assert "40 rows (4.0%) lack the values" in punsafe["note"]
    expected = {  # (population, gender): (n, removed)
        ("person_mention", "*"): (220, 50), ("person_mention", "female"): (140, 50),
        ("person_mention", "male"): (80, 0), ("no_identity", "*"): (780, 80),
        ("east_asian", "*"): (110, 40), ("east_asian", "female"): (90, 40), ("east_asian", "male"): (20, 0),
        ("black", "*"): (70, 10), ("black", "female"): (10, 10), ("black", "male"): (60, 0),
        ("white", "*"): (50, 10), ("white", "female"): (50, 10), ("asian_any", "*"): (110, 40),
    }
    for (population, gender), (n, removed) in expected.items():
        c = cell(punsafe, population, gender)
        assert (c["n_before"], c["removed"], c["n_after"]) == (n, removed, n - removed), (population, gender)
    ea = cell(punsafe, "east_asian")
    assert ea["removed_rate"] == pytest.approx(40 / 110)
    assert ea["amplification"] == pytest.approx((40 / 110) / 0.13)
    _, low, high = subset_rate_ratio(40, 110, 90, 890)
    assert (ea["amplification_low"], ea["amplification_high"]) == pytest.approx((low, high))
    assert ea["flag"] == "amplified" and low > 1
    assert cell(punsafe, "no_identity")["amplification"] == pytest.approx((80 / 780) / 0.13)
    assert cell(punsafe, "no_identity")["flag"] == "spared"
    assert cell(punsafe, "person_mention", "male")["flag"] == "spared"  # 0 of 80 removed
    assert ea["share_before"] == pytest.approx(110 / 220)
    assert ea["share_after"] == pytest.approx(70 / 170)
    assert cell(punsafe, "person_mention")["share_before"] is None
    # under min support: counts shown, every rate suppressed
    small = cell(punsafe, "east_asian", "male")
    assert small["suppressed"] and small["removed_rate"] is None and small["amplification"] is None
    assert small["share_before"] is None


def test_sexualized_rate_left_after_filtering(run):
    impact = standard_filter_impacts(run)
    punsafe = next(f for f in impact["filters"] if f["name"] == "dataset_punsafe")
    signals = cell(punsafe, "east_asian")["signals"]
    assert signals["sexual_terms.explicit"]["before"]["k"] == 30
    assert signals["sexual_terms.explicit"]["after"] == {
        "n": 70, "k": 0, "rate": 0.0, "low": 0.0, "high": pytest.approx(0.0521, abs=1e-3),
        "suppressed": False}
    assert (signals["sexual_terms.any"]["after"]["k"], signals["sexual_terms.any"]["after"]["n"]) == (20, 70)
    # dataset.sexual is unknown where punsafe is null: out of the denominator
    white = cell(punsafe, "white", "female")["signals"]["dataset.sexual"]
    assert (white["before"]["n"], white["before"]["k"]) == (10, 10)
    assert white["after"]["n"] == 0 and white["after"]["suppressed"]
    # the explicit-caption filter leaves the punsafe-flagged D rows in
    explicit = next(f for f in impact["filters"] if f["name"] == "caption_explicit")
    assert cell(explicit, "east_asian")["removed"] == 30
    assert cell(explicit, "east_asian")["signals"]["dataset.sexual"]["after"]["k"] == 10


def test_standard_filters_side_by_side_and_clip_when_present(run, clip_run):
    impact = standard_filter_impacts(run)
    names = [f["name"] for f in impact["filters"]]
    assert names == ["dataset_punsafe", "caption_explicit", "caption_sexual", "clip"]
    clip = impact["filters"][-1]
    assert not clip["available"] and "clip tagger" in clip["note"]
    row = next(r for r in impact["comparison"] if (r["population"], r["gender"]) == ("east_asian", "*"))
    assert row["filters"]["dataset_punsafe"]["removed"] == 40
    assert row["filters"]["caption_sexual"]["removed"] == 50  # A explicit + C suggestive
    assert "clip" not in row["filters"]

    with_clip = standard_filter_impacts(clip_run)
    clip = with_clip["filters"][-1]
    assert clip["available"] and clip["expression"] == "`clip.sexual`"
    assert clip["overall"]["removed"] == 110  # blocks A and I
    assert "clip.sexual" in [s["name"] for s in with_clip["signals"]]  # new boolean tag: a signal


def test_curate_outputs_match_the_impact(run, tmp_path):
    out = tmp_path / "cur"
    result = run_curate(CurateRequest(run, out, where="dataset.punsafe >= 0.5"))
    blocks = block_of(run)
    kept = (out / "kept_keys.txt").read_text().splitlines()
    assert len(kept) == 870
    assert {blocks[k] for k in kept} == set("BCEGH")  # A D F I removed
    assert pq.read_table(out / "kept_keys.parquet").column("key").to_pylist() == kept
    summary = json.loads((out / "curation.json").read_text())
    assert summary["rows"] == {"tagged": 1000, "kept": 870, "removed": 130, "unjudged": 40,
                               "unjudged_rows_are": "kept"}
    impact = json.loads((out / "impact.json").read_text())
    assert cell(impact, "east_asian")["removed"] == 40
    header = (out / "impact.csv").read_text().splitlines()[0].split(",")
    assert "amplification_low" in header and "sexual_terms.explicit.after.rate" in header
    assert "East Asian" in result.table and "amplified" in result.table


def test_keep_mode_and_removed_list(run, tmp_path):
    out = tmp_path / "keep"
    run_curate(CurateRequest(run, out, where='"east_asian" in identity.groups', mode="keep",
                             key_list="removed"))
    blocks = block_of(run)
    removed = (out / "removed_keys.txt").read_text().splitlines()
    assert len(removed) == 1000 - 110
    assert {blocks[k] for k in removed} == set("EFGHI")


def test_weights_single_target_closed_form(run, tmp_path):
    out = tmp_path / "w1"
    result = run_curate(CurateRequest(run, out, where="dataset.punsafe >= 0.5",
                                      target_shares="east_asian=0.25"))
    weights = pq.read_table(out / "weights.parquet").to_pydict()
    blocks = block_of(run)
    by_block = {}
    for key, weight in zip(weights["key"], weights["weight"], strict=True):
        by_block.setdefault(blocks[key], set()).add(round(weight, 12))
    share = 70 / 170  # east_asian among kept person mentions (B 50 + C 20 of 170)
    assert by_block["B"] == by_block["C"] == {round(0.25 / share, 12)}
    assert by_block["E"] == by_block["G"] == {round(0.75 / (1 - share), 12)}
    assert by_block["H"] == {1.0}  # no person mention: untouched
    assert len(weights["key"]) == 870
    assert result.summary["weights"]["converged"]
    assert result.summary["weights"]["shares_after"]["east_asian"] == pytest.approx(0.25)


def test_weights_overlapping_targets_converge(run, tmp_path):
    out = tmp_path / "w2"
    # every person row is in one of the three; D (east_asian and black) must take 0.4 + 0.45 + 0.3 - 1
    run_curate(CurateRequest(run, out, target_shares="east_asian=0.4,black=0.45,white:female=0.3"))
    blocks = block_of(run)
    table = pq.read_table(out / "weights.parquet").to_pydict()
    weight = dict(zip(table["key"], table["weight"], strict=True))
    members = {"east_asian": set("ABCD"), "black": set("DE"), "white:female": set("FG")}
    person = [k for k in weight if blocks[k] in "ABCDEFG"]
    total = sum(weight[k] for k in person)
    assert total == pytest.approx(len(person))  # person-mention rows keep their total weight
    for name, target in (("east_asian", 0.4), ("black", 0.45), ("white:female", 0.3)):
        share = sum(weight[k] for k in person if blocks[k] in members[name]) / total
        assert share == pytest.approx(target, abs=1e-6), name
    summary = json.loads((out / "weights.json").read_text())
    assert summary["converged"] and 0 < summary["effective_sample_size"] < len(person)


def test_contradictory_targets_fail_after_the_other_outputs(run, tmp_path):
    # the three groups cover every person row, so their shares must sum to at least 1
    out = tmp_path / "w4"
    with pytest.raises(UserError, match="cannot hold together"):
        run_curate(CurateRequest(run, out, target_shares="east_asian=0.3,black=0.3,white:female=0.2"))
    assert not (out / "weights.parquet").exists()
    assert (out / "kept_keys.txt").exists()
    assert "cannot hold together" in json.loads((out / "curation.json").read_text())["weights_error"]


@pytest.mark.parametrize(("targets", "fragment"), [
    ("asian=0.2", "unknown target 'asian'"),
    ("east_asian=1.5", "strictly between 0 and 1"),
    ("east_asian", "write GROUP=SHARE"),
    ("east_asian=abc", "must be a number"),
])
def test_bad_targets_are_user_errors(run, tmp_path, targets, fragment):
    with pytest.raises(UserError, match=fragment):
        run_curate(CurateRequest(run, tmp_path / "bad", target_shares=targets))


def test_targets_from_toml(run, tmp_path):
    toml = tmp_path / "targets.toml"
    toml.write_text("[target_shares]\neast_asian = 0.25\n")
    result = run_curate(CurateRequest(run, tmp_path / "w3", where="dataset.punsafe >= 0.5",
                                      target_shares=str(toml)))
    assert result.summary["weights"]["targets"] == {"east_asian": 0.25}


def test_raking_rejects_impossible_targets():
    raking = Raking(["g"], [0.5], [2], 1)
    raking.patterns.update({1: 10})  # every row in g
    with pytest.raises(UserError, match="every kept person-mention row is in g"):
        raking.solve()


def test_filter_spec_keep_mode_removes_unjudged_rows(run):
    from profiler.curate.compile import compile_filter
    from profiler.curate.tagged import open_tagged_run

    tagged = open_tagged_run(run)
    table = next(tagged.batches("s1", ["dataset.punsafe"]))
    spec = FilterSpec("x", "x", "dataset.punsafe < 0.5", "keep",
                      compile_filter("dataset.punsafe < 0.5", tagged.schema))
    removed, unknown = spec.removed(table)
    assert unknown.any() and removed[unknown].all()  # unknown never matches: not kept
    drop = FilterSpec("x", "x", "dataset.punsafe >= 0.5", DROP, spec.compiled)
    assert not drop.removed(table)[0][unknown].any()


def test_membership_counts_each_row_once_per_cell():
    import pyarrow as pa

    populations = Populations(("east_asian", "black"), {"asian_any": ("east_asian",)})
    tags = pa.table({
        "identity.person_mention": [True, True, False],
        "identity.mentions": pa.array([["east_asian:female", "east_asian:female", "black:male"],
                                       ["east_asian:male"], []], pa.list_(pa.string())),
    })
    rows, cells = populations.assign(tags)
    names = [populations.cells[c] for c in cells[rows == 0]]
    assert sorted(names) == sorted([("all", "*"), ("person_mention", "*"), ("person_mention", "female"),
                                    ("person_mention", "male"), ("east_asian", "*"),
                                    ("east_asian", "female"), ("black", "*"), ("black", "male"),
                                    ("asian_any", "*"), ("asian_any", "female")])
    assert [populations.cells[c] for c in cells[rows == 2]] == [("all", "*"), ("no_identity", "*")]


@pytest.mark.parametrize(("n_g", "n_rest", "p_g", "p_rest"), [
    (60, 2000, 0.30, 0.10),   # small, strongly amplified group
    (300, 5000, 0.10, 0.05),
    (1000, 1000, 0.05, 0.05),  # half the data, no amplification
    (40, 400, 0.10, 0.20),    # spared group
])
def test_amplification_interval_covers_at_nominal_rate(n_g, n_rest, p_g, p_rest):
    """Simulate filters whose true amplification is known; the 95% interval must cover it ~95%."""
    rng = np.random.default_rng(n_g)
    w = n_g / (n_g + n_rest)
    truth = p_g / (w * p_g + (1 - w) * p_rest)
    reps = 1500
    k_g, k_rest = rng.binomial(n_g, p_g, reps), rng.binomial(n_rest, p_rest, reps)
    covered = 0
    for a, b in zip(k_g.tolist(), k_rest.tolist(), strict=True):
        _, low, high = subset_rate_ratio(a, n_g, b, n_rest)
        covered += low <= truth <= high
    assert 0.93 <= covered / reps <= 0.975


def test_run_without_identity_tags_still_measures_removal(tmp_path):
    """A caption-terms-only run: no groups, so only all rows and rates; weights are refused."""
    import pyarrow as pa

    run = tmp_path / "run"
    (run / "tags").mkdir(parents=True)
    (run / "parts").mkdir()
    levels = ["explicit"] * 5 + ["none"] * 45
    pq.write_table(pa.table({"key": [str(i) for i in range(50)], "sexual_terms.level": levels,
                             "dataset.punsafe": pa.nulls(50, pa.float64())}),  # no scores at all
                   run / "tags" / "only.parquet")
    (run / "parts" / "only.done").write_text("ok\n")
    (run / "run.json").write_text(json.dumps({"spec": {"name": "terms", "sources": []}}))
    result = run_curate(CurateRequest(run, tmp_path / "out", where='sexual_terms.level == "explicit"'))
    assert result.summary["rows"]["removed"] == 5
    assert cell(json.loads((tmp_path / "out" / "impact.json").read_text()), "all")["removed_rate"] == 0.1
    with pytest.raises(UserError, match="no identity tags"):
        run_curate(CurateRequest(run, tmp_path / "w", target_shares="east_asian=0.1"))
    impact = standard_filter_impacts(run)
    assert [f["available"] for f in impact["filters"]] == [False, True, True, False]
    assert "no row has the values" in impact["filters"][0]["note"]
