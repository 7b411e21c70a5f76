"""Integration: the caption taggers on real web captions, against labels made by hand.

tests/data/real_captions_labelled.csv (guide and version: tests/data/LABELLING.md) labels every
one of the 5,000 real captions in ../shared: person mention (groups, gender) and sexual level. Rows
are split into `tune` and `holdout` halves by a hash of the row number, fixed before any tagger
output was looked at; the lexicons were tuned on `tune` only, so the figures here, on `holdout`,
are held-out estimates. Goals (issue 12): person mention precision >= 0.95 and recall >= 0.90;
caption sexual terms (suggestive or explicit) precision >= 0.90 and recall >= 0.80.

A goal is asserted as far as the holdout can tell: its 95% Wilson interval must reach the goal
(the holdout does not show the goal missed), and where the holdout is large enough that a
perfect score would prove the goal, the interval's lower end must clear it. Today the holdout
shows two goals missed (person-mention recall, sexual-term precision): those checks are strict
expected failures, so meeting a goal turns them into a failure that asks to drop the mark.
Regression floors on the holdout point estimates always apply.

    pytest -s tests/test_real_captions.py   # prints the figures
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.stats.rates import wilson
from profiler.taggers.identity import GROUPS, PERSON_MENTION
from profiler.taggers.sexual_terms import LEVEL

from .conftest import shared_path

LABELS = Path(__file__).parent / "data" / "real_captions_labelled.csv"
SEXUAL = ("suggestive", "explicit")
GOALS = {  # signal: (precision, recall)
    "identity.person_mention": (0.95, 0.90),
    "sexual_terms.any": (0.90, 0.80),
}
# Regression floors on the holdout point estimates (label version 3, lexicons 2026.11.8: person
# mention 19/20 precision, 19/29 recall; sexual terms 14/19 precision, 14/17 recall), less about
# one row.
FLOORS = {
    "identity.person_mention": (0.90, 0.62),
    "sexual_terms.any": (0.70, 0.78),
}
MISSED = {  # goals the version-3 holdout shows missed, with its 95% interval
    "identity.person_mention": "recall 0.655 [0.473, 0.801] < 0.90",
    "sexual_terms.any": "precision 0.737 [0.512, 0.882] < 0.90",
}


@pytest.fixture(scope="module")
def tagged(identity, sexual_terms):
    captions = pq.read_table(shared_path("data", "real-captions", "captions-5k.parquet"))["TEXT"]
    batch = pa.RecordBatch.from_pydict({"caption": captions.combine_chunks()})
    out = {**identity.tag(batch), **sexual_terms.tag(batch)}
    with LABELS.open(newline="", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    return out, labels, captions.to_pylist()


def holdout_pairs(tagged, signal: str) -> list[tuple[bool, bool]]:
    """(predicted, labelled) for the holdout rows."""
    out, labels, _ = tagged
    if signal == "identity.person_mention":
        predicted = out[PERSON_MENTION].to_pylist()
        truth = lambda r: r["person_mention"] == "1"  # noqa: E731
    else:
        predicted = [level in SEXUAL for level in out[LEVEL].to_pylist()]
        truth = lambda r: r["sexual_level"] in SEXUAL  # noqa: E731
    return [(predicted[int(r["row"])], truth(r)) for r in labels if r["split"] == "holdout"]


def test_labels_refer_to_the_real_captions(tagged):
    _, labels, captions = tagged
    assert sorted(int(row["row"]) for row in labels) == list(range(len(captions)))
    assert all(captions[int(row["row"])] == row["caption"] for row in labels)
    assert {r["sexual_level"] for r in labels} <= {"none", "apparel", "suggestive", "explicit"}


def test_split_is_the_documented_hash_of_the_row():
    with LABELS.open(newline="", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    for row in labels:
        odd = hashlib.sha256(f"real-captions-5k:{row['row']}".encode()).digest()[0] & 1
        assert row["split"] == ("holdout" if odd else "tune")
    halves = [sum(r["split"] == s for r in labels) for s in ("tune", "holdout")]
    assert min(halves) > 0.4 * len(labels)


def _can_prove(goal: float, n: int) -> bool:
    """Would a perfect score on n rows put the Wilson lower end at or above the goal?"""
    return n > 0 and wilson(n, n)[0] >= goal


def _figures(tagged, signal: str) -> list[tuple[str, int, int, float, float]]:
    """(name, k, n, goal, floor) for precision and recall of one signal on the holdout."""
    pairs = holdout_pairs(tagged, signal)
    tp = sum(p and t for p, t in pairs)
    fp = sum(p and not t for p, t in pairs)
    fn = sum(t and not p for p, t in pairs)
    figures = [("precision", tp, tp + fp, GOALS[signal][0], FLOORS[signal][0]),
               ("recall", tp, tp + fn, GOALS[signal][1], FLOORS[signal][1])]
    report = "; ".join(f"{name} {k / n:.3f} [{wilson(k, n)[0]:.3f}, {wilson(k, n)[1]:.3f}] "
                       f"(n={n}, goal {goal})" for name, k, n, goal, _ in figures)
    print(f"\nholdout {signal}: tp={tp} fp={fp} fn={fn}; {report}")
    return figures


@pytest.mark.parametrize("signal", sorted(GOALS))
def test_holdout_precision_and_recall_hold_their_floors(tagged, signal):
    for name, k, n, _, floor in _figures(tagged, signal):
        assert n >= 10, f"too few holdout rows for {signal} {name}"
        assert k / n >= floor, f"{signal} {name} {k}/{n} fell below its floor {floor}"


@pytest.mark.parametrize("signal", [
    pytest.param(signal, marks=pytest.mark.xfail(strict=True, reason=MISSED[signal]))
    if signal in MISSED else signal
    for signal in sorted(GOALS)
])
def test_holdout_does_not_show_a_goal_missed(tagged, signal):
    for name, k, n, goal, _ in _figures(tagged, signal):
        low, high = wilson(k, n)
        assert high >= goal, f"{signal} {name}: the holdout shows the goal missed"
        if _can_prove(goal, n):
            assert low >= goal, f"{signal} {name}: the goal is not shown"


def test_groups_of_true_positives_agree_with_labels(tagged):
    out, labels, _ = tagged
    groups = out[GROUPS].to_pylist()
    predicted = out[PERSON_MENTION].to_pylist()
    hits = [r for r in labels if r["person_mention"] == "1" and predicted[int(r["row"])]]
    agree = sum(set(groups[int(r["row"])]) <= set(r["groups"].split(";")) for r in hits)
    assert agree / len(hits) >= 0.9
