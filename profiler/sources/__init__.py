"""Readers: turn a dataset into pyarrow RecordBatches in the canonical schema."""

from profiler.sources.columns import ColumnMapping
from profiler.sources.parquet import Shard, discover_shards, read_shard

__all__ = ["ColumnMapping", "Shard", "discover_shards", "read_shard"]
