"""Rows of a 2-D float `.npy` file, local (memory-mapped) or remote (ranged reads), never unpickled.

The header is parsed first (numpy's own parser, which reads a literal, not a pickle) and anything
but a 2-D float16/32/64 array is refused before any data is read: an object-dtype file would
need pickle, the one way a data file could run code.
"""

from __future__ import annotations

from typing import IO

import fsspec
import numpy as np

from profiler.sources.base import ShardDataError


def _header(handle: IO[bytes], name: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle, max_header_size=1 << 16)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle, max_header_size=1 << 16)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, TypeError, SyntaxError, OSError, EOFError) as error:
        raise ShardDataError(f"{name} is not a readable .npy file ({error})") from None
    if dtype.hasobject or dtype.kind != "f" or dtype.itemsize not in (2, 4, 8):
        raise ShardDataError(f"{name} holds {dtype} values: embeddings must be float16 or float32 "
                             "(object arrays are refused: loading them would unpickle)")
    if len(shape) != 2:
        raise ShardDataError(f"{name} has shape {shape}: embeddings must be a 2-D array (rows, dim)")
    return shape, fortran, dtype, handle.tell()


class NpyMatrix:
    """A (rows, dim) float matrix in a .npy file, read by rows."""

    def __init__(self, url: str):
        self.url = url
        fs, self.path = fsspec.core.url_to_fs(url)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self.local = protocol in ("file", "local")
        self.fs = fs
        with fs.open(self.path, "rb") as handle:
            self.shape, self.fortran, self.dtype, self.offset = _header(handle, url)
        self._array: np.ndarray | None = None
        if self.local:
            try:
                self._array = np.load(self.path, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError) as error:
                raise ShardDataError(f"{url} cannot be read ({error})") from None
        elif self.fortran:
            raise ShardDataError(f"{url} is Fortran-ordered: save it C-ordered to read it remotely")

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def dim(self) -> int:
        return self.shape[1]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """These rows (sorted) as float32."""
        if self._array is not None:
            if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
                return np.asarray(self._array[rows[0]:rows[-1] + 1], np.float32)
            return np.asarray(self._array[rows], np.float32)
        out = np.empty((len(rows), self.dim), np.float32)
        width = self.dim * self.dtype.itemsize
        with self.fs.open(self.path, "rb") as handle:
            for i, row in enumerate(rows.tolist()):  # remote: one ranged read per run of rows
                if i and rows[i - 1] == row - 1:
                    data = handle.read(width)
                else:
                    handle.seek(self.offset + row * width)
                    data = handle.read(width)
                if len(data) != width:
                    raise ShardDataError(f"{self.url} ends before row {row}: the file is truncated")
                out[i] = np.frombuffer(data, self.dtype)
        return out

    def close(self) -> None:
        self._array = None
