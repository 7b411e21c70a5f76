"""Benchmark of the engine at scale: 1M vs 10M rows, 1 vs 2 workers, Ray vs local, resume.

Why this exists: issue 5 asks whether the engine keeps up at LAION scale. On this machine,
in one run, against baselines timed in the same run (BENCHMARKS.md, "Method"):

  * pyarrow reading the caption column (the floor) at 1M and 10M rows;
  * the default engine (threads, 2 workers, writing tags) at 1M and 10M rows: rows/s,
    seconds per million rows (cost must grow linearly) and the engine process's peak RSS
    (memory must stay flat);
  * 1 worker vs 2 workers on 10M rows (speed-up);
  * the Ray engine (a local Ray instance, 2 CPUs) vs the local engine on the same 1M rows:
    Ray start-up, first run (cold Ray workers) and later runs (warm);
  * resume: `kill -9` of the CLI when half the shards are complete, then the same command,
    against an uninterrupted run of the same command; the results must be identical;
  * sampling: `--sample-per-shard` and `--limit` on the 10M rows.

Each engine measurement runs in a fresh child process (`--child`), which reports the seconds
of `run_profile` alone (imports excluded) and its own peak RSS. Inputs are the 5,000 real
captions of ../shared repeated (bench/caption_profile.py builds and caches them under
bench/out/). The machine is a shared VM: figures are best of N, and the CPU load seen just
before each measurement is recorded. Results go to bench/out/engine_scale.json.

    .venv/bin/python bench/engine_scale.py [--repeats 2] [--quiet-wait 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_profile import (  # bench scripts are not a package: imported by path
    CAPTIONS,
    OUT,
    build_dataset,
    parquet_files,
    read_captions,
    wait_for_quiet,
)

SIZES = (1_000_000, 10_000_000)
SHARD_ROWS = 500_000  # like LAION parts, every shard is larger than a batch (262,144 rows)
RESULTS = OUT / "engine_scale.json"


# ---------------------------------------------------------------------------------------------
# Child process: one engine configuration, timed inside, peak RSS of this process


def child(config: dict[str, Any]) -> dict[str, Any]:
    """Run `run_profile` `repeats` times into fresh folders; report seconds and peak RSS."""
    from profiler.config import RunSpec
    from profiler.engine import run_profile

    ray_init = None
    if config["engine"] == "ray":
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=config["workers"], include_dashboard=False, logging_level="ERROR")
        ray_init = time.perf_counter() - started
    seconds, shard_phase, rows = [], [], 0
    hwm_shards = 0.0
    for _ in range(config["repeats"]):
        out = Path(config["out"])
        shutil.rmtree(out, ignore_errors=True)
        spec = RunSpec(name="bench", sources=[config["folder"]], out=out, workers=config["workers"],
                       executor=config.get("executor", "threads"), engine=config["engine"],
                       sample_per_shard=config.get("sample"), limit=config.get("limit"),
                       progress_seconds=3600)
        marks: list[tuple[float, float]] = []  # (time, peak RSS) as each shard finishes

        def on_shard(_result: Any, marks: list = marks) -> None:
            marks.append((time.perf_counter(), _peak_rss_now()))

        started = time.perf_counter()
        result = run_profile(spec, on_shard=on_shard)
        seconds.append(time.perf_counter() - started)
        last, peak = max(marks)
        shard_phase.append(last - started)
        hwm_shards = max(hwm_shards, peak)
        rows = result.counts.read
        if result.counts.shards_failed:
            raise RuntimeError(f"shards failed: {result.counts.shards_failed}")
    shutil.rmtree(config["out"], ignore_errors=True)
    return {"seconds": seconds, "shard_phase_s": shard_phase, "rows": rows, "ray_init_s": ray_init,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_rss_shard_phase_mib": hwm_shards}


def _peak_rss_now() -> float:
    """VmHWM: this process's peak resident memory so far, MiB."""
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return 0.0


def in_child(args: argparse.Namespace, name: str, **config: Any) -> dict[str, Any]:
    busy = wait_for_quiet(args.quiet_wait)
    config.setdefault("repeats", args.repeats)
    config.setdefault("out", str(OUT / "engine-scale-run"))
    result = subprocess.run([sys.executable, __file__, "--child", json.dumps(config)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures.update(name=name, config=config, busy_before=busy, best_s=min(figures["seconds"]),
                   best_shard_phase_s=min(figures["shard_phase_s"]))
    figures["rows_per_s"] = figures["rows"] / figures["best_s"]
    figures["shard_rows_per_s"] = figures["rows"] / figures["best_shard_phase_s"]
    print(f"  {name}: best {figures['best_s']:.2f}s of {[round(s, 2) for s in figures['seconds']]}, "
          f"{figures['rows_per_s']:,.0f} rows/s; shard phase {figures['best_shard_phase_s']:.2f}s, "
          f"{figures['shard_rows_per_s']:,.0f} rows/s; peak RSS {figures['peak_rss_mib']:.0f} MiB "
          f"({figures['peak_rss_shard_phase_mib']:.0f} MiB in the shard phase)", file=sys.stderr)
    return figures


# ---------------------------------------------------------------------------------------------
# Measurements


def caption_read(args: argparse.Namespace, folder: Path, rows: int) -> dict[str, Any]:
    files = parquet_files(folder)
    read_captions(files)  # into the page cache
    busy = wait_for_quiet(args.quiet_wait)
    seconds = []
    for _ in range(max(args.repeats, 3)):
        started = time.perf_counter()
        assert read_captions(files) == rows
        seconds.append(time.perf_counter() - started)
    best = min(seconds)
    print(f"  pyarrow caption read {rows:,}: best {best:.3f}s", file=sys.stderr)
    return {"name": f"pyarrow caption read, {rows:,} rows", "rows": rows, "seconds": seconds,
            "best_s": best, "rows_per_s": rows / best, "busy_before": busy}


def resume_after_kill(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The CLI uninterrupted, vs killed (-9) with half the shards complete and re-run."""
    shards = len(parquet_files(folder))
    out = OUT / "engine-scale-resume"

    def command(target: Path) -> list[str]:
        return [sys.executable, "-m", "profiler", "-q", "profile", str(folder), "--out", str(target),
                "--name", "resume", "--workers", "2"]

    shutil.rmtree(out, ignore_errors=True)
    reference = OUT / "engine-scale-reference"
    shutil.rmtree(reference, ignore_errors=True)
    busy = wait_for_quiet(args.quiet_wait)
    started = time.perf_counter()
    subprocess.run(command(reference), check=True, capture_output=True)
    uninterrupted = time.perf_counter() - started

    started = time.perf_counter()
    process = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while _done(out) < shards // 2:
        if process.poll() is not None:
            raise RuntimeError("the run finished before it could be killed")
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_after = time.perf_counter() - started
    done_at_kill = _done(out)
    partial = len(list((out / "tags").rglob("*.partial")))
    started = time.perf_counter()
    subprocess.run(command(out), check=True, capture_output=True)
    resumed = time.perf_counter() - started
    same = _comparable(out) == _comparable(reference)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(reference, ignore_errors=True)
    figures = {"name": "resume after kill -9 at ~50%", "shards": shards, "uninterrupted_s": uninterrupted,
               "killed_after_s": killed_after, "done_at_kill": done_at_kill,
               "in_flight_at_kill": partial, "resume_s": resumed,
               "total_with_kill_s": killed_after + resumed,
               "overhead": (killed_after + resumed) / uninterrupted - 1,
               "resume_vs_half": resumed / (uninterrupted * (shards - done_at_kill) / shards),
               "stats_identical": same, "busy_before": busy}
    print(f"  resume: uninterrupted {uninterrupted:.1f}s; killed at {killed_after:.1f}s with "
          f"{done_at_kill}/{shards} done; re-run {resumed:.1f}s; identical: {same}", file=sys.stderr)
    return figures


def _done(run: Path) -> int:
    return len(list((run / "parts").rglob("*.done"))) if (run / "parts").is_dir() else 0


def _comparable(run: Path) -> dict[str, Any]:
    stats = json.loads((run / "stats.json").read_text())
    for key in ("created", "seconds"):
        stats["run"].pop(key, None)
    return stats


def measure(args: argparse.Namespace) -> dict[str, Any]:
    folders = {rows: build_dataset(rows, shards=rows // SHARD_ROWS) for rows in SIZES}
    small, large = folders[SIZES[0]], folders[SIZES[1]]
    results: dict[str, Any] = {"floor": [], "engine": [], "workers": [], "ray": [], "sampling": []}
    print("caption read (floor)", file=sys.stderr)
    for rows, folder in folders.items():
        results["floor"].append(caption_read(args, folder, rows))
    print("default engine, 1M vs 10M", file=sys.stderr)
    for rows, folder in folders.items():
        repeats = args.repeats + 1 if rows == SIZES[0] else args.repeats
        results["engine"].append(in_child(args, f"engine, 2 threads, {rows:,} rows", folder=str(folder),
                                          workers=2, engine="local", repeats=repeats))
    print("1 vs 2 workers, 10M", file=sys.stderr)
    results["workers"].append(in_child(args, "engine, 1 worker, 10M rows", folder=str(large),
                                       workers=1, engine="local"))
    results["workers"].append(results["engine"][-1])
    results["workers"].append(in_child(args, "engine, 2 processes, 10M rows", folder=str(large),
                                       workers=2, executor="processes", engine="local"))
    print("Ray vs local", file=sys.stderr)
    results["ray"].append(in_child(args, "Ray engine, 1M rows (run 1 cold, then warm)",
                                   folder=str(small), workers=2, engine="ray",
                                   repeats=args.repeats + 1))
    results["ray"].append(in_child(args, "Ray engine, 10M rows (run 1 cold, then warm)",
                                   folder=str(large), workers=2, engine="ray", repeats=2))
    print("resume", file=sys.stderr)
    results["resume"] = resume_after_kill(args, large)
    print("sampling", file=sys.stderr)
    results["sampling"].append(in_child(args, "--sample-per-shard 10000, 10M rows", folder=str(large),
                                        workers=2, engine="local", sample=10_000))
    results["sampling"].append(in_child(args, "--limit 1000000, 10M rows", folder=str(large),
                                        workers=2, engine="local", limit=1_000_000))
    return results


# ---------------------------------------------------------------------------------------------
# Report


def table(results: dict[str, Any]) -> str:
    floor = {r["rows"]: r for r in results["floor"]}
    lines = ["| measurement | rows | end to end s | rows/s | shard phase s | shard-phase rows/s | "
             "vs caption read | peak RSS MiB (shard phase) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["floor"]:
        lines.append(f"| {r['name']} | {r['rows']:,} | {r['best_s']:.2f} | {r['rows_per_s']:,.0f} | "
                     "| | 1.000 | |")
    for r in [*results["engine"], results["workers"][0], results["workers"][2], *results["ray"],
              *results["sampling"]]:
        base = floor.get(r["rows"])
        ratio = f"{r['shard_rows_per_s'] / base['rows_per_s']:.3f}" if base else "—"
        rss = ("—" if "Ray" in r["name"]
               else f"{r['peak_rss_mib']:.0f} ({r['peak_rss_shard_phase_mib']:.0f})")
        lines.append(f"| {r['name']} | {r['rows']:,} | {r['best_s']:.2f} | {r['rows_per_s']:,.0f} | "
                     f"{r['best_shard_phase_s']:.2f} | {r['shard_rows_per_s']:,.0f} | {ratio} | {rss} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="best of N per measurement (default 2)")
    parser.add_argument("--quiet-wait", type=float, default=20,
                        help="wait up to S seconds for an idle CPU before each measurement")
    parser.add_argument("--table", action="store_true", help="print the table of the last results")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.table:
        print(table(json.loads(RESULTS.read_text())))
        return 0
    if not CAPTIONS.exists():
        print(f"skipped: {CAPTIONS} is absent (the real captions live in ../shared)", file=sys.stderr)
        return 0
    started = time.perf_counter()
    results = measure(args)
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "pyarrow": pa.__version__,
                          "platform": platform.platform()}
    results["bench_seconds"] = time.perf_counter() - started
    RESULTS.write_text(json.dumps(results, indent=1))
    print(table(results))
    print(f"\nresume: {json.dumps(results['resume'])}")
    print(f"whole benchmark: {results['bench_seconds']:.0f}s; figures in {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
