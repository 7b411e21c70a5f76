"""A profiled run as curation input: its complete tag shards, schema, taxonomy and sources.

Which shards are complete and where their tags are comes from the run-folder code
(`RunFolder.tagged_shards`): a file profiled as several work units is one shard here, complete
when every unit is, its tags the units' tag files in file order, read as one `pyarrow.dataset`
over the run's unified tag schema (a column a file lacks reads as nulls).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from profiler.counting.populations import Populations, population_labels
from profiler.curate.compile import Vocabulary
from profiler.engine.runfolder import RunFolder
from profiler.errors import UserError
from profiler.schema import KEY
from profiler.taggers import population_membership, tag_vocabulary
from profiler.taggers.lexicon import load_lexicon

BATCH_ROWS = 262_144


@dataclass
class TaggedRun:
    """The curation view of a run folder."""

    root: Path
    spec: dict[str, Any]
    shard_ids: list[str]  # complete shards with tags, sorted
    incomplete: list[str]  # shards with parts but no completion marker or no tags
    schema: pa.Schema
    groups: dict[str, str] = field(default_factory=dict)  # group -> label, taxonomy order
    aggregates: dict[str, list[str]] = field(default_factory=dict)
    tag_files: dict[str, list[Path]] = field(default_factory=dict)  # a split shard: its units' files
    languages: tuple[str, ...] = ()  # the identity lexicon's: rows in others are not "no identity"

    def tags_path(self, shard_id: str) -> Path:
        return self.root / "tags" / f"{shard_id}.parquet"

    def tag_paths(self, shard_id: str) -> list[Path]:
        """The shard's tag files in row order: one, or one per work unit."""
        return self.tag_files.get(shard_id) or [self.tags_path(shard_id)]

    def batches(self, shard_id: str, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
        """Stream a shard's tags reading only `columns`; a column the shard lacks reads as nulls."""
        files = ds.dataset([str(p) for p in self.tag_paths(shard_id)], schema=self.schema, format="parquet")
        for batch in files.to_batches(columns=columns, batch_size=batch_rows, use_threads=False):
            yield pa.Table.from_batches([batch])

    def vocabulary(self) -> Vocabulary:
        """Known values of the text tag columns, so a typo'd value is an error."""
        values, ordered = tag_vocabulary()
        membership = population_membership()
        if self.groups:
            values[membership.groups] = tuple(self.groups)
            values[membership.mentions] = tuple(
                f"{g}:{s}" for g in self.groups for s in membership.mention_genders)
        names = set(self.schema.names)
        return Vocabulary(
            values={k: v for k, v in values.items() if k in names},
            ordered={k: v for k, v in ordered.items() if k in names},
        )

    def population_labels(self) -> dict[str, str]:
        """The report's labels, from the lexicon."""
        return population_labels(self.groups, list(self.aggregates))

    def populations(self) -> Populations:
        """The run's population axis (its membership rules live in profiler.counting)."""
        return Populations(tuple(self.groups), {k: tuple(v) for k, v in self.aggregates.items()},
                           languages=tuple(self.languages))


def open_tagged_run(run_dir: str | Path) -> TaggedRun:
    """Open a run folder for curation; UserError when it is not one or holds no tags."""
    root = Path(run_dir)
    run_file = root / "run.json"
    if not run_file.is_file():
        raise UserError(f"{root} is not a run folder: it has no run.json (run bias-profiler profile first)")
    try:
        spec = json.loads(run_file.read_text()).get("spec", {})
    except json.JSONDecodeError as error:
        raise UserError(f"{run_file} is not valid JSON: {error}") from None
    found = RunFolder(root).tagged_shards()
    shard_ids = list(found.files)
    if not shard_ids:
        no_tags = found.any_done and not found.any_tags
        why = "it was profiled with --no-tags" if no_tags else "no shard has finished"
        raise UserError(f"{root} holds no per-sample tags to curate ({why}): run bias-profiler profile "
                        "again without --no-tags")
    schema = _unified_schema([p for paths in found.files.values() for p in paths])
    if KEY not in schema.names:
        raise UserError(f"the tag files of {root} have no key column; re-run bias-profiler profile")
    groups, aggregates, languages = ({}, {}, ())
    if population_membership().groups in schema.names:
        groups, aggregates, languages = _taxonomy(spec)
    return TaggedRun(root, spec, shard_ids, found.incomplete, schema, groups, aggregates, found.files,
                     languages)


def _unified_schema(paths: list[Path]) -> pa.Schema:
    schemas = [pq.read_schema(p) for p in paths]
    try:
        return pa.unify_schemas(schemas)
    except pa.ArrowInvalid as error:
        raise UserError(f"tag files disagree on column types ({error}); re-run the profile") from None


def _taxonomy(spec: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[str]], tuple[str, ...]]:
    """Groups (with labels), aggregates and languages of the identity lexicon the run used."""
    settings = (spec.get("tagger_settings") or {}).get("identity") or {}
    data = load_lexicon("identity", settings.get("lexicon_path"))
    groups = {name: str(table.get("label", name)) for name, table in data.get("groups", {}).items()}
    aggregates = {k: [m for m in v if m in groups] for k, v in data.get("aggregates", {}).items()}
    return groups, aggregates, tuple(data.get("meta", {}).get("languages", ()))
