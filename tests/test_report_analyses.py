"""The report's analyses checked against the per-sample tags and the raw captions they came from:
schema, threshold sweep, signal agreement, term drivers, coverage, comparison with a baseline."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import cohen_kappa_score

from profiler.cli import main
from profiler.taggers.text import caption_words

SCHEMA = Path(__file__).resolve().parents[1] / "profiler" / "report" / "stats.schema.json"


def stats_of(run: Path) -> dict:
    return json.loads((run / "stats.json").read_text())


@pytest.fixture(scope="module")
def joined(demo_run, demo_data) -> pa.Table:
    """Every tagged row with its caption: tags joined back to the source shards by key."""
    tags = pa.concat_tables(pq.read_table(p) for p in sorted((demo_run / "tags").rglob("*.parquet")))
    source = pa.concat_tables(
        pq.read_table(p, columns=["key", "TEXT"]) for p in sorted(demo_data.glob("*.parquet")))
    caption_of = dict(zip(source["key"].to_pylist(), source["TEXT"].to_pylist(), strict=True))
    return tags.append_column("TEXT", pa.array([caption_of[k] for k in tags["key"].to_pylist()]))


def test_stats_json_matches_its_schema(demo_run):
    jsonschema.validate(stats_of(demo_run), json.loads(SCHEMA.read_text()))


def test_schema_rejects_a_broken_document(demo_run):
    document = stats_of(demo_run)
    document["cells"][0]["rate"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA.read_text()))


def test_every_table_has_a_csv(demo_run):
    tables = {p.stem for p in (demo_run / "tables").glob("*.csv")}
    assert {"cells", "comparisons", "skipped", "coverage", "bootstrap", "sweeps", "drivers",
            "agreement"} <= tables
    cells = pacsv.read_csv(demo_run / "tables" / "cells.csv")
    assert cells.num_rows == len(stats_of(demo_run)["cells"])


def test_sweep_at_half_equals_the_dataset_flag(demo_run):
    stats = stats_of(demo_run)
    cells = {(c["population"], c["gender"], c["signal"]): c for c in stats["cells"]}
    for row in stats["sweeps"]:
        if row["threshold"] == 0.5 and row["population"] in ("east_asian", "person_mention"):
            cell = cells[(row["population"], row["gender"], "dataset.sexual")]
            assert (row["n"], row["k"]) == (cell["n"], cell["k"])
    thresholds = {r["threshold"] for r in stats["sweeps"]}
    assert min(thresholds) == 0.1 and max(thresholds) == 0.9


def test_agreement_matches_a_recount_from_tags(demo_run, joined):
    stats = stats_of(demo_run)
    row = next(r for r in stats["agreement"] if r["population"] == "person_mention"
               and {r["signal_a"], r["signal_b"]} == {"sexual_terms.any", "dataset.sexual"})
    mention = joined.filter(pc.and_(joined["identity.person_mention"],
                                    pc.is_valid(joined["dataset.sexual"])))
    a = pc.not_equal(mention["sexual_terms.level"], "none").to_numpy(zero_copy_only=False)
    b = mention["dataset.sexual"].to_numpy(zero_copy_only=False)
    if row["signal_a"] == "dataset.sexual":
        a, b = b, a
    assert row["n"] == len(a)
    assert row["both"] == int((a & b).sum()) and row["neither"] == int((~a & ~b).sum())
    assert row["kappa"] == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


def test_drivers_match_a_recount_from_captions(demo_run, joined):
    stats = stats_of(demo_run)
    drivers = [d for d in stats["drivers"] if d["population"] == "east_asian"
               and d["signal"] == "dataset.sexual"]
    assert drivers, "the demo plants an image skew for East Asian women: words must drive it"
    assert [d["npmi"] for d in drivers] == sorted((d["npmi"] for d in drivers), reverse=True)
    in_group = np.array(["east_asian" in g for g in joined["identity.groups"].to_pylist()])
    observed = joined["dataset.sexual"].is_valid().to_numpy(zero_copy_only=False)
    group = joined.filter(pa.array(in_group & observed))
    words, parent = caption_words(group["TEXT"].combine_chunks())
    flagged = group["dataset.sexual"].to_numpy(zero_copy_only=False)
    n, k = group.num_rows, int(flagged.sum())
    for driver in drivers[:3]:
        rows = np.unique(parent[np.asarray(pc.equal(words, driver["word"]))])
        assert driver["rows_with_word"] == len(rows)
        assert driver["flagged_with_word"] == int(flagged[rows].sum())
        c_ws, c_w = driver["flagged_with_word"], driver["rows_with_word"]
        expected = math.log((c_ws / n) / ((c_w / n) * (k / n))) / -math.log(c_ws / n)
        assert driver["npmi"] == pytest.approx(expected)


def test_caption_signals_have_no_drivers(demo_run):
    signals = {d["signal"] for d in stats_of(demo_run)["drivers"]}
    assert signals and not signals & {"sexual_terms.any", "sexual_terms.explicit"}


def test_coverage_by_population_counts_missing_scores(demo_run, joined):
    stats = stats_of(demo_run)
    row = next(r for r in stats["coverage_by_population"]
               if r["population"] == "all" and r["signal"] == "dataset.sexual")
    assert row["rows"] == joined.num_rows
    assert row["observed"] == joined.num_rows - joined["dataset.sexual"].null_count
    assert 0.9 < row["fraction"] < 1.0  # the demo drops 2% of scores


def test_compare_a_run_with_itself_finds_nothing(demo_run, tmp_path, capsys):
    assert main(["-q", "compare", str(demo_run), str(demo_run), "--out", str(tmp_path)]) == 0
    comparison = json.loads((tmp_path / "compare.json").read_text())
    assert comparison["changes"] and not any(c["significant"] for c in comparison["changes"])
    assert all(c["difference"] == 0 for c in comparison["changes"])
    assert (tmp_path / "index.html").is_file() and (tmp_path / "changes.csv").is_file()


def test_baseline_comparison_detects_a_planted_change(demo_data, demo_run, tmp_path):
    """A new dataset version where East Asian captions' images are all flagged."""
    changed = tmp_path / "v2"
    changed.mkdir()
    for path in sorted(demo_data.glob("*.parquet")):
        table = pq.read_table(path)
        text = pc.utf8_lower(table["TEXT"]).fill_null("")
        hit = pc.match_substring_regex(text, r"\b(japanese|korean|chinese|east asian)\b")
        punsafe = pc.if_else(hit, pa.scalar(0.95), table["punsafe"])
        pq.write_table(table.set_column(table.schema.get_field_index("punsafe"), "punsafe", punsafe),
                       changed / path.name)
    out = tmp_path / "run-v2"
    assert main(["-q", "profile", str(changed), "--out", str(out), "--baseline", str(demo_run)]) == 0
    comparison = stats_of(out)["comparison"]
    changes = {(c["population"], c["gender"], c["signal"]): c for c in comparison["changes"]}
    east = changes[("east_asian", "*", "dataset.sexual")]
    assert east["significant"] and east["difference"] > 0.5 and east["rr_significant"]
    assert not changes[("east_asian", "*", "sexual_terms.any")]["significant"]
    assert "Comparison with baseline" in (out / "index.html").read_text()


def test_bad_baseline_is_a_user_error(demo_data, tmp_path, capsys):
    assert main(["-q", "profile", str(demo_data), "--out", str(tmp_path / "r"),
                 "--baseline", str(tmp_path / "missing")]) == 2
    assert "stats.json" in capsys.readouterr().err
