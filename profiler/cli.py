"""bias-profiler: command-line entry point. User mistakes exit 2 with one line, no traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from profiler import __version__
from profiler.errors import UserError

EXIT_USER_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING if args.quiet else logging.INFO)
    console.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("profiler").addHandler(console)
    try:
        return args.handler(args)
    except UserError as error:
        print(f"bias-profiler: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("bias-profiler: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bias-profiler",
        description="Measure demographic x sexualized-content skew in image-text training data.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    profile = commands.add_parser("profile", help="profile parquet shards and write a report")
    profile.add_argument("sources", nargs="+", metavar="SOURCE",
                         help="parquet file, folder, glob or fsspec URL (s3://, gs://, hf://)")
    profile.add_argument("--config", help="pipeline TOML with taggers / stats / report settings")
    _run_options(profile)
    profile.add_argument("--taggers", help="comma-separated taggers (default: identity,sexual_terms,dataset)")
    profile.add_argument("--columns", nargs="+", default=[], metavar="CANONICAL=SOURCE",
                         help="map your column names, e.g. caption=alt_text key=id")
    profile.add_argument("--name", help="run name (default: profile-<UTC time>)")
    profile.set_defaults(handler=_profile)

    run = commands.add_parser("run", help="run a declared pipeline (pipelines/*.toml)")
    run.add_argument("pipeline", help="pipeline TOML file")
    _run_options(run)
    run.set_defaults(handler=_run)

    report = commands.add_parser("report", help="re-render a finished run's index.html")
    report.add_argument("run_dir", help="run folder holding stats.json")
    report.add_argument("--redact", action="store_true", help="hide caption snippets")
    report.set_defaults(handler=_report)

    sample = commands.add_parser("sample", help="generate offline demo shards with planted skew")
    sample.add_argument("--out", required=True, help="folder for the shards and ground_truth.json")
    sample.add_argument("--shards", type=int, default=4)
    sample.add_argument("--rows-per-shard", type=int, default=25_000)
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(handler=_sample)
    return parser


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="run folder (default: reports/<run name>)")
    parser.add_argument("--workers", type=int, help="parallel shard workers (default: CPU cores)")
    parser.add_argument("--executor", choices=("threads", "processes"),
                        help="how shard workers run (default: threads)")
    parser.add_argument("--min-support", type=int, help="suppress cells with fewer rows (default 30)")
    parser.add_argument("--no-tags", action="store_true", help="skip per-sample tag files")
    parser.add_argument("--redact", action="store_true", help="hide caption snippets in the report")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a run folder made with other settings")


def _profile(args: argparse.Namespace) -> int:
    from profiler.config import DEFAULT_OUT_ROOT, RunSpec, default_run_name, spec_from_toml
    from profiler.sources.columns import ColumnMapping

    columns = dict(ColumnMapping.parse(args.columns).overrides)
    if args.config:
        spec = spec_from_toml(args.config)
        spec.sources = list(args.sources)
        spec.columns.update(columns)
        if args.name:
            spec.name = args.name
    else:
        spec = RunSpec(name=args.name or default_run_name(), sources=list(args.sources),
                       out=DEFAULT_OUT_ROOT, columns=columns)
    if args.taggers:
        spec.taggers = [t.strip() for t in args.taggers.split(",") if t.strip()]
    if not args.config or args.out:
        spec.out = Path(args.out) if args.out else DEFAULT_OUT_ROOT / spec.name
    return _execute(spec, args)


def _run(args: argparse.Namespace) -> int:
    from profiler.config import spec_from_toml

    spec = spec_from_toml(args.pipeline)
    if args.out:
        spec.out = Path(args.out)
    return _execute(spec, args)


def _execute(spec, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from profiler.engine import run_profile

    if args.workers is not None:
        spec.workers = args.workers
    if args.executor:
        spec.executor = args.executor
    if args.min_support is not None:
        spec.stats = replace(spec.stats, min_support=args.min_support)
    if args.no_tags:
        spec.write_tags = False
    if args.redact:
        spec.redact_captions = True
    result = run_profile(spec, overwrite=args.overwrite)
    counts = result.counts
    print(f"rows read {counts.read:,} = tagged {counts.tagged:,} + skipped {sum(counts.skipped.values()):,}"
          f" in {result.seconds:.1f}s", file=sys.stderr)
    if counts.shards_failed:
        print(f"{len(counts.shards_failed)} shard(s) failed; see {result.stats_json}", file=sys.stderr)
    print(result.html)
    return 0


def _report(args: argparse.Namespace) -> int:
    from profiler.report.writer import rerender

    run_dir = Path(args.run_dir)
    if not (run_dir / "stats.json").is_file():
        raise UserError(f"{run_dir} is not a finished run: it has no stats.json")
    print(rerender(run_dir, redact=args.redact))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from profiler.sample import generate_sample

    out = generate_sample(args.out, args.shards, args.rows_per_shard, args.seed)
    print(out / "ground_truth.json")
    return 0
