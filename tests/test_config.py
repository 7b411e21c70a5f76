"""Pipeline files and start-up: every bundled pipeline parses; the caption path stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from profiler.config import spec_from_toml

PIPELINES = sorted((Path(__file__).resolve().parents[1] / "pipelines").glob("*.toml"))


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.name)
def test_bundled_pipelines_parse(pipeline):
    spec = spec_from_toml(pipeline).validate()
    assert spec.sources and spec.taggers
    assert all(Path(s).is_absolute() or "://" in s for s in spec.sources)


def test_relative_paths_resolve_against_the_pipeline(tmp_path):
    (tmp_path / "sub").mkdir()
    pipeline = tmp_path / "sub" / "p.toml"
    pipeline.write_text(
        '[run]\nout = "../out"\n[source]\npaths = ["data", "s3://bucket/x"]\n'
        '[taggers.identity]\nlexicon_path = "my.toml"\n'
    )
    spec = spec_from_toml(pipeline)
    assert spec.sources == [str(tmp_path / "sub" / "data"), "s3://bucket/x"]
    assert spec.out == tmp_path / "out"
    assert spec.tagger_settings["identity"]["lexicon_path"] == str(tmp_path / "sub" / "my.toml")


def test_caption_path_never_imports_the_model_stack():
    code = (
        "import sys, profiler.cli, profiler.engine, profiler.taggers, profiler.report;"
        "heavy = [m for m in ('torch', 'open_clip', 'onnxruntime', 'datasets', 'scipy',"
        " 'statsmodels') if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
