"""Precision and recall of the caption taggers against the hand labels of real captions.

Why this exists: the caption taggers are tuned on the `tune` half of a labelled set and judged
on its `holdout` half (see tests/data/LABELLING.md). This prints both halves' figures with 95%
Wilson intervals, and with `--errors tune` the tune half's false positives and negatives to work
from. Holdout errors are printed only when asked by name (`--errors holdout`), after tuning is
over.

    .venv/bin/python bench/caption_quality.py [--set real|made-up] [--errors tune]
        [--by-language] [--by-wave] [--by-origin]

`--set real` (the default): hand labels of the 5,000 real captions of
../shared/data/real-captions (not part of the product; without them the script exits with a
message). `--set made-up`: 11,239 captions written and labelled by annotators who never saw the
taggers, in the shapes of web text (products, news, adult sites, a general crawl; wave 1 15% in
other languages, waves 9 and 10 sets written in other languages), stored whole in
tests/data/made_up_captions_labelled.csv; `--by-wave` splits them by the wave that wrote them
(waves 5, 9 and 12, written to measure on, are all holdout).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from profiler.stats.rates import wilson
from profiler.taggers.identity import PERSON_MENTION, IdentityTagger
from profiler.taggers.language import detect
from profiler.taggers.sexual_terms import LEVEL, SexualTermsTagger

ROOT = Path(__file__).resolve().parents[1]
CAPTIONS = ROOT.parent / "shared" / "data" / "real-captions" / "captions-5k.parquet"
LABELS = ROOT / "tests" / "data" / "real_captions_labelled.csv"
MADE_UP = ROOT / "tests" / "data" / "made_up_captions_labelled.csv"
SEXUAL = ("suggestive", "explicit")


def predictions(captions: pa.Array) -> tuple[list[bool], list[str]]:
    """Person-mention flags and sexual levels of the captions, from the shipped taggers."""
    batch = pa.RecordBatch.from_pydict({"caption": captions})
    person = IdentityTagger().tag(batch)[PERSON_MENTION].to_pylist()
    level = SexualTermsTagger().tag(batch)[LEVEL].to_pylist()
    return person, level


def confusion(pairs: list[tuple[bool, bool]]) -> dict[str, float]:
    """tp/fp/fn and precision/recall with Wilson intervals from (predicted, true) pairs."""
    tp = sum(p and t for p, t in pairs)
    fp = sum(p and not t for p, t in pairs)
    fn = sum(t and not p for p, t in pairs)
    out: dict[str, float] = {"n": len(pairs), "tp": tp, "fp": fp, "fn": fn}
    for name, k, n in (("precision", tp, tp + fp), ("recall", tp, tp + fn)):
        low, high = wilson(k, n) if n else (0.0, 1.0)
        out[name], out[f"{name}_low"], out[f"{name}_high"] = (k / n if n else float("nan")), low, high
    return out


def read_labels(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="label_set", choices=("real", "made-up"), default="real",
                        help="which labelled captions (default: real)")
    parser.add_argument("--errors", choices=("tune", "holdout"), help="list this half's errors")
    parser.add_argument("--by-language", action="store_true",
                        help="also split each half by language: English (py3langid's best "
                             "guess, no threshold) or other, the lexicons being English")
    parser.add_argument("--by-wave", action="store_true",
                        help="made-up captions: split each half by the wave that wrote it (waves "
                             "5, 9 and 12, written to measure on, are all holdout)")
    parser.add_argument("--by-origin", action="store_true",
                        help="real captions: split each half by the labels' version, v1-2 (every "
                             "broad candidate and 180 random others) or v3 (the rest)")
    parser.add_argument("--captions", type=Path, default=CAPTIONS,
                        help="the real captions parquet (default: beside the repository)")
    args = parser.parse_args(argv)
    if args.label_set == "made-up":
        labels = read_labels(MADE_UP)
        captions = pa.array([r["caption"] for r in labels], pa.string())
        for index, r in enumerate(labels):
            r["row"] = str(index)
    else:
        if not args.captions.exists():
            print(f"{args.captions} is absent: these figures need the shared real captions",
                  file=sys.stderr)
            return 2
        labels = read_labels(LABELS)
        captions = pq.read_table(args.captions, columns=["TEXT"]).column("TEXT").combine_chunks()
    person, level = predictions(captions)
    checks = {
        "identity.person_mention": lambda r: (person[int(r["row"])], r["person_mention"] == "1"),
        "sexual_terms.any": lambda r: (level[int(r["row"])] in SEXUAL, r["sexual_level"] in SEXUAL),
        "sexual_terms.apparel": lambda r: (level[int(r["row"])] == "apparel",
                                           r["sexual_level"] == "apparel"),
    }
    parts = [(split, lambda r, s=split: r["split"] == s) for split in ("tune", "holdout")]
    if args.by_language:
        codes = detect([r["caption"] for r in labels], min_confidence=0.0)
        for r, code in zip(labels, codes, strict=True):
            r["language"] = "en" if code == "en" else "other"
        parts = [(f"{split}/{language}", lambda r, s=split, lang=language: r["split"] == s
                  and r["language"] == lang) for split in ("tune", "holdout")
                 for language in ("en", "other")]
    if args.by_wave and args.label_set == "made-up":
        for r in labels:
            r["wave"] = re.search(r"\d*$", r["source"]).group() or "1"
        waves = sorted({r["wave"] for r in labels}, key=int)
        parts = [(f"{name}/wave{wave}", lambda r, keep=keep, w=wave: keep(r) and r["wave"] == w)
                 for name, keep in parts for wave in waves
                 if any(keep(r) and r["wave"] == wave for r in labels)]
    if args.by_origin and args.label_set == "real":
        parts = [(f"{name}/{origin}", lambda r, keep=keep, o=origin: keep(r)
                  and ("v3" if r["origin"].startswith("v3") else "v1-2") == o)
                 for name, keep in parts for origin in ("v1-2", "v3")]
    for part, keep in parts:
        rows = [r for r in labels if keep(r)]
        for signal, check in checks.items():
            c = confusion([check(r) for r in rows])
            print(f"{part:13} {signal:24} n={c['n']} tp={c['tp']} fp={c['fp']} fn={c['fn']}  "
                  f"precision {c['precision']:.3f} [{c['precision_low']:.3f}, {c['precision_high']:.3f}]  "
                  f"recall {c['recall']:.3f} [{c['recall_low']:.3f}, {c['recall_high']:.3f}]")
    if args.errors:
        for r in (r for r in labels if r["split"] == args.errors):
            for signal, check in checks.items():
                predicted, true = check(r)
                if predicted != true:
                    kind = "FP" if predicted else "FN"
                    shown = level[int(r["row"])] if signal.startswith("sexual") else ""
                    name = r.get("id", r["row"])
                    print(f"{kind} {signal} {name} {shown} {r['caption'][:150]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
