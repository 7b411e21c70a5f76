"""The demo report in a real headless Chromium: it renders, runs nothing, and stays inert.

CI installs Debian's chromium (.ci/run); elsewhere the test skips when no Chromium is found.
Screenshots land in tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.cli import main

ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing in CI: .ci/run should have installed it")
    pytest.skip("no Chromium on this machine (apt-get install chromium)")


def browse(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *extra, url],
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def hostile_report(demo_data, tmp_path_factory) -> Path:
    """The demo shards plus a shard of hostile captions, profiled into one report."""
    data = tmp_path_factory.mktemp("hostile-data")
    for shard in demo_data.glob("*.parquet"):
        shutil.copy(shard, data / shard.name)
    hostile = ['<script>document.title="pwned"</script> Asian woman',
               '<img src="http://127.0.0.1:9/x.png" onerror="document.title=\'pwned\'"> Latina',
               "Korean actress <iframe src='http://127.0.0.1:9/'></iframe>"]
    pq.write_table(pa.table({"TEXT": hostile * 12}), data / "a-hostile.parquet")
    out = tmp_path_factory.mktemp("hostile-run")
    assert main(["-q", "profile", str(data), "--out", str(out)]) == 0
    return out / "index.html"


def test_report_renders_inert_in_chromium(hostile_report, tmp_path):
    result = browse(hostile_report.as_uri(), tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "<h1>Bias profile:" in dom  # it rendered
    assert "pwned" not in dom.split("</title>")[0]  # no hostile script ran
    assert "<script" not in dom and "<iframe" not in dom and "<img" not in dom
    assert "&lt;script&gt;document.title" in dom  # the caption is shown as text


def test_screenshots_of_the_report(hostile_report, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    for name, size in (("report-top", "1200,2400"), ("report-narrow", "420,1600")):
        target = ARTIFACTS / f"{name}.png"
        result = browse(hostile_report.as_uri(), tmp_path, f"--screenshot={target}",
                        f"--window-size={size}", "--hide-scrollbars")
        assert result.returncode == 0, result.stderr[-2000:]
        assert target.stat().st_size > 20_000  # a rendered page, not a blank one
