"""The run folder: per-shard partial results with completion markers, written atomically.

Shard ids are paths relative to the input folder (`2024-05/part-00001`), so the parts and tag
trees mirror the input tree, keyed like it (as dolma's attribute files mirror its documents):

    <out>/run.json                         spec, config fingerprint, the finished shard set
    <out>/parts/<shard id>.counts.json     the shard's mergeable counts
    <out>/parts/<shard id>.examples.json   a few caption snippets per group
    <out>/parts/<shard id>.done            written last: the shard is complete (JSON: what
                                           was read, and the file's size/version it was read from)
    <out>/tags/<shard id>.parquet          per-sample tags, keyed like the input rows
    <out>/stats.json, index.html, tables/*.csv, run.log

A parquet file split into work units (row-group ranges, profiler/sources/units.py) has, instead
of its own parts, one set per unit under a folder of its name, and an index of its units:

    <out>/parts/<shard id>.units.json      the file's signature and its units, in file order
    <out>/parts/<shard id>/rgLLLLL-HHHHH.{counts.json,examples.json,done}
    <out>/tags/<shard id>/rgLLLLL-HHHHH.parquet   (tags/<shard id> reads as one parquet dataset)

Every file is written to a temp file and renamed, so a `kill -9` at any moment leaves either
the old file or the new one; a shard without a valid `.done` is profiled again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from profiler.errors import UserError
from profiler.files import atomic_write_bytes, atomic_write_json
from profiler.sources.units import UNIT_NAME, UNITS_SUFFIX

RUN_FILE = "run.json"
LOCK_FILE = "run.lock"
TEMP_SUFFIXES = (".partial", ".tmp")  # left behind by a killed run; never read
HISTORY_KEEP = 50  # run.json keeps the last runs' summaries


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the run folder's lock: a second process writing the same folder is refused.

    flock is released by the kernel when the process dies, so a killed run never leaves a
    stale lock. Where flock does not exist (Windows) runs are not locked.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / LOCK_FILE, "a+")  # noqa: SIM115 (held for the whole run)
    except OSError as error:
        raise UserError(f"cannot write the output folder {root}: {error.strerror}") from None
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover (Windows)
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise UserError(f"another bias-profiler run is writing to {root}: wait for it to "
                                "finish, or choose another --out") from None
        yield
    finally:
        handle.close()


def lock_held(root: Path) -> bool | None:
    """Whether a process holds the run folder's lock now (None: cannot tell, no flock here).

    A shared lock is tried and dropped at once: it never blocks, and is refused only while a
    run holds the exclusive one."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows)
        return None
    path = Path(root) / LOCK_FILE
    if not path.exists():
        return False
    try:
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except OSError:
        return None


def fingerprint(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


class RunFolder:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.parts = self.root / "parts"
        self.tags = self.root / "tags"
        self.state: dict[str, Any] = {}

    def prepare(self, config_fingerprint: str, spec_json: dict[str, Any], overwrite: bool) -> None:
        """Create the folder; refuse to mix parts made by a different configuration."""
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
            self.tags.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"cannot write the output folder {self.root}: {error.strerror}") from None
        if not os.access(self.root, os.W_OK):
            raise UserError(f"cannot write the output folder {self.root}: permission denied")
        previous = self.read_state()
        if previous and previous.get("fingerprint") != config_fingerprint:
            if not overwrite:
                raise UserError(
                    f"{self.root} holds a run with other taggers or settings: "
                    "choose another --out, or pass --overwrite to replace it"
                )
            self.clear()
            previous = {}
        self.state = {**previous, "fingerprint": config_fingerprint, "spec": spec_json}
        atomic_write_json(self.root / RUN_FILE, self.state)
        self.remove_temp_files()

    def remove_temp_files(self) -> None:
        """Half-written files of a killed run (call only while holding the lock)."""
        for folder in (self.parts, self.tags):
            for path in folder.rglob("*"):
                if path.name.endswith(TEMP_SUFFIXES) and path.is_file():
                    path.unlink(missing_ok=True)

    def read_state(self) -> dict[str, Any]:
        path = self.root / RUN_FILE
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"{path} is damaged: pass --overwrite to start this run over") from None

    def clear(self) -> None:
        for folder in (self.parts, self.tags):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)

    # -- per-shard files -------------------------------------------------------------------------

    def counts_path(self, shard_id: str) -> Path:
        return self.parts / f"{shard_id}.counts.json"

    def examples_path(self, shard_id: str) -> Path:
        return self.parts / f"{shard_id}.examples.json"

    def done_path(self, shard_id: str) -> Path:
        return self.parts / f"{shard_id}.done"

    def tags_path(self, shard_id: str) -> Path:
        return self.tags / f"{shard_id}.parquet"

    def marker(self, shard_id: str) -> dict[str, Any] | None:
        """The shard's completion marker; None when incomplete, {} for an old-style marker."""
        try:
            text = self.done_path(shard_id).read_text()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}  # "ok\n" of earlier versions: complete, read from an unknown file version
        return data if isinstance(data, dict) else {}

    def is_done(self, shard_id: str, signature: dict[str, Any] | None = None) -> bool:
        """Complete, and (given a signature) made from the same file and row selection."""
        marker = self.marker(shard_id)
        if marker is None:
            return False
        return signature is None or "signature" not in marker or marker["signature"] == signature

    def forget(self, shard_id: str) -> None:
        """Remove a shard's parts and tags, its units' too (it left the source; --incremental
        drops it)."""
        self._forget_whole(shard_id)
        self.set_units(shard_id, None)

    def _forget_whole(self, shard_id: str) -> None:
        for path in (self.counts_path(shard_id), self.examples_path(shard_id),
                     self.done_path(shard_id), self.tags_path(shard_id)):
            if path.is_file():
                path.unlink(missing_ok=True)

    # -- work units of a split file ----------------------------------------------------------------

    def units_path(self, shard_id: str) -> Path:
        return self.parts / f"{shard_id}{UNITS_SUFFIX}"

    def units_index(self, shard_id: str) -> dict[str, Any] | None:
        """{"signature": ..., "units": [names], "shares": [row shares]} of a split file, or None."""
        try:
            data = json.loads(self.units_path(shard_id).read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("units"), list) else None

    def unit_ids(self, shard_id: str) -> list[str]:
        """The ids whose parts make up the shard: its units in file order, or the shard itself."""
        index = self.units_index(shard_id)
        return [f"{shard_id}/{name}" for name in index["units"]] if index else [shard_id]

    def set_units(self, shard_id: str, index: dict[str, Any] | None) -> None:
        """Record how the shard is split (None: whole), removing every output of another split:
        a whole file's parts and tags, or unit files not in the index (call only under the lock)."""
        keep = set(index["units"]) if index else set()
        if index is not None:
            self._forget_whole(shard_id)
            if self.units_index(shard_id) != index:
                atomic_write_json(self.units_path(shard_id), index)
        else:
            self.units_path(shard_id).unlink(missing_ok=True)
        for folder in (self.parts / shard_id, self.tags / shard_id):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                name = path.name.split(".", 1)[0]
                if path.is_file() and UNIT_NAME.fullmatch(name) and name not in keep:
                    path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()  # gone when empty

    def mark_done(self, shard_id: str, marker: dict[str, Any] | None = None) -> None:
        atomic_write_bytes(self.done_path(shard_id), json.dumps(marker or {}, indent=1).encode())

    # -- the run as a whole --------------------------------------------------------------------

    def finished_shards(self) -> list[str] | None:
        """Shard ids of the last finished run in this folder (None: never finished)."""
        finished = self.state.get("finished") or self.read_state().get("finished")
        return None if finished is None else list(finished["shards"])

    def mark_finished(self, shard_ids: list[str], summary: dict[str, Any]) -> None:
        """Record the shard set the outputs describe, and a line of history."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        history = [*self.state.get("history", []), {"finished": now, **summary}][-HISTORY_KEEP:]
        self.state = {**self.state, "finished": {"at": now, "shards": shard_ids}, "history": history}
        atomic_write_json(self.root / RUN_FILE, self.state)

    # -- a finished run's tags, as its consumers read them (curate, evaluate, calibrate) -------

    def tagged_shards(self) -> TaggedShards:
        """Complete shards that have tags, in id order, with their tag files in row order (one,
        or one per work unit: a split file counts once all its units are complete), and the
        shards started but not complete."""
        tag_files = {_relative_id(p, self.tags, ".parquet"): p for p in self.tags.rglob("*.parquet")}
        done = set(self.marked_units())
        started = {_relative_id(p, self.parts, ".counts.json") for p in self.parts.rglob("*.counts.json")}
        split = {}  # file id -> its unit ids, from parts/<id>.units.json
        for path in self.parts.rglob(f"*{UNITS_SUFFIX}"):
            shard_id = _relative_id(path, self.parts, UNITS_SUFFIX)
            if self.units_index(shard_id) is not None:  # a damaged index: its units are incomplete
                split[shard_id] = self.unit_ids(shard_id)
        owner = {unit: shard for shard, units in split.items() for unit in units}
        files = {s: [p] for s, p in tag_files.items() if s in done and s not in owner and s not in split}
        for shard, units in split.items():
            if all(u in done for u in units) and any(u in tag_files for u in units):
                files[shard] = [tag_files[u] for u in units if u in tag_files]  # a unit may tag no row
        incomplete = sorted({owner.get(s, s) for s in started | set(tag_files)} - set(files))
        return TaggedShards(dict(sorted(files.items())), incomplete, any_done=bool(done),
                            any_tags=bool(tag_files))

    # -- where a run stands (bias-profiler status; engine/status.py) --------------------------

    def record_plan(self, ids: list[str]) -> None:
        """The work units this run covers (complete ones included), recorded before any is
        profiled, so `status` can count the pending ones of a run still going or killed."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.state = {**self.state, "plan": {"at": now, "units": list(ids)}}
        atomic_write_json(self.root / RUN_FILE, self.state)

    def planned_units(self) -> list[str] | None:
        """Ids recorded by `record_plan`, else the last finished run's shards (None: neither)."""
        state = self.state or self.read_state()
        if state.get("plan"):
            return list(state["plan"]["units"])
        return self.finished_shards()

    def marked_units(self) -> list[str]:
        """Ids of every completion marker under parts/ (whatever the unit: shard or part of one)."""
        return sorted(_relative_id(p, self.parts, ".done") for p in self.parts.rglob("*.done") if p.is_file())

    def failed_units(self) -> dict[str, str]:
        """Units whose last attempt failed (counts written with an error, no marker): id -> error."""
        failed: dict[str, str] = {}
        for path in self.parts.rglob("*.counts.json"):
            unit = _relative_id(path, self.parts, ".counts.json")
            if self.done_path(unit).exists():
                continue
            try:
                errors = json.loads(path.read_text()).get("shards", {}).get("failed", {})
            except (OSError, ValueError, AttributeError):
                continue  # being replaced right now, or not ours: not a failure
            if errors:
                failed[unit] = str(next(iter(errors.values())))
        return failed

    def link_from(self, previous: Path) -> int:
        """Seed an empty run folder with a previous run's parts and tags (hard links where the
        filesystem allows, else copies), so an --incremental run pays only for new shards.
        Parts are replaced by rename, never rewritten in place, so the previous run stays intact.
        Returns the number of files linked or copied."""
        previous = Path(previous)
        if not (previous / RUN_FILE).is_file():
            raise UserError(f"{previous} is not a run folder: it has no {RUN_FILE}")
        if (self.root / RUN_FILE).exists():
            raise UserError(f"{self.root} already holds a run: seed only a new, empty folder")
        files = 0
        for name in ("parts", "tags"):
            source = previous / name
            for path in sorted(source.rglob("*")) if source.is_dir() else []:
                if path.is_dir() or path.name.endswith((".partial", ".tmp")):
                    continue
                target = self.root / name / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(path, target)
                files += 1
        state = json.loads((previous / RUN_FILE).read_text())
        atomic_write_json(self.root / RUN_FILE, state)
        return files


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@dataclass(frozen=True)
class TaggedShards:
    files: dict[str, list[Path]]  # complete shard id -> its tag files in row order
    incomplete: list[str]  # started, not complete
    any_done: bool  # some completion marker exists (no tags then: profiled with --no-tags)
    any_tags: bool


def _relative_id(path: Path, folder: Path, suffix: str) -> str:
    """Ids are paths relative to parts/ and tags/ (the trees mirror the input tree)."""
    return path.relative_to(folder).as_posix().removesuffix(suffix)
