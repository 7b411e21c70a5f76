"""Shared fixtures: real data in ../shared (integration tests skip without it), demo shards."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from profiler.taggers.dataset import DatasetTagger
from profiler.taggers.identity import IdentityTagger
from profiler.taggers.sexual_terms import SexualTermsTagger

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"integration data {path} is absent (../shared is only present in CI and dev)")
    return path


@pytest.fixture(scope="session")
def identity() -> IdentityTagger:
    return IdentityTagger()


@pytest.fixture(scope="session")
def sexual_terms() -> SexualTermsTagger:
    return SexualTermsTagger()


@pytest.fixture(scope="session")
def dataset_tagger() -> DatasetTagger:
    return DatasetTagger()


def captions_batch(captions: list[str | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"caption": pa.array(captions, pa.string())})


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """Small demo shards with planted skew (generated once per session)."""
    from profiler.demo_data import generate_sample

    return generate_sample(tmp_path_factory.mktemp("demo"), shards=6, rows_per_shard=3000, seed=7)


@pytest.fixture(scope="session")
def demo_run(demo_data, tmp_path_factory) -> Path:
    """The demo shards profiled once per session with the default taggers."""
    from profiler.cli import main

    out = tmp_path_factory.mktemp("run") / "demo"
    assert main(["-q", "profile", str(demo_data), "--out", str(out), "--workers", "2"]) == 0
    return out
