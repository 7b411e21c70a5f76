"""Folders of image files with `.txt` / `.json` sidecars (img2dataset's "files" output:
``00000/000000001.jpg`` + ``000000001.txt`` + ``000000001.json``).

One shard per folder that directly holds images; one row per image file, in name order; the key
is the file stem. Only files listed in the shard's folder are opened (never a path taken from
the data). Local symlinks are followed only when they resolve inside the folder the user named,
and symlinked folders are never walked. Row problems: `file_link_outside` (a symlink leading out
of that folder), `file_not_regular`, `file_too_large` (over MAX_MEMBER_BYTES), `file_unreadable`,
`duplicate_key` (a second image with the same stem, e.g. ``a.jpg`` and ``a.png``),
`caption_invalid_utf8`. A sidecar `.json` that is invalid is ignored, as in tars.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import fsspec
import numpy as np
import pyarrow as pa

from profiler.schema import CAPTION, IMAGE, IMAGE_EMBEDDING, KEY
from profiler.sources.base import MAX_MEMBER_BYTES, ReadRequest, Shard
from profiler.sources.fileinfo import file_size, file_version
from profiler.sources.records import RowBatcher, decode_text, json_fields, parse_json

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
SIDECAR_SUFFIXES = (".txt", ".json")
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
    | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Entry:
    """A file listed in a folder: its name, size, version stamp, and whether it is a link."""

    name: str
    size: int
    stamp: str  # modification time, or the store's ETag / hash
    link: bool = False


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def _suffix(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def list_folder(fs: fsspec.AbstractFileSystem, folder: str) -> list[Entry]:
    """The image and sidecar files directly in `folder`, sorted by name (symlinks listed, not
    followed; sub-folders, FIFOs and devices left out)."""
    wanted = (*IMAGE_SUFFIXES, *SIDECAR_SUFFIXES)
    entries = []
    if _is_local(fs):
        with os.scandir(folder) as listing:
            for item in listing:
                if _suffix(item.name) not in wanted:
                    continue
                if item.is_symlink():
                    try:  # the target's stamp (stat only: it is opened only inside the root)
                        info = item.stat(follow_symlinks=True)
                        entries.append(Entry(item.name, 0, f"{info.st_size}:{info.st_mtime_ns}", link=True))
                    except OSError:
                        entries.append(Entry(item.name, 0, "dangling", link=True))
                elif item.is_file(follow_symlinks=False):
                    info = item.stat(follow_symlinks=False)
                    entries.append(Entry(item.name, info.st_size, f"{info.st_mtime_ns}"))
    else:
        for info in fs.ls(folder, detail=True):
            name = info["name"].rstrip("/").rsplit("/", 1)[-1]
            if info.get("type") == "file" and _suffix(name) in wanted:
                entries.append(Entry(name, file_size(info) or 0, file_version(info) or ""))
    return sorted(entries, key=lambda e: e.name)


def folder_signature(entries: list[Entry]) -> tuple[int, str]:
    """(total bytes, digest of names, sizes and times): any added, removed or rewritten file
    changes the version, so a resumed run redoes the folder."""
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(f"{entry.name}\0{entry.size}\0{entry.stamp}\0{entry.link}\n".encode("utf-8", "replace"))
    return sum(e.size for e in entries), f"files={len(entries)};sha256={digest.hexdigest()[:20]}"


def find_image_folders(fs: fsspec.AbstractFileSystem, root: str) -> list[tuple[str, int, str]]:
    """(folder, size, version) of every folder under `root` that directly holds images."""
    if _is_local(fs):
        folders = [path for path, _dirs, _files in os.walk(root, followlinks=False)]
    else:
        folders = sorted({root, *(p.rsplit("/", 1)[0] for p in fs.find(root))})
    out = []
    for folder in sorted(folders):
        entries = list_folder(fs, folder)
        if any(_suffix(e.name) in IMAGE_SUFFIXES for e in entries):
            out.append((folder, *folder_signature(entries)))
    return out


def folder_num_rows(shard: Shard) -> int | None:
    fs, folder = fsspec.core.url_to_fs(shard.url)
    return len(_images(list_folder(fs, folder)))


def _images(entries: list[Entry]) -> list[Entry]:
    return [e for e in entries if _suffix(e.name) in IMAGE_SUFFIXES]


class _Opener:
    """Reads a listed file of the folder into memory, within the size limit and the root."""

    def __init__(self, fs: fsspec.AbstractFileSystem, folder: str, root: str | None):
        self.fs, self.folder, self.local = fs, folder, _is_local(fs)
        root = root if root is not None else folder
        self.root = os.path.realpath(fsspec.core.url_to_fs(root)[1]) if self.local else root

    def read(self, entry: Entry) -> tuple[bytes | None, str | None]:
        path = f"{self.folder.rstrip('/')}/{entry.name}"
        try:
            if not self.local:
                return self._read_remote(path, entry)
            if entry.link:
                path = os.path.realpath(path)
                if os.path.commonpath([path, self.root]) != self.root:
                    return None, "file_link_outside"
            fd = os.open(path, _FLAGS)
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    return None, "file_not_regular"
                if info.st_size > MAX_MEMBER_BYTES:
                    return None, "file_too_large"
                with os.fdopen(fd, "rb", closefd=False) as handle:
                    data = handle.read(MAX_MEMBER_BYTES + 1)
            finally:
                os.close(fd)
        except OSError:
            return None, "file_unreadable"
        return (None, "file_too_large") if len(data) > MAX_MEMBER_BYTES else (data, None)

    def _read_remote(self, path: str, entry: Entry) -> tuple[bytes | None, str | None]:
        if entry.size > MAX_MEMBER_BYTES:
            return None, "file_too_large"
        with self.fs.open(path, "rb") as handle:
            data = handle.read(MAX_MEMBER_BYTES + 1)
        return (None, "file_too_large") if len(data) > MAX_MEMBER_BYTES else (data, None)


def read_image_files(shard: Shard, request: ReadRequest) -> Iterator[pa.RecordBatch]:
    fs, folder = fsspec.core.url_to_fs(shard.url)
    entries = list_folder(fs, folder)
    images = _images(entries)
    by_name = {e.name: e for e in entries}
    num_rows = len(images)
    selection, info = request.selection, request.info
    count = selection.count(num_rows)
    info.rows_in_shard, info.rows_selected = num_rows, count
    picked = selection.rows(shard.id, num_rows)
    rows = np.arange(count) if picked is None else picked
    wanted = [c for c in request.wanted(lambda name: name != IMAGE_EMBEDDING) if c != IMAGE_EMBEDDING]
    columns = list(dict.fromkeys([*wanted, KEY]))
    opener = _Opener(fs, folder, shard.option("root"))
    first_of_stem: dict[str, int] = {}
    for i, entry in enumerate(images):
        first_of_stem.setdefault(os.path.splitext(entry.name)[0], i)
    batcher = RowBatcher(shard.id, columns, request.batch_rows(columns))
    for row in rows.tolist():
        entry = images[row]
        stem = os.path.splitext(entry.name)[0]
        if first_of_stem[stem] != row:
            values, problem = {KEY: stem}, "duplicate_key"
        else:
            values, problem = _row(stem, entry, by_name, columns, request, opener.read)
        batch = batcher.add(row, values, problem)
        if batch is not None:
            yield batch
    batch = batcher.flush()
    if batch is not None:
        yield batch


def _row(stem: str, image: Entry, by_name: dict[str, Entry], columns: list[str], request: ReadRequest,
         read: Callable[[Entry], tuple[bytes | None, str | None]]) -> tuple[dict, str | None]:
    """canonical -> value for one image and its sidecars, and its problem."""
    values: dict = {}
    problem = None
    json_entry = by_name.get(f"{stem}.json")
    if json_entry is not None and set(columns) - {KEY, IMAGE}:
        data, problem = read(json_entry)
        values.update(json_fields(parse_json(data), columns, request.mapping))
    values[KEY] = stem
    text_entry = by_name.get(f"{stem}.txt")
    if CAPTION in columns and text_entry is not None and problem is None:
        data, problem = read(text_entry)
        if data is not None:
            values[CAPTION], problem = decode_text(data)
    elif CAPTION in values and values[CAPTION] is not None and not isinstance(values[CAPTION], str):
        values[CAPTION], problem = None, "caption_not_text"
    if IMAGE in columns and problem is None:
        values[IMAGE], problem = read(image)
    return values, problem
