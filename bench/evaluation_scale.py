"""Benchmark of `label-sample` and `evaluate` on a large run, against the floor of reading its tags.

Why this exists: both commands stream every tag file of a run (label-sample twice: once to count
the strata, once to draw; evaluate once, to count each scope's rows and find the labelled keys),
so on a run of hundreds of millions of rows they must cost a small multiple of reading the tag
columns they need, and their memory must not grow with the run. Measured in one process on the
same machine:

  * the floor: pyarrow reading the tag columns the commands read (key, identity.groups and the
    signal columns) from every tag file;
  * `label_sample(run, n=400)` (captions read back from the sources included);
  * `evaluate_run` on those 400 rows labelled (labels = the tagger's flags).

The run is the offline demo data (`profiler.sample`) profiled once and cached in bench/out/.
Results are printed and written to bench/out/evaluation_scale.json, with peak RSS.

    .venv/bin/python bench/evaluation_scale.py [--rows 2000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parent / "out"
COLUMNS = ["key", "identity.groups", "identity.person_mention", "sexual_terms.level", "dataset.sexual",
           "dataset.nsfw_label"]


def build_run(rows: int) -> Path:
    """The demo data (8 shards) profiled with tags; reused when already built for `rows`."""
    from profiler.sample import generate_sample

    from profiler.cli import main

    root = OUT / f"evaluation-{rows}"
    run = root / "run"
    if (run / "stats.json").exists():
        return run
    shutil.rmtree(root, ignore_errors=True)
    data = generate_sample(root / "data", shards=8, rows_per_shard=max(rows // 8, 1), seed=0)
    assert main(["-q", "profile", str(data), "--out", str(run)]) == 0
    return run


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from profiler.evaluation.evaluate import evaluate_run
    from profiler.evaluation.sampling import label_sample

    run = build_run(args.rows)
    tag_files = sorted((run / "tags").rglob("*.parquet"))
    rows = sum(pq.read_metadata(p).num_rows for p in tag_files)
    labels = OUT / "evaluation-labels.csv"

    def floor() -> None:
        for path in tag_files:
            present = [c for c in COLUMNS if c in pq.read_schema(path).names]
            pq.read_table(path, columns=present)

    def sample() -> None:
        label_sample(str(run), 400, str(labels), seed=0)

    def evaluate() -> None:
        with labels.open(newline="") as handle:
            drawn = list(csv.DictReader(handle))
        for row in drawn:
            row["sexual_terms.any"] = "1" if "sexual_terms.any" in row["flagged"].split(", ") else "0"
        labelled = OUT / "evaluation-labelled.csv"
        with labelled.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(drawn[0]))
            writer.writeheader()
            writer.writerows(drawn)
        evaluate_run(str(run), str(labelled))

    results = {"rows": rows, "tag_files": len(tag_files)}
    for name, fn in (("floor_read_tags", floor), ("label_sample", sample), ("evaluate", evaluate)):
        seconds = best(fn, args.repeats)
        results[name] = {"seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}
    for name in ("label_sample", "evaluate"):
        results[name]["x_floor"] = round(results[name]["seconds"] / results["floor_read_tags"]["seconds"], 2)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    OUT.mkdir(exist_ok=True)
    (OUT / "evaluation_scale.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
