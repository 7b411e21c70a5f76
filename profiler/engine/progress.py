"""Progress of a run: a live status line on a terminal, periodic log lines everywhere else.

Workers report rows as they stream (`batch`, thread-safe); the driver loop calls `tick` and
`shard_done`. On a terminal (stderr is a TTY with the `profiler` log shown at INFO) one line is
redrawn in place; log records printed meanwhile clear it first. Every `interval` seconds a
"progress:" line goes to the log, so run.log (and stderr when it is not a terminal: CI, nohup,
cron) reads as a timeline. The fraction done is weighted by file size, so ETA is sane when
shards differ in size.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO

from profiler.engine.shard import ShardResult

log = logging.getLogger("profiler")
REDRAW_SECONDS = 0.2
BAR_WIDTH = 20


@dataclass
class _Running:
    rows: int = 0
    total: int | None = None
    skipped: int = 0


class Progress:
    def __init__(
        self, sizes: dict[str, int | None], interval: float = 10.0, stream: TextIO | None = None,
        tty: bool | None = None,
    ) -> None:
        """`sizes`: bytes of each shard to profile (None where unknown)."""
        self.stream = stream or sys.stderr
        self.interval = interval
        known = [s for s in sizes.values() if s]
        fallback = (sum(known) / len(known)) if known else 1.0
        self.weights = {shard: float(size or fallback) for shard, size in sizes.items()}
        self.total_weight = sum(self.weights.values()) or 1.0
        self.shards_total = len(sizes)
        self.shards_done = self.shards_failed = 0
        self.rows_done = self.skipped_done = 0
        self.weight_done = 0.0
        self.running: dict[str, _Running] = {}
        self.lock = threading.Lock()
        self.started = self.last_log = time.monotonic()
        self.last_draw = 0.0
        self.drawn = False
        self.handlers = self._terminal_handlers() if tty is None else []
        self.tty = bool(self.handlers) if tty is None else tty
        for handler in self.handlers:
            handler.addFilter(self._filter)

    # -- updates ---------------------------------------------------------------------------------

    def batch(self, shard_id: str, rows: int, total: int | None, skipped: int) -> None:
        """Rows read so far in a running shard (called from worker threads)."""
        with self.lock:
            self.running[shard_id] = _Running(rows, total, skipped)

    def shard_done(self, result: ShardResult) -> None:
        with self.lock:
            self.running.pop(result.shard_id, None)
        self.shards_done += 1
        self.shards_failed += bool(result.error)
        self.rows_done += result.rows
        self.skipped_done += result.skipped
        self.weight_done += self.weights.get(result.shard_id, 0.0)
        self.tick()

    # -- output ----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, float | int | None]:
        with self.lock:
            running = list(self.running.items())
        rows = self.rows_done + sum(r.rows for _, r in running)
        skipped = self.skipped_done + sum(r.skipped for _, r in running)
        weight = self.weight_done + sum(
            self.weights.get(shard, 0.0) * min(r.rows / r.total, 1.0)
            for shard, r in running if r.total
        )
        fraction = min(weight / self.total_weight, 1.0)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        return {"rows": rows, "skipped": skipped, "fraction": fraction, "elapsed": elapsed,
                "rate": rows / elapsed, "eta": eta}

    def line(self, final: bool = False) -> str:
        s = self.snapshot()
        failed = f", {self.shards_failed} failed" if self.shards_failed else ""
        head = (f"{self.shards_done}/{self.shards_total} shards{failed}, {s['rows']:,} rows, "
                f"{s['rate']:,.0f} rows/s, {s['skipped']:,} skipped")
        if final:
            return f"{head}, in {_clock(s['elapsed'])}"
        return f"{head}, {s['fraction']:.0%} done, ETA {_clock(s['eta'])}"

    def tick(self) -> None:
        """Redraw the terminal line (throttled) and write the periodic log line when due."""
        now = time.monotonic()
        if now - self.last_log >= self.interval:
            self.last_log = now
            log.info("progress: %s", self.line(), extra={"progress": True})
        if self.tty and now - self.last_draw >= REDRAW_SECONDS:
            self._draw()

    def close(self) -> None:
        """Final log line; leave the last status line on the terminal."""
        log.info("progress: finished %s", self.line(final=True), extra={"progress": True})
        if self.tty:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
        for handler in self.handlers:
            handler.removeFilter(self._filter)

    def _draw(self) -> None:
        fraction = float(self.snapshot()["fraction"] or 0.0)
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.line()}\033[K")
        self.stream.flush()
        self.drawn = True
        self.last_draw = time.monotonic()

    def _filter(self, record: logging.LogRecord) -> bool:
        """On the terminal: progress records are the status line's job; others clear it first."""
        if getattr(record, "progress", False):
            return False
        if self.drawn:
            self.stream.write("\r\033[K")
            self.drawn = False
            self.last_draw = 0.0  # redraw on the next tick
        return True

    def _terminal_handlers(self) -> list[logging.Handler]:
        """Console handlers of the `profiler` log that write INFO to this stream, a terminal."""
        if not _isatty(self.stream):
            return []
        return [h for h in log.handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
                and getattr(h, "stream", None) is self.stream and h.level <= logging.INFO]


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float | int | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
