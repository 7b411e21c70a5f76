"""bias-profiler: command-line entry point. User mistakes exit 2 with one line, no traceback."""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from pathlib import Path

from profiler import __version__
from profiler.defaults import MIN_SUPPORT
from profiler.errors import UserError

EXIT_COMPLETE = 0
EXIT_USER_ERROR = 2
EXIT_FAILED_SHARDS = 3  # stats and report written, but some shards could not be read
EXIT_CODES_HELP = """exit codes:
  0  complete: every shard profiled (status: the run folder was read)
  2  user error (bad path, flag, config or column mapping; a folder that is not a run): one line on stderr
  3  finished with failed shards: stats.json and the report are written, the failed shards are
     listed on stderr and in the report; running the same command again retries only them
  130 interrupted (Ctrl-C): run the same command again to resume"""
# a full disk or quota is the user's to fix, and completed shards are kept for the resume
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING if args.quiet else logging.INFO)
    console.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("profiler")
    logger.addHandler(console)
    # libraries that log through the root module functions (open_clip's `logging.warning`) would
    # otherwise install a root stderr handler mid-run, printing every profiler line twice
    root = logging.getLogger()
    quiet_root = logging.NullHandler() if not root.handlers else None
    if quiet_root is not None:
        root.addHandler(quiet_root)
    try:
        return args.handler(args)
    except UserError as error:
        print(f"bias-profiler: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("bias-profiler: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except OSError as error:
        if error.errno not in FULL_DISK:
            raise
        where = f" writing {error.filename}" if error.filename else ""
        print(f"bias-profiler: error: {error.strerror or 'the disk is full'}{where}: free space or "
              "choose another --out, then run the same command again to resume", file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        logger.removeHandler(console)  # main() called again in one process logs once
        if quiet_root is not None:
            root.removeHandler(quiet_root)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bias-profiler",
        description="Measure demographic x sexualized-content skew in image-text training data.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    profile = commands.add_parser("profile", help="profile parquet shards and write a report",
                                  epilog=EXIT_CODES_HELP,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    profile.add_argument("sources", nargs="+", metavar="SOURCE",
                         help="parquet file, folder, glob or fsspec URL (s3://, gs://, hf://); "
                              ".tar shards, image folders, .csv/.tsv/.jsonl caption files (.gz too)")
    profile.add_argument("--config", help="pipeline TOML with taggers / stats / report settings")
    _run_options(profile)
    profile.add_argument("--taggers",
                         help="comma-separated taggers (default: identity,sexual_terms,dataset,language)")
    profile.add_argument("--columns", nargs="+", default=[], metavar="CANONICAL=SOURCE",
                         help="map your column names, e.g. caption=alt_text key=id")
    profile.add_argument("--name", help="run name (default: profile-<UTC time>)")
    profile.set_defaults(handler=_profile)

    run = commands.add_parser("run", help="run a declared pipeline (pipelines/*.toml)",
                              epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("pipeline", help="pipeline TOML file")
    _run_options(run)
    run.set_defaults(handler=_run)

    status = commands.add_parser(
        "status", help="where a run folder stands: shards complete, failed, pending; rows; lock",
        epilog="exit codes: 0 the run folder was read (whatever its state); 2 not a run folder")
    status.add_argument("run_dir", metavar="RUN", help="run folder (the --out of profile / run)")
    status.add_argument("--json", action="store_true",
                        help="print one JSON object (total, complete, failed, pending, rows, ...)")
    status.set_defaults(handler=_status)

    report = commands.add_parser("report", help="re-render a finished run's index.html")
    report.add_argument("run_dir", help="run folder holding stats.json")
    report.add_argument("--redact", action="store_true", help="hide caption snippets")
    report.set_defaults(handler=_report)

    curate = commands.add_parser(
        "curate", help="filter a profiled run: key lists, filtered shards, weights, impact per group")
    curate.add_argument("run_dir", metavar="RUN", help="run folder written by profile (with tags/)")
    curate.add_argument("--where", metavar="EXPR",
                        help="filter over tag columns, e.g. 'dataset.punsafe >= 0.5 or "
                             "sexual_terms.level == \"explicit\"' (default: every row)")
    curate_mode = curate.add_mutually_exclusive_group()
    curate_mode.add_argument("--drop", dest="mode", action="store_const", const="drop",
                             help="remove the rows EXPR matches (default)")
    curate_mode.add_argument("--keep", dest="mode", action="store_const", const="keep",
                             help="keep only the rows EXPR matches")
    curate.add_argument("--out", required=True, help="folder for the curation outputs")
    curate.add_argument("--list", dest="key_list", choices=("kept", "removed"), default="kept",
                        help="which keys the .txt/.parquet/.npy lists hold (default: kept)")
    curate.add_argument("--shards", dest="copy_shards", action="store_true",
                        help="also write filtered copies of the input parquet shards")
    curate.add_argument("--target-shares", metavar="G=S,...|FILE.toml",
                        help="rebalancing weights toward these shares of person mentions, "
                             "e.g. east_asian=0.1,black:female=0.05")
    curate.add_argument("--min-support", type=int, default=MIN_SUPPORT,
                        help=f"suppress impact cells with fewer rows (default {MIN_SUPPORT})")
    curate.add_argument("--overwrite", action="store_true", help="replace a previous curation in --out")
    curate.set_defaults(handler=_curate, mode="drop")

    labels = commands.add_parser("label-sample", help="draw a stratified sample of a run to hand-label")
    labels.add_argument("run_dir", help="finished run folder (with tags)")
    labels.add_argument("--n", type=int, required=True, help="rows to draw")
    labels.add_argument("--out", required=True, help="labels CSV to write")
    labels.add_argument("--seed", type=int, default=0)
    labels.add_argument("--signals", nargs="+", help="signals to stratify on (default: all)")
    labels.add_argument("--html", help="also write a static labelling sheet (captions only) here")
    labels.set_defaults(handler=_label_sample)
    evaluate = commands.add_parser("evaluate", help="measure the taggers against hand labels")
    evaluate.add_argument("run_dir", help="finished run folder (with tags)")
    evaluate.add_argument("--labels", required=True, help="labels CSV (key + one column per signal)")
    evaluate.set_defaults(handler=_evaluate)

    calibrate = commands.add_parser(
        "calibrate", help="fit clip / nsfw score thresholds on hand-labelled samples of a profiled run",
        description="Fit thresholds on a few hundred hand-labelled samples of a profiled run and "
                    "write them as TOML for the clip tagger (--thresholds FILE) or the nsfw tagger "
                    "(thresholds_path). Without labels calibrate is not run: the uncalibrated defaults "
                    "documented in the prompt banks apply (clip.sexual_score >= 0.5, "
                    "profiler/resources/prompts/sexual_content.toml; nsfw.score >= 0.8, the open_nsfw "
                    "authors' README).")
    calibrate.add_argument("run_dir", metavar="RUN", help="run folder written by profile (with tags/)")
    calibrate.add_argument("--labels", required=True, metavar="CSV",
                           help="CSV with columns key,label: 1/0 (true/false, yes/no, sexual/not_sexual) "
                                "fits one threshold on --score; class ids of the prompt bank fit "
                                "one-vs-rest thresholds on clip.prob.<class> per sexual class")
    calibrate.add_argument("--out", required=True, metavar="TOML", help="thresholds file to write")
    calibrate.add_argument("--score", default="clip.sexual_score", metavar="COLUMN",
                           help="score column for binary labels (default clip.sexual_score; "
                                "nsfw.score for the open_nsfw tagger)")
    calibrate.add_argument("--target-precision", type=float, metavar="P",
                           help="the lowest threshold reaching precision P (default: maximum F1)")
    calibrate.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    calibrate.set_defaults(handler=_calibrate)

    compare = commands.add_parser("compare", help="report what changed between two runs")
    compare.add_argument("baseline", metavar="RUN_A", help="the earlier run folder (or its stats.json)")
    compare.add_argument("current", metavar="RUN_B", help="the later run folder (or its stats.json)")
    compare.add_argument("--out", help="folder for compare.json, changes.csv and index.html "
                         "(default: reports/compare-<A>-vs-<B>)")
    compare.set_defaults(handler=_compare)

    sample = commands.add_parser("sample", help="generate offline demo shards with planted skew")
    sample.add_argument("--out", required=True, help="folder for the shards and ground_truth.json")
    sample.add_argument("--shards", type=int, default=8)
    sample.add_argument("--rows-per-shard", type=int, default=12_500)
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(handler=_sample)
    return parser


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="run folder (default: reports/<run name>)")
    parser.add_argument("--workers", type=int, help="parallel shard workers (default: CPU cores)")
    parser.add_argument("--executor", choices=("threads", "processes"),
                        help="how shard workers run (default: threads)")
    parser.add_argument("--min-support", type=int,
                        help=f"suppress cells with fewer rows (default {MIN_SUPPORT})")
    parser.add_argument("--no-tags", action="store_true", help="skip per-sample tag files")
    parser.add_argument("--redact", action="store_true", help="hide caption snippets in the report")
    parser.add_argument("--baseline", metavar="RUN",
                        help="a previous run folder: adds a comparison section to the report")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a run folder made with other settings (its embedding cache is kept)")
    parser.add_argument("--source-format", metavar="FORMAT",
                        help="parquet, webdataset, image_files, clip_retrieval, hf, csv, tsv or jsonl "
                             "(default: auto-detected from the paths; .gz caption files too)")
    _scale_options(parser)
    _model_options(parser)


def _model_options(parser: argparse.ArgumentParser) -> None:
    """CLIP taggers (clip, clip_text): these flags override their [taggers.*] settings."""
    group = parser.add_argument_group("CLIP models (taggers clip and clip_text)")
    group.add_argument("--model", metavar="NAME", help="open_clip model name (default ViT-B-32)")
    group.add_argument("--pretrained", metavar="TAG|PATH",
                       help="open_clip pretrained tag (downloaded once, then cached) or a checkpoint "
                            "file; 'none' = random weights, only with --allow-random-weights")
    group.add_argument("--device", metavar="DEV", help="auto (cuda, mps, cpu), cpu, cuda, cuda:N or mps")
    group.add_argument("--precision", choices=("auto", "fp32", "fp16", "bf16"),
                       help="model precision (default auto: bf16 autocast on GPUs; on CPUs with native bf16 "
                            "the image tower in bf16, captions in fp32; else fp32)")
    group.add_argument("--model-batch-size", type=int, metavar="N",
                       help="images or captions per forward pass")
    group.add_argument("--allow-random-weights", action="store_true", default=None,
                       help="accept --pretrained none (benchmarks, tests): every output is marked as such")
    group.add_argument("--prompts", metavar="FILE", help="the clip tagger's prompt bank (TOML)")
    group.add_argument("--thresholds", metavar="FILE",
                       help="calibrated thresholds written by `bias-profiler calibrate`")
    group.add_argument("--embedding-cache", metavar="DIR",
                       help="read cached embeddings from DIR (e.g. OLD_RUN/embeddings): re-tag "
                            "without reading images (default: the run folder's own embeddings/)")
    group.add_argument("--no-embedding-cache", dest="cache_embeddings", action="store_false", default=None,
                       help="neither store embeddings in OUT/embeddings nor reuse them from there "
                            "(--embedding-cache DIR is still read)")


def _scale_options(parser: argparse.ArgumentParser) -> None:
    """Runs at scale: incremental runs, sampling, the Ray engine (profiler/engine/)."""
    parser.add_argument("--incremental", action="store_true", default=None,
                        help="update a finished run folder with shards added to (or removed "
                             "from) the source; only new or changed shards are profiled")
    parser.add_argument("--sample-per-shard", type=int, metavar="N",
                        help="profile a seeded uniform random sample of N rows of each shard")
    parser.add_argument("--sample-seed", type=int, metavar="N", help="seed of the sample (default 0)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="profile at most N rows in total (the first shards first)")
    parser.add_argument("--unit-rows", type=int, metavar="N",
                        help="split parquet files into work units of about N rows (whole row groups) that "
                             "run in parallel and resume one by one (default about 500k; 0: whole files)")
    parser.add_argument("--engine", choices=("local", "ray"), help="where shards run (default: local)")
    parser.add_argument("--address", metavar="ADDR",
                        help="Ray cluster to join: auto, ray://HEAD:10001 (with --engine ray; "
                             "default: RAY_ADDRESS, else a local Ray instance)")
    parser.add_argument("--dated", action="store_true", default=None,
                        help="scheduled runs: write OUT/<YYYY-MM-DD>/, reusing the previous dated "
                             "run's shards (--incremental) and comparing with it")
    parser.add_argument("--date", metavar="YYYY-MM-DD",
                        help="the date of a --dated run (default: today, UTC)")


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
        # the run's name: --name, else the --out folder's (stable when the command is re-run)
        name = args.name or (Path(args.out).name if args.out else default_run_name())
        if (args.dated or args.date) and not (args.out or args.name):
            raise UserError("--dated needs --out ROOT (or --name): the folder that keeps the dated runs")
        spec = RunSpec(name=name, sources=list(args.sources),
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
    for name in ("incremental", "sample_per_shard", "sample_seed", "limit", "engine", "address",
                 "dated", "date", "source_format", "embedding_cache", "cache_embeddings", "unit_rows"):
        if getattr(args, name, None) is not None:
            setattr(spec, name, getattr(args, name))
    _apply_model_flags(spec, args)
    if getattr(args, "baseline", None):
        from profiler.report.compare_report import load_stats_document

        load_stats_document(args.baseline)  # a bad baseline fails before any work is done
        spec.baseline = args.baseline
    result = run_profile(spec, overwrite=args.overwrite)
    counts = result.counts
    _refuse_if_no_shard_had_the_columns(counts, spec.columns, result.stats_json)
    print(f"rows read {counts.read:,} = tagged {counts.tagged:,} + skipped {sum(counts.skipped.values()):,}"
          f" in {result.seconds:.1f}s", file=sys.stderr)
    print(result.html)
    if counts.shards_failed:
        _report_failed_shards(counts.shards_failed, result.stats_json)
        return EXIT_FAILED_SHARDS
    return EXIT_COMPLETE


def _report_failed_shards(failed: dict[str, str], stats_json: Path) -> None:
    """Exit 3 tells a scheduler the report is partial; the shards and why go to stderr."""
    print(f"{len(failed)} shard(s) failed (stats and report written without them; run the same "
          f"command again to retry them; listed in {stats_json}):", file=sys.stderr)
    for shard_id, error in sorted(failed.items()):
        print(f"  {shard_id}: {error}", file=sys.stderr)


def _refuse_if_no_shard_had_the_columns(counts, columns: dict[str, str], stats_json: Path) -> None:
    """Every row skipped for a missing column: a wrong mapping or input, not data to report on."""
    reasons = [r for r, n in counts.skipped.items() if n]
    prefix = "missing_column:"
    if counts.tagged or not reasons or not all(r.startswith(prefix) for r in reasons):
        return
    missing = sorted({r[len(prefix):] for r in reasons})
    mapped = [f"{c}={columns[c]}" for c in missing if c in columns]
    looked_for = f" (mapped as {', '.join(mapped)})" if mapped else ""
    raise UserError(
        f"no shard has the column(s) {', '.join(missing)}{looked_for}: name yours with "
        f"--columns {missing[0]}=<your column> (the empty run's accounting is in {stats_json})")


# flag -> tagger setting, and the taggers it applies to
MODEL_FLAGS = {
    "model": ("model", ("clip", "clip_text")),
    "pretrained": ("pretrained", ("clip", "clip_text")),
    "device": ("device", ("clip", "clip_text")),
    "precision": ("precision", ("clip", "clip_text")),
    "model_batch_size": ("batch_size", ("clip", "clip_text")),
    "allow_random_weights": ("allow_random_weights", ("clip", "clip_text")),
    "prompts": ("prompts_path", ("clip",)),
    "thresholds": ("thresholds_path", ("clip",)),
}


def _apply_model_flags(spec, args: argparse.Namespace) -> None:
    """Model flags win over the pipeline's [taggers.clip] / [taggers.clip_text] tables."""
    for flag, (setting, taggers) in MODEL_FLAGS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        if flag in ("prompts", "thresholds") or (flag == "pretrained" and Path(value).exists()):
            value = str(Path(value).resolve())
        for tagger in taggers:
            spec.tagger_settings.setdefault(tagger, {})[setting] = value
    used = [f"--{f.replace('_', '-')}" for f in MODEL_FLAGS if getattr(args, f, None) is not None]
    if used and not {"clip", "clip_text"} & set(spec.taggers):
        raise UserError(f"{used[0]} configures the CLIP taggers: add --taggers ...,clip (or clip_text)")


def _report(args: argparse.Namespace) -> int:
    from profiler.report.writer import rerender

    run_dir = Path(args.run_dir)
    if not (run_dir / "stats.json").is_file():
        raise UserError(f"{run_dir} is not a finished run: it has no stats.json")
    print(rerender(run_dir, redact=args.redact))
    return 0


def _status(args: argparse.Namespace) -> int:
    from profiler.engine.status import format_status, run_status, status_json

    status = run_status(Path(args.run_dir))
    print(status_json(status) if args.json else format_status(status))
    return EXIT_COMPLETE


def _compare(args: argparse.Namespace) -> int:
    from profiler.report.compare_report import load_stats_document, write_comparison

    baseline, current = load_stats_document(args.baseline), load_stats_document(args.current)
    name = f"compare-{baseline['run']['name']}-vs-{current['run']['name']}"
    out = Path(args.out) if args.out else Path("reports") / name
    print(write_comparison(out, baseline, current))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from profiler.demo_data import generate_sample

    out = generate_sample(args.out, args.shards, args.rows_per_shard, args.seed)
    print(out / "ground_truth.json")
    return 0


def _curate(args: argparse.Namespace) -> int:
    from profiler.curate import CurateRequest, run_curate

    result = run_curate(CurateRequest(
        run_dir=Path(args.run_dir), out=Path(args.out), where=args.where, mode=args.mode,
        key_list=args.key_list, copy_shards=args.copy_shards, target_shares=args.target_shares,
        min_support=args.min_support, overwrite=args.overwrite,
    ))
    print(result.table)
    print(f"\noutputs in {result.summary['out']} (curation.json lists them)", file=sys.stderr)
    return 0


def _label_sample(args: argparse.Namespace) -> int:
    from profiler.evaluation.sampling import label_sample

    result = label_sample(args.run_dir, args.n, args.out, args.seed, args.signals, args.html)
    print(f"{result.rows:,} rows from {result.strata} strata in {result.path} "
          f"({result.captions_found:,} with captions): fill in the label columns, then run "
          f"bias-profiler evaluate {args.run_dir} --labels {result.path}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from profiler.evaluation.evaluate import evaluate_run

    path, document = evaluate_run(args.run_dir, args.labels)
    for column, result in document["columns"].items():
        parts = [f"{m} {result[m]['value']:.2f} [{result[m]['low']:.2f}-{result[m]['high']:.2f}]"
                 if result[m]["value"] is not None else f"{m} -"
                 for m in ("precision", "recall", "specificity")]
        print(f"{column}: {result['n']} labels; {'; '.join(parts)}")
    print(f"{path}: run bias-profiler report {args.run_dir} for corrected rates")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from profiler.calibrate import CalibrateRequest, run_calibrate

    result = run_calibrate(CalibrateRequest(
        run_dir=Path(args.run_dir), labels=Path(args.labels), out=Path(args.out), score=args.score,
        target_precision=args.target_precision, overwrite=args.overwrite,
    ))
    print(result.table)
    use = (f'thresholds_path = "{result.path}" in [taggers.nsfw]' if args.score.startswith("nsfw.")
           else f"profile with --thresholds {result.path}")
    print(f"\nthresholds in {result.path} (version {result.thresholds.version}): {use}", file=sys.stderr)
    return 0
