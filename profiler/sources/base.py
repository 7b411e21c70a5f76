"""What every reader shares: the `Shard` handle, the read request, and the errors readers raise."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from profiler.sources.columns import ColumnMapping
from profiler.sources.selection import Selection

FORMATS = ("parquet", "webdataset", "image_files", "clip_retrieval", "hf", "csv", "tsv", "jsonl")
# Largest member / file / HF image a reader holds in memory; bigger ones flag their row instead.
MAX_MEMBER_BYTES = 64 << 20
# Embedding batches are capped at this many bytes of float32 whatever the batch size asked for:
# 262,144 rows of 768 floats would be 800 MB.
EMBEDDING_BATCH_BYTES = 128 << 20

BatchSize = int | Callable[[frozenset[str]], int]


@dataclass(frozen=True)
class Shard:
    """One unit of input: a file, a tar, a folder of images, an embedding/metadata pair or a
    Hugging Face dataset shard.

    `id` is a relative path (outputs mirror it: no `..`, no absolute path, no colon); `url`
    reopens it anywhere (`extra` holds what else a format needs: the metadata file of a
    clip-retrieval pair, the shard index of an HF dataset). `size` and `version` (mtime, ETag,
    digest, ...) tell a resumed run whether the input changed since.
    """

    id: str
    url: str
    size: int | None = None
    version: str | None = None
    format: str = "parquet"
    extra: tuple[tuple[str, str], ...] = ()

    def option(self, name: str, default: str | None = None) -> str | None:
        return dict(self.extra).get(name, default)


class MissingColumnsError(Exception):
    """The shard lacks a column some tagger requires; its rows are skipped and counted."""

    def __init__(self, missing: list[str], num_rows: int):
        super().__init__(f"missing column(s): {', '.join(missing)}")
        self.missing = missing
        self.num_rows = num_rows


class ShardDataError(ValueError):
    """The shard's content cannot be read at all (not a tar, an object-dtype .npy, row counts that
    disagree). The engine records the shard as failed with this message and retries it."""


@dataclass
class ReadInfo:
    """Filled in by `read_shard` as soon as it is known: rows in the shard, rows selected.
    Formats without a row count up front (tars, HF streams) fill it at the end of a head read."""

    rows_in_shard: int | None = None
    rows_selected: int | None = None


@dataclass
class ReadRequest:
    """The arguments of `read_shard`, normalised once for every reader."""

    required: list[str]
    optional: list[str] = field(default_factory=list)
    one_of: list[tuple[str, ...]] = field(default_factory=list)
    mapping: ColumnMapping = field(default_factory=ColumnMapping)
    batch_size: BatchSize = 262144
    selection: Selection = field(default_factory=Selection)
    info: ReadInfo = field(default_factory=ReadInfo)

    @classmethod
    def make(cls, required: Iterable[str], optional: Iterable[str] = (),
             mapping: ColumnMapping | None = None, batch_size: BatchSize = 262144,
             selection: Selection | None = None, info: ReadInfo | None = None,
             one_of: Iterable[Iterable[str]] = ()) -> ReadRequest:
        required = list(dict.fromkeys(required))
        optional = [c for c in dict.fromkeys(optional) if c not in required]
        return cls(required, optional, [tuple(group) for group in one_of if group],
                   mapping or ColumnMapping(), batch_size, selection or Selection(), info or ReadInfo())

    def wanted(self, has: Callable[[str], bool]) -> list[str]:
        """Required and optional columns, plus from each `one_of` group the first one `has`
        accepts (so image bytes are never read where embeddings exist)."""
        out = [*self.required, *self.optional]
        for group in self.one_of:
            first = next((name for name in group if has(name)), None)
            if first is not None and first not in out:
                out.append(first)
        return out

    def batch_rows(self, columns: Iterable[str]) -> int:
        """The batch size for reading these canonical columns (the engine asks for small batches
        only while image bytes are read)."""
        size = self.batch_size(frozenset(columns)) if callable(self.batch_size) else self.batch_size
        return max(1, int(size))
