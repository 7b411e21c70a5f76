"""A hand-built run folder for the curation tests: every count a filter should give is known.

Blocks of identical rows (mentions, punsafe, caption level, rows). With `dataset.punsafe >= 0.5`
dropped, the expected numbers below follow by hand:

    all           1000 rows, 130 removed (A 30 + D 10 + F 10 + I 80), 40 unjudged (G: null punsafe)
    person         220 rows,  50 removed; no_identity 780 rows, 80 removed
    east_asian     110 rows (A B C D), 40 removed; east_asian:female 90 (A B D), 40 removed
    east_asian:male 20 rows (C): under min support 30
    black           70 rows (D E), 10 removed; black:male 60, 0 removed
    white:female    50 rows (F G), 10 removed
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# (block, mentions, punsafe, sexual_terms.level, rows)
BLOCKS = [
    ("A", ["east_asian:female"], 0.9, "explicit", 30),
    ("B", ["east_asian:female"], 0.1, "none", 50),
    ("C", ["east_asian:male"], 0.1, "suggestive", 20),
    ("D", ["black:female", "east_asian:female"], 0.9, "none", 10),
    ("E", ["black:male"], 0.1, "none", 60),
    ("F", ["white:female"], 0.6, "none", 10),
    ("G", ["white:female"], None, "none", 40),
    ("H", [], 0.1, "none", 700),
    ("I", [], 0.95, "explicit", 80),
]
SPLIT = 500  # rows of shard s1 (keyed by 32-hex uids); the rest go to s2 (no key column)
UNTAGGED_S2_ROW = 7  # s2 input row with an empty caption: in the input, never tagged


def make_run(root: Path, clip: bool = False, seed: int = 3) -> Path:
    """Write inputs/ (2 parquet shards) and run/ (run.json, tags/, parts/*.done); returns run/."""
    rows = []
    for block, mentions, punsafe, level, count in BLOCKS:
        rows += [(block, mentions, punsafe, level)] * count
    order = np.random.default_rng(seed).permutation(len(rows))
    rows = [rows[i] for i in order]
    inputs, run = root / "inputs", root / "run"
    (run / "tags").mkdir(parents=True)
    (run / "parts").mkdir()
    inputs.mkdir()
    rng = np.random.default_rng(seed + 1)
    uids = [f"{rng.integers(0, 2**63):016x}{rng.integers(0, 2**63):016x}" for _ in range(SPLIT)]
    s1, s2 = rows[:SPLIT], rows[SPLIT:]
    s2_keys = [f"s2/{i if i < UNTAGGED_S2_ROW else i + 1}" for i in range(len(s2))]
    _write_input(inputs / "s1.parquet", s1, uids)
    _write_input(inputs / "s2.parquet", s2, None)
    for shard, part, keys in (("s1", s1, uids), ("s2", s2, s2_keys)):
        pq.write_table(_tags(part, keys, clip), run / "tags" / f"{shard}.parquet")
        (run / "parts" / f"{shard}.done").write_text("ok\n")
        (run / "parts" / f"{shard}.counts.json").write_text("{}")
    spec = {"name": "hand-made", "sources": [str(inputs)], "out": str(run),
            "taggers": ["identity", "sexual_terms", "dataset"], "tagger_settings": {}, "columns": {}}
    (run / "run.json").write_text(json.dumps({"fingerprint": "test", "spec": spec}))
    return run


def _write_input(path: Path, rows: list, uids: list[str] | None) -> None:
    captions = [f"caption {block} {i}" for i, (block, *_rest) in enumerate(rows)]
    punsafe = [r[2] for r in rows]
    if uids is None:  # s2: one extra, untagged row with an empty caption
        captions.insert(UNTAGGED_S2_ROW, "")
        punsafe.insert(UNTAGGED_S2_ROW, 0.9)
    columns = {"TEXT": pa.array(captions), "punsafe": pa.array(punsafe, pa.float64())}
    if uids is not None:
        columns = {"uid": pa.array(uids), **columns}
    pq.write_table(pa.table(columns), path)


def _tags(rows: list, keys: list[str], clip: bool) -> pa.Table:
    mentions = [r[1] for r in rows]
    punsafe = pa.array([r[2] for r in rows], pa.float64())
    columns = {
        "key": pa.array(keys, pa.string()),
        "identity.person_mention": pa.array([bool(m) for m in mentions]),
        "identity.groups": pa.array([sorted({m.split(":")[0] for m in ms}) for ms in mentions],
                                    pa.list_(pa.string())),
        "identity.gender": pa.array([_gender(ms) for ms in mentions]),
        "identity.mentions": pa.array(mentions, pa.list_(pa.string())),
        "identity.terms": pa.array([[] for _ in rows], pa.list_(pa.string())),
        "identity.has_term": pa.array([bool(m) for m in mentions]),
        "sexual_terms.level": pa.array([r[3] for r in rows]),
        "dataset.punsafe": punsafe,
        "dataset.sexual": pa.array([None if r[2] is None else r[2] >= 0.5 for r in rows], pa.bool_()),
        "dataset.nsfw_label": pa.nulls(len(rows), pa.string()),
    }
    if clip:  # what the CLIP tagger may add: a score and a calibrated yes/no
        score = np.array([0.8 if r[0] in ("A", "I") else 0.2 for r in rows])
        columns["clip.sexual_score"] = pa.array(score)
        columns["clip.sexual"] = pa.array(score >= 0.5)
    return pa.table(columns)


def _gender(mentions: list[str]) -> str:
    genders = {m.split(":")[1] for m in mentions}
    if not genders:
        return "none"
    return genders.pop() if len(genders) == 1 else "mixed"


def block_of(run: Path) -> dict[str, str]:
    """key -> block letter, read back from the tags and the captions of the inputs."""
    out: dict[str, str] = {}
    inputs = run.parent / "inputs"
    for shard in ("s1", "s2"):
        tags = pq.read_table(run / "tags" / f"{shard}.parquet", columns=["key"]).column("key").to_pylist()
        captions = [c for c in pq.read_table(inputs / f"{shard}.parquet").column("TEXT").to_pylist() if c]
        out.update({k: c.split()[1] for k, c in zip(tags, captions, strict=True)})
    return out
