"""Benchmark of the language tagger next to the caption taggers it must not slow down.

Why this exists: without a language column the tagger hashes every key and classifies about
one caption in `sample_every` with py3langid; with a column it only normalises the codes. The
caption path has to stay at >= 1M rows/s, so this measures, in one process and on the same
batches, the rows/s of identity + sexual_terms (the caption path's taggers) and of the
language tagger in both modes, and the share of the caption path's time the language tagger
adds. Input: the 5,000 real captions in ../shared repeated to `--rows`, in batches of the
engine's default size, with a LAION-2B-multi style `language` column for the column mode.

    .venv/bin/python bench/language.py [--rows 2000000] [--repeats 3] [--sample-every 512]
        [--captions FILE.parquet]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from profiler.config import DEFAULT_BATCH_SIZE
from profiler.schema import CAPTION, KEY, LANGUAGE
from profiler.taggers import build_taggers
from profiler.taggers.language import LanguageTagger, detect

ROOT = Path(__file__).resolve().parents[1]
CAPTIONS = ROOT.parent / "shared" / "data" / "real-captions" / "captions-5k.parquet"
OUT = ROOT / "bench" / "out"


def batches(rows: int, source: Path = CAPTIONS) -> list[pa.RecordBatch]:
    """Real captions repeated to `rows`, unique keys, and a language column (en/fr/de/ja)."""
    captions = pq.read_table(source, columns=["TEXT"]).column("TEXT").combine_chunks()
    rng = np.random.default_rng(0)
    out = []
    for start in range(0, rows, DEFAULT_BATCH_SIZE):
        n = min(DEFAULT_BATCH_SIZE, rows - start)
        picked = pa.array(np.arange(start, start + n) % len(captions))
        out.append(pa.record_batch({
            KEY: pa.array([f"{i:012d}" for i in range(start, start + n)]),
            CAPTION: captions.take(picked).fill_null(""),
            LANGUAGE: pa.array(rng.choice(["en", "fr", "de", "ja"], n, p=[0.7, 0.1, 0.1, 0.1])),
        }))
    return out


def rows_per_s(tag, data: list[pa.RecordBatch], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for batch in data:
            tag(batch)
        best = min(best, time.perf_counter() - started)
    return sum(b.num_rows for b in data) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample-every", type=int, default=512)
    parser.add_argument("--captions", type=Path, default=CAPTIONS, help="a parquet file with TEXT")
    args = parser.parse_args()
    with_column = batches(args.rows, args.captions)
    without_column = [b.drop_columns([LANGUAGE]) for b in with_column]
    captions = build_taggers(["identity", "sexual_terms"], {})
    language = LanguageTagger(sample_every=args.sample_every)
    detect(["load the detector before timing"], language.min_confidence)

    def caption_path(batch: pa.RecordBatch) -> None:
        for tagger in captions:
            tagger.tag(batch)

    result = {
        "rows": args.rows, "sample_every": args.sample_every,
        "caption_taggers_rows_per_s": rows_per_s(caption_path, without_column, args.repeats),
        "language_sampled_rows_per_s": rows_per_s(language.tag, without_column, args.repeats),
        "language_column_rows_per_s": rows_per_s(language.tag, with_column, args.repeats),
    }
    for mode in ("sampled", "column"):
        # time added to the caption path, as a share of it (1/a : 1/b per row)
        result[f"language_{mode}_added_share"] = (
            result["caption_taggers_rows_per_s"] / result[f"language_{mode}_rows_per_s"])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "language.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
