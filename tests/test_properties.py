"""Property tests and fuzzing (hypothesis): merging counts is exact in any order, statistics
keep their invariants, and taggers and shard readers never crash on arbitrary input."""

from __future__ import annotations

import json
import tempfile
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiler.counting.counts import CountPlan, Counts, count_batch
from profiler.engine.shard import ShardJob, process_shard
from profiler.sources.parquet import Shard
from profiler.stats import StatsSettings, compute_cells
from profiler.taggers.identity import IdentityTagger
from profiler.taggers.sexual_terms import SexualTermsTagger

GROUPS = ("east_asian", "black", "white")
GENDERS = ("female", "male", "unspecified")
IDENTITY = IdentityTagger()
SEXUAL = SexualTermsTagger()
PLAN = CountPlan(groups=GROUPS, aggregates={"any_two": ("east_asian", "black")},
                 signals=SEXUAL.signals(), scores=())

mention = st.tuples(st.sampled_from(GROUPS), st.sampled_from(GENDERS)).map(":".join)
row = st.fixed_dictionaries({
    "mentions": st.lists(mention, max_size=3, unique=True),
    "level": st.sampled_from(["none", "suggestive", "explicit", None]),
    "gender": st.sampled_from(["female", "male", "mixed", "unspecified", "none"]),
})


def tag_table(rows: list[dict]) -> pa.Table:
    return pa.table({
        "identity.person_mention": pa.array([bool(r["mentions"]) for r in rows], pa.bool_()),
        "identity.gender": pa.array([r["gender"] for r in rows], pa.string()),
        "identity.mentions": pa.array([r["mentions"] for r in rows], pa.list_(pa.string())),
        "sexual_terms.level": pa.array([r["level"] for r in rows], pa.string()),
    })


def same(a: Counts, b: Counts) -> bool:
    return all(np.array_equal(getattr(a, n), getattr(b, n))
               for n in ("rows_in", "observed", "positive", "hist", "joint"))


@settings(max_examples=150, deadline=None)
@given(st.lists(row, min_size=1, max_size=60), st.data())
def test_merge_in_any_split_and_order_equals_one_pass(rows, data):
    whole = count_batch(tag_table(rows), PLAN)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=4)))
    bounds = [0, *cuts, len(rows)]
    parts = [count_batch(tag_table(rows[a:b]), PLAN) for a, b in pairwise(bounds)
             if b > a]
    order = data.draw(st.permutations(range(len(parts))))
    merged = PLAN.empty()
    for i in order:
        merged = merged.merge(parts[i])
    assert same(merged, whole)
    again = Counts.from_dict(json.loads(json.dumps(merged.to_dict())))
    assert same(again, whole)


@settings(max_examples=150, deadline=None)
@given(st.lists(row, min_size=1, max_size=120), st.integers(1, 40))
def test_statistics_invariants(rows, min_support):
    counts = count_batch(tag_table(rows), PLAN)
    for cell in compute_cells(counts, StatsSettings(min_support=min_support)):
        assert cell.suppressed == (cell.n < min_support)
        assert 0 <= cell.k <= cell.n
        if cell.suppressed:
            assert cell.rate is None and cell.comparisons == []
            continue
        assert 0 <= cell.ci_low <= cell.rate <= cell.ci_high <= 1
        for comparison in cell.comparisons:
            if comparison.rate_ratio is not None:
                assert comparison.rr_low <= comparison.rate_ratio <= comparison.rr_high
            if comparison.p_value is not None:
                assert 0 <= comparison.p_value <= comparison.q_value <= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.text(max_size=300)), min_size=1, max_size=40))
def test_caption_taggers_accept_any_text(captions):
    batch = pa.RecordBatch.from_pydict({"caption": pa.array(captions, pa.string())})
    for tagger in (IDENTITY, SEXUAL):
        out = tagger.tag(batch)
        assert all(len(column) == len(captions) for column in out.values())
    levels = SEXUAL.tag(batch)["sexual_terms.level"].to_pylist()
    assert set(levels) <= {"none", "suggestive", "explicit"}


FUZZ_DIR = Path(tempfile.mkdtemp(prefix="fuzz-shards-"))
(FUZZ_DIR / "parts").mkdir()
(FUZZ_DIR / "tags").mkdir()


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512), st.booleans())
def test_shard_reader_never_crashes_on_random_bytes(payload, parquet_magic):
    """10,000 random files: each is read, failed and accounted for, never raised."""
    path = FUZZ_DIR / "random.parquet"
    path.write_bytes(b"PAR1" + payload + b"PAR1" if parquet_magic else payload)
    job = ShardJob(Shard("random", str(path)), str(FUZZ_DIR), ("identity", "sexual_terms"), "{}",
                   (), 1024, False, 0)
    result = process_shard(job)
    assert result.error is not None or result.rows >= 0
    part = json.loads((FUZZ_DIR / "parts" / "random.counts.json").read_text())
    rows = part["rows"]
    assert rows["read"] == rows["tagged"] + sum(rows["skipped"].values())
