"""Every `bias-profiler` command in README.md and docs/*.md is parsed, and the marked ones are run.

Convention for the documentation:

- A command is a line in a fenced code block tagged as a shell, cron or YAML block (```bash,
  ```sh, ```shell, ```console, ```cron, ```yaml; untagged blocks are diagrams) that starts with
  `bias-profiler` (or a path ending in `/bias-profiler`, such as `.venv/bin/bias-profiler`), or
  has it after `&&`, `- run:` or a `$ ` prompt. A trailing `\\` continues it on the next line;
  `# comments` are dropped. Prose and TOML comments that mention the tool are not commands.
- (a) Every command must parse with the real argparse parser of `profiler.cli`, so a renamed or
  removed flag fails this test instead of rotting in the docs.
- (b) A block preceded by the line `<!-- doctest: run -->` is also run, command after command,
  in a fresh folder that holds `pipelines/` (the repository's), `reports/demo-data/` (small demo
  shards), `reports/demo/` (those shards profiled with the default taggers) and `labels.csv`
  (hand-label stand-ins for 300 demo rows: `key,label`). Each command must exit 0. Mark only
  commands that run on the base install against that data; leave the others unmarked.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from profiler.cli import _parser

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUN_MARKER = "<!-- doctest: run -->"
SHELL_BLOCKS = {"bash", "sh", "shell", "console", "cron", "yaml", "yml"}
COMMAND = re.compile(r"(?:^|&&|\brun:|^\$)\s*(?:\S*/)?bias-profiler(\s.*)?$")


@dataclass(frozen=True)
class DocCommand:
    doc: str
    line: int
    argv: tuple[str, ...]
    block: int  # index of the fenced block in its document
    runnable: bool

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: bias-profiler {shlex.join(self.argv)}"


def extract(path: Path, root: Path = REPO) -> list[DocCommand]:
    """The commands of one Markdown file, with their block and whether it is marked runnable."""
    commands: list[DocCommand] = []
    lines = path.read_text().splitlines()
    in_block, marked, shell, block, previous = False, False, False, -1, ""
    pending, start = "", 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            if not in_block:
                block += 1
                marked = previous == RUN_MARKER
                shell = stripped[3:].strip().lower() in SHELL_BLOCKS
            in_block = not in_block
            previous = stripped
            continue
        if stripped:
            previous = stripped
        if not (in_block and shell):
            continue
        if pending:
            text, start = pending + " " + stripped, start
        else:
            match = COMMAND.search(stripped)
            if not match:
                continue
            text, start = match.group(1) or "", number
        if text.endswith("\\"):
            pending = text[:-1]
            continue
        pending = ""
        argv = tuple(shlex.split(text, comments=True))
        commands.append(DocCommand(path.relative_to(root).as_posix(), start, argv, block, marked))
    return commands


ALL = [command for doc in DOCS for command in extract(doc)]


def test_the_docs_have_commands_to_check():
    """The extractor finds the commands (a broken pattern must not make the other tests vacuous)."""
    assert len(ALL) >= 30
    assert {c.doc for c in ALL} >= {"README.md", "docs/running.md", "docs/curation.md", "docs/outputs.md"}
    runnable = {c.argv[0] for c in ALL if c.runnable}
    assert runnable >= {"sample", "profile", "run", "report", "compare", "curate", "calibrate"}


def test_extract_follows_the_convention(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("Prose mentions bias-profiler report here.\n\n" + RUN_MARKER + "\n```bash\n"
                   "# bias-profiler sample is only a comment\n"
                   "bias-profiler profile a b \\\n    --out 'my dir'   # trailing comment\n```\n"
                   "```toml\nx = 1  # written by bias-profiler calibrate\n```\n"
                   "```cron\n0 3 * * * cd /srv && .venv/bin/bias-profiler -q run p.toml\n```\n")
    commands = [(c.argv, c.runnable, c.block) for c in extract(doc, tmp_path)]
    assert commands == [(("profile", "a", "b", "--out", "my dir"), True, 0),
                        (("-q", "run", "p.toml"), False, 2)]


@pytest.mark.parametrize("command", ALL, ids=str)
def test_every_documented_command_parses(command):
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            _parser().parse_args(list(command.argv))
    except SystemExit as exit:
        pytest.fail(f"{command} does not parse (exit {exit.code}): {stderr.getvalue().strip()}")


@pytest.fixture(scope="module")
def docs_workdir(tmp_path_factory) -> Path:
    """pipelines/, reports/demo-data (small demo shards), reports/demo (profiled) and labels.csv."""
    from profiler.cli import main
    from profiler.demo_data import generate_sample

    root = tmp_path_factory.mktemp("docs-template")
    shutil.copytree(REPO / "pipelines", root / "pipelines")
    generate_sample(root / "reports" / "demo-data", shards=4, rows_per_shard=1500, seed=11)
    cwd = Path.cwd()
    os.chdir(root)  # the run records its sources relative to here, as a user's would be
    try:
        assert main(["-q", "profile", "reports/demo-data", "--out", "reports/demo"]) == 0
    finally:
        os.chdir(cwd)
    rng = random.Random(5)
    tags = pq.read_table(sorted((root / "reports/demo/tags").rglob("*.parquet"))[0]).to_pylist()
    with open(root / "labels.csv", "w") as out:
        out.write("key,label\n")
        for row in rng.sample(tags, 300):
            score = row["dataset.punsafe"] or 0.0
            out.write(f"{row['key']},{int(score + rng.gauss(0, 0.2) > 0.5)}\n")
    return root


RUNNABLE = sorted({(c.doc, c.block) for c in ALL if c.runnable})


@pytest.mark.parametrize(("doc", "block"), RUNNABLE, ids=[f"{d}#{b}" for d, b in RUNNABLE])
def test_marked_blocks_run(doc, block, docs_workdir, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(docs_workdir, work, symlinks=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    for command in [c for c in ALL if (c.doc, c.block) == (doc, block)]:
        result = subprocess.run([sys.executable, "-m", "profiler", *command.argv], cwd=work, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr[-2000:]}"


# pages other branches add (the lead merges them): a link to them may run ahead of the page
PENDING_PAGES = {"docs/evaluation.md"}
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_short_and_its_links_resolve():
    assert len((REPO / "README.md").read_text().splitlines()) <= 200
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            if "://" in target:
                continue
            path = (doc.parent / target).resolve()
            relative = path.relative_to(REPO).as_posix()
            assert path.exists() or relative in PENDING_PAGES, f"{doc.name} links to missing {target}"


def test_the_repository_cites_nothing_outside_itself():
    """Docs, code and comments stand alone: no design brief or sibling folder outside the repository.
    (Tests and benchmarks may read the real-data folder beside the repository; they skip without it.)"""
    files = [*DOCS, REPO / "BENCHMARKS.md", REPO / "pyproject.toml", REPO / "Makefile",
             *(REPO / "profiler").rglob("*.py"), *(REPO / "pipelines").glob("*.toml"),
             *(REPO / "profiler").rglob("*.j2")]
    for path in files:
        text = path.read_text()
        for outside in ("DESIGN.md", "../shared", "/work/"):
            assert outside not in text, f"{path.relative_to(REPO)} refers to {outside}"
