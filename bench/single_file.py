"""Benchmark of one big parquet file: work units keep both cores busy and make a resume cheap.

Why this exists: issue 16. Real LAION metadata comes in few, large files (12.5-18M rows). With a
file as the unit of work one core idles and a crash loses the whole file. This times the whole
command `bias-profiler profile` (a subprocess, start to exit) on:

  * one file of `--rows` rows in `--row-groups` row groups, split into work units (the default);
  * the same file as one unit (`--unit-rows 0`: the behaviour before work units);
  * the same rows in `--files` files;
  * `kill -9` of the one-file command at `--kill-at` (60%) of its uninterrupted time, then the
    same command again: the resume's time against the uninterrupted run's, and whether
    stats.json is identical (it must be).

Inputs are the 5,000 real captions of ../shared repeated, with LAION's score columns (as
bench/engine_scale.py builds them), cached under bench/out/. The machine must be quiet: the CPU
load seen before each measurement is recorded. Results go to bench/out/single_file.json.

    .venv/bin/python bench/single_file.py                  # 12.5M rows, 125 row groups, 100 files
    .venv/bin/python bench/single_file.py --rows 200000 --row-groups 20 --files 10 \
        --unit-rows 20000 --repeats 1 --quiet-wait 0                                # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_profile import CAPTIONS, OUT, SEED, _laion_rows, wait_for_quiet

RESULTS = OUT / "single_file.json"
TAGGERS = "identity,sexual_terms,dataset"  # the workload of the issue that asked for units
SAME_ROWS_IGNORED = ("run", "shards", "bootstrap")  # what depends on how rows are cut into files


def build(rows: int, row_groups: int, files: int) -> tuple[Path, Path]:
    """(a folder with one file of `rows` rows in `row_groups` row groups, a folder with the same
    rows in `files` files), built once and cached."""
    root = OUT / f"single-file-{rows}-{row_groups}-{files}-keyed"
    one, many = root / "one", root / "many"
    if (root / "_complete.json").exists():
        return one, many
    shutil.rmtree(root, ignore_errors=True)
    one.mkdir(parents=True)
    many.mkdir()
    source = pq.read_table(CAPTIONS, columns=["TEXT", "URL"])
    rng = np.random.default_rng(SEED)
    group_rows = -(-rows // row_groups)
    per_file = -(-rows // files)
    writer: pq.ParquetWriter | None = None
    part: pq.ParquetWriter | None = None
    part_index = -1
    for start in range(0, rows, group_rows):
        chunk = _laion_rows(source, start, min(start + group_rows, rows), rng)
        # img2dataset-style keys: a row keeps its identity whichever file holds it, so the two
        # layouts' stats.json (examples, the language sample) can be compared exactly
        chunk = chunk.append_column("key", pc.cast(pa.array(np.arange(start, start + chunk.num_rows)),
                                                   pa.string()))
        if writer is None:
            writer = pq.ParquetWriter(one / "laion-part.parquet", chunk.schema)
        writer.write_table(chunk, row_group_size=group_rows)
        offset = 0
        while offset < chunk.num_rows:  # the same rows, cut at the many files' boundaries
            row = start + offset
            if row // per_file != part_index:
                if part is not None:
                    part.close()
                part_index = row // per_file
                part = pq.ParquetWriter(many / f"part-{part_index:05d}.parquet", chunk.schema)
            take = min(chunk.num_rows - offset, (part_index + 1) * per_file - row)
            part.write_table(chunk.slice(offset, take))
            offset += take
    for open_writer in (writer, part):
        if open_writer is not None:
            open_writer.close()
    (root / "_complete.json").write_text(json.dumps({"rows": rows, "row_groups": row_groups,
                                                     "files": files, "source": str(CAPTIONS)}))
    return one, many


def command(folder: Path, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "profiler", "-q", "profile", str(folder), "--out", str(out),
            "--name", "single-file", "--workers", "2", "--taggers", TAGGERS, *extra]


def timed(args: argparse.Namespace, name: str, folder: Path, rows: int,
          extra: list[str] | None = None) -> dict[str, Any]:
    """Best of `repeats` runs of the whole command into a fresh folder."""
    out = OUT / "single-file-run"
    seconds = []
    busy = 0.0
    for _ in range(args.repeats):
        shutil.rmtree(out, ignore_errors=True)
        busy = max(busy, wait_for_quiet(args.quiet_wait))
        started = time.perf_counter()
        subprocess.run(command(folder, out, extra or []), check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    stats = _stats(out)
    best = min(seconds)
    print(f"  {name}: best {best:.2f}s of {[round(s, 2) for s in seconds]}, {rows / best:,.0f} rows/s",
          file=sys.stderr)
    return {"name": name, "rows": rows, "seconds": seconds, "best_s": best, "rows_per_s": rows / best,
            "busy_before": busy, "stats": stats}


def resumes_after_kill(args: argparse.Namespace, folder: Path, uninterrupted: float,
                       reference: dict[str, Any]) -> dict[str, Any]:
    """`resume_repeats` kills and resumes: where a kill lands against the units in flight moves
    the figure by up to a unit's time, so one try says little."""
    tries = [resume_after_kill(args, folder, uninterrupted, reference) for _ in range(args.resume_repeats)]
    ratios = sorted(t["resume_vs_uninterrupted"] for t in tries)
    return {"name": f"resume after kill -9 at {args.kill_at:.0%}", "uninterrupted_s": uninterrupted,
            "units": tries[0]["units"], "tries": tries, "ratios": ratios,
            "median_ratio": ratios[len(ratios) // 2], "max_ratio": ratios[-1],
            "stats_identical": all(t["stats_identical"] for t in tries),
            "finished_before_kill": any(t["finished_before_kill"] for t in tries)}


def resume_after_kill(args: argparse.Namespace, folder: Path, uninterrupted: float,
                      reference: dict[str, Any]) -> dict[str, Any]:
    """kill -9 at `kill_at` of the uninterrupted time, then the same command, timed alone."""
    out = OUT / "single-file-killed"
    shutil.rmtree(out, ignore_errors=True)
    busy = wait_for_quiet(args.quiet_wait)
    process = subprocess.Popen(command(folder, out, _unit_flag(args)), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.perf_counter() + args.kill_at * uninterrupted
    while time.perf_counter() < deadline and process.poll() is None:
        time.sleep(0.005)
    finished_first = process.poll() is not None
    if not finished_first:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    markers = list((out / "parts").rglob("*.done")) if (out / "parts").is_dir() else []
    index = next((out / "parts").glob("*.units.json"), None) if (out / "parts").is_dir() else None
    units = len(json.loads(index.read_text())["units"]) if index else 1
    started = time.perf_counter()
    subprocess.run(command(folder, out, _unit_flag(args)), check=True, capture_output=True)
    resumed = time.perf_counter() - started
    identical = _stats(out) == reference
    print(f"  kill -9 at {args.kill_at:.0%} ({len(markers)}/{units} units complete): resume "
          f"{resumed:.2f}s = {resumed / uninterrupted:.0%} of uninterrupted; stats identical: {identical}",
          file=sys.stderr)
    if finished_first:
        print("  (the run finished before the kill point: use more --rows)", file=sys.stderr)
    return {"name": f"resume after kill -9 at {args.kill_at:.0%}", "uninterrupted_s": uninterrupted,
            "units": units, "units_done_at_kill": len(markers), "resume_s": resumed,
            "resume_vs_uninterrupted": resumed / uninterrupted, "stats_identical": identical,
            "finished_before_kill": finished_first, "busy_before": busy}


def _unit_flag(args: argparse.Namespace) -> list[str]:
    return [] if args.unit_rows is None else ["--unit-rows", str(args.unit_rows)]


def _stats(run: Path) -> dict[str, Any]:
    stats = json.loads((run / "stats.json").read_text())
    for key in ("created", "seconds"):
        stats["run"].pop(key, None)
    return stats


def _same_rows(stats: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in stats.items() if k not in SAME_ROWS_IGNORED}
    view["curation"] = {k: v for k, v in (view.get("curation") or {}).items() if k != "run"}
    return view


def measure(args: argparse.Namespace) -> dict[str, Any]:
    one, many = build(args.rows, args.row_groups, args.files)
    print(f"{args.rows:,} rows: one file of {args.row_groups} row groups, and {args.files} files",
          file=sys.stderr)
    units = timed(args, "one file, work units (default)", one, args.rows, _unit_flag(args))
    if args.only_resume:
        resume = resumes_after_kill(args, one, units["best_s"], units.pop("stats"))
        return {"runs": [units], "resume": resume}
    whole = timed(args, "one file, one unit (--unit-rows 0)", one, args.rows, ["--unit-rows", "0"])
    spread = timed(args, f"{args.files} files", many, args.rows)
    resume = resumes_after_kill(args, one, units["best_s"], units["stats"])
    same = _same_rows(units["stats"]) == _same_rows(spread["stats"]) == _same_rows(whole["stats"])
    for result in (units, whole, spread):
        result.pop("stats")
    return {"runs": [units, whole, spread], "resume": resume, "same_stats_one_vs_many_files": same,
            "units_vs_whole": whole["best_s"] / units["best_s"],
            "units_vs_many_files": units["rows_per_s"] / spread["rows_per_s"]}


def report(results: dict[str, Any]) -> str:
    lines = ["| command (2 workers) | rows | seconds | rows/s |", "|---|---:|---:|---:|"]
    for r in results["runs"]:
        lines.append(f"| {r['name']} | {r['rows']:,} | {r['best_s']:.2f} | {r['rows_per_s']:,.0f} |")
    resume = results["resume"]
    lines.append("")
    if "units_vs_whole" in results:
        lines += [f"work units vs one unit: {results['units_vs_whole']:.2f}x faster; one file vs many files: "
                  f"{results['units_vs_many_files']:.2f} of the rows/s",
                  f"stats.json of one file equal to many files (but run/shards/bootstrap): "
                  f"{results['same_stats_one_vs_many_files']}"]
    lines += [f"{resume['name']} ({len(resume['ratios'])} tries, {resume['units']} units): the resume "
              f"took {', '.join(f'{r:.0%}' for r in resume['ratios'])} of the uninterrupted "
              f"{resume['uninterrupted_s']:.2f}s (median {resume['median_ratio']:.0%}, "
              f"worst {resume['max_ratio']:.0%}); stats identical: {resume['stats_identical']}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12_500_000, help="rows of the file (default 12.5M)")
    parser.add_argument("--row-groups", type=int, default=125, help="row groups of the file (default 125)")
    parser.add_argument("--files", type=int, default=100, help="files of the many-file copy (default 100)")
    parser.add_argument("--kill-at", type=float, default=0.6,
                        help="kill -9 at this share of the uninterrupted time (default 0.6)")
    parser.add_argument("--unit-rows", type=int,
                        help="--unit-rows of the work-unit runs (default: the product's automatic size)")
    parser.add_argument("--repeats", type=int, default=2, help="best of N per command (default 2)")
    parser.add_argument("--resume-repeats", type=int, default=5,
                        help="kill-and-resume tries (default 5)")
    parser.add_argument("--only-resume", action="store_true",
                        help="time only the split run and its kill-and-resume tries")
    parser.add_argument("--quiet-wait", type=float, default=20,
                        help="wait up to S seconds for an idle CPU before each measurement")
    args = parser.parse_args(argv)
    if not CAPTIONS.exists():
        print(f"skipped: {CAPTIONS} is absent (the real captions live in ../shared)", file=sys.stderr)
        return 0
    started = time.perf_counter()
    results = measure(args)
    results["settings"] = {k: v for k, v in vars(args).items()}
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "pyarrow": pa.__version__, "platform": platform.platform()}
    results["bench_seconds"] = time.perf_counter() - started
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))
    print(report(results))
    print(f"whole benchmark: {results['bench_seconds']:.0f}s; figures in {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
