"""Progress: a status line on a terminal (a real pty), "progress:" log lines elsewhere and in
run.log, shard failures in run.log."""

from __future__ import annotations

import io
import logging
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from profiler.engine.progress import Progress
from profiler.engine.shard import ShardResult
from tests.engine_data import write_shards

LOG = logging.getLogger("profiler")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def handlers(tmp_path):
    """A console handler on a fake terminal and a file handler, as the CLI and engine attach."""
    terminal = Terminal()
    console = logging.StreamHandler(terminal)
    console.setLevel(logging.INFO)
    logfile = logging.FileHandler(tmp_path / "run.log")
    LOG.addHandler(console)
    LOG.addHandler(logfile)
    level = LOG.level
    LOG.setLevel(logging.INFO)
    yield terminal, tmp_path / "run.log"
    LOG.removeHandler(console)
    LOG.removeHandler(logfile)
    logfile.close()
    LOG.setLevel(level)


def test_status_line_on_a_terminal_and_lines_in_the_log(handlers):
    terminal, logfile = handlers
    progress = Progress({"a": 300, "b": 100}, interval=0.0, stream=terminal)
    assert progress.tty
    progress.batch("a", 500, 1000, 7)  # half of the big shard: 3/8 of the bytes
    progress.tick()
    screen = terminal.getvalue()
    assert screen.startswith("\r[") and "rows/s" in screen and "ETA" in screen
    assert "0/2 shards, 500 rows" in screen and "7 skipped" in screen and "38% done" in screen
    assert "progress:" not in screen  # the status line replaces log lines on the terminal
    LOG.warning("shard b failed: boom")
    screen = terminal.getvalue()
    assert "\r\033[Kshard b failed: boom\n" in screen  # the line is cleared before a message
    progress.shard_done(ShardResult("a", 1000, 1.0, skipped=9))
    progress.shard_done(ShardResult("b", 0, 1.0, error="boom"))
    progress.close()
    assert "2/2 shards, 1 failed, 1,000 rows" in terminal.getvalue()
    assert terminal.getvalue().endswith("\n")
    log = logfile.read_text()
    assert "progress: 0/2 shards, 500 rows" in log and "progress: finished 2/2 shards" in log
    assert "shard b failed: boom" in log
    assert not LOG.handlers[-2].filters  # the terminal handler is left as it was


def test_no_terminal_means_periodic_log_lines(handlers):
    _, logfile = handlers
    pipe = io.StringIO()
    progress = Progress({"a": None}, interval=0.0, stream=pipe)
    assert not progress.tty
    progress.batch("a", 10, None, 0)
    progress.tick()
    progress.close()
    assert pipe.getvalue() == ""
    assert "progress: 0/1 shards, 10 rows" in logfile.read_text()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("progress-data")
    write_shards(folder, [f"p{i}.parquet" for i in range(4)], 8000)
    (folder / "broken.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    return folder


def config(tmp_path: Path) -> Path:
    path = tmp_path / "progress.toml"
    path.write_text("[run]\nbatch_size = 1024\nprogress_seconds = 0.05\nworkers = 2\n")
    return path


def test_cli_without_a_terminal_logs_progress_and_failures(data, tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "profiler", "profile", str(data), "--out", str(out),
         "--config", str(config(tmp_path))], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr  # finished; the broken shard failed
    assert "\r" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("progress:")]
    assert len(lines) >= 2 and "ETA" in lines[0] and "rows/s" in lines[0]
    assert "shard broken failed" in result.stderr
    log = (out / "run.log").read_text()
    assert "progress: finished 5/5 shards, 1 failed" in log
    assert "WARNING shard broken failed: " in log


def test_cli_on_a_terminal_draws_a_status_line(data, tmp_path):
    out = tmp_path / "run"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "profiler", "profile", str(data), "--out", str(out),
         "--config", str(config(tmp_path))],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    screen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 3  # finished; the broken shard failed
    text = screen.decode()
    assert "\r[" in text and "rows/s" in text and "ETA" in text
    assert "\r\x1b[K" in text  # cleared before shard lines were printed
    assert "progress:" not in text  # log lines go to run.log, not over the status line
    assert "progress:" in (out / "run.log").read_text()
