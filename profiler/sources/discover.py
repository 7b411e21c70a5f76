"""Find the shards of the inputs the user named, and tell their format.

Auto-detection, per input:

- ``hf:<path>[?...]``: a Hugging Face dataset (profiler/sources/hf.py);
- a folder holding ``img_emb/`` and ``metadata/``: clip-retrieval embeddings, one shard per
  ``img_emb_N.npy`` / ``metadata_N.parquet`` pair;
- ``.parquet`` files: parquet; ``.tar`` / ``.tar.gz`` / ``.tgz``: webdataset (a folder with both
  is ambiguous, since img2dataset writes a metadata .parquet beside each .tar: name one kind);
- a folder with neither but image files: one ``image_files`` shard per folder that directly
  holds images (img2dataset's "files" output);
- caption files ``.csv``, ``.tsv``, ``.jsonl`` / ``.ndjson`` (each optionally ``.gz``): one shard
  per file (profiler/sources/delimited.py), in a folder only when it holds no parquet or tar;
- a file of any other kind: a user error naming the formats read (a parquet file without the
  suffix is recognised by its magic bytes).

Ids are paths relative to the folder named (a glob's fixed prefix, a file's folder; with several
inputs, their common folder) without the extension, so they stay the same when files are added.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import fsspec

from profiler.errors import UserError
from profiler.sources import delimited, embeddings, image_files
from profiler.sources.base import FORMATS, Shard
from profiler.sources.fileinfo import file_size, file_version

GLOB_CHARS = set("*?[")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
PARQUET_SUFFIX = ".parquet"
PARQUET_MAGIC = b"PAR1"
READ_FORMATS = (".parquet files, .tar / .tar.gz webdataset shards, .csv / .tsv / .jsonl caption files "
                "(optionally .gz), folders of images, clip-retrieval folders and hf:<dataset>")


@dataclass(frozen=True)
class Found:
    """A shard before its id is known: `id_path` is the path its id is made from."""

    url: str
    id_path: str
    format: str
    size: int | None
    version: str | None
    extra: tuple[tuple[str, str], ...] = ()


def discover_shards(sources: Iterable[str], format: str = "auto", exclude: Iterable[str] = ()) -> list[Shard]:
    """Expand files, folders (recursively), globs and ``hf:`` datasets into shards, in order.

    `exclude`: local folders whose files are never shards (the run's own output folder, when it
    lies inside an input folder: its tag files are parquet too)."""
    excluded = tuple(os.path.abspath(e) for e in exclude)
    if format != "auto" and format not in FORMATS:
        raise UserError(f"unknown source format {format!r}: use auto or one of {', '.join(FORMATS)}")
    found: dict[str, Found] = {}
    bases: list[str] = []
    order: list[str | Shard] = []  # file urls and HF shards, in the order of the sources
    for source in sources:
        if source.startswith("hf:") or format == "hf":
            if format not in ("auto", "hf"):
                raise UserError(f"{source} is a Hugging Face dataset; it cannot be read as {format}")
            from profiler.sources.hf import hf_shards  # imports `datasets`: only when asked for

            order.extend(hf_shards(source))
            continue
        base, files = _expand(source, format, excluded)
        bases.append(base)
        for item in files:
            if item.url not in found:
                found[item.url] = item
                order.append(item.url)
    items = list(found.values())
    ids = dict(zip(found, _ids([item.id_path for item in items], bases), strict=True)) if items else {}
    shards = [entry if isinstance(entry, Shard) else
              Shard(id=ids[entry], url=entry, size=found[entry].size, version=found[entry].version,
                    format=found[entry].format, extra=found[entry].extra)
              for entry in order]
    seen: set[str] = set()
    for shard in shards:
        if shard.id in seen:
            raise UserError(f"two inputs map to the same shard id {shard.id!r}: profile them in "
                            "separate runs")
        seen.add(shard.id)
    return shards


def _expand(source: str, format: str, excluded: tuple[str, ...] = ()) -> tuple[str, list[Found]]:
    """(base folder, shards found) for one input."""
    try:
        fs, path = fsspec.core.url_to_fs(source)
    except (ImportError, ValueError) as error:
        raise UserError(f"cannot open {source}: {error}") from None
    remote = _is_remote(fs)

    def kept(infos: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if remote or not excluded:
            return infos
        return {p: i for p, i in infos.items()
                if not any(p == e or p.startswith(e.rstrip("/") + "/") for e in excluded)}

    def url(p: str) -> str:
        return fs.unstrip_protocol(p) if remote else p

    if GLOB_CHARS & set(path):
        infos = kept({p: i for p, i in fs.glob(path, detail=True).items() if i.get("type") != "directory"})
        parts = path.split("/")
        fixed = next(i for i, part in enumerate(parts) if GLOB_CHARS & set(part))
        return "/".join(parts[:fixed]), _files(source, infos, format, url)
    if fs.isdir(path):
        if format in ("auto", "clip_retrieval") and embeddings.is_layout(fs, path):
            return path, [Found(**pair) for pair in embeddings.pairs(fs, path, url)]
        if format == "clip_retrieval":
            raise UserError(f"{source} is not a clip-retrieval folder: it needs img_emb/ and metadata/ "
                            "subfolders (img_emb/img_emb_N.npy beside metadata/metadata_N.parquet)")
        if format == "image_files":
            return path, _image_folders(fs, path, source, url)
        infos = kept(dict(fs.find(path, detail=True)))
        files = _files(source, infos, format, url, folder=True)
        if files or format != "auto":
            return path, files
        return path, _image_folders(fs, path, source, url)
    if fs.exists(path):
        if format in ("image_files", "clip_retrieval"):
            raise UserError(f"{source} is a file; --format {format} reads a folder: name the folder")
        kind = format if format != "auto" else _file_format(fs, path, source)
        return posixpath.dirname(path), [_found(url(path), path, kind, fs.info(path))]
    raise UserError(f"no such file or folder: {source} (check the path or URL)")


def _file_format(fs: fsspec.AbstractFileSystem, path: str, source: str) -> str:
    """A single file's format from its name; without a known suffix, parquet only when it
    starts like one. Any other file is the user's mistake, not a failed shard."""
    if path.endswith(TAR_SUFFIXES):
        return "webdataset"
    if path.endswith(PARQUET_SUFFIX):
        return "parquet"
    text = delimited.format_of(path)
    if text:
        return text
    try:
        with fs.open(path, "rb") as handle:
            if handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC:
                return "parquet"
    except OSError:
        pass
    raise UserError(f"cannot read {source}: not a format bias-profiler reads ({READ_FORMATS}); "
                    "if it is one of them under another name, pass --source-format")


def _text_files(infos: dict[str, dict[str, Any]], format: str) -> list[str]:
    """Caption files among listed files: of `format`, or (auto) of any text format."""
    return sorted(p for p in infos if (kind := delimited.format_of(p)) and format in ("auto", kind))


def _files(source: str, infos: dict[str, dict[str, Any]], format: str, url,
           folder: bool = False) -> list[Found]:
    """Parquet, tar or caption-file shards among listed files (auto: whichever kind is there;
    caption files only where there is no parquet or tar)."""
    if format in delimited.FORMATS or format == "auto":
        texts = _text_files(infos, format)
        shards_too = any(p.endswith((PARQUET_SUFFIX, *TAR_SUFFIXES)) for p in infos)
        if format != "auto" or (texts and not shards_too):
            if not texts:
                raise UserError(f"{source} holds no .{format} files (nor .{format}.gz)")
            return [_found(url(p), p, format if format != "auto" else delimited.format_of(p), infos[p])
                    for p in texts]
    parquet = sorted(p for p in infos if p.endswith(PARQUET_SUFFIX))
    tars = sorted(p for p in infos if p.endswith(TAR_SUFFIXES))
    if format == "auto":
        if parquet and tars:
            raise UserError(
                f"{source} holds both .parquet and .tar files (img2dataset writes a metadata .parquet "
                f"beside each .tar): name one kind, e.g. '{source.rstrip('/')}/*.tar', or pass --format"
            )
        format = "webdataset" if tars else "parquet"
        if not parquet and not tars and folder:
            return []  # the caller looks for image folders next
    paths = tars if format == "webdataset" else parquet if format == "parquet" else []
    if not paths:
        kind = {"webdataset": ".tar", "parquet": ".parquet"}.get(format, ".parquet, .tar or image")
        raise UserError(
            f"{source} holds no {kind} files: point at a parquet file, a folder of them, a glob such "
            "as 'data/*.parquet', a folder of .tar shards or of image files, or hf:<dataset>"
        )
    return [_found(url(p), p, format, infos[p]) for p in paths]


def _image_folders(fs: fsspec.AbstractFileSystem, path: str, source: str, url) -> list[Found]:
    folders = image_files.find_image_folders(fs, path)
    if not folders:
        raise UserError(
            f"{source} holds no .parquet files (nor .tar shards or image files): point at a parquet "
            "file, a folder of them, a glob such as 'data/*.parquet', a folder of .tar shards or of "
            "image files (.jpg/.png/.webp with .txt/.json sidecars), or hf:<dataset>"
        )
    return [Found(url(folder), folder, "image_files", size, version, (("root", url(path)),))
            for folder, size, version in folders]


def _found(url: str, path: str, format: str, info: dict[str, Any]) -> Found:
    return Found(url, path, format, file_size(info), file_version(info))


def _is_remote(fs: fsspec.AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol not in ("file", "local")


def _strip_suffix(path: str) -> str:
    if delimited.format_of(path):
        return delimited.strip_suffix(path)
    for suffix in (PARQUET_SUFFIX, *TAR_SUFFIXES):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _ids(paths: list[str], bases: list[str]) -> list[str]:
    """Paths relative to the inputs' common base folder, without the extension."""
    def plain(path: str) -> str:
        return path.split("://", 1)[-1].strip("/")

    bases = [plain(b) for b in bases]
    common = posixpath.commonpath(bases) if len(set(bases)) > 1 else bases[0]
    ids = []
    for path in map(plain, paths):
        rel = posixpath.relpath(path, common) if common else path
        if rel == ".":  # the folder named is itself the shard (a folder of images)
            rel = posixpath.basename(path) or "root"
        ids.append(_strip_suffix(rel).replace(":", "_"))
    return ids
