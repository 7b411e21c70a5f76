"""language tagger: which language a caption is in, so counts can set apart the rows that the
English lexicons cannot read instead of counting them as "no identity mention".

With a language column in the source (LAION-2B-multi `LANGUAGE`, `lang`, `language`) every
row gets its normalised code. Without one, a deterministic sample of about one row in
`sample_every` (chosen by a hash of the row key, so the same rows are picked whatever the
batching or the shard split) is classified by py3langid, whose model ships inside its wheel:
nothing is downloaded, and the cost stays a small fraction of the caption path.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib.metadata import version
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.errors import UserError
from profiler.schema import CAPTION, KEY, LANGUAGE
from profiler.taggers.base import Tagger

CODE = "language.code"  # from the source's column: a code, "und" where it gives none; else null
DETECTED = "language.detected"  # sampled rows of sources without a column: a code or "und"
UNDETERMINED = "und"
# Values meaning "no language" in common language columns (CLD3 / fastText outputs, blanks).
NO_LANGUAGE = ("", "und", "unknown", "nolang", "none", "null", "nan", "xx", "zxx", "mul")
DETECT_CHARS = 400  # a caption's first characters are enough to tell its language
DETECTOR = "py3langid"
GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64 increment
# py3langid labels short English captions as Nigerian Pidgin ("pcm"), an English-lexified creole
# that the English lexicons read anyway (measured on real web alt-text: most pcm calls are English).
DETECTED_AS = {"pcm": "en"}


class LanguageTagger(Tagger):
    """`language.code` from a language column; else `language.detected` on a key-hash sample."""

    name = "language"
    optional = (LANGUAGE, CAPTION)

    def __init__(self, sample_every: int = 256, min_confidence: float = 0.5):
        if isinstance(sample_every, bool) or not isinstance(sample_every, int) or sample_every < 1:
            raise UserError(f"language.sample_every must be a positive integer, got {sample_every!r}")
        if not 0.0 <= float(min_confidence) < 1.0:
            raise UserError(f"language.min_confidence must be in [0, 1), got {min_confidence!r}")
        self.sample_every = sample_every
        self.min_confidence = float(min_confidence)

    def describe(self) -> dict:
        return {"sample_every": self.sample_every, "min_confidence": self.min_confidence,
                "detector": f"{DETECTOR} {version(DETECTOR)}"}

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        n = batch.num_rows
        names = batch.schema.names
        if LANGUAGE in names:
            return {CODE: normalize_codes(batch.column(LANGUAGE)), DETECTED: pa.nulls(n, pa.string())}
        detected = pa.nulls(n, pa.string())
        if CAPTION in names and n:
            picked = np.flatnonzero(sampled_rows(batch.column(KEY), self.sample_every))
            if len(picked):
                captions = batch.column(CAPTION).take(pa.array(picked, pa.int64()))
                codes = detect(captions.to_pylist(), self.min_confidence)
                values = np.full(n, None, object)
                values[picked] = codes
                detected = pa.array(values, pa.string())
        return {CODE: pa.nulls(n, pa.string()), DETECTED: detected}


def normalize_codes(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lower-case codes without region or script ("en-US", "zh_Hant" -> "en", "zh"); rows the
    column gives no language for are "und"."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    try:
        text = pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise UserError(f"the language column holds {column.type} values, not language codes: "
                        "map another column with --columns language=NAME") from None
    code = pc.replace_substring_regex(pc.utf8_lower(pc.utf8_trim_whitespace(text)), r"[-_].*$", "")
    missing = pc.or_kleene(pc.is_null(code), pc.is_in(code, value_set=pa.array(NO_LANGUAGE)))
    return pc.if_else(missing.fill_null(True), UNDETERMINED, code)


def sampled_rows(keys: pa.Array | pa.ChunkedArray, every: int) -> np.ndarray:
    """About one row in `every`, chosen by a hash of its key: deterministic, and independent of
    batching and of how rows are split into shards."""
    if every == 1:
        return np.ones(len(keys), bool)
    return key_hash(keys) % np.uint64(every) == 0


def key_hash(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each key string (polynomial over its bytes, then a SplitMix64
    finaliser), vectorized over the Arrow buffers; null keys hash like the empty string."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    keys = pc.cast(keys, pa.large_string()).fill_null("")
    n = len(keys)
    offsets = np.frombuffer(keys.buffers()[1], np.int64)[keys.offset : keys.offset + n + 1]
    lengths = np.diff(offsets)
    sums = np.zeros(n, np.uint64)
    total = int(offsets[-1] - offsets[0]) if n else 0
    if total:
        data = np.frombuffer(keys.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].astype(np.uint64)
        starts = offsets[:-1] - offsets[0]
        position = np.arange(total) - np.repeat(starts, lengths)
        terms = (data + np.uint64(1)) * _powers(int(lengths.max()))[position]
        filled = lengths > 0
        sums[filled] = np.add.reduceat(terms, starts[filled])
    z = sums + lengths.astype(np.uint64) * GAMMA
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _powers(length: int) -> np.ndarray:
    """Powers 1, m, m^2, ... of an odd 64-bit multiplier (wrapping), one per byte position."""
    return _power_table(max(64, 1 << (length - 1).bit_length()))[:length]


@cache
def _power_table(length: int) -> np.ndarray:
    factors = np.full(length, 0x100000001B3, np.uint64)
    factors[0] = 1
    return np.cumprod(factors, dtype=np.uint64)


def detect(captions: list[str | None], min_confidence: float) -> list[str]:
    """ISO 639-1 code per caption; "und" below `min_confidence` (codes, file names, numbers)."""
    identifier = _identifier()
    out = []
    for caption in captions:
        if not caption or not caption.strip():
            out.append(UNDETERMINED)
            continue
        code, confidence = identifier.classify(caption[:DETECT_CHARS])
        out.append(DETECTED_AS.get(code, code) if confidence >= min_confidence else UNDETERMINED)
    return out


_LOCK = threading.Lock()
_IDENTIFIER: list[Any] = []


def _identifier() -> Any:
    """py3langid's model, loaded once per process (half a second) and only when needed."""
    with _LOCK:
        if not _IDENTIFIER:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _IDENTIFIER.append(LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True))
        return _IDENTIFIER[0]
