"""Benchmark of the caption path: read + tag + count of LAION-style caption shards.

Why this exists: the caption path (identity person mentions x sexualized terms) has to keep
up with reading the data. Figures are measured as ratios (BENCHMARKS.md, "Method")
against baselines timed in the same run on the same machine, with the floor known. Here:

  * baseline A (the floor): pyarrow reading only the caption column from every shard;
  * baseline B: a straightforward per-caption pure-Python `re` loop doing the same tagging
    work (same lexicons, same 4-token adjective -> person-noun window) and tallying counts;
  * the product: `process_shard` over every shard in one process (with and without writing
    the per-sample tag parquet), and `run_profile` end to end with 1 and with 2 workers.

The input is built once from the 5,000 real captions in ../shared (repeated to `--rows`,
8 shards, ~32k-row row groups, LAION columns TEXT, URL, punsafe, NSFW) and cached in
bench/out/. Results are printed and written to bench/out/caption_profile.json.

    .venv/bin/python bench/caption_profile.py [--rows 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from profiler.tomlcompat import tomllib

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CAPTIONS = SHARED / "data" / "real-captions" / "captions-5k.parquet"
OUT = ROOT / "bench" / "out"
LEXICONS = ROOT / "profiler" / "resources" / "lexicons"
SHARDS = 8
ROW_GROUP = 32_768
TAGGERS = ("identity", "sexual_terms", "dataset")
WINDOW = 4  # same window as profiler.taggers.identity.WINDOW
COLOUR_BLOCKERS = ("off", "jet", "pure", "snow", "bright", "solid", "all", "matte", "glossy",
                   "pearl", "true", "ivory", "in", "wearing", "with")  # the product's default
SEED = 0


# ---------------------------------------------------------------------------------------------
# Input data


def build_dataset(rows: int, out: Path = OUT, shards: int = SHARDS) -> Path:
    """The cached LAION-style dataset folder for `rows` rows in `shards` files (built on first
    use; bench/engine_scale.py asks for other shard counts)."""
    folder = out / (f"laion-{rows}" if shards == SHARDS else f"laion-{rows}-{shards}-shards")
    marker = folder / "_complete.json"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = pq.read_table(CAPTIONS, columns=["TEXT", "URL"])
    rng = np.random.default_rng(SEED)
    per_shard = -(-rows // shards)
    for index, start in enumerate(range(0, rows, per_shard)):
        stop = min(start + per_shard, rows)
        table = _laion_rows(source, start, stop, rng)
        pq.write_table(table, folder / f"part-{index:05d}.parquet", row_group_size=ROW_GROUP)
    marker.write_text(json.dumps({"rows": rows, "shards": shards, "source": str(CAPTIONS)}))
    return folder


def _laion_rows(source: pa.Table, start: int, stop: int, rng: np.random.Generator) -> pa.Table:
    """Rows [start, stop) of the captions repeated end to end, with LAION's score columns."""
    picked = pa.array(np.arange(start, stop) % source.num_rows)
    n = stop - start
    labels = rng.choice(["UNLIKELY", "UNSURE", "NSFW"], size=n, p=[0.9, 0.07, 0.03])
    return pa.table({
        "TEXT": source.column("TEXT").take(picked),
        "URL": source.column("URL").take(picked),
        "punsafe": pa.array(rng.random(n), pa.float64()),
        "NSFW": pa.array(labels, pa.string()),
    })


def parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet"))


# ---------------------------------------------------------------------------------------------
# Timing helpers


@dataclass
class Timing:
    """Best and all wall-clock seconds of repeated runs over `rows` rows."""

    name: str
    rows: int
    seconds: list[float]
    note: str = ""
    busy_before: float = 0.0  # share of the machine's CPU in use just before (other users)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.best


def cpu_jiffies() -> tuple[int, int]:
    """(total, idle + iowait) CPU time so far, from /proc/stat."""
    with open("/proc/stat", encoding="utf-8") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return sum(values), values[3] + values[4]


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all cores in use over `seconds` (from /proc/stat): other load on the machine."""
    total, idle = cpu_jiffies()
    time.sleep(seconds)
    total2, idle2 = cpu_jiffies()
    return 1 - (idle2 - idle) / max(total2 - total, 1)


def wait_for_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """Wait (up to max_wait s) until the machine is nearly idle; returns the last busy share."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy()
    return busy


def best_of(name: str, rows: int, repeats: int, run: Callable[[], Any], note: str = "") -> Timing:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return Timing(name, rows, seconds, note)


# ---------------------------------------------------------------------------------------------
# Baseline A: the floor, pyarrow reading the caption column


def read_captions(files: Iterable[Path]) -> int:
    rows = 0
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(columns=["TEXT"]):
            rows += batch.num_rows
    return rows


# ---------------------------------------------------------------------------------------------
# The product: process_shard in one process, run_profile end to end


def _shard_jobs(folder: Path, out: Path, write_tags: bool) -> list[Any]:
    from profiler.config import DEFAULT_BATCH_SIZE
    from profiler.engine.shard import ShardJob
    from profiler.sources import discover_shards

    return [
        ShardJob(shard, str(out), TAGGERS, json.dumps({}), (), DEFAULT_BATCH_SIZE, write_tags, 3)
        for shard in discover_shards([str(folder)])
    ]


def profile_shards(folder: Path, out: Path, write_tags: bool) -> list[Any]:
    """Read + tag + count every shard into a fresh run folder, in this process."""
    from profiler.engine.shard import process_shard

    shutil.rmtree(out, ignore_errors=True)
    (out / "parts").mkdir(parents=True)
    (out / "tags").mkdir()
    results = [process_shard(job) for job in _shard_jobs(folder, out, write_tags)]
    failed = [r for r in results if r.error]
    if failed:
        raise RuntimeError(f"process_shard failed: {failed[0].shard_id}: {failed[0].error}")
    return results


def profile_in_child(folder: str, write_tags: bool, repeats: int) -> dict[str, Any]:
    """Runs in a fresh process: timings, tagger start-up and the process's peak RSS."""
    from profiler.engine.shard import cached_taggers

    started = time.perf_counter()
    cached_taggers(TAGGERS, json.dumps({}))
    startup = time.perf_counter() - started
    seconds, cpu, rows = [], [], 0
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        for repeat in range(repeats):
            out = Path(tmp) / f"run-{repeat}"
            begun, cpu_begun = time.perf_counter(), time.process_time()
            results = profile_shards(Path(folder), out, write_tags)
            seconds.append(time.perf_counter() - begun)
            cpu.append(time.process_time() - cpu_begun)
            rows = sum(r.rows for r in results)
            tags_bytes = sum(p.stat().st_size for p in (out / "tags").glob("*.parquet"))
            person_rows = _person_mentions(out)
            shutil.rmtree(out)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cores = cpu[seconds.index(min(seconds))] / min(seconds)
    return {"seconds": seconds, "cores_used": cores, "rows": rows, "tagger_startup_s": startup,
            "peak_rss_mib": peak_kb / 1024, "tags_bytes": tags_bytes, "person_rows": person_rows}


def _person_mentions(out: Path) -> dict[str, int]:
    """Rows with a person mention per population, from the run folder's merged counts."""
    from profiler.counting.counts import Counts, merge_all

    parts = [Counts.from_dict(json.loads(p.read_text())) for p in (out / "parts").glob("*.counts.json")]
    counts = merge_all(parts)
    return {p: counts.population_rows(p) for p in counts.populations if counts.population_rows(p)}


def measure_in_child(folder: Path, write_tags: bool, repeats: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(profile_in_child, str(folder), write_tags, repeats).result()


def run_engine(folder: Path, workers: int, executor: str) -> tuple[float, float]:
    """run_profile end to end into a fresh folder; taggers are rebuilt (no warm cache)."""
    from profiler.config import RunSpec
    from profiler.engine import run_profile
    from profiler.engine.shard import cached_taggers

    cached_taggers.cache_clear()
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        spec = RunSpec(name="bench", sources=[str(folder)], out=Path(tmp) / "run",
                       workers=workers, executor=executor, write_tags=False)
        shard_seconds: list[float] = []
        started = time.perf_counter()
        result = run_profile(spec, on_shard=lambda r: shard_seconds.append(r.seconds))
        seconds = time.perf_counter() - started
        if result.counts.shards_failed:
            raise RuntimeError(f"run_profile shards failed: {result.counts.shards_failed}")
    return seconds, sum(shard_seconds) / len(shard_seconds)


def measure_engine(folder: Path, rows: int, workers: int, executor: str, repeats: int) -> Timing:
    runs = [run_engine(folder, workers, executor) for _ in range(repeats)]
    seconds = [total for total, _ in runs]
    per_shard = runs[seconds.index(min(seconds))][1]
    note = (f"run_profile (start-up, tagger build, merge, stats, report); "
            f"mean {per_shard:.2f}s per shard inside a worker")
    label = f"engine end to end, {workers} worker(s)" + (f", {executor}" if workers > 1 else "")
    return Timing(label, rows, seconds, note)


# ---------------------------------------------------------------------------------------------
# Baseline B: a straightforward per-caption pure-Python `re` loop

TOKEN = re.compile(r"[\w']+")
SEPARATOR = r"[\s\-_]+"


@dataclass
class PyLexicon:
    """The identity and sexual-term lexicons as Python sets, dicts and `re` patterns."""

    adjectives: dict[tuple[str, ...], str]  # identity term -> group (describes a person)
    nouns: dict[tuple[str, ...], tuple[str, str]]  # identity noun -> (group, gender)
    colour: set[str]
    person: dict[str, str]  # person noun surface -> gender
    possessive: set[str]  # possessive person nouns ("women's", "mens")
    product: set[str]  # "white mens watch", "Black Lady Designs" are products or brands
    colour_blockers: set[str]  # "off white", "jet black"
    filler: set[str]  # modifiers and connectors allowed between adjective and noun
    candidates: frozenset[str]
    longest: int
    identity_neutral: re.Pattern[str]
    sexual_any: re.Pattern[str]
    explicit: re.Pattern[str]
    suggestive: re.Pattern[str]
    sexual_neutral: re.Pattern[str]


def _words(term: str) -> tuple[str, ...]:
    return tuple(TOKEN.findall(term.lower()))


def _regex(terms: Iterable[str], plural: bool = False) -> re.Pattern[str]:
    """Compiled whole-word alternation, longest first (same shape as the product's patterns)."""
    unique = sorted({t.strip().lower() for t in terms}, key=lambda t: (-len(t), t))
    body = "|".join(SEPARATOR.join(re.escape(w) for w in t.split()) for t in unique)
    return re.compile(rf"\b(?:{body}){'(?:e?s)?' if plural else ''}\b")


def load_py_lexicon() -> PyLexicon:
    identity = tomllib.loads((LEXICONS / "identity.toml").read_text(encoding="utf-8"))
    sexual = tomllib.loads((LEXICONS / "sexual_terms.toml").read_text(encoding="utf-8"))
    adjectives: dict[tuple[str, ...], str] = {}
    nouns: dict[tuple[str, ...], tuple[str, str]] = {}
    colour: set[str] = set()
    for group, spec in identity["terms"].items():
        for term in [*spec.get("adjectives", []), *spec.get("colour", [])]:
            adjectives[_words(term)] = group
        colour.update(t.lower() for t in spec.get("colour", []))
        for key, gender in (("nouns", "unspecified"), ("female_nouns", "female"),
                            ("male_nouns", "male")):
            nouns.update({_words(t): (group, gender) for t in spec.get(key, [])})
    person, possessive = _person_nouns(identity["person_nouns"])
    grammar = identity["grammar"]
    filler = {w.lower() for w in [*grammar["modifiers"], *grammar["connectors"]]}
    terms = [*adjectives, *nouns]
    explicit = sexual["levels"]["explicit"]["terms"]
    suggestive = sexual["levels"]["suggestive"]["terms"]
    return PyLexicon(
        adjectives=adjectives, nouns=nouns, colour=colour, person=person, filler=filler,
        possessive=possessive, product=_product_nouns(grammar),
        colour_blockers={w.lower() for w in grammar.get("colour_blockers", COLOUR_BLOCKERS)},
        candidates=frozenset({w for t in terms for w in t} | set(person)),
        longest=max(len(t) for t in terms),
        identity_neutral=_regex(grammar["neutral_phrases"]),
        sexual_any=_regex([*explicit, *suggestive], plural=True),
        explicit=_regex(explicit, plural=True),
        suggestive=_regex(suggestive, plural=True),
        sexual_neutral=_regex(sexual["neutral"]["phrases"], plural=True),
    )


def _person_nouns(table: dict[str, list[str]]) -> tuple[dict[str, str], set[str]]:
    person: dict[str, str] = {}
    possessive = {p.lower() for p in table["possessive"]}
    for gender in ("female", "male", "unspecified"):
        for noun in (n.lower() for n in table[gender]):
            person.setdefault(noun, gender)
            for form in (f"{noun}'s", f"{noun}'"):
                person.setdefault(form, gender)
                possessive.add(form)
    for form in table["possessive"]:
        person.setdefault(form.lower(), "unspecified")
    return person, possessive - {n.lower() for g in ("female", "male", "unspecified")
                                 for n in table[g]}


def _product_nouns(grammar: dict[str, Any]) -> set[str]:
    """`product_nouns` (older lexicons: `garment_nouns`)."""
    words = grammar.get("product_nouns", grammar.get("garment_nouns", []))
    return {w.lower() for w in words}


def sexual_level(lex: PyLexicon, text: str) -> str:
    if not lex.sexual_any.search(text):
        return "none"
    text = lex.sexual_neutral.sub(" ", text)
    if lex.explicit.search(text):
        return "explicit"
    return "suggestive" if lex.suggestive.search(text) else "none"


def person_mentions(lex: PyLexicon, text: str) -> set[tuple[str, str]]:
    """(group, gender) of each identity term that describes a person in the caption."""
    tokens = TOKEN.findall(text)
    if lex.candidates.isdisjoint(tokens):
        return set()
    tokens = TOKEN.findall(lex.identity_neutral.sub(" ", text))
    found: set[tuple[str, str]] = set()
    i = 0
    while i < len(tokens):
        term, kind, group = _term_at(lex, tokens, i)
        if term:
            colour = term[0] in lex.colour and (i == 0 or tokens[i - 1] not in lex.colour_blockers)
            gender = _person_after(lex, tokens, i + len(term), colour)
            if gender:
                found.add((group, gender))
            elif kind == "noun":
                found.add(lex.nouns[term])
            i += len(term)
        else:
            i += 1
    return found


def _term_at(lex: PyLexicon, tokens: list[str], i: int) -> tuple[tuple[str, ...], str, str]:
    """The longest identity term starting at token i: (words, 'noun'|'adjective', group)."""
    for size in range(min(lex.longest, len(tokens) - i), 0, -1):
        words = tuple(tokens[i:i + size])
        if words in lex.nouns:
            return words, "noun", lex.nouns[words][0]
        if words in lex.adjectives:
            return words, "adjective", lex.adjectives[words]
    return (), "", ""


def _person_after(lex: PyLexicon, tokens: list[str], start: int, colour: bool) -> str:
    """Gender of the first person noun within WINDOW tokens, crossing only filler words."""
    for j in range(start, min(start + WINDOW, len(tokens))):
        token = tokens[j]
        if token in lex.person:
            product = j + 1 < len(tokens) and tokens[j + 1] in lex.product
            if product and (colour or token in lex.possessive):
                return ""
            if colour and (j != start or token in lex.possessive):
                return ""
            return lex.person[token]
        if colour or not (token in lex.filler or token in lex.candidates):
            return ""
    return ""


def python_loop(lex: PyLexicon, captions: list[str | None]) -> Counter:
    """Tag every caption and tally (group, gender, sexual level) rows, one caption at a time."""
    counts: Counter = Counter()
    for caption in captions:
        if not caption or not caption.strip():
            counts["skipped"] += 1
            continue
        text = caption.lower().replace("\u2019", "'")
        level = sexual_level(lex, text)
        counts[("all", level)] += 1
        mentions = person_mentions(lex, text)
        if mentions:
            counts[("person_mention", level)] += 1
        for group in {g for g, _ in mentions}:
            counts[(group, level)] += 1
        for group, gender in mentions:
            counts[(group, gender, level)] += 1
    return counts


def first_captions(files: list[Path], rows: int) -> list[str | None]:
    """The first `rows` captions of the dataset, as Python strings (the loop's input)."""
    captions: list[str | None] = []
    for path in files:
        captions += pq.read_table(path, columns=["TEXT"]).column("TEXT").to_pylist()
        if len(captions) >= rows:
            break
    return captions[:rows]


def measure_python_loop(folder: Path, rows: int, repeats: int) -> tuple[Timing, Counter]:
    captions = first_captions(parquet_files(folder), rows)
    lex = load_py_lexicon()
    result: Counter = Counter()

    def run() -> None:
        nonlocal result
        result = python_loop(lex, captions)

    timing = best_of("Python re loop (baseline B)", len(captions), repeats, run,
                     f"tag + tally only, on the first {len(captions):,} rows (in memory)")
    return timing, result


# ---------------------------------------------------------------------------------------------
# Machine, report


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def child_timing(name: str, rows: int, data: dict[str, Any]) -> Timing:
    note = (f"in a fresh process; peak RSS {data['peak_rss_mib']:.0f} MiB; "
            f"{data['cores_used']:.2f} cores busy; tagger build {data['tagger_startup_s']:.2f}s untimed")
    return Timing(name, rows, data["seconds"], note)


def table(timings: list[Timing], floor: Timing, loop: Timing) -> str:
    lines = [f"{'measurement':<46} {'best s':>8} {'rows/s':>12} {'vs read':>8} {'vs loop':>8}"]
    for t in timings:
        lines.append(
            f"{t.name:<46} {t.best:>8.3f} {t.rows_per_s:>12,.0f} "
            f"{t.rows_per_s / floor.rows_per_s:>8.3f} {t.rows_per_s / loop.rows_per_s:>8.1f}"
        )
    return "\n".join(lines)


def to_json(timings: list[Timing], floor: Timing, loop: Timing) -> list[dict[str, Any]]:
    return [{
        "name": t.name, "rows": t.rows, "seconds": [round(s, 4) for s in t.seconds],
        "best_s": round(t.best, 4), "rows_per_s": round(t.rows_per_s),
        "ratio_vs_pyarrow_read": round(t.rows_per_s / floor.rows_per_s, 4),
        "ratio_vs_python_loop": round(t.rows_per_s / loop.rows_per_s, 2), "note": t.note,
        "machine_busy_before": round(t.busy_before, 3),
    } for t in timings]


def agreement(loop_counts: Counter, product: dict[str, int], scale: float) -> dict[str, Any]:
    """Person-mention rows per group: the loop (scaled to all rows) next to the product."""
    levels = ("none", "suggestive", "explicit")
    rows = {}
    for population in sorted(product):
        loop = sum(loop_counts[(population, level)] for level in levels) * scale
        rows[population] = {"product": product[population], "python_loop_scaled": round(loop)}
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="dataset rows (default 1M)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--loop-rows", type=int, default=100_000,
                        help="rows timed with the pure-Python loop (default 100k)")
    parser.add_argument("--engine-repeats", type=int, default=3,
                        help="best of N for run_profile end to end (default 3)")
    parser.add_argument("--quiet-wait", type=float, default=60,
                        help="seconds to wait for an idle machine before each measurement")
    return parser.parse_args(argv)


def measure_all(args: argparse.Namespace, folder: Path) -> tuple[list[Timing], dict, Counter]:
    """Every measurement, each after waiting for the shared machine to be (nearly) idle."""
    files = parquet_files(folder)
    read_captions(files)  # warm the page cache: every measurement reads from memory
    busy = wait_for_quiet(args.quiet_wait)
    floor = best_of("pyarrow caption read (baseline A, floor)", args.rows, args.repeats,
                    lambda: read_captions(files), "iter_batches(columns=['TEXT']), every shard")
    floor.busy_before = busy
    busy = wait_for_quiet(args.quiet_wait)
    loop, loop_counts = measure_python_loop(folder, min(args.loop_rows, args.rows), args.repeats)
    loop.busy_before = busy
    print(f"baseline A {floor.rows_per_s:,.0f} rows/s; baseline B {loop.rows_per_s:,.0f} rows/s",
          flush=True)
    children, timings = {}, [floor]
    for write_tags, name in ((False, "process_shard x8, 1 process (read+tag+count)"),
                             (True, "process_shard x8, 1 process, + write tags")):
        busy = wait_for_quiet(args.quiet_wait)
        children[write_tags] = measure_in_child(folder, write_tags, args.repeats)
        timings.append(child_timing(name, args.rows, children[write_tags]))
        timings[-1].busy_before = busy
    for workers, executor in ((1, "threads"), (2, "threads"), (2, "processes")):
        busy = wait_for_quiet(args.quiet_wait)
        timings.append(measure_engine(folder, args.rows, workers, executor, args.engine_repeats))
        timings[-1].busy_before = busy
    return [*timings, loop], children, loop_counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not CAPTIONS.exists():
        print(f"SKIP: {CAPTIONS} not found: this benchmark needs ../shared (the real captions)")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    folder = build_dataset(args.rows)
    print(f"dataset: {folder} ({len(parquet_files(folder))} shards, {args.rows:,} rows)",
          flush=True)
    load_before = os.getloadavg()
    timings, children, loop_counts = measure_all(args, folder)
    floor, loop = timings[0], timings[-1]
    print(table(timings, floor, loop))
    result = {
        "command": ".venv/bin/python bench/caption_profile.py " + " ".join(sys.argv[1:]),
        "rows": args.rows, "shards": len(parquet_files(folder)), "row_group_size": ROW_GROUP,
        "repeats": args.repeats, "engine_repeats": args.engine_repeats,
        "machine": machine(),
        "loadavg": {"before": load_before, "after": os.getloadavg()},
        "results": to_json(timings, floor, loop),
        "single_process": {
            "peak_rss_mib": {"read_tag_count": round(children[False]["peak_rss_mib"], 1),
                             "with_write_tags": round(children[True]["peak_rss_mib"], 1)},
            "cores_used": round(children[False]["cores_used"], 2),
            "tagger_startup_s": round(children[False]["tagger_startup_s"], 3),
            "tags_parquet_bytes": children[True]["tags_bytes"],
        },
        "person_mention_rows": agreement(loop_counts, children[False]["person_rows"],
                                         args.rows / loop.rows),
        "total_s": round(time.perf_counter() - started, 1),
    }
    (OUT / "caption_profile.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT / 'caption_profile.json'} in {result['total_s']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
