"""Which rows of a shard to read: all of them, the first N, or a seeded uniform sample of N.

Sampling is bottom-N by a hash priority: row i of a shard gets the (i+1)-th output of a
SplitMix64 generator seeded with sha256(seed, shard id), and the shard's sample is the N rows
with the smallest priorities. That is a uniform sample without replacement (the method of the
published LAION audits: a random subset of each part file), and, being plain 64-bit integer
arithmetic, it picks the same rows on every machine, worker and numpy version. A sample of N
rows also contains the sample of every smaller N, so `--limit` on top of a sample stays nested.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_CHUNK = 1 << 20  # rows hashed at a time: memory stays flat for shards of any size


@dataclass(frozen=True)
class Selection:
    """Rows to read from one shard; `None` fields mean "no bound".

    `sample`: a seeded uniform sample of this many rows (all rows when the shard is smaller).
    `limit`: at most this many rows: the first ones, or a smaller sample when sampling.
    """

    sample: int | None = None
    limit: int | None = None
    seed: int = 0

    def count(self, num_rows: int) -> int:
        """How many rows of a shard with `num_rows` rows this selection reads."""
        bounds = [b for b in (self.sample, self.limit) if b is not None]
        return min([num_rows, *bounds])

    def rows(self, shard_id: str, num_rows: int) -> np.ndarray | None:
        """Sorted row numbers to read, or None for "the first count(num_rows) rows"."""
        n = self.count(num_rows)
        if self.sample is None or n >= num_rows:
            return None
        return sample_rows(self.seed, shard_id, num_rows, n)

    def to_json(self) -> dict[str, int | None]:
        return {"sample": self.sample, "limit": self.limit, "seed": self.seed}


def shard_key(seed: int, shard_id: str) -> np.uint64:
    """A 64-bit generator seed from (seed, shard id); stable across processes and platforms."""
    digest = hashlib.sha256(f"{seed}\0{shard_id}".encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def priorities(key: np.uint64, start: int, stop: int) -> np.ndarray:
    """SplitMix64 outputs start+1 .. stop for the generator seeded with `key` (uint64 wraps)."""
    return mix64(key + (np.arange(start + 1, stop + 1, dtype=np.uint64) * GAMMA))


def mix64(state: np.ndarray) -> np.ndarray:
    """SplitMix64's output function: every input bit moves every output bit (uint64 wraps)."""
    with np.errstate(over="ignore"):
        z = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@functools.lru_cache(maxsize=8)
def sample_rows(seed: int, shard_id: str, num_rows: int, n: int) -> np.ndarray:
    """The n rows of lowest priority, sorted; hashed in chunks so memory is O(n + chunk).

    Cached (read-only): the work units of one file each take their part of the file's sample.
    """
    if n <= 0:
        return np.empty(0, np.int64)
    key = shard_key(seed, shard_id)
    best_rows = np.empty(0, np.int64)
    best_keys = np.empty(0, np.uint64)
    for start in range(0, num_rows, _CHUNK):
        stop = min(start + _CHUNK, num_rows)
        keys = np.concatenate([best_keys, priorities(key, start, stop)])
        rows = np.concatenate([best_rows, np.arange(start, stop, dtype=np.int64)])
        if len(keys) > n:
            keep = np.argpartition(keys, n - 1)[:n]
            keys, rows = keys[keep], rows[keep]
        best_keys, best_rows = keys, rows
    out = np.sort(best_rows)
    out.setflags(write=False)
    return out
