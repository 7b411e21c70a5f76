"""Samples of a webdataset tar, read as a stream and never extracted.

Members are read into memory only (`extractfile(...).read()`, at most MAX_MEMBER_BYTES each) or
drained in chunks; nothing is written to disk, no link is followed and no member name is used as
a path. Consecutive members sharing a key form a sample (webdataset convention: the key is the
member path up to the first dot of its basename, the extension the rest, lower-cased; members
whose basename has no dot are not sample members and are skipped, like webdataset does, unless
their name is unsafe or they are links, which are reported).

Each sample carries at most one problem, the first that applies in this order:

- ``tar_truncated`` / ``tar_corrupt``: the archive ends early / is damaged while this sample was
  being read (see below);
- ``tar_unsafe_name``: a member name with a ``..`` component, an absolute path, a drive letter or
  a NUL;
- ``tar_link_member``: a symlink, hard link, device or FIFO member (never followed);
- ``tar_special_member``: a GNU sparse or unknown-type member;
- ``tar_member_too_large``: a member that would be read is larger than the limit;
- ``tar_duplicate_key``: the key was already seen earlier in the tar (non-consecutively), or the
  sample has the same extension twice (the later sample / member is the duplicate).

Damage: samples before the damage are kept. The sample being read when the damage is found gets
``tar_truncated`` (data or headers end early, the end-of-archive block is missing) or
``tar_corrupt`` (an invalid header after the first, undecodable compressed data); when no sample
is in progress a row of its own carries the reason. The shard then completes, so its damage is
counted in `rows.skipped` rather than failing it again on every run (a re-downloaded file has a
new size/version and is redone). A file that is not a tar at all (its first header is invalid)
raises ShardDataError: the engine records the shard as failed. A zero-byte file is an empty
archive, as GNU tar reads it: no rows.
"""

from __future__ import annotations

import lzma
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from profiler.sources.base import MAX_MEMBER_BYTES, ShardDataError

# Largest pax / GNU long-name header accepted: tarfile reads them whole into memory.
MAX_HEADER_BYTES = 1 << 20
CHUNK = 1 << 20
_KEY_EXT = re.compile(r"^((?:.*/|)[^./][^.]*)\.([^/]*)$", re.DOTALL)
_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
             tarfile.SOLARIS_XHDTYPE)
_LINKS = (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE)
_RANK = {reason: i for i, reason in enumerate((
    "tar_truncated", "tar_corrupt", "tar_unsafe_name", "tar_link_member", "tar_special_member",
    "tar_member_too_large", "tar_duplicate_key",
))}
_DAMAGE = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, ValueError, OverflowError)


@dataclass
class Sample:
    """One sample: its key, the data of the members kept (extension -> bytes), the extensions
    seen, and its problem (None: usable)."""

    key: str
    data: dict[str, bytes] = field(default_factory=dict)
    exts: set[str] = field(default_factory=set)
    problem: str | None = None

    def flag(self, reason: str) -> None:
        if self.problem is None or _RANK[reason] < _RANK[self.problem]:
            self.problem = reason
        self.data.clear()  # a flagged sample's data is never used


class _TarInfo(tarfile.TarInfo):
    """Records why reading headers stopped (tarfile treats a missing end-of-archive block or an
    invalid header after the first as a quiet end), and refuses huge extended headers."""

    @classmethod
    def fromtarfile(cls, tar):  # type: ignore[override]
        try:
            return super().fromtarfile(tar)
        except tarfile.EOFHeaderError:
            tar.end_reason = None  # a zero block: the archive's proper end
            raise
        except (tarfile.EmptyHeaderError, tarfile.TruncatedHeaderError):
            tar.end_reason = "tar_truncated"
            raise
        except tarfile.HeaderError:
            tar.end_reason = "tar_corrupt"
            raise

    def _proc_member(self, tar):  # type: ignore[override]
        if self.type in _EXTENDED and not 0 <= self.size <= MAX_HEADER_BYTES:
            raise tarfile.InvalidHeaderError("extended header too large")
        return super()._proc_member(tar)


class _Tar(tarfile.TarFile):
    end_reason: str | None = "tar_truncated"


def split_name(name: str) -> tuple[str, str] | None:
    """(key, extension) of a member name, None when the basename has no extension."""
    match = _KEY_EXT.match(name)
    return (match.group(1), match.group(2).lower()) if match else None


def unsafe_name(name: str) -> bool:
    """Names that would escape an extraction folder (we never extract, but such a sample is
    hostile or broken, so it is reported rather than used)."""
    parts = re.split(r"[/\\]", name)
    return (not name or "\x00" in name or name.startswith(("/", "\\")) or ".." in parts
            or re.match(r"^[A-Za-z]:", name) is not None)


def _text(name: str) -> str:
    """Member names are decoded with surrogateescape; keys must be valid UTF-8 text."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def tar_samples(fileobj: IO[bytes], keep: frozenset[str], max_member_bytes: int = MAX_MEMBER_BYTES,
                name: str = "tar") -> Iterator[Sample]:
    """The samples of a tar stream (plain, gz, bz2 or xz), keeping the data of members whose
    extension is in `keep`. Raises ShardDataError when the stream is not a tar at all."""
    try:
        tar = _Tar.open(fileobj=fileobj, mode="r|*", tarinfo=_TarInfo)
    except tarfile.ReadError as error:
        if str(error) == "empty file":
            return
        raise ShardDataError(f"{name} is not a readable tar archive ({error})") from None
    except _DAMAGE as error:
        raise ShardDataError(f"{name} is not a readable tar archive ({error})") from None
    current: Sample | None = None
    seen: set[str] = set()
    try:
        while True:
            try:
                member = tar.next()
            except _DAMAGE as error:
                raise _Damage("tar_truncated" if "unexpected end" in str(error) else "tar_corrupt") \
                    from None
            tar.members.clear()  # stream mode keeps every header otherwise
            if member is None:
                if tar.end_reason:
                    raise _Damage(tar.end_reason)
                break
            if member.isdir():
                _drain(tar)
                continue
            name = _text(member.name)
            parts = split_name(name)
            bad_kind = not member.isreg() or member.issparse()
            if parts is None:
                if not (unsafe_name(name) or bad_kind):
                    _drain(tar)
                    continue
                parts = (name, "")
            key, ext = parts
            if current is None or key != current.key:
                if current is not None:
                    yield current
                current = Sample(key)
                if key in seen:
                    current.flag("tar_duplicate_key")
                seen.add(key)
            _add_member(tar, member, current, name, ext, keep, max_member_bytes)
    except _Damage as damage:
        if current is None:
            current = Sample("(end of tar)")
        current.flag(damage.reason)
    if current is not None:
        yield current


class _Damage(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _add_member(tar: _Tar, member: tarfile.TarInfo, sample: Sample, name: str, ext: str,
                keep: frozenset[str], max_member_bytes: int) -> None:
    """Read or drain one member and record its problem on the sample."""
    if unsafe_name(name):
        sample.flag("tar_unsafe_name")
    if member.type in _LINKS:
        sample.flag("tar_link_member")
    elif not member.isreg() or member.issparse():
        sample.flag("tar_special_member")
    if ext in sample.exts:
        sample.flag("tar_duplicate_key")
    sample.exts.add(ext)
    if member.size < 0:
        raise _Damage("tar_corrupt")
    wanted = ext in keep and sample.problem is None
    if wanted and member.size > max_member_bytes:
        sample.flag("tar_member_too_large")
        wanted = False
    if wanted:
        try:
            handle = tar.extractfile(member)
            sample.data[ext] = handle.read() if handle is not None else b""
        except _DAMAGE as error:
            raise _Damage("tar_truncated" if "unexpected end" in str(error) else "tar_corrupt") from None
    else:
        _drain(tar)


def _drain(tar: _Tar) -> None:
    """Read up to the next header in chunks: tarfile's own skip loops block by block over the size
    a header claims (a hostile size would spin for ever) and says nothing when the data ends."""
    stream = tar.fileobj
    try:
        while (left := tar.offset - stream.tell()) > 0:
            if not stream.read(min(left, CHUNK)):
                raise _Damage("tar_truncated")
    except _DAMAGE as error:
        raise _Damage("tar_truncated" if "unexpected end" in str(error) else "tar_corrupt") from None
