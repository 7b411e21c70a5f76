"""bias-profiler calibrate: thresholds fitted on planted scores, the thresholds file, user errors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from profiler.calibrate import (
    Thresholds,
    fit_threshold,
    format_thresholds,
    load_thresholds,
    short_cut,
)
from profiler.cli import main
from profiler.errors import UserError
from profiler.models.prompts import load_prompt_bank

BANK = load_prompt_bank("sexual_content", kind="sexual_content")
SEXUAL_CLASSES = [c.id for c in BANK.classes if c.positive]
PREVALENCE = 0.3


def planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positives ~ Beta(5, 2), negatives ~ Beta(2, 5), 30% positives; float32 like the tags."""
    rng = np.random.default_rng(seed)
    positive = rng.random(n) < PREVALENCE
    scores = np.where(positive, rng.beta(5, 2, n), rng.beta(2, 5, n)).astype(np.float32)
    return scores, positive


def optimal_f1_threshold(pos: stats.rv_continuous, neg: stats.rv_continuous, prevalence: float) -> float:
    """The population F1 optimum of `score >= t`, numerically on a fine grid."""
    t = np.linspace(0.0005, 0.9995, 19_999)
    tp = prevalence * pos.sf(t)
    fp = (1 - prevalence) * neg.sf(t)
    fn = prevalence * pos.cdf(t)
    return float(t[np.argmax(2 * tp / (2 * tp + fp + fn))])


def make_run(root: Path, shards: dict[str, dict[str, np.ndarray | list]],
             versions: dict[str, str] | None = None) -> Path:
    """A run folder as `profile` leaves it: run.json, tags/<id>.parquet, parts/<id>.done."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "run.json").write_text(json.dumps({"spec": {"name": root.name}}))
    for shard_id, columns in shards.items():
        tags = root / "tags" / f"{shard_id}.parquet"
        tags.parent.mkdir(parents=True, exist_ok=True)
        table = pa.table({k: (pa.array(v, pa.float32()) if isinstance(v, np.ndarray) and v.dtype.kind == "f"
                              else pa.array(v)) for k, v in columns.items()})
        pq.write_table(table, tags)
        done = root / "parts" / f"{shard_id}.done"
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text("{}")
    if versions is not None:
        (root / "stats.json").write_text(json.dumps({"taxonomy_versions": versions}))
    return root


def write_labels(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("key", "label")) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def binary_run(tmp_path: Path, n: int = 2000, seed: int = 0, labelled: int | None = None):
    """Two shards of planted clip.sexual_score (and nsfw.score); labels for the first `labelled`."""
    scores, positive = planted(n, seed)
    keys = [f"k{i}" for i in range(n)]
    half = n // 2
    shards = {
        f"part-{j}": {"key": keys[sl], "clip.sexual_score": scores[sl], "nsfw.score": scores[sl][::-1].copy()}
        for j, sl in enumerate((slice(0, half), slice(half, n)))
    }
    versions = {"clip.model": "ViT-B-32/laion2b (test)", "nsfw.model": "open_nsfw"}
    run = make_run(tmp_path / "run", shards, versions)
    count = n if labelled is None else labelled
    labels = write_labels(tmp_path / "labels.csv",
                          [(keys[i], "1" if positive[i] else "0") for i in range(count)])
    return run, labels, scores[:count], positive[:count]


# -- fitting ------------------------------------------------------------------------------------

def test_fitted_threshold_is_near_the_f1_optimum_and_metrics_match_sklearn():
    scores, positive = planted(4000, seed=1)
    fit = fit_threshold(scores, positive)
    optimum = optimal_f1_threshold(stats.beta(5, 2), stats.beta(2, 5), PREVALENCE)
    print(f"fitted {fit.threshold} vs population optimum {optimum:.4f}; F1 {fit.f1:.3f}")
    assert abs(fit.threshold - optimum) < 0.04
    predicted = scores >= fit.threshold  # float32 scores, as the tagger compares them
    assert fit.precision == pytest.approx(precision_score(positive, predicted))
    assert fit.recall == pytest.approx(recall_score(positive, predicted))
    assert fit.f1 == pytest.approx(f1_score(positive, predicted))
    assert fit.roc_auc == pytest.approx(roc_auc_score(positive, scores))
    assert (fit.positives, fit.negatives) == (int(positive.sum()), int((~positive).sum()))
    # the best F1 of any cut at a sample score: the fit is the sample optimum
    cuts = np.unique(scores)
    flagged = scores[None, :] >= cuts[:, None]
    tp = (flagged & positive).sum(axis=1)
    best = (2 * tp / (flagged.sum(axis=1) + positive.sum())).max()
    assert fit.f1 == pytest.approx(best)
    assert fit.precision_ci[0] <= fit.precision <= fit.precision_ci[1]
    assert fit.recall_ci[0] <= fit.recall <= fit.recall_ci[1]
    assert fit.threshold_ci is not None and fit.threshold_ci[0] <= fit.threshold <= fit.threshold_ci[1]


def test_fit_is_deterministic():
    scores, positive = planted(500, seed=2)
    assert fit_threshold(scores, positive) == fit_threshold(scores, positive)


def test_target_precision_picks_the_lowest_threshold_reaching_it():
    scores, positive = planted(1500, seed=3)
    fit = fit_threshold(scores, positive, target_precision=0.95)
    assert fit.precision >= 0.95
    assert fit.precision == pytest.approx(precision_score(positive, scores >= fit.threshold))
    below = np.unique(scores[scores < fit.threshold])
    flagged = scores[None, :] >= below[:, None]  # one row per lower cut
    precision_below = (flagged & positive).sum(axis=1) / flagged.sum(axis=1)
    assert (precision_below < 0.95).all(), "a lower cut reaches the target"
    assert fit.recall > fit_threshold(scores, positive, target_precision=0.99).recall


def test_unreachable_target_precision_is_a_user_error():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05], np.float32)
    positive = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 0], bool)  # the top score is a negative
    with pytest.raises(UserError, match="no threshold reaches precision 1"):
        fit_threshold(scores, positive, target_precision=1.0)


def test_too_few_positives_is_a_user_error():
    scores, positive = planted(200, seed=4)
    positive[:] = False
    positive[:4] = True
    with pytest.raises(UserError, match="only 4 positive label"):
        fit_threshold(scores, positive)


@pytest.mark.parametrize("cut,lower", [(0.37000000476837, 0.31), (0.5, 0.4999), (0.123456, None),
                                       (0.8, 0.79999995), (1.0, 0.2)])
def test_short_cut_keeps_every_decision(cut, lower):
    value = short_cut(cut, lower)
    low = 0.0 if lower is None else lower
    assert low < value <= cut
    assert np.float32(low) < np.float32(value) <= np.float32(cut)
    assert len(repr(value)) <= len(repr(cut))


def test_short_cut_is_short():
    assert short_cut(float(np.float32(0.37)), 0.31) == 0.34
    assert short_cut(0.555, 0.551) == 0.553


# -- the thresholds file ------------------------------------------------------------------------

def test_thresholds_file_round_trips(tmp_path):
    original = Thresholds(
        threshold=float(np.float32(0.3700001)), classes={"explicit_nudity": 0.41, "odd class.id": 0.5},
        version="calibrated-2026-11-22-abcd1234", score="clip.sexual_score",
        fit={"labels": 'C:\\labels "v2".csv', "rows": 400, "precision_ci": [0.8, 0.9], "ok": True,
             "classes": {"explicit_nudity": {"f1": 0.5}}},
    )
    path = tmp_path / "t.toml"
    path.write_text(format_thresholds(original, "a header\nsecond line"))
    assert load_thresholds(path) == original


@pytest.mark.parametrize("text,message", [
    ("not toml [", "not valid TOML"),
    ("[other]\nx = 1\n", "no [thresholds] table"),
    ("[thresholds]\nthreshold = 0.4\n", "needs version"),
    ('[thresholds]\nversion = "v"\nthreshold = 1.5\n', "threshold must be a number between 0 and 1"),
    ('[thresholds]\nversion = "v"\nthreshold = true\n', "threshold must be a number"),
    ('[thresholds]\nversion = "v"\nthreshold = 0.4\ncutoff = 0.3\n', "unknown key"),
    ('[thresholds]\nversion = "v"\n[thresholds.classes]\nexplicit_nudity = "high"\n',
     "classes.explicit_nudity"),
    ('[thresholds]\nversion = "v"\n', "neither threshold"),
    ('[thresholds]\nversion = "v"\nthreshold = 0.4\nfit = 3\n', "[thresholds.fit] must be a table"),
])
def test_bad_thresholds_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        load_thresholds(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_missing_thresholds_file(tmp_path):
    with pytest.raises(UserError, match="thresholds file not found"):
        load_thresholds(tmp_path / "absent.toml")


def test_thresholds_fitted_on_another_score_are_refused(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(format_thresholds(Thresholds(0.9, {}, "v", score="nsfw.score")))
    assert load_thresholds(path, expect_score="nsfw.score").threshold == 0.9
    with pytest.raises(UserError, match=r"fitted on nsfw\.score, not clip"):
        load_thresholds(path, expect_score="clip")


# -- the command --------------------------------------------------------------------------------

def test_cli_binary_end_to_end(tmp_path, capsys):
    run, labels, scores, positive = binary_run(tmp_path, n=2000, labelled=600)
    out = tmp_path / "thresholds.toml"
    assert main(["-q", "calibrate", str(run), "--labels", str(labels), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "clip.sexual_score" in printed.out and "precision (95% CI)" in printed.out
    loaded = load_thresholds(out, expect_score="clip")
    assert loaded.threshold == fit_threshold(scores, positive).threshold
    assert loaded.classes == {}
    assert loaded.score == "clip.sexual_score"
    digest = hashlib.sha256(labels.read_bytes()).hexdigest()
    assert loaded.version.startswith("calibrated-") and loaded.version.endswith(digest[:8])
    fit = loaded.fit
    assert fit["labels_sha256"] == digest and fit["rows"] == 600
    assert fit["positives"] == int(positive.sum()) and fit["objective"] == "f1"
    assert fit["model"] == "ViT-B-32/laion2b (test)"
    assert fit["prompt_bank"] == f"{BANK.name} {BANK.version}"
    predicted = scores >= loaded.threshold
    assert fit["precision"] == pytest.approx(precision_score(positive, predicted), abs=1e-6)
    assert fit["recall"] == pytest.approx(recall_score(positive, predicted), abs=1e-6)
    assert fit["roc_auc"] == pytest.approx(roc_auc_score(positive, scores), abs=1e-6)
    # the written file says what it is
    assert out.read_text().startswith("# Thresholds fitted by `bias-profiler calibrate`")


def test_cli_target_precision_and_overwrite(tmp_path, capsys):
    run, labels, scores, positive = binary_run(tmp_path, n=1200, seed=5)
    out = tmp_path / "t.toml"
    args = ["-q", "calibrate", str(run), "--labels", str(labels), "--out", str(out)]
    assert main(args) == 0
    assert main([*args, "--target-precision", "0.95"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--target-precision", "0.95", "--overwrite"]) == 0
    loaded = load_thresholds(out)
    assert loaded.fit["objective"] == "precision>=0.95" and loaded.fit["target_precision"] == 0.95
    assert precision_score(positive, scores >= loaded.threshold) >= 0.95
    assert loaded.threshold == fit_threshold(scores, positive, target_precision=0.95).threshold


def test_cli_nsfw_score(tmp_path):
    run, labels, _, positive = binary_run(tmp_path, n=600, seed=6)
    out = tmp_path / "nsfw.toml"
    args = ["-q", "calibrate", str(run), "--labels", str(labels), "--out", str(out)]
    assert main([*args, "--score", "nsfw.score"]) == 0
    loaded = load_thresholds(out, expect_score="nsfw.score")
    assert loaded.score == "nsfw.score" and loaded.fit["model"] == "open_nsfw"
    assert "prompt_bank" not in loaded.fit
    assert 'Use: thresholds_path = "nsfw.toml" in [taggers.nsfw].' in out.read_text()
    nsfw = np.concatenate([pq.read_table(run / "tags" / f"part-{j}.parquet")["nsfw.score"].to_numpy()
                           for j in (0, 1)])
    assert loaded.threshold == fit_threshold(nsfw, positive).threshold


def class_run(tmp_path: Path, n: int = 3000, seed: int = 7):
    """clip.prob.<class> columns: a sample of class c has probabilities ~ Dirichlet(1 + 6 e_c),
    so prob_c is Beta(7, 4) for c's samples and Beta(1, 10) for the others'."""
    rng = np.random.default_rng(seed)
    ids = BANK.ids
    shares = np.array([0.15, 0.15, 0.15, 0.35, 0.2])[: len(ids)]
    label = rng.choice(len(ids), size=n, p=shares / shares.sum())
    alpha = np.ones((n, len(ids)))
    alpha[np.arange(n), label] += 6
    probs = np.stack([rng.dirichlet(a) for a in alpha]).astype(np.float32)
    keys = [f"c{i}" for i in range(n)]
    columns = {"key": keys, **{f"clip.prob.{c}": probs[:, i] for i, c in enumerate(ids)}}
    columns["clip.sexual_score"] = probs[:, BANK.positive].sum(axis=1)
    run = make_run(tmp_path / "run", {"only": columns})
    labels = write_labels(tmp_path / "labels.csv", [(keys[i], ids[label[i]]) for i in range(n)])
    return run, labels, probs, label, shares / shares.sum()


def test_cli_per_class_thresholds(tmp_path):
    run, labels, probs, label, shares = class_run(tmp_path)
    out = tmp_path / "classes.toml"
    assert main(["-q", "calibrate", str(run), "--labels", str(labels), "--out", str(out)]) == 0
    loaded = load_thresholds(out, expect_score="clip")
    assert loaded.threshold is None
    assert sorted(loaded.classes) == sorted(SEXUAL_CLASSES)
    for class_id, cut in loaded.classes.items():
        index = BANK.ids.index(class_id)
        optimum = optimal_f1_threshold(stats.beta(7, 4), stats.beta(1, 10), shares[index])
        assert abs(cut - optimum) < 0.06, (class_id, cut, optimum)
        positive = label == index
        metrics = loaded.fit["classes"][class_id]
        assert metrics["positives"] == int(positive.sum())
        assert metrics["precision"] == pytest.approx(precision_score(positive, probs[:, index] >= cut),
                                                     abs=1e-6)
    # the combined rule the clip tagger applies: any class at its cut
    sexual = np.isin(label, [BANK.ids.index(c) for c in SEXUAL_CLASSES])
    hits = np.any([probs[:, BANK.ids.index(c)] >= t for c, t in loaded.classes.items()], axis=0)
    assert loaded.fit["recall"] == pytest.approx(recall_score(sexual, hits), abs=1e-6)
    assert loaded.fit["label_kind"] == "classes"
    assert loaded.score == loaded.fit["score_column"] == "clip.prob.<class>"
    assert "[thresholds.fit.classes.explicit_nudity]" in out.read_text()


def test_class_with_too_few_labels_is_left_out_with_a_warning(tmp_path, caplog):
    run, labels, *_ = class_run(tmp_path, n=800, seed=8)
    rows = list(csv.reader(labels.open()))[1:]
    scarce = SEXUAL_CLASSES[0]
    kept = [r for r in rows if r[1] != scarce] + [r for r in rows if r[1] == scarce][:3]
    write_labels(labels, kept)
    out = tmp_path / "t.toml"
    with caplog.at_level(logging.WARNING, logger="profiler"):
        assert main(["-q", "calibrate", str(run), "--labels", str(labels), "--out", str(out)]) == 0
    assert scarce not in load_thresholds(out).classes
    assert f"class {scarce} has 3 positive label(s)" in caplog.text


def test_unknown_keys_null_scores_and_repeats_are_warnings(tmp_path, caplog):
    scores, positive = planted(300, seed=9)
    scores[:10] = np.nan
    keys = [f"k{i}" for i in range(300)]
    run = make_run(tmp_path / "run", {"a": {"key": keys, "clip.sexual_score": scores}})
    rows = [(k, "yes" if p else "no") for k, p in zip(keys, positive, strict=True)]
    labels = write_labels(tmp_path / "labels.csv", [*rows, ("ghost-1", "yes"), ("ghost-2", "no"), rows[50]])
    out = tmp_path / "t.toml"
    with caplog.at_level(logging.WARNING, logger="profiler"):
        assert main(["-q", "calibrate", str(run), "--labels", str(labels), "--out", str(out)]) == 0
    assert "2 of 302 label keys are not in the run" in caplog.text
    assert "10 labelled sample(s) have no score" in caplog.text
    assert "1 repeated key(s)" in caplog.text
    fit = load_thresholds(out).fit
    assert fit["rows"] == 290
    assert fit["positives"] == int(positive[10:].sum())


def test_integer_keys_and_spreadsheet_csv(tmp_path):
    """Keys stored as integers in the tags match their text in the CSV; a BOM and CRLF are fine."""
    scores, positive = planted(200, seed=10)
    keys = np.arange(200, dtype=np.int64)
    run = make_run(tmp_path / "run", {"a": {"key": keys, "clip.sexual_score": scores}})
    lines = ["Key,Label,note"] + [f"{i},{'sexual' if p else 'not_sexual'},x" for i, p in enumerate(positive)]
    labels = tmp_path / "labels.csv"
    labels.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    out = tmp_path / "t.toml"
    assert main(["-q", "calibrate", str(run), "--labels", str(labels), "--out", str(out)]) == 0
    assert load_thresholds(out).fit["rows"] == 200


# -- user errors: exit 2, one line, no traceback -------------------------------------------------

def _error_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    run, labels, _, positive = binary_run(tmp_path, n=300, seed=11)
    keys = [f"k{i}" for i in range(300)]

    def labels_file(name: str, rows, header=("key", "label")) -> str:
        return str(write_labels(tmp_path / name, rows, header))

    few = [(k, "1" if i < 3 else "0") for i, k in enumerate(keys)]
    class_labels = [(k, SEXUAL_CLASSES[i % 2] if i % 3 else "no_person") for i, k in enumerate(keys)]
    nothing = make_run(tmp_path / "bare", {"a": {"key": keys}})
    ok = str(labels)
    return {
        "labels file missing": ([str(run), "--labels", str(tmp_path / "nope.csv")], "labels file not found"),
        "no label column": ([str(run), "--labels", labels_file("h.csv", [("k1", "1")], ("key", "lbl"))],
                            "needs a header row with columns key and label"),
        "empty label": ([str(run), "--labels", labels_file("e.csv", [("k1", "1"), ("k2", "")])],
                        "line 3 has no label"),
        "unknown label": ([str(run), "--labels", labels_file("u.csv", [("k1", "1"), ("k2", "maybe")])],
                          "unknown label(s) 'maybe'"),
        "mixed labels": ([str(run), "--labels", labels_file("m.csv", [("k1", "1"), ("k2", "suggestive")])],
                         "mix binary values"),
        "conflicting duplicate": ([str(run), "--labels", labels_file("d.csv", [("k1", "1"), ("k1", "0")])],
                                  "key 'k1' is labelled '1' on line 2 and '0' on line 3"),
        "no known keys": ([str(run), "--labels", labels_file("g.csv", [("x1", "1"), ("x2", "0")])],
                          "none of the 2 label keys"),
        "too few positives": ([str(run), "--labels", labels_file("f.csv", few)], "only 3 positive label(s)"),
        "target out of range": ([str(run), "--labels", ok, "--target-precision", "1.5"],
                                "--target-precision must be in (0, 1]"),
        "target unreachable": ([str(run), "--labels", labels_file("t.csv", [(k, "1" if p else "0") for k, p in
                                zip(keys, ~positive, strict=True)]), "--target-precision", "1"],
                               "no threshold reaches precision 1"),
        "missing score column": ([str(nothing), "--labels", ok], "no column clip.sexual_score"),
        "unknown score column": ([str(run), "--labels", ok, "--score", "clip.sexy"], "no column clip.sexy"),
        "class labels on nsfw": ([str(run), "--labels", labels_file("c.csv", class_labels),
                                  "--score", "nsfw.score"], "unknown label(s)"),
        "class labels without prob columns": ([str(run), "--labels", labels_file("c2.csv", class_labels)],
                                              "no column clip.prob."),
        "not a run folder": ([str(tmp_path), "--labels", ok], "is not a run folder"),
        "out is a folder": ([str(run), "--labels", ok, "--out", str(tmp_path)], "is a folder"),
    }


def test_user_errors_exit_2_with_one_line(tmp_path, capsys):
    cases = _error_cases(tmp_path)
    for name, (args, message) in cases.items():
        argv = ["-q", "calibrate", *args]
        if "--out" not in argv:
            argv += ["--out", str(tmp_path / f"{name}.toml")]
        capsys.readouterr()
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1, (name, err)
        assert lines[0].startswith("bias-profiler: error: ") and message in lines[0], (name, lines[0])
        assert "Traceback" not in err
        assert name == "out is a folder" or not (tmp_path / f"{name}.toml").exists(), name


def test_help_says_defaults_apply_without_labels(capsys):
    with pytest.raises(SystemExit):
        main(["calibrate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Without labels calibrate is not run" in text and "0.5" in text and "0.8" in text


def test_every_written_number_is_finite(tmp_path):
    run, labels, _, _ = binary_run(tmp_path, n=400, seed=12)
    out = tmp_path / "t.toml"
    assert main(["-q", "calibrate", str(run), "--labels", str(labels), "--out", str(out)]) == 0

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, float):
            assert math.isfinite(value)

    walk(load_thresholds(out).fit)
    json.dumps(load_thresholds(out).fit)  # stamped into stats.json as is


def test_clip_run_calibrated_and_reprofiled_with_the_thresholds(tmp_path):
    """The loop a curator runs: profile with the clip tagger (tiny random weights), label, fit
    binary and per-class thresholds, profile again with --thresholds: the tagger applies them."""
    pytest.importorskip("open_clip")
    from PIL import Image

    from tests import tiny_models as testing

    name = testing.register_model(tmp_path / "model", "tiny-calibrate")
    checkpoint = testing.write_checkpoint(name, tmp_path / "model" / "tiny.pt", seed=5, logit_scale=30.0)
    rng = np.random.default_rng(0)
    images = []
    for _ in range(40):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(buffer, format="JPEG")
        images.append(buffer.getvalue())
    data = tmp_path / "data" / "part-0.parquet"
    data.parent.mkdir()
    pq.write_table(pa.table({"key": [f"k{i}" for i in range(40)], "caption": ["a photo"] * 40,
                             "jpg": pa.array(images, pa.binary())}), data)

    def profile(out: Path, *extra: str) -> pa.Table:
        assert main(["-q", "profile", str(data.parent), "--taggers", "identity,clip", "--model", name,
                     "--pretrained", str(checkpoint), "--device", "cpu", "--out", str(out), *extra]) == 0
        return pq.read_table(out / "tags" / "part-0.parquet").sort_by("key")

    tags = profile(tmp_path / "run")
    keys = tags.column("key").to_pylist()
    score = tags.column("clip.sexual_score").to_numpy()
    order = np.argsort(score)
    binary = write_labels(tmp_path / "binary.csv",
                          [(keys[i], "1" if rank >= 20 else "0") for rank, i in enumerate(order)])
    out = tmp_path / "binary.toml"
    assert main(["-q", "calibrate", str(tmp_path / "run"), "--labels", str(binary), "--out", str(out)]) == 0
    loaded = load_thresholds(out, expect_score="clip")
    assert score[order[19]] < loaded.threshold <= score[order[20]]
    assert loaded.fit["model"].startswith(name)

    again = profile(tmp_path / "again", "--thresholds", str(out))
    assert again.column("clip.sexual").to_pylist() == (score >= np.float32(loaded.threshold)).tolist()
    stats = json.loads((tmp_path / "again" / "stats.json").read_text())
    assert stats["taxonomy_versions"]["clip.thresholds"] == loaded.version

    # per-class: each sexual class labelled on the rows where its probability is highest
    probs = {c: tags.column(f"clip.prob.{c}").to_numpy() for c in BANK.ids}
    rows = []
    for class_id in BANK.ids:
        top = np.argsort(-probs[class_id])
        picked = [i for i in top if keys[i] not in {k for k, _ in rows}][:8]
        rows += [(keys[i], class_id) for i in picked]
    classes = write_labels(tmp_path / "classes.csv", rows)
    out = tmp_path / "classes.toml"
    assert main(["-q", "calibrate", str(tmp_path / "run"), "--labels", str(classes), "--out", str(out)]) == 0
    loaded = load_thresholds(out, expect_score="clip")
    assert loaded.threshold is None and set(loaded.classes) == set(SEXUAL_CLASSES)
    again = profile(tmp_path / "classes-run", "--thresholds", str(out))
    expected = np.zeros(len(keys), bool)
    for class_id, cut in loaded.classes.items():
        expected |= probs[class_id] >= np.float32(cut)
    assert again.column("clip.sexual").to_pylist() == expected.tolist()
