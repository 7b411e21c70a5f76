"""language tagger: which language a caption is in, so counts can set apart the rows that the
English lexicons cannot read instead of counting them as "no identity mention".

With a language column in the source (LAION-2B-multi `LANGUAGE`, `lang`, `language`) every
row gets its normalised code. Without one, a deterministic sample (each row with probability
1 / `sample_every`, decided by a hash of its key, so the sample is the same whatever the batches,
work units or files the rows arrive in; each sampled row carries its weight) is classified by
py3langid, whose model ships inside its wheel: nothing is downloaded, and the cost stays a small
fraction of the caption path.
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.errors import UserError
from profiler.schema import CAPTION, KEY, LANGUAGE
from profiler.sources.selection import GAMMA, mix64
from profiler.taggers.base import Tagger

CODE = "language.code"  # from the source's column: a code, "und" where it gives none; else null
DETECTED = "language.detected"  # sampled rows of sources without a column: a code or "und"
WEIGHT = "language.sample_weight"  # 1 / the sampled row's inclusion probability; null elsewhere
UNDETERMINED = "und"
# Values meaning "no language" in common language columns (CLD3 / fastText outputs, blanks).
NO_LANGUAGE = ("", "und", "unknown", "nolang", "none", "null", "nan", "xx", "zxx", "mul")
DETECT_CHARS = 200  # a caption's first characters are enough to tell its language
DETECTOR = "py3langid"
# py3langid labels short English captions as Nigerian Pidgin ("pcm"), an English-lexified creole
# that the English lexicons read anyway (measured on real web alt-text: most pcm calls are English).
DETECTED_AS = {"pcm": "en"}


class LanguageTagger(Tagger):
    """`language.code` from a language column; else `language.detected` on a random sample."""

    name = "language"
    optional = (LANGUAGE, CAPTION)

    def __init__(self, sample_every: int = 512, min_confidence: float = 0.5):
        if isinstance(sample_every, bool) or not isinstance(sample_every, int) or sample_every < 1:
            raise UserError(f"language.sample_every must be a positive integer, got {sample_every!r}")
        if not 0.0 <= float(min_confidence) < 1.0:
            raise UserError(f"language.min_confidence must be in [0, 1), got {min_confidence!r}")
        self.sample_every = sample_every
        self.min_confidence = float(min_confidence)

    def describe(self) -> dict:
        return {"sample_every": self.sample_every, "min_confidence": self.min_confidence,
                "detector": f"{DETECTOR} {version(DETECTOR)}"}

    @property
    def probability(self) -> float:
        """Each row's chance to be sampled."""
        return 1 / self.sample_every

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        n = batch.num_rows
        names = batch.schema.names
        if LANGUAGE in names:
            return {CODE: normalize_codes(batch.column(LANGUAGE)), DETECTED: pa.nulls(n, pa.string()),
                    WEIGHT: pa.nulls(n, pa.float64())}
        detected, weight = pa.nulls(n, pa.string()), pa.nulls(n, pa.float64())
        if CAPTION in names and n:
            probability = self.probability
            picked = np.flatnonzero(sampled_rows(batch.column(KEY), probability))
            if len(picked):
                captions = batch.column(CAPTION).take(pa.array(picked, pa.int64()))
                codes = pa.array(detect(captions.to_pylist(), self.min_confidence), pa.string())
                slot = np.full(n, -1, np.int64)  # each row's place in `codes`; -1: not sampled
                slot[picked] = np.arange(len(picked))
                detected = codes.take(pa.array(slot, mask=slot < 0))
                weight = pa.array(np.full(n, 1 / probability), mask=slot < 0)
        return {CODE: pa.nulls(n, pa.string()), DETECTED: detected, WEIGHT: weight}


def normalize_codes(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lower-case codes without region or script ("en-US", "zh_Hant" -> "en", "zh"); rows the
    column gives no language code for are "und"."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    try:
        text = pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise UserError(f"the language column holds {column.type} values, not language codes: "
                        "map another column with --columns language=NAME") from None
    # a language column has few distinct values: normalise those, then spread them to the rows
    encoded = pc.dictionary_encode(text)
    values = encoded.dictionary
    code = pc.replace_substring_regex(pc.utf8_lower(pc.utf8_trim_whitespace(values)), r"[-_].*$", "")
    # not a two- or three-letter ISO 639 code (a name, free text): unknown, so it stays covered
    unusable = pc.or_(pc.is_in(code, value_set=pa.array(NO_LANGUAGE)),
                      pc.invert(pc.match_substring_regex(code, r"^[a-z]{2,3}$")))
    code = pc.if_else(unusable, UNDETERMINED, code)
    return code.take(encoded.indices).fill_null(UNDETERMINED)


def sampled_rows(keys: pa.Array | pa.ChunkedArray, probability: float) -> np.ndarray:
    """A Bernoulli sample decided row by row from a hash of the key: the same row is sampled
    whichever batch, work unit or file split it arrives in, so counts merge to the same sample."""
    n = len(keys)
    if probability >= 1 or n == 0:
        return np.ones(n, bool)
    return key_hashes(keys) < np.uint64(min(int(probability * 2.0**64), 2**64 - 1))


def key_hashes(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash per key from its length and its last eight bytes (where keys differ:
    `<shard>/<row>`, img2dataset's zero-padded numbers), mixed by SplitMix64; vectorised over
    the Arrow buffers, no Python per row."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    keys = pc.cast(keys, pa.large_binary()).fill_null(b"")
    offsets = np.frombuffer(keys.buffers()[1], np.int64)[keys.offset:keys.offset + len(keys) + 1]
    data = keys.buffers()[2]
    # eight zero bytes in front, so the last eight bytes of a short first key index the buffer
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    padded = np.concatenate([np.zeros(8, np.uint8), raw])
    start, end = offsets[:-1] + 8, offsets[1:] + 8
    position = end[:, None] - 8 + np.arange(8)  # each key's last eight bytes
    byte = padded[position]
    byte[position < start[:, None]] = 0  # bytes of the previous key
    return _splitmix(_splitmix((end - start).astype(np.uint64)) ^ byte.view(np.uint64).ravel())


def _splitmix(x: np.ndarray) -> np.ndarray:
    """One SplitMix64 step: add the golden gamma, then mix."""
    with np.errstate(over="ignore"):
        return mix64(x + GAMMA)


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
