"""The Ray engine on a local Ray instance: the same stats.json and tags as the local engine,
resume across engines, and the caption path never importing ray."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from profiler.config import RunSpec
from profiler.engine import run_profile
from tests.engine_data import cli, comparable, load_stats, tag_tables, write_shards

ray = pytest.importorskip("ray")

NAMES = ["a.parquet", "b.parquet", "nested/c.parquet", "nested/d.parquet"]


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module: no dashboard, no network beyond localhost."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR",
                 runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ray-data")
    write_shards(folder, NAMES, 5000, keys=False)
    (folder / "broken.parquet").write_bytes(b"PAR1 not parquet at all PAR1")
    return folder


def spec(data: Path, out: Path, **changes) -> RunSpec:
    return replace(RunSpec(name="engines", sources=[str(data)], out=out, workers=2), **changes)


def test_unreachable_cluster_is_a_user_error(data, tmp_path):
    """First in the module: `auto` finds any running Ray instance, so none may run yet."""
    if ray.is_initialized():
        pytest.skip("a Ray instance is running in this process")
    result = cli("-q", "profile", str(data), "--out", str(tmp_path / "x"), "--engine", "ray",
                 "--address", "auto", timeout=120)
    assert result.returncode == 2, result.stderr
    assert "cannot start or reach the Ray cluster at auto" in result.stderr
    assert "Traceback" not in result.stderr


def test_ray_engine_equals_local_engine(local_ray, data, tmp_path):
    local = run_profile(spec(data, tmp_path / "local"))
    on_ray = run_profile(spec(data, tmp_path / "ray", engine="ray"))
    assert comparable(load_stats(on_ray.out)) == comparable(load_stats(local.out))
    stats = load_stats(on_ray.out)
    assert stats["rows"]["read"] == 4 * 5000 and list(stats["shards"]["failed"]) == ["broken"]
    ray_tags, local_tags = tag_tables(on_ray.out), tag_tables(local.out)
    assert sorted(ray_tags) == sorted(local_tags) == sorted(NAMES)
    assert all(ray_tags[name].equals(local_tags[name]) for name in NAMES)
    assert not (on_ray.out / "parts" / "broken.done").exists()  # retried by the next run


def test_resume_across_engines_and_sampling_on_ray(local_ray, data, tmp_path):
    out = tmp_path / "mixed"
    run_profile(spec(data, out, sample_per_shard=700))
    for name in ("a", "nested/d"):  # as if a run had died before these shards finished
        (out / "parts" / f"{name}.done").unlink()
    profiled: list[str] = []
    run_profile(spec(data, out, engine="ray", sample_per_shard=700),
                on_shard=lambda result: profiled.append(result.shard_id))
    assert sorted(profiled) == ["a", "broken", "nested/d"]
    fresh = run_profile(spec(data, tmp_path / "fresh", engine="ray", sample_per_shard=700))
    assert comparable(load_stats(out)) == comparable(load_stats(fresh.out))
    assert load_stats(out)["rows"]["read"] == 4 * 700


def test_the_caption_path_does_not_import_ray(data, tmp_path):
    code = (
        "import sys\n"
        "from profiler.cli import main\n"
        f"assert main(['-q', 'profile', {str(data)!r}, '--out', {str(tmp_path / 'run')!r}]) == 3\n"  # broken
        "print('ray' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"
