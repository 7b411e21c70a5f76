"""Readers: turn a dataset into pyarrow RecordBatches in the canonical schema.

Formats: parquet, webdataset tars, image_files folders, clip_retrieval embeddings, hf datasets
(see profiler/sources/discover.py for how an input's format is told).
"""

from profiler.sources.base import FORMATS, MissingColumnsError, ReadInfo, Shard, ShardDataError
from profiler.sources.columns import ColumnMapping
from profiler.sources.discover import discover_shards
from profiler.sources.reader import read_shard, shard_num_rows

__all__ = ["FORMATS", "ColumnMapping", "MissingColumnsError", "ReadInfo", "Shard", "ShardDataError",
           "discover_shards", "read_shard", "shard_num_rows"]
