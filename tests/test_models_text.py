"""Caption encoding with the context cut per batch equals open_clip's full 77-token pass.

Checked on real web captions and synthetic edge cases, for a tiny model and for the real
ViT-B-32 architecture (random weights), plus the open_clip internals the cut relies on and the
fallbacks where it does not hold.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")
F = torch.nn.functional

from profiler.models.loading import load_model  # noqa: E402
from profiler.models.text import TextEncoder, text_tower, token_lengths  # noqa: E402
from tests import tiny_models as testing  # noqa: E402
from tests.conftest import shared_path  # noqa: E402

ATOL = 2e-5  # on unit vectors, in fp32; measured differences are ~1e-7 (float summation order)

SYNTHETIC = [
    "",
    "a",
    "!!!",
    "wow !",
    "Sale!$ 50% off!{",  # "!" before "$" or "{" is token id 0, the pad id
    "Asian woman in a red dress!",
    "Asian woman in a red dress!",  # a duplicate: encoded once, returned twice
    "日本の女性 👘 kimono",
    "Black Friday sale: 50% off <b>shoes</b> &amp; bags",
    " ".join(["very long caption"] * 60),  # truncated at 77 tokens, end-of-text kept
    "Korean actress at the premiere, 2019 (photo by J. Doe) #kdrama",
    "   spaces   around   ",
]


def real_captions(n: int) -> list[str]:
    table = pq.read_table(shared_path("data", "real-captions", "captions-5k.parquet"), columns=["TEXT"])
    return [c for c in table.column("TEXT").to_pylist() if c is not None][:n]


def full_pass(loaded, texts: list[str]) -> np.ndarray:
    """open_clip's own encode_text on 77-token batches: the reference."""
    with torch.inference_mode():
        return F.normalize(loaded.model.encode_text(loaded.tokenizer(texts)), dim=-1).numpy()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text-models")
    names = {
        "tiny": testing.register_model(folder),
        "custom_text": testing.register_model(
            folder, "tiny-test-custom-text", {**testing.tiny_config(), "custom_text": True}),
        "custom_blocks": testing.register_model(
            folder, "tiny-test-qknorm", testing.tiny_config(qk_norm=True, scale_fc=True)),
        "eos_pool": testing.register_model(
            folder, "tiny-test-eos", testing.tiny_config(pool_type="eos", eos_id=49407)),
        "bidirectional": testing.register_model(
            folder, "tiny-test-bidir", testing.tiny_config(no_causal_mask=True)),
        "last_pool": testing.register_model(
            folder, "tiny-test-last", testing.tiny_config(pool_type="last")),
    }
    out = {}
    for key, name in names.items():
        checkpoint = testing.write_checkpoint(name, folder / f"{name}.pt", seed=len(out))
        out[key] = load_model(name, str(checkpoint), precision="fp32")
    return out


@pytest.fixture(scope="module")
def vit_b_32():
    return load_model("ViT-B-32", "none", allow_random_weights=True, precision="fp32")



@pytest.mark.parametrize("kind", ["tiny", "custom_text", "custom_blocks", "eos_pool"])
def test_cut_equals_full_pass_on_synthetic_captions(models, kind):
    loaded = models[kind]
    encoder = TextEncoder(loaded, batch_size=4)
    assert encoder.cuts_context, encoder.mode
    # the plain nn.MultiheadAttention block is pruned to the pooled token; custom blocks are not
    assert encoder.tower.prune_last == (kind != "custom_blocks")
    fast = encoder.encode(SYNTHETIC)
    np.testing.assert_allclose(fast, full_pass(loaded, SYNTHETIC), atol=ATOL, rtol=0)
    np.testing.assert_array_equal(fast[5], fast[6])
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, rtol=1e-5)


@pytest.mark.integration
def test_cut_equals_full_pass_on_real_captions_tiny(models):
    captions = real_captions(2000)
    loaded = models["tiny"]
    fast = TextEncoder(loaded, batch_size=64).encode(captions)
    np.testing.assert_allclose(fast, full_pass(loaded, captions), atol=ATOL, rtol=0)


@pytest.mark.integration
def test_cut_equals_full_pass_on_real_captions_vit_b_32(vit_b_32):
    """The real architecture (12 layers, width 512), random weights: same FLOPs, same code."""
    captions = real_captions(40) + SYNTHETIC
    encoder = TextEncoder(vit_b_32, batch_size=16)
    assert encoder.cuts_context
    fast = encoder.encode(captions)
    np.testing.assert_allclose(fast, full_pass(vit_b_32, captions), atol=ATOL, rtol=0)


def test_open_clip_internals_the_cut_relies_on(vit_b_32):
    """Causal additive mask, end-of-text as the largest id, pad id 0, argmax pooling; and the
    consequence: whatever follows end-of-text does not change open_clip's own embedding."""
    model, tokenizer = vit_b_32.model, vit_b_32.tokenizer
    tower, reason = text_tower(model, tokenizer)
    assert tower is not None, reason
    mask = model.attn_mask
    assert mask.shape == (77, 77)
    assert torch.isneginf(mask[0, 1:]).all() and (mask.tril() == 0).all()
    assert model.text_pool_type == "argmax"
    assert tokenizer.eot_token_id == model.vocab_size - 1 == int(tokenizer(["x"]).max())
    tokens = tokenizer(["Japanese bride in a white kimono", "a dog"])
    assert (tokens[:, 20:] == 0).all()  # padded with id 0
    scrambled = tokens.clone()
    scrambled[:, 20:] = torch.randint(1, 49000, (2, 57))  # garbage after end-of-text
    with torch.inference_mode():
        np.testing.assert_allclose(model.encode_text(scrambled).numpy(),
                                   model.encode_text(tokens).numpy(), atol=1e-5, rtol=0)


def test_token_lengths_do_not_mistake_exclamation_marks_for_padding(vit_b_32):
    tokens = vit_b_32.tokenizer(["Sale!$", "wow", "", " ".join(["word"] * 100)])
    assert tokens[0, :4].tolist() == [49406, 1690, 0, 259]  # "!" is id 0, like the padding
    np.testing.assert_array_equal(token_lengths(tokens), [5, 3, 2, 77])


@pytest.mark.parametrize("kind, reason", [
    ("bidirectional", "bidirectional"), ("last_pool", "pooling 'last'"),
])
def test_unsupported_towers_fall_back_to_the_full_pass(models, kind, reason):
    loaded = models[kind]
    encoder = TextEncoder(loaded, batch_size=3)
    assert not encoder.cuts_context and reason in encoder.mode
    np.testing.assert_allclose(encoder.encode(SYNTHETIC), full_pass(loaded, SYNTHETIC), atol=ATOL, rtol=0)


def test_cut_can_be_disabled_and_batches_keep_input_order(models):
    loaded = models["tiny"]
    plain = TextEncoder(loaded, batch_size=3, cut=False)
    assert not plain.cuts_context and "full context" in plain.mode
    fast = TextEncoder(loaded, batch_size=3)
    reversed_in = SYNTHETIC[::-1]
    np.testing.assert_allclose(fast.encode(reversed_in), plain.encode(SYNTHETIC)[::-1], atol=ATOL, rtol=0)
    assert fast.encode([]).shape == (0, loaded.info.embed_dim)
