"""Image encoding: decoding in worker processes, overlapped with model inference on the last chunk.

Why this shape: decoding and resizing are per-image Python/C work that parallelises across
processes, while the model wants whole batches on one device. `ImageEncoder.encode` cuts the
images into chunks of `batch_size`; decode workers turn each chunk into uint8 pixels
(`profiler.images.decode.prepare_batch`) while this process normalizes the previous chunk (one
tensor op, on the model's device) and runs the model through `LoadedModel.inference()` (its
lock, its autocast). At most `max_in_flight` chunks are decoded ahead, so memory is bounded
and the model does not wait as long as the workers keep up.

Failures are data: a row whose image has a problem gets a NaN embedding and its reason; a
worker that dies (a decoder crash, the OOM killer) is replaced and the chunk it held is decoded
again image by image, so only the image that kills a worker is lost (as `image_corrupt`).

Workers are spawned (never forked from a process whose torch has started threads). Where no
child process can be made (a daemonic pool worker, no semaphores), decoding falls back to a
thread pool (PIL releases the GIL while decoding and resampling) and `describe()` says so.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

import numpy as np

from profiler.images.decode import IMAGE_CORRUPT, PreprocessSpec, prepare_batch, silence_pil_warnings

if TYPE_CHECKING:
    import torch

    from profiler.models.loading import LoadedModel

ImageBytes = bytes | bytearray | memoryview | None
Pixels = tuple[np.ndarray, list[str | None]]


def default_model_batch(device_type: str) -> int:
    """Images per forward pass. On a CPU, 32: ViT-B-32 activations of 32 images stay in cache
    better than 64 (measured on 2 cores: 5-10% more images/s; BENCHMARKS.md, "CLIP images").
    On a GPU, as large as the chunk (batch_size)."""
    return 32 if device_type == "cpu" else 1 << 30


def default_decode_workers(device_type: str, cpus: int | None = None) -> int:
    """Decode processes for a model on `device_type`, from the machine's core count.

    On a GPU the model is fast and decoding is the bottleneck: every core but the one feeding
    the GPU decodes (up to 16). On a CPU the model and the decoders share the cores; decoding
    costs about 5% of a forward pass per image, so one worker per 8 cores (at least one) hides
    it. Measured on 2 cores (BENCHMARKS.md, "CLIP images"): 1 worker beside 2 torch threads was
    about 5% faster than decoding between batches in every interleaved repeat, 2 workers no
    better than 1, and 1 torch thread half as fast whatever the workers.
    """
    cpus = cpus or os.cpu_count() or 1
    if device_type in ("cuda", "mps"):
        return max(1, min(cpus - 1, 16))
    return max(1, cpus // 8)


class ImageEncoder:
    """Image bytes -> L2-normalized float32 embeddings (NaN rows for problem images) and reasons.

    `decode_workers`: None picks `default_decode_workers` for the model's device; 0 decodes in
    the calling thread (simple, for tests and debugging). `draft`: JPEG draft mode (decode at a
    reduced DCT scale, never below the input size; see profiler.images.decode).
    """

    # What a decode worker runs on a chunk: a module-level function (pickled by reference);
    # tests swap in one that kills its worker on a marker, to exercise the recovery.
    prepare_chunk: Callable[[list[ImageBytes], PreprocessSpec], Pixels] = staticmethod(prepare_batch)

    def __init__(
        self,
        loaded: LoadedModel,
        batch_size: int = 64,
        decode_workers: int | None = None,
        *,
        draft: bool = True,
        spec: PreprocessSpec | None = None,
        max_in_flight: int | None = None,
        model_batch: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.loaded = loaded
        self.batch_size = int(batch_size)
        self.model_batch = min(self.batch_size, int(model_batch or default_model_batch(loaded.device.type)))
        self.spec = spec or PreprocessSpec.from_preprocess_cfg(
            loaded.model.visual.preprocess_cfg, draft=draft)
        workers = (default_decode_workers(loaded.device.type) if decode_workers is None
                   else int(decode_workers))
        if workers < 0:
            raise ValueError(f"decode_workers must be >= 0, got {decode_workers}")
        self.decode_workers = workers
        # one chunk being encoded, one ready, and one decoding per worker
        self.max_in_flight = max_in_flight or workers + 2
        self._pool: Executor | None = None
        self._pool_kind = "calling thread" if workers == 0 else "not started"
        self._fallback: str | None = None
        self._restarts = 0
        self._pool_lock = threading.Lock()
        self._finalizer: weakref.finalize | None = None
        self._closed = False
        self._norm: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- public ------------------------------------------------------------------------------------

    def encode(self, images: Sequence[ImageBytes] | Any) -> tuple[np.ndarray, list[str | None]]:
        """(n, embed_dim) float32 embeddings in input order, NaN rows where `reasons[i]` is set.

        `images`: a sequence of bytes (None for a missing image) or a pyarrow binary array.
        """
        if self._closed:
            raise RuntimeError("ImageEncoder.encode after close()")
        n = len(images)
        embeddings = np.full((n, self.loaded.info.embed_dim), np.nan, np.float32)
        reasons: list[str | None] = [None] * n
        bounds = [(start, min(start + self.batch_size, n)) for start in range(0, n, self.batch_size)]
        if self.decode_workers == 0:
            for start, stop in bounds:
                pixels = prepare_batch(_values(images, start, stop), self.spec)
                self._store(pixels, start, embeddings, reasons)
            return embeddings, reasons
        waiting = collections.deque(bounds)
        pending: collections.deque[tuple[int, list[ImageBytes], Future]] = collections.deque()

        def submit_more() -> None:
            while waiting and len(pending) < self.max_in_flight:
                start, stop = waiting.popleft()
                chunk = _values(images, start, stop)
                pending.append((start, chunk, self._submit(chunk)))

        try:
            submit_more()
            while pending:
                start, chunk, future = pending.popleft()
                pixels = self._result(future, chunk, pending)
                submit_more()  # keep the workers busy while the model runs
                self._store(pixels, start, embeddings, reasons)
        finally:
            for _, _, future in pending:
                future.cancel()
        return embeddings, reasons

    def describe(self) -> dict[str, Any]:
        """How images are encoded, for logs and stats.json (the preprocessing is part of what an
        embedding means: draft mode changes pixels slightly)."""
        import torch

        return {
            "batch_size": self.batch_size,
            "model_batch": self.model_batch,
            "decode_workers": self.decode_workers,
            "decode_pool": self._pool_kind,
            "fallback": self._fallback,
            "worker_restarts": self._restarts,
            "max_in_flight": self.max_in_flight,
            "draft": self.spec.draft,
            "torch_threads": torch.get_num_threads(),
            "device": str(self.loaded.device),
            "preprocess": self.spec.describe(),
        }

    def close(self) -> None:
        """Shut the decode workers down (also done at garbage collection and interpreter exit)."""
        self._closed = True
        with self._pool_lock:
            if self._finalizer is not None:
                self._finalizer()
            self._pool = None

    def __enter__(self) -> ImageEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def worker_pids(self) -> list[int]:
        """Process ids of the live decode workers (for tests and diagnostics)."""
        pool = self._pool
        if isinstance(pool, ProcessPoolExecutor):
            return [p.pid for p in (pool._processes or {}).values() if p.pid is not None]
        return []

    # -- decoding ----------------------------------------------------------------------------------

    def _submit(self, chunk: list[ImageBytes]) -> Future:
        pool = self._ensure_pool()
        try:
            return pool.submit(self.prepare_chunk, chunk, self.spec)
        except BrokenProcessPool as error:  # a worker died meanwhile: _result recovers, in order
            failed: Future = Future()
            failed.set_exception(error)
            return failed
        except (AssertionError, OSError, RuntimeError, ValueError) as error:
            if self._pool_kind != "processes (spawn)":
                raise
            # the first submit starts the processes: this is where a daemonic parent fails
            threads = self._fall_back(f"{type(error).__name__}: {error}")
            return threads.submit(self.prepare_chunk, chunk, self.spec)

    def _ensure_pool(self) -> Executor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = self._new_pool()
            return self._pool

    def _new_pool(self) -> Executor:
        reason = _no_child_processes()
        if reason is None:
            try:
                pool: Executor = ProcessPoolExecutor(
                    max_workers=self.decode_workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=silence_pil_warnings,
                )
                self._pool_kind = "processes (spawn)"
                self._set_finalizer(pool)
                return pool
            except (OSError, RuntimeError, ValueError, ImportError) as error:
                reason = f"{type(error).__name__}: {error}"
        return self._threads(reason)

    def _threads(self, reason: str) -> Executor:
        self._fallback = f"decode threads instead of processes ({reason})"
        self._pool_kind = "threads (fallback)"
        pool = ThreadPoolExecutor(max_workers=self.decode_workers, thread_name_prefix="image-decode")
        self._set_finalizer(pool)
        return pool

    def _fall_back(self, reason: str) -> Executor:
        with self._pool_lock:
            if self._finalizer is not None:
                self._finalizer()
            self._pool = self._threads(reason)
            return self._pool

    def _set_finalizer(self, pool: Executor) -> None:
        self._finalizer = weakref.finalize(self, _shutdown, pool)

    def _restart(self, broken: Executor) -> None:
        with self._pool_lock:
            if self._pool is broken:
                # A worker spawned by a submit racing with the pool's breakdown is missed by
                # CPython's own clean-up (3.11), which then waits for it forever: kill them all.
                for process in list((getattr(broken, "_processes", None) or {}).values()):
                    process.kill()
                if self._finalizer is not None:
                    self._finalizer()
                self._pool = self._new_pool()
                self._restarts += 1

    def _result(self, future: Future, chunk: list[ImageBytes],
                pending: collections.deque[tuple[int, list[ImageBytes], Future]]) -> Pixels:
        """A chunk's pixels; when a worker died, decode the chunk again image by image (alone
        in a fresh pool, so the image that kills a worker is found), then resubmit the rest."""
        pool = self._pool
        try:
            return future.result()
        except BrokenProcessPool:
            pass
        assert pool is not None
        self._restart(pool)
        for index, (start, rest, old) in enumerate(pending):
            old.cancel()
            pending[index] = (start, rest, _done(None))  # placeholders until this chunk is done
        pixels = self._one_by_one(chunk)
        for index, (start, rest, _) in enumerate(pending):
            pending[index] = (start, rest, self._submit(rest))
        return pixels

    def _one_by_one(self, chunk: list[ImageBytes]) -> Pixels:
        height, width = self.spec.size
        pixels = np.zeros((len(chunk), height, width, 3), np.uint8)
        reasons: list[str | None] = []
        for row, data in enumerate(chunk):
            pool = self._ensure_pool()
            try:
                single, (reason,) = pool.submit(self.prepare_chunk, [data], self.spec).result()
            except BrokenProcessPool:
                self._restart(pool)
                single, reason = None, IMAGE_CORRUPT  # this image's decoder killed the worker
            if single is not None and reason is None:
                pixels[row] = single[0]
            reasons.append(reason)
        return pixels, reasons

    # -- the model ---------------------------------------------------------------------------------

    def _store(self, pixels: Pixels, start: int, embeddings: np.ndarray, reasons: list[str | None]) -> None:
        array, chunk_reasons = pixels
        good = [row for row, reason in enumerate(chunk_reasons) if reason is None]
        reasons[start : start + len(chunk_reasons)] = chunk_reasons
        if good:
            batch = array if len(good) == len(chunk_reasons) else array[good]
            embeddings[[start + row for row in good]] = self._embed(batch)

    def _embed(self, array: np.ndarray) -> np.ndarray:
        """uint8 (n, H, W, 3) -> normalized embeddings: the uint8 batch goes to the device (4x
        smaller than floats), where ToTensor + Normalize are done as open_clip does them."""
        import torch
        import torch.nn.functional as F

        device = self.loaded.device
        mean, std = self._normalization()
        out = []
        for start in range(0, len(array), self.model_batch):
            pixels = torch.from_numpy(array[start : start + self.model_batch])
            if device.type == "cuda":
                pixels = pixels.pin_memory().to(device, non_blocking=True)
            pixels = pixels.permute(0, 3, 1, 2).float().div_(255.0).sub_(mean).div_(std)
            pixels = pixels.to(self.loaded.pixel_dtype)
            with self.loaded.inference():
                features = self.loaded.model.encode_image(pixels)
                out.append(F.normalize(features.float(), dim=-1).cpu().numpy())
        return out[0] if len(out) == 1 else np.concatenate(out)

    def _normalization(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._norm is None:
            import torch

            shape = (1, len(self.spec.mean), 1, 1)
            device = self.loaded.device
            self._norm = (torch.tensor(self.spec.mean, dtype=torch.float32, device=device).view(shape),
                          torch.tensor(self.spec.std, dtype=torch.float32, device=device).view(shape))
        return self._norm


# -- helpers ---------------------------------------------------------------------------------------


def _values(images: Sequence[ImageBytes] | Any, start: int, stop: int) -> list[ImageBytes]:
    """One chunk as a list of bytes / None (a pyarrow array is sliced, then converted)."""
    if hasattr(images, "to_pylist") and hasattr(images, "slice"):
        return images.slice(start, stop - start).to_pylist()
    return list(images[start:stop])


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _no_child_processes() -> str | None:
    """Why this process cannot have decode worker processes, or None when it can."""
    if multiprocessing.current_process().daemon:
        return "this process is a daemonic pool worker, which cannot have children"
    return None


def _shutdown(pool: Executor) -> None:
    pool.shutdown(wait=True, cancel_futures=True)
