"""Scheduled runs: one dated run folder per run, each building on the one before.

`--dated` (or `[run] dated = true`) turns the run's `out` into a root of dated folders:

    reports/<name>/2024-05-01/    a complete run folder (stats.json, index.html, parts/, tags/)
    reports/<name>/2024-05-02/    seeded from 05-01's parts (hard links), profiled with
                                  --incremental, compared with 05-01 (--baseline)

so a daily run pays only for shards that are new or changed since the previous run, and its
report says what moved. Re-running on the same day resumes that day's folder.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from profiler.engine.runfolder import RUN_FILE, RunFolder
from profiler.errors import UserError

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def dated_spec(spec: Any) -> tuple[Any, str | None]:
    """A copy of `spec` writing to <out>/<date>, seeded from and compared with the latest
    earlier dated run under <out> that finished; and a line saying what was seeded."""
    date = spec.date or datetime.now(timezone.utc).strftime("%Y-%m-%d")
    if not DATE.match(date) or not _is_date(date):
        raise UserError(f"--date must be a date as YYYY-MM-DD, got {date!r}")
    root = Path(spec.out)
    out = root / date
    previous = previous_run(root, date)
    note = None
    if previous is not None and not (out / RUN_FILE).exists():
        files = RunFolder(out).link_from(previous)
        note = f"dated run {date}: seeded with {files} part file(s) of {previous}"
    baseline = spec.baseline or (str(previous) if previous else None)
    spec = replace(spec, out=out, incremental=True, baseline=baseline, dated=False, date=None)
    return spec, note


def previous_run(root: Path, date: str) -> Path | None:
    """The latest dated run folder under `root` before `date` that has finished outputs."""
    if not root.is_dir():
        return None
    earlier = [p for p in root.iterdir() if p.is_dir() and DATE.match(p.name) and p.name < date
               and (p / "stats.json").is_file()]
    return max(earlier, key=lambda p: p.name, default=None)


def _is_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True
