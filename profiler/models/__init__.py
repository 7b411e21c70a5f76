"""open_clip models for the model-perceived taggers: loading, prompt banks, text encoding, zero-shot.

Importing this package (or `prompts` / `zeroshot`) never imports torch: the caption path stays
light. `loading` and `text` import torch and open_clip inside their functions only.

    loading.py   model name + pretrained tag / checkpoint path / random weights -> LoadedModel
    weights.py   where the weights come from: cache look-up, offline check, checkpoint hash
    text.py      caption encoding: tokenize once, sort by length, cut the context per batch
    prompts.py   versioned TOML prompt banks (sexual content classes, identity groups)
    zeroshot.py  class embeddings from prompt ensembles; softmax scoring over embeddings (numpy)

Tiny random-weight models for tests live in tests/tiny_models.py (not shipped).
"""
