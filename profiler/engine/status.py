"""Where a run folder stands, read without touching it: for schedulers and people watching a long
run (`bias-profiler status RUN [--json]`).

Everything comes from what the run already writes: the work units it planned (run.json), the
completion markers and failed parts under parts/ (engine/runfolder.py), file times, and the run's
lock. Units are whatever the run plans and marks (shards today): status counts them as they are.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from profiler.engine.runfolder import RUN_FILE, RunFolder, lock_held
from profiler.errors import UserError


@dataclass
class RunStatus:
    run: str
    total: int
    complete: int
    failed: int
    pending: int
    rows: int  # rows read by the complete units
    last_write: str | None  # UTC time of the newest file the run wrote
    locked: bool | None  # a process holds the run's lock (is writing it); None: cannot tell
    finished: str | None  # when a run last finished here (its outputs describe that run)
    failed_units: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> str:
        if self.locked:
            return "running"
        if self.pending == 0 and self.failed == 0 and self.finished:
            return "complete"
        if self.pending == 0 and self.finished:
            return "finished with failed shards"
        return "stopped before finishing (run the same command again to resume)"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state}


def run_status(root: Path) -> RunStatus:
    """The status of the run folder `root`; UserError when it is not one."""
    root = Path(root)
    if not (root / RUN_FILE).is_file():
        raise UserError(f"{root} is not a run folder: it has no {RUN_FILE} (give the --out folder of "
                        "a profile run)")
    folder = RunFolder(root)
    state = folder.read_state()
    marked = folder.marked_units()
    failures = folder.failed_units()
    planned = folder.planned_units()
    units = planned if planned is not None else sorted({*marked, *failures})
    wanted = set(units)
    complete = [u for u in marked if u in wanted]
    failed = {u: e for u, e in failures.items() if u in wanted}
    rows = sum(_rows_read(folder, u) for u in complete)
    return RunStatus(
        run=str(root), total=len(units), complete=len(complete), failed=len(failed),
        pending=len(units) - len(complete) - len(failed), rows=rows,
        last_write=_last_write(root), locked=lock_held(root),
        finished=(state.get("finished") or {}).get("at"), failed_units=dict(sorted(failed.items())),
    )


def format_status(status: RunStatus, now: datetime | None = None) -> str:
    """The human-readable summary `status` prints."""
    lock = {True: "held (a bias-profiler process is writing this run)", False: "free",
            None: "unknown (no file locks on this system)"}[status.locked]
    lines = [
        f"run:        {status.run}",
        f"state:      {status.state}",
        f"shards:     {status.total:,} total, {status.complete:,} complete, {status.failed:,} failed, "
        f"{status.pending:,} pending",
        f"rows:       {status.rows:,} read by the complete shards",
        f"last wrote: {status.last_write or 'never'}{_ago(status.last_write, now)}",
        f"lock:       {lock}",
    ]
    if status.finished:
        lines.append(f"finished:   {status.finished} (stats.json and index.html describe that run)")
    if status.failed_units:
        lines.append("failed shards (retried by the next run of the same command):")
        lines += [f"  {unit}: {error}" for unit, error in status.failed_units.items()]
    return "\n".join(lines)


def status_json(status: RunStatus) -> str:
    return json.dumps(status.to_json(), indent=1)


def _rows_read(folder: RunFolder, unit: str) -> int:
    marker = folder.marker(unit) or {}
    rows = marker.get("rows_read")
    return int(rows) if isinstance(rows, int) else 0


def _last_write(root: Path) -> str | None:
    """The newest modification time among the run's own files (the lock file aside: status and
    locking touch it without writing anything)."""
    newest = 0.0
    for path in [root / RUN_FILE, root / "run.log", root / "stats.json", *(root / "parts").rglob("*")]:
        try:
            newest = max(newest, path.stat().st_mtime)
        except OSError:
            continue
    if not newest:
        return None
    return datetime.fromtimestamp(newest, timezone.utc).isoformat(timespec="seconds")


def _ago(stamp: str | None, now: datetime | None) -> str:
    if stamp is None:
        return ""
    elapsed = (now or datetime.now(timezone.utc)) - datetime.fromisoformat(stamp)
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 120:
        return f" ({seconds} s ago)"
    if seconds < 7200:
        return f" ({seconds // 60} min ago)"
    return f" ({seconds // 3600} h ago)"
