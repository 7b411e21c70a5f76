"""Benchmark of the whole `bias-profiler profile` command, start to exit (issue 13).

Why this exists: a user waits for the command, not for `run_profile`. For each size (default 1M
and 10M real-caption rows in 100 shards, taggers identity + sexual_terms, 2 workers) this runs
the real CLI in a fresh child process and reports:

  * whole-command rows/s (wall clock from spawn to exit: interpreter start, imports, planning,
    the shard phase, merging, statistics, report, exit);
  * end-of-run seconds: from the last shard's completion marker (its file time) to exit, i.e.
    merging parts, statistics, the curation section and the report (must not grow with rows);
  * the child's peak RSS (os.wait4), which must stay flat from 1M to 10M rows.

Inputs are the 5,000 real captions of ../shared repeated (bench/caption_profile.py builds and
caches them under bench/out/). The machine may be shared: figures are best of --repeats, and the
CPU load seen just before each run is recorded. Results go to bench/out/whole_run.json.

    .venv/bin/python bench/whole_run.py [--sizes 1000000 10000000] [--shards 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_profile import OUT, build_dataset, wait_for_quiet  # bench scripts: imported by path

TAGGERS = "identity,sexual_terms"
RESULTS = OUT / "whole_run.json"


def run_once(folder: Path, out: Path, workers: int) -> dict[str, Any]:
    """One CLI run: wall seconds, end-of-run seconds, peak RSS of the child."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "profiler", "-q", "profile", str(folder), "--out", str(out),
               "--taggers", TAGGERS, "--workers", str(workers), "--name", "whole-run"]
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    ended = time.time()
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"profile failed:\n{stderr[-3000:]}")
    last_shard = max(p.stat().st_mtime for p in (out / "parts").rglob("*.done"))
    stats = json.loads((out / "stats.json").read_text())
    return {"seconds": ended - started, "end_of_run_s": ended - last_shard,
            "peak_rss_mib": usage.ru_maxrss / 1024, "rows": stats["rows"]["read"]}


def measure(args: argparse.Namespace, rows: int) -> dict[str, Any]:
    folder = build_dataset(rows, shards=args.shards)
    out = OUT / "whole-run"
    runs, busy = [], []
    for _ in range(args.repeats):
        busy.append(wait_for_quiet(args.quiet_wait))
        runs.append(run_once(folder, out, args.workers))
    shutil.rmtree(out, ignore_errors=True)
    best = min(runs, key=lambda r: r["seconds"])
    figures = {
        "rows": rows, "shards": args.shards, "workers": args.workers, "taggers": TAGGERS,
        "seconds": [round(r["seconds"], 3) for r in runs], "best_s": best["seconds"],
        "rows_per_s": rows / best["seconds"],
        "end_of_run_s": min(r["end_of_run_s"] for r in runs),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs), "busy_before": busy,
    }
    if best["rows"] != rows:
        raise RuntimeError(f"read {best['rows']} rows, expected {rows}")
    print(f"{rows:>11,} rows: whole command best {figures['best_s']:.2f}s of {figures['seconds']} "
          f"= {figures['rows_per_s']:,.0f} rows/s; end of run {figures['end_of_run_s']:.2f}s; "
          f"peak RSS {figures['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--shards", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quiet-wait", type=float, default=20.0,
                        help="seconds to wait for an idle machine before each run")
    args = parser.parse_args()
    results = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
               "measurements": [measure(args, rows) for rows in args.sizes]}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(json.dumps(results["measurements"], indent=2))


if __name__ == "__main__":
    main()
