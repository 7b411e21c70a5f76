"""File sizes and versions from fsspec listings: what a resumed run compares to spot a change."""

from __future__ import annotations

from typing import Any

_VERSION_KEYS = ("ETag", "etag", "md5Hash", "crc32c", "blob_id", "mtime", "LastModified",
                 "last_modified", "updated", "created")


def file_size(info: dict[str, Any]) -> int | None:
    size = info.get("size")
    return int(size) if isinstance(size, (int, float)) else None


def file_version(info: dict[str, Any]) -> str | None:
    """What changes when the file's content does: an etag or hash where the store gives one,
    else the modification time."""
    for key in _VERSION_KEYS:
        if info.get(key) is not None:
            return f"{key}={info[key]}"
    return None
