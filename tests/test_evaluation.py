"""label-sample, evaluate and the corrected report through the real CLI on the demo run.

The labeller is simulated with planted error: for one group with a significant finding, only a
fraction of its flagged captions are truly sexualized (the tagger over-flags that group), so the
finding must not survive the correction; elsewhere the labels agree with the tagger.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.cli import main

REPO = Path(__file__).resolve().parents[1]
EVALUATION_SCHEMA = REPO / "profiler" / "evaluation" / "evaluation.schema.json"
STATS_SCHEMA = REPO / "profiler" / "report" / "stats.schema.json"
SIGNAL = "sexual_terms.any"


@pytest.fixture
def run(demo_run, tmp_path) -> Path:
    """A private copy of the demo run (evaluate and report write into the run folder)."""
    return Path(shutil.copytree(demo_run, tmp_path / "run"))


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def sample(run: Path, out: Path, n: int = 1000, seed: int = 1, *extra: str) -> list[dict]:
    assert main(["-q", "label-sample", str(run), "--n", str(n), "--out", str(out), "--seed", str(seed),
                 *extra]) == 0
    return read_csv(out)


def stats(run: Path) -> dict:
    return json.loads((run / "stats.json").read_text())


def test_label_sample_is_stratified_weighted_and_deterministic(run, demo_data, tmp_path):
    rows = sample(run, tmp_path / "a.csv", 400)
    assert (tmp_path / "a.csv").read_bytes() == (sample(run, tmp_path / "b.csv", 400) and
                                                 (tmp_path / "b.csv").read_bytes())
    assert sample(run, tmp_path / "c.csv", 400, seed=2) != rows
    assert len(rows) == 400 and len({r["key"] for r in rows}) == 400
    assert {SIGNAL, "dataset.sexual", "identity.person_mention", "weight", "stratum"} <= set(rows[0])
    assert all(r[SIGNAL] == "" for r in rows)  # label columns are left empty
    # weights are stratum rows / rows drawn: each stratum's weights add up to its size, and the
    # strata add up to every tagged row
    by_stratum: dict[str, list[float]] = {}
    for r in rows:
        by_stratum.setdefault(r["stratum"], []).append(float(r["weight"]))
    sizes = {s: sum(w) for s, w in by_stratum.items()}
    assert all(abs(v - round(v)) < 1e-3 * v for v in sizes.values())
    assert round(sum(sizes.values())) == stats(run)["rows"]["tagged"]
    # rare strata are oversampled: the smallest strata are drawn far above their share of rows
    drawn = {s: len(w) for s, w in by_stratum.items()}
    rarest = min(sizes, key=sizes.get)
    assert drawn[rarest] / 400 > 5 * sizes[rarest] / sum(sizes.values())
    largest = max(sizes, key=sizes.get)
    assert drawn[largest] >= 100  # ... and the large unflagged strata, which decide recall, too
    # captions and urls come from the source shards
    source = pa.concat_tables(pq.read_table(p, columns=["key", "TEXT", "URL"])
                              for p in sorted(demo_data.glob("*.parquet")))
    text = dict(zip(source["key"].to_pylist(), source["TEXT"].to_pylist(), strict=True))
    assert all(r["caption"] == text[r["key"]] for r in rows)


def _label(rows: list[dict], over_flagged: str | None = None, keep: float = 1.0,
           signal: str = SIGNAL) -> list[dict]:
    """The simulated labeller: agrees with the tagger, except that in group `over_flagged` only a
    share `keep` of the captions `signal` flags are truly sexualized (chosen by a hash of the key)."""
    for r in rows:
        flagged = r["flagged"].split(", ")
        for column in [c for c in dict.fromkeys((SIGNAL, "dataset.sexual", signal)) if c in r]:
            truth = column in flagged
            if column == signal and over_flagged and truth and over_flagged in r["groups"].split("; "):
                truth = int(hashlib.sha256(r["key"].encode()).hexdigest(), 16) % 1000 < keep * 1000
            r[column] = "yes" if truth else "no"
    return rows


def test_evaluate_with_agreeing_labels(run, tmp_path, capsys):
    labels = write_csv(tmp_path / "labels.csv", _label(sample(run, tmp_path / "s.csv")))
    assert main(["-q", "evaluate", str(run), "--labels", str(labels)]) == 0
    assert SIGNAL in capsys.readouterr().out
    document = json.loads((run / "evaluation.json").read_text())
    jsonschema.validate(document, json.loads(EVALUATION_SCHEMA.read_text()))
    column = document["columns"][SIGNAL]
    assert column["n"] == 1000 and column["fp"] == column["fn"] == 0
    assert column["tp"] + column["tn"] == 1000
    for metric in ("precision", "recall", "specificity"):
        estimate = column[metric]
        assert estimate["low"] <= estimate["value"] <= estimate["high"] <= 1
        assert estimate["value"] > 0.9
    assert set(column["populations"]) >= {"person_mention", "no_identity"}
    assert "identity.person_mention" not in document["columns"]  # a column nobody labelled
    assert document["taxonomy_versions"] == stats(run)["taxonomy_versions"]
    assert main(["-q", "report", str(run)]) == 0
    assert stats(run)["tagger_quality"]["versions_changed"] == []
    # labels measured on other tagger versions: the report says the measurement may be stale
    document["taxonomy_versions"] = {**document["taxonomy_versions"], "identity": "an-older-lexicon"}
    (run / "evaluation.json").write_text(json.dumps(document))
    assert main(["-q", "report", str(run)]) == 0
    assert stats(run)["tagger_quality"]["versions_changed"] == ["identity"]
    assert "The taggers changed since the labels were evaluated" in (run / "index.html").read_text()


def test_a_finding_made_by_tagger_error_does_not_survive_correction(run, tmp_path):
    headline = [f for f in stats(run)["findings"] if f["gender"] == "*"
                and stats(run)["populations"][f["population"]]["kind"] == "group"]
    assert headline, "the demo plants skew"
    cells = {(c["population"], c["gender"], c["signal"]): c for c in stats(run)["cells"]}
    cell = max((cells[(f["population"], "*", f["signal"])] for f in headline), key=lambda c: c["k"])
    target, signal = cell["population"], cell["signal"]  # the finding with the most flagged rows
    keep = 0.8 / cell["rate_ratio"]  # the group's true rate: below its reference's
    drawn = sample(run, tmp_path / "s.csv", 1000, 1, "--signals", signal)
    labels = write_csv(tmp_path / "labels.csv", _label(drawn, target, keep, signal))
    assert main(["-q", "evaluate", str(run), "--labels", str(labels)]) == 0
    group = json.loads((run / "evaluation.json").read_text())["columns"][signal]["populations"][target]
    assert group["enough_for_correction"]
    assert group["precision"]["high"] < 0.75
    assert main(["-q", "report", str(run)]) == 0
    document = stats(run)
    jsonschema.validate(document, json.loads(STATS_SCHEMA.read_text()))
    corrected = next(c for c in document["cells"]
                     if (c["population"], c["gender"], c["signal"]) == (target, "*", signal))
    assert corrected["corrected_scope"] == target
    assert corrected["corrected_low"] <= corrected["corrected_rate"] <= corrected["corrected_high"]
    assert corrected["corrected_rate"] < corrected["rate"]
    verdicts = {(f["population"], f["gender"]): f["survives"]
                for f in document["tagger_quality"]["findings"] if f["signal"] == signal}
    assert verdicts[(target, "*")] is False
    assert True in verdicts.values()  # findings the labels confirm survive
    other = [c for c in document["cells"] if c["signal"] != signal]
    assert all("corrected_rate" not in c for c in other)  # only evaluated signals are corrected
    html = (run / "index.html").read_text()
    assert 'id="tagger-quality"' in html and "do not survive the correction" in html
    headline = html.split('id="findings"')[1].split("</section>")[0]  # the headline list says so too
    every = {(f["population"], f["gender"], f["signal"]): f["survives"]
             for f in document["tagger_quality"]["findings"]}
    failing = [f for f in document["findings"]
               if every.get((f["population"], f["gender"], f["signal"])) is False]
    assert (target, "*", signal) in {(f["population"], f["gender"], f["signal"]) for f in failing}
    assert headline.count("Does not survive the correction") == len(failing)
    assert (run / "tables" / "tagger_quality.csv").exists()
    # evaluation.json removed: the next report drops the corrected numbers instead of keeping stale ones
    (run / "evaluation.json").unlink()
    assert main(["-q", "report", str(run)]) == 0
    assert "tagger_quality" not in stats(run) and not (run / "tables" / "tagger_quality.csv").exists()
    assert all("corrected_rate" not in c for c in stats(run)["cells"])
    assert 'id="tagger-quality"' not in (run / "index.html").read_text()


def test_a_later_profile_into_the_folder_keeps_the_correction(run, demo_data, tmp_path):
    labels = write_csv(tmp_path / "labels.csv", _label(sample(run, tmp_path / "s.csv", 300)))
    assert main(["-q", "evaluate", str(run), "--labels", str(labels)]) == 0
    assert main(["-q", "profile", str(demo_data), "--out", str(run), "--workers", "2"]) == 0
    cells = [c for c in stats(run)["cells"] if c["signal"] == SIGNAL and not c["suppressed"]]
    assert cells and all(c["corrected_scope"] for c in cells)
    # a damaged evaluation.json: the profile still writes its outputs, `report` says what is wrong
    (run / "evaluation.json").write_text("{not json")
    assert main(["-q", "profile", str(demo_data), "--out", str(run), "--workers", "2"]) == 0
    assert "tagger_quality" not in stats(run)
    assert main(["-q", "report", str(run)]) == 2


@pytest.mark.parametrize("damage, message", [
    (lambda rows: rows.append({**rows[0], "key": "no-such-key"}), "not rows of"),
    (lambda rows: [r.update({"mood": "x"}) for r in rows], "unknown column(s) mood"),
    (lambda rows: rows[3].update({SIGNAL: "maybe"}), "cannot read 'maybe'"),
    (lambda rows: rows.append(dict(rows[0])), "appears twice"),
    (lambda rows: rows[0].update({"weight": "-1"}), "not a positive number"),
])
def test_label_mistakes_are_one_line_errors(run, tmp_path, capsys, damage, message):
    rows = _label(sample(run, tmp_path / "s.csv", 50))
    damage(rows)
    labels = write_csv(tmp_path / "labels.csv", rows)
    capsys.readouterr()
    assert main(["-q", "evaluate", str(run), "--labels", str(labels)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not (run / "evaluation.json").exists()


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "--n must be at least 1"),
    (["--n", "10", "--signals", "nope"], "unknown signal(s) nope"),
])
def test_label_sample_mistakes_are_one_line_errors(run, tmp_path, capsys, args, message):
    assert main(["-q", "label-sample", str(run), "--out", str(tmp_path / "s.csv"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_allocation_shares_equally_then_by_size():
    import numpy as np

    from profiler.evaluation.sampling import allocate

    sizes = np.array([10_000, 3, 50, 500])
    take = allocate(sizes, 200)
    assert take.sum() == 200 and (take <= sizes).all()
    assert take[1] == 3  # a stratum smaller than its equal share is taken whole
    assert take[0] > take[3] > take[2]  # the rest in proportion to size
    assert (allocate(sizes, 20_000) == sizes).all()


def test_labelling_sheet_shows_captions_as_text_and_loads_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    hostile = '<img src="https://tracker.invalid/x.gif" onerror="alert(1)"> a Japanese woman'
    pq.write_table(pa.table({"key": [f"k{i}" for i in range(40)],
                             "caption": [hostile if i % 2 else "a red bicycle" for i in range(40)],
                             "url": [f"https://images.invalid/{i}.jpg" for i in range(40)]}),
                   data / "part.parquet")
    run = tmp_path / "run"
    assert main(["-q", "profile", str(data), "--taggers", "identity,sexual_terms", "--out", str(run)]) == 0
    sheet = tmp_path / "sheet.html"
    sample(run, tmp_path / "labels.csv", 10, 0, "--html", str(sheet))
    page = sheet.read_text()
    assert page.count("<tr>") == 11  # header + 10 rows, in the CSV's order
    assert "&lt;img" in page  # the caption is text
    body = page.split("<body>")[1]
    assert set(re.findall(r"</?([a-z0-9]+)", body)) <= {"h1", "p", "code", "table", "thead", "tbody", "tr",
                                                         "th", "td", "body", "html"}
    assert "https://images.invalid/" in page
    assert "default-src 'none'" in page
