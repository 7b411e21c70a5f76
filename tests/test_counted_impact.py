"""Filter impact tallied while counting: the report's curation section equals the one computed
by re-reading the run's tag files, and the tallies merge exactly over any split of the rows."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from profiler.counting.counts import CountPlan, Counts, count_batch, merge_all
from profiler.curate import standard_filter_impacts
from profiler.taggers import standard_filters
from profiler.taggers.dataset import DatasetTagger
from profiler.taggers.sexual_terms import SexualTermsTagger

GROUPS = ("east_asian", "black")
SIGNALS = (*SexualTermsTagger.declared_signals, *DatasetTagger.declared_signals)
PLAN = CountPlan(groups=GROUPS, aggregates={"any_two": GROUPS}, signals=SIGNALS, scores=(),
                 filters=tuple(f for _, f in standard_filters()))


def test_profile_curation_section_equals_the_tag_file_pass(demo_run):
    stats = json.loads((demo_run / "stats.json").read_text())
    counted = stats["curation"]
    assert counted is not None and counted["rows"] == stats["rows"]["tagged"]
    reread = standard_filter_impacts(demo_run, counted["min_support"], counted["confidence"])
    assert json.loads(json.dumps(reread)) == counted
    available = [f["name"] for f in counted["filters"] if f["available"]]
    assert available == ["dataset_punsafe", "caption_explicit", "caption_sexual"]
    assert sum(f["overall"]["removed"] for f in counted["filters"] if f["available"]) > 0


def random_tags(rng: np.random.Generator, n: int) -> pa.Table:
    mention_pool = [f"{g}:{s}" for g in GROUPS for s in ("female", "male", "unspecified")]
    mentions = [list(rng.choice(mention_pool, size=rng.integers(0, 3))) if rng.random() < 0.4 else []
                for _ in range(n)]
    punsafe = rng.random(n)
    punsafe[rng.random(n) < 0.1] = np.nan
    return pa.table({
        "identity.person_mention": pa.array([bool(m) for m in mentions]),
        "identity.mentions": pa.array(mentions, pa.list_(pa.string())),
        "identity.gender": pa.array(rng.choice(["female", "male", "mixed", "unspecified", "none"], n)),
        "identity.groups": pa.array([sorted({m.split(":")[0] for m in ms}) for ms in mentions],
                                    pa.list_(pa.string())),
        "sexual_terms.level": pa.array(rng.choice(["none", "suggestive", "explicit", None], n,
                                                  p=[0.7, 0.15, 0.1, 0.05])),
        "dataset.punsafe": pa.array(punsafe, from_pandas=True),
        "dataset.sexual": pa.array(np.where(np.isnan(punsafe), None, punsafe >= 0.5).tolist(), pa.bool_()),
        "dataset.nsfw_label": pa.nulls(n, pa.string()),
    })


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_impact_tallies_merge_exactly_and_round_trip(seed):
    rng = np.random.default_rng(seed)
    tags = random_tags(rng, 2000)
    whole = count_batch(tags, PLAN)
    cuts = np.sort(rng.choice(np.arange(1, tags.num_rows), size=4, replace=False))
    pieces = [tags.slice(a, b - a) for a, b in zip([0, *cuts], [*cuts, tags.num_rows], strict=True)]
    merged = merge_all([Counts.from_dict(json.loads(json.dumps(count_batch(p, PLAN).to_dict())))
                        for p in pieces], PLAN.populations, [s.name for s in SIGNALS])
    expected = {"dataset_punsafe", "caption_explicit", "caption_sexual"}
    assert set(merged.impact) == set(whole.impact) == expected
    for name, tally in whole.impact.items():
        other = merged.impact[name]
        assert other.unjudged == tally.unjudged
        assert np.array_equal(other.removed, tally.removed)
        assert np.array_equal(other.observed, tally.observed)
        assert np.array_equal(other.positive, tally.positive)


def test_removed_rows_match_a_direct_count():
    tags = random_tags(np.random.default_rng(5), 3000)
    counts = count_batch(tags, PLAN)
    level = np.array(tags.column("sexual_terms.level").to_pylist(), object)
    explicit = level == "explicit"
    tally = counts.impact["caption_explicit"]
    all_i, any_g = PLAN.populations.index("all"), 0
    assert tally.removed[all_i, any_g] == explicit.sum()
    assert tally.unjudged == int((level == None).sum())  # noqa: E711 (elementwise)
    person = np.array(tags.column("identity.person_mention").to_pylist())
    person_i = PLAN.populations.index("person_mention")
    assert tally.removed[person_i, any_g] == (explicit & person).sum()
    punsafe = tags.column("dataset.punsafe").to_numpy(zero_copy_only=False)
    s = [x.name for x in SIGNALS].index("sexual_terms.any")
    removed = np.nan_to_num(punsafe, nan=0) >= 0.5
    any_terms = np.isin(level, ["suggestive", "explicit"])
    assert counts.impact["dataset_punsafe"].positive[all_i, any_g, s] == (removed & any_terms).sum()


@pytest.mark.parametrize("seed", [3, 4])
def test_each_signal_s_counting_rule_and_filter_expression_agree(seed):
    """A signal is declared once, with its rule in two forms (a vectorised function for counting,
    a filter expression for curation): both must flag and judge the same rows."""
    from profiler.curate.compile import Vocabulary, compile_filter
    from profiler.taggers import tag_vocabulary

    rng = np.random.default_rng(seed)
    tags = random_tags(rng, 4000)
    levels = rng.choice(["none", "apparel", "suggestive", "explicit", None], tags.num_rows)
    tags = tags.set_column(tags.schema.get_field_index("sexual_terms.level"), "sexual_terms.level",
                           pa.array(levels.tolist(), pa.string()))
    labels = rng.choice(["NSFW", "UNLIKELY", "UNSURE", None], tags.num_rows)
    tags = tags.set_column(tags.schema.get_field_index("dataset.nsfw_label"), "dataset.nsfw_label",
                           pa.array(labels.tolist(), pa.string()))
    values, ordered = tag_vocabulary()
    vocabulary = Vocabulary(values, ordered)
    for signal in SIGNALS:
        observed, positive = signal.evaluate(tags)
        result = compile_filter(signal.expression, tags.schema, vocabulary).evaluate(tags)
        judged = np.asarray(result.is_valid().to_numpy(zero_copy_only=False), bool)
        flagged = np.asarray(result.fill_null(False).to_numpy(zero_copy_only=False), bool)
        assert np.array_equal(observed & positive, flagged), signal.name
        assert np.array_equal(observed, judged), signal.name
