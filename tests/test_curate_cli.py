"""`bias-profiler curate` end to end: key lists, .npy, filtered shard copies, user errors, the
report partial, and a profiled demo run checked against its generator's ground truth."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from jinja2 import Environment, PackageLoader, select_autoescape

from profiler.cli import main
from profiler.curate import standard_filter_impacts
from profiler.curate.outputs import input_keys, uid_array
from profiler.sources import discover_shards, read_shard
from tests.curate_data import UNTAGGED_S2_ROW, block_of, make_run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("hand"))


def curate(*args: str) -> int:
    return main(["-q", "curate", *args])


def test_cli_writes_keys_npy_and_filtered_shards(run, tmp_path, capsys):
    out = tmp_path / "out"
    assert curate(str(run), "--where", "dataset.punsafe >= 0.5", "--drop", "--shards",
                  "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "Removed 130 of 1,000 tagged rows" in printed and "East Asian" in printed
    blocks = block_of(run)
    kept = (out / "kept_keys.txt").read_text().splitlines()
    assert {blocks[k] for k in kept} == set("BCEGH")

    uids = np.load(out / "kept_uids.npy", allow_pickle=False)
    assert uids.dtype.kind == "U"  # s2 keys are "<shard>/<row>", not DataComp uids
    assert uids.tolist() == sorted(kept)

    summary = json.loads((out / "curation.json").read_text())
    assert summary["input_rows"] == {"read": 1001, "written": 870, "untagged_dropped": 1}
    assert summary["outputs"]["shards"] == ["shards/s1.parquet", "shards/s2.parquet"]
    inputs = run.parent / "inputs"
    for shard in ("s1", "s2"):
        original = pq.read_table(inputs / f"{shard}.parquet")
        copy = pq.read_table(out / "shards" / f"{shard}.parquet")
        assert copy.schema.equals(original.schema)  # every column, same types
        copied_blocks = {c.split()[1] for c in copy.column("TEXT").to_pylist()}
        assert copied_blocks <= set("BCEGH")
        assert "" not in copy.column("TEXT").to_pylist()  # the untagged row is not copied
    s1 = pq.read_table(out / "shards" / "s1.parquet")
    assert set(s1.column("uid").to_pylist()) == {k for k in kept if "/" not in k}
    assert pq.read_table(out / "shards" / "s2.parquet").num_rows == sum("/" in k for k in kept)


def test_input_keys_agree_with_the_reader(run):
    """Shard copies map tags to input rows by key: the same keys read_shard gives the taggers."""
    for shard in discover_shards([str(run.parent / "inputs")]):
        table = pq.read_table(shard.url)
        column = "uid" if "uid" in table.column_names else None
        ours = input_keys(table, column, shard.id).to_pylist()
        theirs = [k for b in read_shard(shard, ["caption"]) for k in b.column("key").to_pylist()]
        assert ours == theirs
    tags = pq.read_table(run / "tags" / "s2.parquet").column("key").to_pylist()
    assert f"s2/{UNTAGGED_S2_ROW}" not in tags and "s2/0" in tags


def test_uid_npy_is_datacomp_layout_for_hex_uids():
    uids = ["6e356964a967af455c8016b75d691203", "139E4A9B22A614771F06C700A8EBE150",
            "ffffffffffffffff0000000000000001", "139e4a9b22a614771f06c700a8ebe150"]
    array, layout = uid_array(pa.array(uids))
    assert layout == "datacomp_u8_pairs" and array.dtype == np.dtype("u8,u8")
    # DataComp's documented conversion, sorted (and here deduplicated)
    reference = np.array(sorted({(int(u[:16], 16), int(u[16:], 16)) for u in uids}), np.dtype("u8,u8"))
    assert array.tolist() == reference.tolist()
    strings, layout = uid_array(pa.array(["b/2", "a/10", "a/9"]))
    assert layout == "unicode" and strings.tolist() == ["a/10", "a/9", "b/2"]


def test_no_filter_keeps_everything(run, tmp_path):
    out = tmp_path / "all"
    assert curate(str(run), "--out", str(out)) == 0
    assert len((out / "kept_keys.txt").read_text().splitlines()) == 1000


@pytest.mark.parametrize(("args", "fragment"), [
    (["--where", "clip.sexual_score >= 0.8"], "unknown column 'clip.sexual_score'"),
    (["--where", "__import__('os')"], "calls are not allowed"),
    (["--where", 'sexual_terms.level == "explict"'], "did you mean 'explicit'?"),
    (["--target-shares", "martian=0.5"], "unknown target 'martian'"),
    (["--min-support", "0"], "--min-support must be a positive integer"),
])
def test_user_errors_exit_2_with_one_line(run, tmp_path, capsys, args, fragment):
    assert curate(str(run), "--out", str(tmp_path / "x"), *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bias-profiler: error:") and fragment in err
    assert "\n" not in err and "Traceback" not in err


def test_folder_errors(run, tmp_path, capsys):
    assert curate(str(tmp_path / "nope"), "--out", str(tmp_path / "o")) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert curate(str(run), "--out", str(run)) == 2
    assert "must not be the run folder" in capsys.readouterr().err
    out = tmp_path / "twice"
    assert curate(str(run), "--out", str(out), "--where", "dataset.sexual", "--shards") == 0
    capsys.readouterr()
    assert curate(str(run), "--out", str(out)) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert curate(str(run), "--out", str(out), "--overwrite") == 0
    assert not (out / "shards" / "s1.parquet").exists()  # stale copies of the last curation removed


def test_cli_process_has_no_traceback(run, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "profiler", "curate", str(run), "--out", str(tmp_path / "p"),
         "--where", "dataset.punsafe >="], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "at character" in done.stderr


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs


def render_partial(curation: dict) -> str:
    """The partial as report.html.j2 includes it: the report's autoescaping and filters."""
    env = Environment(loader=PackageLoader("profiler.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.1%}"
    env.filters["num"] = lambda v: "—" if v is None else f"{v:,}"
    env.filters["ratio"] = lambda v: "—" if v is None else f"{v:.2f}"
    return env.get_template("sections/curation.html.j2").render(curation=curation)


def test_report_partial_is_escaped_and_self_contained(run):
    curation = standard_filter_impacts(run)
    hostile = "<script>alert(1)</script><img src=http://x/y.png>"
    for f in curation["filters"]:
        for c in f["cells"]:
            if c["population"] == "east_asian":
                c["label"] = hostile
    for row in curation["comparison"]:
        if row["population"] == "east_asian":
            row["label"] = hostile
    html = render_partial(curation)
    parsed = _Collector()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert not any(name in ("src", "href") or (value or "").startswith("http")
                   for name, value in parsed.attrs)
    assert "&lt;script&gt;" in html
    assert "Curation options" in html and "exclusion amplification" in html
    assert html.count("<table") == 2 + sum(f["available"] for f in curation["filters"])
    assert "no CLIP tags in this run" in html


def test_demo_run_matches_ground_truth(demo_data, tmp_path):
    """Profile the generated demo shards, then drop explicit captions: every group x gender cell
    loses exactly its planted explicit captions (ground_truth.json counts them at generation)."""
    run = tmp_path / "demo-run"
    assert main(["-q", "profile", str(demo_data), "--out", str(run), "--workers", "1"]) == 0
    out = tmp_path / "demo-cur"
    assert curate(str(run), "--where", 'sexual_terms.level == "explicit"', "--out", str(out)) == 0
    impact = json.loads((out / "impact.json").read_text())
    cells = {(c["population"], c["gender"]): c for c in impact["cells"]}
    truth = json.loads((demo_data / "ground_truth.json").read_text())["cells"]
    checked = 0
    for name, expected in truth.items():
        group, gender = name.split(":")
        if group == "no_identity":
            continue
        cell = cells[(group, gender)]
        planted = (expected["rows"], expected["sexual_terms.explicit"])
        assert (cell["n_before"], cell["removed"]) == planted, name
        checked += 1
    assert checked >= 15
