"""The clip_text tagger: caption zero-shot against the identity prompt bank, through the registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("open_clip")

from profiler.errors import UserError
from profiler.models.zeroshot import IDENTITY_GROUPS
from profiler.taggers import DEFAULT_TAGGERS, REGISTRY, build_taggers
from tests import tiny_models as testing
from tests.conftest import captions_batch

# One prompt per class: a caption that is exactly a class's prompt has cosine 1 with that class.
BANK = """
[meta]
name = "test_identity"
version = "3"
kind = "identity"
threshold = 0.5

[classes.east_asian]
group = true
prompts = ["a photo of a Korean actress"]

[classes.black]
group = true
prompts = ["a portrait of a Nigerian businessman"]

[classes.none]
group = false
prompts = ["a red bicycle leaning on a fence"]
"""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip-text")
    name = testing.register_model(folder)
    # a sharp softmax (the trained CLIP scale is 100) so exact matches win clearly
    return name, testing.write_checkpoint(name, folder / "tiny.pt", seed=5, logit_scale=5000.0)


@pytest.fixture(scope="module")
def bank_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("bank") / "identity.toml"
    path.write_text(BANK)
    return path


def settings(checkpoint, **extra):
    name, path = checkpoint
    return {"clip_text": {"model": name, "pretrained": str(path), "device": "cpu", **extra}}


def test_registered_but_not_a_default():
    assert REGISTRY["clip_text"].__name__ == "ClipTextTagger"
    assert "clip_text" not in DEFAULT_TAGGERS


def test_captions_that_match_a_group_prompt_get_that_group(checkpoint, bank_path):
    (tagger,) = build_taggers(["clip_text"], settings(checkpoint, prompts_path=str(bank_path), batch_size=2))
    batch = captions_batch([
        "a photo of a Korean actress",
        "a red bicycle leaning on a fence",
        None,
        "a portrait of a Nigerian businessman",
        "a photo of a Korean actress",
    ])
    column = tagger.tag(batch)[IDENTITY_GROUPS]
    assert column.type == pa.list_(pa.string())
    assert column.to_pylist() == [["east_asian"], [], None, ["black"], ["east_asian"]]


def test_versions_and_description_name_the_model_and_bank(checkpoint, bank_path):
    (tagger,) = build_taggers(["clip_text"], settings(checkpoint, prompts_path=str(bank_path), threshold=0.6))
    versions = tagger.versions()
    assert versions["test_identity"] == "3"
    assert f"sha256:{tagger.loaded.info.checkpoint_sha256[:16]}" in versions["clip_text.model"]
    described = tagger.describe()
    assert described["model"]["random_weights"] is False and described["model"]["embed_dim"] == 32
    assert described["threshold"] == 0.6 and described["text_encoding"].startswith("context cut per batch")
    assert described["prompt_bank"]["source"].endswith("identity.toml")
    assert tagger.num_gpus == 0 and tagger.signals() == ()


def test_bundled_bank_by_default(checkpoint):
    (tagger,) = build_taggers(["clip_text"], settings(checkpoint))
    assert tagger.bank.name == "clip_identity" and tagger.threshold == 0.3
    groups = {c.id for c in tagger.bank.classes if c.positive}
    values = tagger.tag(captions_batch(["Japanese bride", "black women's shoes", ""]))[IDENTITY_GROUPS]
    assert len(values) == 3 and all(set(v) <= groups for v in values.to_pylist())


def test_random_weights_are_refused_unless_allowed(checkpoint):
    name, _ = checkpoint
    base = {"model": name, "pretrained": "none", "device": "cpu"}
    with pytest.raises(UserError, match="allow_random_weights"):
        build_taggers(["clip_text"], {"clip_text": base})
    (tagger,) = build_taggers(["clip_text"], {"clip_text": {**base, "allow_random_weights": True}})
    assert "RANDOM WEIGHTS" in tagger.versions()["clip_text.model"]
    assert tagger.describe()["model"]["random_weights"] is True


@pytest.mark.parametrize("extra, message", [
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"threshold": 2}, "threshold must be between 0 and 1"),
    ({"modle": "ViT-B-32"}, "bad settings for tagger 'clip_text'"),
    ({"prompts_path": "builtin-sexual"}, "needs kind = 'identity'"),
])
def test_bad_settings_are_user_errors(checkpoint, extra, message):
    if extra.get("prompts_path") == "builtin-sexual":
        from profiler.resources import resource_path

        extra = {"prompts_path": str(resource_path("prompts", "sexual_content.toml"))}
    with pytest.raises(UserError, match=message):
        build_taggers(["clip_text"], settings(checkpoint, **extra))


def test_a_pipeline_runs_the_tagger_and_writes_its_tags(checkpoint, bank_path, tmp_path):
    """[taggers.clip_text] in a pipeline TOML, through the CLI entry point (threads, in-process,
    so the test's model config is registered)."""
    from profiler.cli import main
    from profiler.demo_data import generate_sample

    name, path = checkpoint
    data = generate_sample(tmp_path / "data", shards=1, rows_per_shard=60, seed=2)
    pipeline = tmp_path / "pipeline.toml"
    pipeline.write_text(
        f'[run]\nout = "run"\n[source]\npaths = ["{data}"]\n'
        '[taggers]\nenabled = ["identity", "clip_text"]\n'
        f'[taggers.clip_text]\nmodel = "{name}"\npretrained = "{path}"\ndevice = "cpu"\n'
        f'prompts_path = "{bank_path}"\nbatch_size = 16\n'
    )
    assert main(["-q", "run", str(pipeline)]) == 0
    tags = pq.read_table(next((tmp_path / "run" / "tags").glob("*.parquet")))
    assert tags.schema.field(IDENTITY_GROUPS).type == pa.list_(pa.string())
    assert tags.num_rows > 0 and tags.column(IDENTITY_GROUPS).null_count == 0
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["taxonomy_versions"]["test_identity"] == "3"
    model = stats["settings"]["taggers"]["clip_text"]["model"]
    assert model["name"] == name and len(model["checkpoint_sha256"]) == 64 and not model["random_weights"]
    # lexicon against CLIP caption groups, per group, on every tagged row
    agreement = {r["group"]: r for r in stats["identity_agreement"]}
    assert {"east_asian", "black"} <= set(agreement)
    assert all(r["n"] == stats["rows"]["tagged"] for r in agreement.values())
    assert 'id="identity-agreement"' in (tmp_path / "run" / "index.html").read_text()


def test_a_new_bank_retags_from_the_caption_cache(checkpoint, bank_path, tmp_path, monkeypatch):
    """Caption embeddings are cached; a re-run with another prompt bank encodes no caption and
    gives the tags a fresh run with that bank gives."""
    from profiler.cli import main
    from profiler.demo_data import generate_sample
    from profiler.models.text import TextEncoder

    name, path = checkpoint
    data = generate_sample(tmp_path / "data", shards=1, rows_per_shard=80, seed=4)

    swapped = tmp_path / "swapped.toml"  # the two groups' prompts exchanged
    swapped.write_text(BANK.replace("Korean actress", "KOREAN")
                       .replace("Nigerian businessman", "Korean actress")
                       .replace("KOREAN", "Nigerian businessman").replace('version = "3"', 'version = "4"'))

    def run(out: str, bank: Path, *extra: str) -> pa.Table:
        pipeline = tmp_path / f"{out}.toml"
        pipeline.write_text(
            f'[run]\nout = "{out}"\n[source]\npaths = ["{data}"]\n[taggers]\nenabled = ["clip_text"]\n'
            f'[taggers.clip_text]\nmodel = "{name}"\npretrained = "{path}"\ndevice = "cpu"\n'
            f'prompts_path = "{bank}"\n'
        )
        assert main(["-q", "run", str(pipeline), *extra]) == 0
        return pq.read_table(next((tmp_path / out / "tags").glob("*.parquet"))).sort_by("key")

    first = run("cached", bank_path)
    cache = pq.read_table(next((tmp_path / "cached" / "embeddings" / "clip_text").glob("*.parquet")))
    assert cache.num_rows == first.num_rows and "clip_text.caption_embedding" not in first.column_names

    captions = set(pq.read_table(next(data.glob("*.parquet"))).column("TEXT").to_pylist())
    encoded: list[str] = []
    original = TextEncoder.encode
    monkeypatch.setattr(TextEncoder, "encode",
                        lambda self, texts: encoded.extend(texts) or original(self, texts))
    retagged = run("cached", swapped, "--overwrite")
    assert encoded and not captions & set(encoded)  # only the bank's prompts were encoded
    encoded.clear()
    assert run("cached", bank_path, "--overwrite", "--no-embedding-cache").equals(first)
    assert captions & set(encoded)  # the cache was not read
    monkeypatch.undo()
    fresh = run("fresh", swapped, "--no-embedding-cache")
    assert retagged.equals(fresh) and not retagged.equals(first)
    assert not (tmp_path / "fresh" / "embeddings").exists()


def test_importing_the_tagger_and_model_helpers_does_not_import_torch():
    code = (
        "import sys, profiler.taggers, profiler.taggers.clip_text, profiler.models,"
        " profiler.models.prompts, profiler.models.zeroshot, profiler.models.loading,"
        " profiler.models.text, profiler.models.weights, tests.tiny_models;"
        "print(','.join(m for m in ('torch', 'open_clip') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
