"""RunSpec: one profiling run, declared in TOML (pipelines/*.toml) or on the command line.

Every key is checked: a typo or a wrong type is a UserError naming the key and the fix.
Relative paths in a TOML file resolve against the file's own folder.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from profiler.defaults import ALPHA, CONFIDENCE, MIN_SUPPORT
from profiler.errors import UserError
from profiler.models.loading import LOCAL_DIR
from profiler.schema import KNOWN_ALIASES
from profiler.stats import StatsSettings
from profiler.taggers import DEFAULT_TAGGERS, REGISTRY
from profiler.tomlcompat import tomllib

DEFAULT_OUT_ROOT = Path("reports")
# Rows per batch: large enough to amortise compiling the lexicon regexes (RE2) per batch.
DEFAULT_BATCH_SIZE = 262144
EXECUTORS = ("threads", "processes")
ENGINES = ("local", "ray")
SOURCE_FORMATS = ("auto", "parquet", "webdataset", "image_files", "clip_retrieval", "hf",
                  "csv", "tsv", "jsonl")
# Tagger settings that name files: resolved against the pipeline TOML's folder.
PATH_SETTINGS = ("lexicon_path", "prompts_path", "thresholds_path", "cache_dir")

_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "run": {"name": str, "out": str, "workers": int, "executor": str, "batch_size": int,
            "write_tags": bool, "engine": str, "address": str, "incremental": bool,
            "sample_per_shard": int, "sample_seed": int, "limit": int, "progress_seconds": float,
            "dated": bool, "embedding_cache": str, "cache_embeddings": bool,
            "unit_rows": int},
    "source": {"paths": list, "columns": dict, "sample": dict, "format": str},
    "taggers": {"enabled": list, **{name: dict for name in REGISTRY}},
    "stats": {"min_support": int, "confidence": float, "alpha": float},
    "report": {"redact_captions": bool, "examples_per_group": int},
}


@dataclass
class RunSpec:
    name: str
    sources: list[str]
    out: Path
    taggers: list[str] = field(default_factory=lambda: list(DEFAULT_TAGGERS))
    tagger_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    stats: StatsSettings = field(default_factory=StatsSettings)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    executor: str = "threads"
    batch_size: int = DEFAULT_BATCH_SIZE
    write_tags: bool = True
    redact_captions: bool = False
    examples_per_group: int = 3
    sample: dict[str, Any] | None = None
    # how the run executes (engine/): local threads or processes, or a Ray cluster
    engine: str = "local"
    address: str | None = None  # Ray cluster: "auto", "ray://head:10001"; None: start one here
    incremental: bool = False  # may extend a finished run to a grown (or shrunk) shard set
    sample_per_shard: int | None = None  # a seeded uniform sample of N rows per shard
    sample_seed: int = 0
    limit: int | None = None  # at most N rows in total, as quotas in shard order
    progress_seconds: float = 10.0  # a "progress:" log line this often
    dated: bool = False  # write <out>/<YYYY-MM-DD>/, building on the previous dated run
    date: str | None = None  # the date of a dated run (default: today, UTC)
    baseline: str | None = None  # a previous run folder to compare with in the report
    source_format: str = "auto"  # parquet, webdataset, image_files, clip_retrieval, hf, or auto
    embedding_cache: str | None = None  # read cached embeddings here (default <out>/embeddings)
    cache_embeddings: bool = True  # store the embeddings model taggers compute
    # rows per work unit inside a parquet file (row-group ranges); None: automatic, 0: whole files
    unit_rows: int | None = None

    def validate(self) -> RunSpec:
        if not self.sources:
            raise UserError("no input given: name parquet files, folders or globs to profile")
        unknown = [t for t in self.taggers if t not in REGISTRY]
        if unknown:
            raise UserError(f"unknown tagger(s) {unknown}: choose from {', '.join(REGISTRY)}")
        if self.source_format not in SOURCE_FORMATS:
            raise UserError(f"source format must be one of {', '.join(SOURCE_FORMATS)}, "
                            f"got {self.source_format!r}")
        unknown_columns = sorted(set(self.columns) - set(KNOWN_ALIASES))
        if unknown_columns:
            raise UserError(f"unknown column name(s) {unknown_columns} in the column mapping: map "
                            f"one of {', '.join(KNOWN_ALIASES)} (CANONICAL=SOURCE, e.g. caption=alt_text)")
        if self.executor not in EXECUTORS:
            raise UserError(f"executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if self.workers < 1 or self.batch_size < 1:
            raise UserError("workers and batch_size must be positive integers")
        self._validate_run()
        s = self.stats
        if s.min_support < 1 or not 0 < s.confidence < 1 or not 0 < s.alpha < 1:
            raise UserError("stats: min_support >= 1, and confidence and alpha strictly between 0 and 1")
        return self

    def _validate_run(self) -> None:
        if self.engine not in ENGINES:
            raise UserError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.address and self.engine != "ray":
            raise UserError("--address names a Ray cluster: add --engine ray")
        for name in ("sample_per_shard", "limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"{name.replace('_', '-')} must be a positive number of rows, got {value}")
        if self.progress_seconds <= 0:
            raise UserError("progress_seconds must be positive")
        if self.unit_rows is not None and self.unit_rows < 0:
            raise UserError("unit-rows must be 0 (whole files) or a positive number of rows, "
                            f"got {self.unit_rows}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"] = str(self.out)
        return data


def default_run_name() -> str:
    return datetime.now(timezone.utc).strftime("profile-%Y%m%d-%H%M%S")


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder: give the path of a .toml file") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path} is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a UTF-8 text file") from None
    _check_schema(data, path)
    return data


def _check_schema(data: dict[str, Any], path: Path) -> None:
    for section, value in data.items():
        if section not in _SCHEMA:
            raise UserError(f"{path}: unknown section [{section}]; allowed: {', '.join(_SCHEMA)}")
        if not isinstance(value, dict):
            raise UserError(f"{path}: [{section}] must be a table")
        for key, item in value.items():
            allowed = _SCHEMA[section]
            if key not in allowed:
                raise UserError(
                    f"{path}: unknown key {key!r} in [{section}]; allowed: {', '.join(allowed)}"
                )
            expected = allowed[key]
            ok = isinstance(item, expected) and not (expected is int and isinstance(item, bool))
            if expected is float and isinstance(item, int) and not isinstance(item, bool):
                ok = True
            if not ok:
                kind = expected.__name__ if isinstance(expected, type) else expected
                raise UserError(f"{path}: [{section}] {key} must be a {kind}, got {item!r}")


def spec_from_toml(path: str | Path, overrides: dict[str, Any] | None = None) -> RunSpec:
    """Build a RunSpec from a pipeline TOML; `overrides` (from CLI flags) win."""
    path = Path(path)
    data = load_toml(path)
    base = path.parent
    run, source = data.get("run", {}), data.get("source", {})
    taggers, stats, report = data.get("taggers", {}), data.get("stats", {}), data.get("report", {})
    name = run.get("name") or path.stem
    spec = RunSpec(
        name=name,
        sources=[p if p.startswith("hf:") else _resolve(base, p) for p in source.get("paths", [])],
        out=Path(_resolve(base, run["out"])) if "out" in run else DEFAULT_OUT_ROOT / name,
        taggers=list(taggers.get("enabled", DEFAULT_TAGGERS)),
        tagger_settings=_tagger_settings(taggers, base),
        columns={str(k): str(v) for k, v in source.get("columns", {}).items()},
        stats=StatsSettings(
            min_support=stats.get("min_support", MIN_SUPPORT),
            confidence=float(stats.get("confidence", CONFIDENCE)),
            alpha=float(stats.get("alpha", ALPHA)),
        ),
        workers=run.get("workers", os.cpu_count() or 1),
        executor=run.get("executor", "threads"),
        batch_size=run.get("batch_size", DEFAULT_BATCH_SIZE),
        write_tags=run.get("write_tags", True),
        redact_captions=report.get("redact_captions", False),
        examples_per_group=report.get("examples_per_group", 3),
        sample=source.get("sample"),
        source_format=source.get("format", "auto"),
        embedding_cache=_resolve(base, run["embedding_cache"]) if "embedding_cache" in run else None,
        **{key: run[key] for key in _RUN_KEYS if key in run},
    )
    for key, value in (overrides or {}).items():
        if value is not None:
            setattr(spec, key, value)
    return spec


_RUN_KEYS = ("engine", "address", "incremental", "sample_per_shard", "sample_seed", "limit",
             "progress_seconds", "dated", "cache_embeddings", "unit_rows")


def _tagger_settings(taggers: dict[str, Any], base: Path) -> dict[str, dict[str, Any]]:
    """Per-tagger tables; file settings (lexicons, prompt banks, thresholds, checkpoints)
    resolve against the pipeline's folder."""
    settings = {}
    for name, table in taggers.items():
        if name == "enabled":
            continue
        table = dict(table)
        for key in PATH_SETTINGS:
            if isinstance(table.get(key), str):
                table[key] = _resolve(base, table[key])
        pretrained = table.get("pretrained")
        if isinstance(pretrained, str) and _looks_like_path(pretrained):
            table["pretrained"] = _resolve(base, pretrained)
        model = table.get("model")
        if isinstance(model, str) and model.startswith(LOCAL_DIR):
            table["model"] = LOCAL_DIR + _resolve(base, model.removeprefix(LOCAL_DIR))
        settings[name] = table
    return settings


CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")


def _looks_like_path(value: str) -> bool:
    """A checkpoint file rather than an open_clip pretrained tag (tags have no slashes)."""
    return "/" in value or "\\" in value or value.endswith(CHECKPOINT_SUFFIXES)


def _resolve(base: Path, value: str) -> str:
    """Resolve a local relative path against the TOML's folder; leave URLs alone."""
    if "://" in value or Path(value).is_absolute():
        return value
    return os.path.normpath(base / value)
