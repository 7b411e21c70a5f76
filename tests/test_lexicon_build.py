"""The identity lexicon's generated WordNet block matches a fresh derivation (build tools present)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from profiler.taggers.identity_lexicon import compile_identity_lexicon

ROOT = Path(__file__).resolve().parents[1]


def test_generated_person_nouns_are_current():
    pytest.importorskip("wordfreq", reason="lexicon-build extra not installed")
    pytest.importorskip("wn", reason="lexicon-build extra not installed")
    tool = ROOT / "tools" / "person_nouns_from_wordnet.py"
    done = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr + " (rerun the tool and commit)"


def test_derived_nouns_make_mentions_but_not_row_gender():
    lexicon = compile_identity_lexicon()
    vocab = lexicon.vocab.to_pylist()
    derived = {w for w, d in zip(vocab, lexicon.derived, strict=True) if d}
    assert {"batsman", "novelist", "national"} <= derived
    assert "woman" not in derived  # hand lists keep their own meaning
    person_patterns = "".join(lexicon.person_patterns)
    assert "novelist" not in person_patterns and "woman" in person_patterns
