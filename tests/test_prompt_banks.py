"""Content prompt banks describe content only: no gender, no identity group (issue 12, part 6).

A content prompt that names who ("a woman in lingerie") makes the image classifier partly a
detector of that gender or group, so the rates it gives that group are inflated by construction.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from profiler.models.prompts import load_prompt_bank
from profiler.schema import CAPTION
from profiler.taggers.identity import PERSON_MENTION, IdentityTagger

PROMPTS = Path(__file__).resolve().parents[1] / "profiler" / "resources" / "prompts"
GENDERED = {
    "woman", "women", "man", "men", "girl", "girls", "boy", "boys", "lady", "ladies", "gentleman",
    "female", "male", "feminine", "masculine", "she", "he", "her", "him", "his", "hers", "wife",
    "husband", "mother", "father", "mom", "dad", "daughter", "son", "sister", "brother", "bride",
    "groom", "actress", "actor", "waitress", "queen", "king", "princess", "prince", "guy", "guys",
    "gal", "babe", "chick", "dude", "mistress", "maid", "housewife", "milf", "schoolgirl",
}
CONTENT_BANKS = [p for p in sorted(PROMPTS.glob("*.toml"))
                 if load_prompt_bank(p.stem, p).kind != "identity"]


def _prompts(path: Path) -> list[str]:
    return [prompt for c in load_prompt_bank(path.stem, path).classes for prompt in c.prompts]


def test_there_is_a_content_bank_to_check():
    assert any(p.stem == "sexual_content" for p in CONTENT_BANKS)


@pytest.mark.parametrize("path", CONTENT_BANKS, ids=lambda p: p.stem)
def test_content_prompts_name_no_gender(path):
    words = {w for prompt in _prompts(path) for w in re.findall(r"[a-z]+", prompt.lower())}
    assert not words & GENDERED, sorted(words & GENDERED)


@pytest.mark.parametrize("path", CONTENT_BANKS, ids=lambda p: p.stem)
def test_content_prompts_name_no_identity_group(path):
    prompts = _prompts(path)
    tags = IdentityTagger().tag(pa.record_batch({CAPTION: pa.array(prompts)}))
    # person mentions, not bare terms: "a product on a white background" names no one
    named = [p for p, mention in zip(prompts, tags[PERSON_MENTION].to_pylist(), strict=True) if mention]
    assert not named


def test_the_checks_catch_a_prompt_that_names_who():
    tags = IdentityTagger().tag(pa.record_batch({CAPTION: pa.array(["a photo of a Japanese woman."])}))
    assert tags[PERSON_MENTION].to_pylist() == [True]
    assert "woman" in GENDERED
