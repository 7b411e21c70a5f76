"""`bias-profiler label-sample`: a stratified sample of a finished run, ready for hand labelling.

Strata: the first identity group a row mentions (or none) x which of the chosen signals flag it.
Half the rows are allocated equally per stratum (capped by its size), so rare strata (a small
group's flagged rows) get as many labels as common ones and a few hundred labels say something
about every group; the other half goes in proportion to size, because the large unflagged strata
decide recall. Each row's `weight` is its inverse inclusion probability (stratum rows / rows
drawn). The draw is deterministic for a seed; rows are listed in random order so the labeller
does not see strata one after another.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from profiler.errors import UserError
from profiler.evaluation.labels import INFO_COLUMNS, WEIGHT
from profiler.evaluation.runview import PERSON_MENTION, RunView, open_run_view
from profiler.files import atomic_write_bytes
from profiler.schema import CAPTION, KEY, URL

log = logging.getLogger("profiler.evaluation")
MAX_SIGNALS = 8  # strata grow as 2^signals


@dataclass(frozen=True)
class SampleResult:
    path: Path
    rows: int
    strata: int
    captions_found: int


def allocate(sizes: np.ndarray, n: int) -> np.ndarray:
    """Half of `n` equally per stratum (capped by its size: rare strata oversampled), the other
    half in proportion to the rows left (the large unflagged strata decide recall: every missed
    row there weighs thousands)."""
    sizes = np.asarray(sizes, np.int64)
    if n >= sizes.sum():
        return sizes.copy()
    take = _equal(sizes, n // 2)
    left = n - int(take.sum())
    room = sizes - take
    share = left * room / room.sum()
    extra = np.minimum(np.floor(share).astype(np.int64), room)
    take += extra
    left -= int(extra.sum())
    for i in np.argsort(-(share - np.floor(share)), kind="stable"):  # largest remainders first
        if left == 0:
            break
        if take[i] < sizes[i]:
            take[i] += 1
            left -= 1
    return take


def _equal(sizes: np.ndarray, n: int) -> np.ndarray:
    """Equal allocation capped by stratum size: the largest c with sum(min(size, c)) <= n."""
    low, high = 0, int(sizes.max())
    while low < high:
        c = (low + high + 1) // 2
        if np.minimum(sizes, c).sum() <= n:
            low = c
        else:
            high = c - 1
    return np.minimum(sizes, low)


def label_sample(run_dir: str, n: int, out: str, seed: int = 0,
                 signals: list[str] | None = None, html: str | None = None) -> SampleResult:
    """Draw the sample and write the labels CSV (empty label columns) to `out`.

    Two streaming passes over the run's tags (memory grows with the strata and `n`, not the run):
    one counts the strata, one keeps each stratum's rows of lowest random priority."""
    if n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    view = open_run_view(run_dir)
    chosen = _signals(view, signals)
    sizes: dict[int, int] = {}
    for _, codes, _ in _coded(view, chosen, seed):
        values, counts = np.unique(codes, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            sizes[value] = sizes.get(value, 0) + count
    if not sizes:
        raise UserError(f"{run_dir} has no tagged rows to sample")
    strata = np.array(sorted(sizes), np.int64)
    size = np.array([sizes[c] for c in strata.tolist()], np.int64)
    take = dict(zip(strata.tolist(), allocate(size, n).tolist(), strict=True))
    records = _draw(view, chosen, seed, take)
    records.sort(key=lambda r: r["priority"])
    captions = _captions(view, {r[KEY] for r in records})
    label_columns = [*chosen, *([PERSON_MENTION] if PERSON_MENTION in view.columns else [])]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([KEY, *INFO_COLUMNS, WEIGHT, *label_columns])
    shown = []
    for record in records:
        caption, url = captions.get(record[KEY], ("", ""))
        weight = sizes[record["code"]] / take[record["code"]]
        stratum = _stratum_name(view, chosen, record["code"])
        writer.writerow([record[KEY], caption, url, stratum, "; ".join(record["groups"]),
                         ", ".join(record["flagged"]), record["shard"], f"{weight:.6g}",
                         *[""] * len(label_columns)])
        shown.append({"key": record[KEY], "caption": caption, "url": url, "stratum": stratum})
    path = Path(out)
    _write(path, buffer.getvalue())
    if html:
        from profiler.evaluation.sheet import render_sheet

        _write(Path(html), render_sheet(view.run.spec.get("name") or str(run_dir), path.name, shown,
                                        label_columns))
    return SampleResult(path, len(records), sum(1 for t in take.values() if t),
                        sum(1 for c in captions.values() if c[0]))


def _write(path: Path, text: str) -> None:
    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror}") from None


def _coded(view: RunView, chosen: list[str], seed: int):
    """Each batch with its rows' stratum codes and random priorities (the same on every pass:
    one generator per shard, seeded with the seed and the shard's position)."""
    index = {shard_id: i for i, shard_id in enumerate(view.run.shard_ids)}
    generators: dict[str, np.random.Generator] = {}
    for batch in view.batches(chosen):
        rng = generators.setdefault(batch.shard_id, np.random.default_rng([seed, index[batch.shard_id]]))
        code = batch.stratum.astype(np.int64) << len(chosen)
        for bit, name in enumerate(chosen):
            code |= (batch.flags[name] == 1).astype(np.int64) << bit
        yield batch, code, rng.random(len(batch.keys))


def _draw(view: RunView, chosen: list[str], seed: int, take: dict[int, int]) -> list[dict]:
    """Each stratum's `take` rows of lowest priority, with what the labeller sees of them."""
    kept_code = np.zeros(0, np.int64)
    kept_priority = np.zeros(0)
    kept: list[dict] = []
    strata = np.array(sorted(take), np.int64)
    quota = np.array([take[c] for c in strata.tolist()], np.int64)
    for batch, codes, priority in _coded(view, chosen, seed):
        code = np.concatenate([kept_code, codes])
        prio = np.concatenate([kept_priority, priority])
        order = np.lexsort((prio, code))
        sorted_code = code[order]
        first = np.searchsorted(sorted_code, sorted_code, side="left")
        rank = np.arange(order.size) - first
        limit = quota[np.searchsorted(strata, sorted_code)]
        survivors = np.sort(order[rank < limit])
        old = survivors[survivors < len(kept)]
        new = survivors[survivors >= len(kept)] - len(kept)
        kept = ([kept[i] for i in old.tolist()]
                + [_record(batch, chosen, i, codes, priority) for i in new.tolist()])
        kept_code = np.concatenate([kept_code[old], codes[new]])
        kept_priority = np.concatenate([kept_priority[old], priority[new]])
    return kept


def _record(batch, chosen: list[str], i: int, codes: np.ndarray, priority: np.ndarray) -> dict:
    return {KEY: batch.keys[i].as_py(), "shard": batch.shard_id, "groups": batch.groups[i].as_py() or [],
            "flagged": [c for c in chosen if batch.flags[c][i] == 1], "code": int(codes[i]),
            "priority": float(priority[i])}


def _signals(view: RunView, signals: list[str] | None) -> list[str]:
    available = [c for c in view.columns if c != PERSON_MENTION]
    if signals is None:
        chosen = available
    else:
        unknown = [s for s in signals if s not in available]
        if unknown:
            raise UserError(f"unknown signal(s) {', '.join(unknown)}: this run has {', '.join(available)}")
        chosen = list(dict.fromkeys(signals))
    if len(chosen) > MAX_SIGNALS:
        raise UserError(f"{len(chosen)} signals make too many strata: pick at most {MAX_SIGNALS} "
                        "with --signals")
    return chosen


def _stratum_name(view: RunView, chosen: list[str], code: int) -> str:
    group = view.strata[code >> len(chosen)]
    flagged = [name for bit, name in enumerate(chosen) if code >> bit & 1]
    return f"{group} | {' + '.join(flagged) if flagged else 'not flagged'}"


def _captions(view: RunView, keys: set[str]) -> dict[str, tuple[str, str]]:
    """Caption and URL of the sampled keys, read back from the run's sources (empty if moved)."""
    from profiler.sources.columns import ColumnMapping
    from profiler.sources.discover import discover_shards
    from profiler.sources.reader import read_shard

    spec = view.run.spec
    found: dict[str, tuple[str, str]] = {}
    try:
        shards = discover_shards(spec.get("sources") or [], spec.get("source_format") or "auto",
                                 exclude=[str(view.run.root)])
    except UserError as error:
        log.warning("captions not filled in: %s", error)
        return found
    mapping = ColumnMapping(dict(spec.get("columns") or {}))
    wanted = set(view.run.shard_ids)
    for shard in shards:
        if shard.id not in wanted:
            continue
        try:
            for batch in read_shard(shard, [CAPTION], [URL], mapping):
                batch_keys = batch.column(KEY).to_pylist()
                captions = batch.column(CAPTION).to_pylist()
                urls = (batch.column(URL).to_pylist() if URL in batch.schema.names
                        else [None] * len(batch_keys))
                for key, caption, url in zip(batch_keys, captions, urls, strict=True):
                    if key in keys and key not in found:
                        found[key] = (caption or "", url or "")
        except Exception as error:  # a moved or unreadable source: the sample is still usable
            log.warning("captions of %s not filled in: %s", shard.id, error)
    return found
