"""Counts: exact merge across shards, serialisation round trip, union of differing axes."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from profiler.cli import main
from profiler.counting.counts import Counts
from profiler.counting.populations import GENDER_AXIS


def random_counts(rng, populations, signals) -> Counts:
    counts = Counts(populations, signals, ["dataset.punsafe"])
    counts.rows_in[:] = rng.integers(0, 50, counts.rows_in.shape)
    counts.observed[:] = rng.integers(0, 50, counts.observed.shape)
    counts.positive[:] = rng.integers(0, 10, counts.positive.shape)
    counts.hist[:] = rng.integers(0, 5, counts.hist.shape)
    counts.read, counts.tagged = 100, 90
    counts.skipped.update({"caption_null": 10})
    counts.shards_completed.append("s")
    return counts


def test_round_trip_is_exact():
    counts = random_counts(np.random.default_rng(0), ["all", "person_mention", "x"], ["a", "b"])
    again = Counts.from_dict(json.loads(json.dumps(counts.to_dict())))
    for name in ("rows_in", "observed", "positive", "hist"):
        np.testing.assert_array_equal(getattr(again, name), getattr(counts, name))
    assert (again.read, again.tagged, again.skipped) == (100, 90, {"caption_null": 10})


def test_merge_unions_axes_and_adds_exactly():
    rng = np.random.default_rng(1)
    a = random_counts(rng, ["all", "x"], ["s1"])
    b = random_counts(rng, ["all", "y"], ["s1", "s2"])
    merged = a.merge(b)
    assert merged.populations == ["all", "x", "y"] and merged.signals == ["s1", "s2"]
    for g, gender in enumerate(GENDER_AXIS):
        assert merged.cell("all", gender, "s1") == (
            a.observed[0, g, 0] + b.observed[0, g, 0], a.positive[0, g, 0] + b.positive[0, g, 0])
        assert merged.cell("x", gender, "s2") == (0, 0)
        assert merged.cell("y", gender, "s2") == (b.observed[1, g, 1], b.positive[1, g, 1])
    assert merged.read == 200 and merged.skipped["caption_null"] == 20


def test_merge_is_commutative_and_associative():
    rng = np.random.default_rng(2)
    parts = [random_counts(rng, ["all", "person_mention", "x"], ["a", "b"]) for _ in range(3)]
    left = parts[0].merge(parts[1]).merge(parts[2])
    right = parts[2].merge(parts[0].merge(parts[1]))
    for name in ("rows_in", "observed", "positive", "hist"):
        np.testing.assert_array_equal(getattr(left, name), getattr(right, name))


def test_sharded_run_equals_single_shard_run(demo_data, tmp_path):
    """The same rows as 1 shard, and as 3 shards in threads or processes: identical statistics."""
    table = pa.concat_tables(pq.read_table(p) for p in sorted(demo_data.glob("*.parquet")))
    one = tmp_path / "one"
    one.mkdir()
    pq.write_table(table, one / "all.parquet")
    assert main(["-q", "profile", str(one), "--out", str(tmp_path / "r1"), "--workers", "1"]) == 0
    s1 = json.loads((tmp_path / "r1" / "stats.json").read_text())
    for executor in ("threads", "processes"):
        out = tmp_path / f"r3-{executor}"
        args = [str(demo_data), "--out", str(out), "--workers", "2", "--executor", executor]
        assert main(["-q", "profile", *args]) == 0
        s3 = json.loads((out / "stats.json").read_text())
        assert s1["cells"] == s3["cells"], executor
        assert s1["rows"] == s3["rows"], executor


def test_identity_agreement_tallies_lexicon_against_clip_groups_and_merges():
    from profiler.counting.counts import CountPlan, count_batch
    from profiler.stats.agreement import identity_agreement

    plan = CountPlan(groups=("east_asian", "black"), aggregates={}, signals=(), scores=())
    lexicon = [["east_asian"], ["east_asian"], [], ["black"], [], None, ["east_asian", "black"]]
    clip = [["east_asian"], [], ["east_asian"], ["black", "other"], [], ["black"], None]
    tags = pa.table({"identity.groups": pa.array(lexicon, pa.list_(pa.string())),
                     "clip.identity_groups": pa.array(clip, pa.list_(pa.string()))})
    counts = count_batch(tags, plan)
    # rows 5 and 6 have a null side: not counted. [neither, clip only, lexicon only, both]
    assert {g: t.tolist() for g, t in counts.identity_agreement.items()} == {
        "east_asian": [2, 1, 1, 1], "black": [4, 0, 0, 1]}
    merged = Counts.from_dict(json.loads(json.dumps(counts.to_dict()))).merge(counts)
    assert merged.identity_agreement["east_asian"].tolist() == [4, 2, 2, 2]
    many = merged
    for _ in range(3):
        many = many.merge(many)  # 16 copies: enough rows for a table
    (row,) = [r for r in identity_agreement(many) if r["group"] == "east_asian"]
    assert (row["n"], row["both"], row["a_only"], row["b_only"]) == (80, 16, 16, 16)
    # observed agreement 0.6, chance 0.4 * 0.4 + 0.6 * 0.6 = 0.52: kappa 0.08 / 0.48
    assert row["agreement"] == 0.6 and abs(row["kappa"] - 1 / 6) < 1e-12
    seen_by_none = Counts([], [])
    seen_by_none.identity_agreement = {"white": np.array([100, 0, 0, 0]), "black": np.array([90, 5, 3, 2])}
    assert [r["group"] for r in identity_agreement(seen_by_none)] == ["black"]  # no all-zero rows
    without_clip = count_batch(tags.drop_columns(["clip.identity_groups"]), plan)
    assert without_clip.identity_agreement == {}
