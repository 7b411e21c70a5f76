"""Builders of small source datasets for the reader tests: webdataset tars (hostile ones too),
image folders, clip-retrieval pairs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"


def member(tar: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE,
           linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def sample_members(key: str, caption: str | bytes | None = None, meta: dict | bytes | None = None,
                   image: bytes | None = JPEG, image_ext: str = "jpg") -> list[tuple[str, bytes]]:
    out = []
    if image is not None:
        out.append((f"{key}.{image_ext}", image))
    if caption is not None:
        out.append((f"{key}.txt", caption.encode() if isinstance(caption, str) else caption))
    if meta is not None:
        out.append((f"{key}.json", meta if isinstance(meta, bytes) else json.dumps(meta).encode()))
    return out


def tar_bytes(members: list[tuple[str, bytes]], mode: str = "w", fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, format=fmt) as tar:
        for name, data in members:
            member(tar, name, data)
    return buffer.getvalue()


def write_tar(path: Path, members: list[tuple[str, bytes]], mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tar_bytes(members, mode))
    return path


def laion_samples(n: int, prefix: str = "00000") -> list[tuple[str, bytes]]:
    """n img2dataset-style samples: jpg + txt + json (url, key, punsafe, NSFW, width)."""
    out = []
    for i in range(n):
        key = f"{prefix}{i:04d}"
        out += sample_members(key, f"caption {i}", {
            "url": f"https://example.com/{i}.jpg", "key": key, "punsafe": i / max(n, 1),
            "NSFW": "UNLIKELY", "width": 100 + i, "caption": f"json caption {i}",
        })
    return out


def write_image_folder(folder: Path, n: int, prefix: str = "0000") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        stem = f"{prefix}{i:05d}"
        (folder / f"{stem}.jpg").write_bytes(JPEG + bytes([i % 256]))
        (folder / f"{stem}.txt").write_text(f"caption {i}")
        (folder / f"{stem}.json").write_text(json.dumps({"url": f"https://e.com/{i}", "key": stem,
                                                         "punsafe": 0.1}))
    return folder


def write_clip_retrieval(root: Path, rows: list[int], dim: int = 8, dtype=np.float16,
                         seed: int = 0) -> list[np.ndarray]:
    """img_emb/img_emb_N.npy + metadata/metadata_N.parquet with `rows[N]` rows each."""
    (root / "img_emb").mkdir(parents=True, exist_ok=True)
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    matrices = []
    for number, count in enumerate(rows):
        matrix = rng.normal(size=(count, dim)).astype(dtype)
        np.save(root / "img_emb" / f"img_emb_{number}.npy", matrix)
        pq.write_table(pa.table({
            "caption": [f"caption {number}-{i}" for i in range(count)],
            "url": [f"https://e.com/{number}/{i}" for i in range(count)],
            "image_path": [f"{number:05d}{i:04d}" for i in range(count)],
        }), root / "metadata" / f"metadata_{number}.parquet", row_group_size=max(1, count // 3))
        matrices.append(matrix)
    return matrices
