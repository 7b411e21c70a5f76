"""Security guarantees (docs/RELIABILITY.md): no pickle anywhere, nothing in the report that loads
or links out by itself, whatever the data holds."""

from __future__ import annotations

import ast
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.cli import main

PACKAGE = Path(__file__).resolve().parents[1] / "profiler"
UNSAFE_MODULES = {"pickle", "cPickle", "cloudpickle", "dill", "marshal", "shelve", "joblib"}


def python_files() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40  # the scan really covers the package
    return files


def calls(tree: ast.AST):
    """(call, owner, name): owner is "" for a bare function, "." for a method of an expression."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                yield node, "", func.id
            elif isinstance(func, ast.Attribute):
                yield node, func.value.id if isinstance(func.value, ast.Name) else ".", func.attr


def keyword(node: ast.Call, name: str):
    for kw in node.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return "missing"


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_pickle_and_no_code_from_data(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & UNSAFE_MODULES, path
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in UNSAFE_MODULES, path
    for node, owner, name in calls(tree):
        where = f"{path}:{node.lineno}"
        assert name not in ("eval", "exec") or owner, f"{where}: eval/exec"
        if owner in ("np", "numpy") and name == "load":
            assert keyword(node, "allow_pickle") is False, f"{where}: np.load needs allow_pickle=False"
        if owner == "torch" and name == "load":
            assert keyword(node, "weights_only") is True, f"{where}: torch.load needs weights_only=True"
        if name == "create_model" and owner == "open_clip" and keyword(node, "pretrained") is not None:
            assert keyword(node, "weights_only") is True, f"{where}: checkpoints load weights only"
        assert name not in ("extractall", "extract"), f"{where}: tar members are never written to disk"


class LinkAudit(HTMLParser):
    """Every element of the page that could fetch something or navigate away."""

    def __init__(self):
        super().__init__()
        self.loads: list[tuple[str, dict]] = []
        self.links: list[dict] = []
        self.csp = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy":
            self.csp = attrs.get("content", "")
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs)
        if tag in ("img", "iframe", "embed", "object", "video", "audio", "source", "link") or (
            tag == "script" and "src" in attrs
        ) or any(k in attrs for k in ("src", "srcset", "background", "poster")):
            self.loads.append((tag, attrs))


HOSTILE_URLS = [
    "javascript:alert(1)",
    "http://evil.example/x.png",
    "data:text/html,<script>alert(1)</script>",
    "https://example.com/\"><img src=x onerror=alert(1)>",
]


def test_report_loads_nothing_and_links_nowhere_unsafe(tmp_path):
    n = 200
    table = pa.table({
        "caption": [f"<img src=x onerror=alert(1)> Japanese woman {HOSTILE_URLS[i % 4]}" for i in range(n)],
        "url": [HOSTILE_URLS[i % 4] for i in range(n)],
        "punsafe": [0.9 if i % 3 == 0 else 0.1 for i in range(n)],
    })
    pq.write_table(table, tmp_path / "hostile.parquet")
    assert main(["-q", "profile", str(tmp_path / "hostile.parquet"), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "index.html").read_text()
    audit = LinkAudit()
    audit.feed(html)
    assert audit.loads == []
    for link in audit.links:
        href = link["href"]
        if not href.startswith("#"):
            assert set(link.get("rel", "").split()) >= {"noopener", "noreferrer", "nofollow"}, link
            assert href.startswith(("https://", "http://")), link
    assert "javascript:alert" not in "".join(link["href"] for link in audit.links)
    assert "default-src 'none'" in audit.csp and "connect-src" not in audit.csp
