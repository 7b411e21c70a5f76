"""`bias-profiler curate`: apply a filter to a profiled run, shard by shard, and write its outputs.

    <out>/kept_keys.txt|.parquet, kept_uids.npy   the kept (or, with --list removed, removed) keys
    <out>/shards/<shard id>.parquet               filtered copies of the input shards (--shards)
    <out>/weights.parquet, weights.json           rebalancing weights of kept rows (--target-shares)
    <out>/impact.json, impact.csv                 the filter's impact per group and intersection
    <out>/curation.json                           what was done, row accounting, output paths
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from profiler.counting.populations import Populations
from profiler.curate.compile import compile_filter
from profiler.curate.impact import DROP, KEEP, FilterSpec, ImpactAccumulator, populations_of
from profiler.curate.outputs import KeyListWriter, copy_filtered_shard
from profiler.curate.signals import available_signals
from profiler.curate.tables import impact_csv, impact_text, weights_text
from profiler.curate.tagged import TaggedRun, open_tagged_run
from profiler.curate.weights import Raking, build_raking, parse_targets
from profiler.defaults import CONFIDENCE, MIN_SUPPORT
from profiler.errors import UserError
from profiler.files import atomic_write_bytes, atomic_write_json
from profiler.schema import KEY
from profiler.sources import discover_shards
from profiler.sources.columns import ColumnMapping

LISTS = ("kept", "removed")


@dataclass
class CurateRequest:
    run_dir: Path
    out: Path
    where: str | None = None
    mode: str = DROP
    key_list: str = "kept"
    copy_shards: bool = False
    target_shares: str | None = None
    min_support: int = MIN_SUPPORT
    confidence: float = CONFIDENCE
    overwrite: bool = False


@dataclass
class CurateResult:
    summary: dict[str, Any]
    table: str


def run_curate(request: CurateRequest) -> CurateResult:
    """Validate everything first (expression, targets, folders), then stream the run once
    (plus once more for weights)."""
    if request.mode not in (DROP, KEEP) or request.key_list not in LISTS:
        raise UserError("mode must be drop or keep, and the key list kept or removed")
    if request.min_support < 1:
        raise UserError("--min-support must be a positive integer")
    run = open_tagged_run(request.run_dir)
    vocabulary = run.vocabulary()
    expression, mode = (request.where, request.mode) if request.where is not None else ("true", KEEP)
    spec = FilterSpec("where", expression, expression, mode,
                      compile_filter(expression, run.schema, vocabulary))
    populations = populations_of(run)
    raking = build_raking(parse_targets(request.target_shares), populations) \
        if request.target_shares else None
    inputs = _input_shards(run) if request.copy_shards else {}
    out = _prepare_out(request, run)
    signals = available_signals(run.schema, vocabulary)
    accumulator = ImpactAccumulator(populations, signals, [spec])
    columns = [KEY, *[c for c in accumulator.columns(run.schema) if c != KEY]]
    mapping = ColumnMapping(dict(run.spec.get("columns") or {}))
    keys_out = KeyListWriter(out, request.key_list)
    copies: dict[str, dict[str, int]] = {}
    try:
        for shard_id in run.shard_ids:
            kept_parts, all_parts = [], []
            for table in run.batches(shard_id, columns):
                membership = populations.assign(table)
                (removed,) = accumulator.add(table, membership)
                keys = table.column(KEY).combine_chunks()
                keys_out.add(keys.filter(pa.array(~removed if request.key_list == "kept" else removed)))
                if raking is not None:
                    raking.add(*membership, ~removed)
                if inputs:
                    kept_parts.append(keys.filter(pa.array(~removed)))
                    all_parts.append(keys)
            if inputs:
                copies[shard_id] = copy_filtered_shard(
                    inputs[shard_id], mapping, _concat(kept_parts), _concat(all_parts),
                    out / "shards" / f"{shard_id}.parquet")
    except BaseException:
        keys_out.abort()
        raise
    key_info = keys_out.close()
    impact = accumulator.results(run.population_labels(), request.min_support, request.confidence)[0]
    atomic_write_json(out / "impact.json", impact)
    atomic_write_bytes(out / "impact.csv", impact_csv(impact))
    weights, weights_error = None, None
    if raking is not None:
        try:
            weights = _write_weights(run, spec, raking, populations, out)
        except UserError as error:  # the other outputs are complete: record them, then fail
            weights_error = str(error)
    summary = _summary(request, run, impact, key_info, copies, weights, out)
    summary["weights_error"] = weights_error
    atomic_write_json(out / "curation.json", summary)
    if weights_error:
        raise UserError(f"no weights written: {weights_error} (the other outputs are in {out})")
    labels = {s.name: s.label for s in signals}
    layout = ("DataComp u8,u8 uid pairs" if key_info["npy_layout"] == "datacomp_u8_pairs"
              else "unicode keys")
    notes = [f"\n{key_info['count']:,} {request.key_list} keys in {request.key_list}_keys.txt / .parquet; "
             f"{request.key_list}_uids.npy holds {key_info['npy_unique']:,} sorted {layout}."]
    if copies:
        rows = summary["input_rows"]
        notes.append(f"Filtered shard copies: {rows['written']:,} of {rows['read']:,} input rows in "
                     f"{out / 'shards'} ({rows['untagged_dropped']:,} rows the profile never tagged "
                     "are not copied).")
    if run.incomplete:
        notes.append(f"Note: {len(run.incomplete)} shard(s) of the run are incomplete and were left out "
                     "(finish the profile by running it again).")
    if key_info["duplicates"]:
        notes.append(f"Note: {key_info['duplicates']:,} listed keys repeat (the dataset reuses keys); the "
                     ".npy holds each key once and --shards copies every row of a kept key.")
    text = "\n".join([impact_text(impact, labels, request.min_support), *notes])
    return CurateResult(summary, text + ("\n\n" + weights_text(weights) if weights else ""))


def _concat(parts: list[pa.Array]) -> pa.Array:
    return pa.concat_arrays(parts) if parts else pa.array([], pa.string())


def _input_shards(run: TaggedRun) -> dict[str, Any]:
    """The run's input shards by id (ids depend on the whole source list, as when profiling)."""
    sources = run.spec.get("sources") or []
    if not sources:
        raise UserError(f"{run.root}/run.json names no sources: cannot copy the input shards")
    found = {shard.id: shard for shard in discover_shards(sources)}
    missing = [s for s in run.shard_ids if s not in found]
    if missing:
        raise UserError(
            f"input shard(s) {', '.join(missing[:3])} of the run are no longer among its sources "
            f"({', '.join(sources)}): were files moved or added? Re-profile, or drop --shards"
        )
    other = next((found[s] for s in run.shard_ids if found[s].format != "parquet"), None)
    if other is not None:
        raise UserError(f"--shards copies parquet inputs only; {other.id} is {other.format}: drop --shards "
                        "and use the key lists")
    return found


def _prepare_out(request: CurateRequest, run: TaggedRun) -> Path:
    out = Path(request.out)
    if out.resolve() == run.root.resolve():
        raise UserError("--out must not be the run folder itself: choose e.g. RUN/curated")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file: give a folder")
    previous = out / "curation.json"
    if out.exists() and any(out.iterdir()) and not request.overwrite:
        what = "a previous curation" if previous.exists() else "other files"
        raise UserError(f"{out} holds {what}: choose another --out or pass --overwrite")
    if previous.exists():  # outputs of the previous curation must not linger beside the new ones
        for names in json.loads(previous.read_text()).get("outputs", {}).values():
            for name in names:
                (out / name).unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {out}: {error.strerror}") from None
    return out


def _write_weights(run: TaggedRun, spec: FilterSpec, raking: Raking, populations: Populations,
                   out: Path) -> dict[str, Any]:
    """Second pass: the weight of every kept row, streamed to weights.parquet."""
    summary = raking.solve()
    columns = [KEY, *[c for c in populations.tag_columns() if c in run.schema.names]]
    columns += [c for c in spec.compiled.columns if c not in columns]
    path = out / "weights.parquet"
    tmp = path.with_name(".weights.parquet.partial")
    schema = pa.schema([(KEY, pa.string()), ("weight", pa.float64())])
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for shard_id in run.shard_ids:
            for table in run.batches(shard_id, columns):
                removed, _ = spec.removed(table)
                rows, cells = populations.assign(table)
                weight = raking.weights(rows, cells, table.num_rows)
                keep = pa.array(~removed)
                writer.write_table(pa.table({
                    KEY: table.column(KEY).combine_chunks().filter(keep),
                    "weight": pa.array(weight, pa.float64()).filter(keep),
                }, schema=schema))
    tmp.replace(path)
    atomic_write_json(out / "weights.json", summary)
    return summary


def _summary(request: CurateRequest, run: TaggedRun, impact: dict, key_info: dict, copies: dict,
             weights: dict | None, out: Path) -> dict[str, Any]:
    overall = impact["overall"]
    outputs: dict[str, Any] = {
        "keys": [f"{request.key_list}_keys.txt", f"{request.key_list}_keys.parquet",
                 f"{request.key_list}_uids.npy"],
        "impact": ["impact.json", "impact.csv"],
        "shards": [f"shards/{s}.parquet" for s in copies],
    }
    if weights is not None:
        outputs["weights"] = ["weights.parquet", "weights.json"]
    input_rows = {
        "read": sum(c["read"] for c in copies.values()),
        "written": sum(c["written"] for c in copies.values()),
        "untagged_dropped": sum(c["untagged"] for c in copies.values()),
    } if copies else None
    return {
        "run": str(run.root), "run_name": run.spec.get("name"),
        "where": request.where, "mode": impact["mode"], "key_list": request.key_list,
        "rows": {"tagged": overall["n"], "kept": overall["kept"], "removed": overall["removed"],
                 "unjudged": overall["unjudged"], "unjudged_rows_are": overall["unjudged_rows_are"]},
        "shards": {"curated": run.shard_ids, "incomplete_skipped": run.incomplete},
        "keys": key_info,
        "input_rows": input_rows,
        "weights": weights,
        "min_support": request.min_support, "confidence": request.confidence,
        "outputs": outputs,
        "out": str(out),
    }

