"""Language coverage: rows the English lexicons cannot read leave `no_identity`, are tallied by
language, merge exactly, and without a language column their share is estimated from a sample."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from profiler.cli import main
from profiler.counting.counts import Counts, count_batch
from profiler.counting.languages import LanguageTally
from profiler.engine.shard import count_plan
from profiler.errors import UserError
from profiler.resources import resource_path
from profiler.schema import CAPTION, KEY, LANGUAGE
from profiler.sources.columns import ColumnMapping
from profiler.stats.language import language_coverage
from profiler.taggers import DEFAULT_TAGGERS, build_taggers
from profiler.taggers.identity import PERSON_MENTION
from profiler.taggers.language import (
    CODE,
    DETECTED,
    WEIGHT,
    LanguageTagger,
    normalize_codes,
    sampled_rows,
)

SCHEMA = Path(__file__).resolve().parents[1] / "profiler" / "report" / "stats.schema.json"

# Caption templates per language; English ones sometimes name an identity group.
TEMPLATES = {
    "en": ["a photo of a {a} {n} standing near the {p}", "the {a} {n} in front of an old {p} at sunset",
           "portrait of a {a} Japanese woman walking through the {p}", "a {a} Nigerian man at the {p}"],
    "fr": ["une photo d'une {n} {a} devant la {p}", "la {n} {a} marche dans la {p} au coucher du soleil",
           "portrait d'une {n} {a} près de la {p}", "affiche ancienne avec une {n} {a} et la {p}"],
    "de": ["ein Foto einer {a} {n} vor der {p}", "die {a} {n} geht durch die {p} bei Sonnenuntergang",
           "Porträt einer {a} {n} neben der alten {p}", "altes Plakat mit einer {a} {n} und der {p}"],
    "ja": ["{p}の前に立つ{a}{n}の写真", "夕日の中で{p}を歩く{a}{n}", "{p}の近くにいる{a}{n}の肖像",
           "{a}{n}と{p}の古いポスター"],
}
WORDS = {
    "en": dict(a=["happy", "young", "old", "smiling", "tall"], n=["woman", "man", "farmer", "teacher", "dog"],
               p=["river", "church", "market", "mountain", "station"]),
    "fr": dict(a=["heureuse", "jeune", "souriante", "grande"], n=["femme", "fille", "enseignante", "voisine"],
               p=["rivière", "église", "gare", "montagne", "plage"]),
    "de": dict(a=["glücklichen", "jungen", "lächelnden", "großen"],
               n=["Frau", "Lehrerin", "Bäuerin", "Nachbarin"],
               p=["Kirche", "Straße", "Brücke", "Stadt", "Schule"]),
    "ja": dict(a=["幸せな", "若い", "笑顔の", "静かな"], n=["女性", "男性", "子供", "先生"],
               p=["川", "教会", "駅", "山", "庭"]),
}
SHARES = {"en": 0.6, "fr": 0.2, "de": 0.12, "ja": 0.08}


def captions(rng: np.random.Generator, n: int, shares: dict[str, float] = SHARES):
    """(captions, language codes) with languages drawn at the given shares."""
    langs = rng.choice(list(shares), size=n, p=list(shares.values()))
    out = []
    for lang in langs:
        template = TEMPLATES[lang][rng.integers(4)]
        out.append(template.format(**{k: v[rng.integers(len(v))] for k, v in WORDS[lang].items()}))
    return out, langs.tolist()


def batch(texts, langs=None, seed: int = 0) -> pa.RecordBatch:
    keys = pc.cast(pa.array(np.random.default_rng(seed).integers(0, 2**62, len(texts))), pa.string())
    columns = {KEY: keys, CAPTION: pa.array(texts)}
    if langs is not None:
        columns[LANGUAGE] = pa.array(langs)
    return pa.record_batch(columns)


def tag(rb: pa.RecordBatch, taggers) -> pa.Table:
    columns = {KEY: rb.column(KEY)}
    for tagger in taggers:
        columns.update(tagger.tag(rb))
    return pa.table(columns)


@pytest.fixture(scope="module")
def taggers():
    return tuple(build_taggers(DEFAULT_TAGGERS, {}))


def test_rows_in_other_languages_leave_no_identity_and_are_tallied(taggers):
    texts, langs = captions(np.random.default_rng(1), 4000)
    langs[:40] = [None] * 20 + ["EN-us"] * 20  # no language given / a regional code
    plan = count_plan(taggers)
    assert plan.languages == ("en",)
    tags = tag(batch(texts, langs), taggers)
    counts = count_batch(tags, plan)

    person = np.asarray(tags.column(PERSON_MENTION).to_numpy(zero_copy_only=False), bool)
    code = np.array(tags.column(CODE).to_pylist())
    covered = np.isin(code, ["en", "und"])
    assert counts.population_rows("all") == 4000
    assert counts.population_rows("no_identity") == int((~person & covered).sum())
    assert counts.population_rows("person_mention") == int(person.sum()) > 0
    # every row is a mention, a covered non-mention, or a row the lexicon cannot read
    outside = int((~person & ~covered).sum())
    assert outside > 1000
    assert outside == sum(1 for c, p in zip(code, person, strict=True) if c in ("fr", "de", "ja") and not p)
    assert counts.population_rows("person_mention") + counts.population_rows("no_identity") + outside == 4000

    expected = Counter("und" if lang is None else lang.lower().split("-")[0] for lang in langs)
    assert counts.language.rows == expected
    coverage = language_coverage(counts.language, plan.languages)
    assert coverage["column"]["not_covered"] == expected["fr"] + expected["de"] + expected["ja"]
    assert {r["language"]: r["covered"] for r in coverage["column"]["by_language"]} == {
        "en": True, "fr": False, "de": False, "ja": False, "und": None}
    assert coverage["estimate"] is None  # a column: nothing sampled


def test_language_counts_merge_exactly_across_shard_splits(taggers):
    texts, langs = captions(np.random.default_rng(2), 3000)
    plan = count_plan(taggers)
    tags = tag(batch(texts, langs), taggers)
    whole = count_batch(tags, plan)
    rng = np.random.default_rng(3)
    for _ in range(3):
        cuts = np.sort(rng.choice(np.arange(1, 3000), size=rng.integers(1, 6), replace=False))
        parts = [count_batch(tags.slice(a, b - a), plan)
                 for a, b in zip([0, *cuts], [*cuts, 3000], strict=True)]
        merged = Counts([], [])
        for part in parts:  # through JSON, as parts are stored
            merged = merged.merge(Counts.from_dict(json.loads(json.dumps(part.to_dict()))))
        assert merged.language.to_dict() == whole.language.to_dict()
        for population in whole.populations:
            assert merged.population_rows(population) == whole.population_rows(population)
        order = [merged.populations.index(p) for p in whole.populations]
        assert (merged.rows_in[order] == whole.rows_in).all()
        assert (merged.positive[order] == whole.positive).all()


def test_identity_and_sexual_terms_are_unchanged_for_english_rows(taggers):
    texts, langs = captions(np.random.default_rng(4), 3000)
    texts[:6] = ["nude beach photo of a young Asian woman", "sexy Black man in lingerie ad"] * 3
    langs[:6] = ["en"] * 6
    with_language = count_plan(taggers)
    without = count_plan(tuple(t for t in taggers if not isinstance(t, LanguageTagger)))
    tags = tag(batch(texts, langs), taggers)
    english = pa.array(np.array(langs) == "en")
    plain = tag(batch(texts), [t for t in taggers if not isinstance(t, LanguageTagger)])
    for name in plain.column_names:  # the caption taggers do not look at the language
        assert tags.column(name).filter(english).equals(plain.column(name).filter(english))
    # English rows alone: every count is the same with and without language coverage
    a = count_batch(tags.filter(english), with_language)
    b = count_batch(plain.filter(english), without)
    assert (a.rows_in == b.rows_in).all() and (a.positive == b.positive).all()
    assert (a.observed == b.observed).all()
    # all rows: only no_identity changes, by the rows the lexicon cannot read
    a, b = count_batch(tags, with_language), count_batch(plain, without)
    assert a.positive.sum() > 0
    changed = [p for p in a.populations if a.population_rows(p) != b.population_rows(p)]
    assert changed == ["no_identity"]
    assert b.population_rows("no_identity") - a.population_rows("no_identity") == (
        language_coverage(a.language, with_language.languages)["column"]["not_covered"]
        - sum(a.language.mentions[c] for c in ("fr", "de", "ja")))


def test_share_of_other_languages_is_estimated_from_a_sample(taggers):
    planted = {"en": 0.7, "fr": 0.15, "de": 0.1, "ja": 0.05}
    texts, langs = captions(np.random.default_rng(5), 40000, planted)
    settings = {"language": {"sample_every": 32}}
    sampling = tuple(build_taggers(DEFAULT_TAGGERS, settings))
    plan = count_plan(sampling)
    rb = batch(texts, seed=6)
    tags = tag(rb, sampling)
    counts = count_batch(tags, plan)
    true_share = float(np.mean(np.array(langs) != "en"))
    estimate = language_coverage(counts.language, plan.languages)["estimate"]
    assert 900 < estimate["sampled"] < 1600  # about one row in 32
    share = estimate["share_other"]
    assert share["low"] <= true_share <= share["high"]
    assert abs(share["value"] - true_share) < 0.05
    # without a column, no row leaves no_identity (the share is only estimated)
    person = np.asarray(tags.column(PERSON_MENTION).to_numpy(zero_copy_only=False), bool)
    assert counts.population_rows("no_identity") == int((~person).sum())
    # deterministic: the same batch samples the same rows; parts merge to their sum
    assert tag(rb, sampling).column(DETECTED).equals(tags.column(DETECTED))
    halves = [count_batch(tag(rb.slice(0, 12345), sampling), plan),
              count_batch(tag(rb.slice(12345), sampling), plan)]
    merged = Counts.from_dict(json.loads(json.dumps(halves[0].to_dict()))).merge(halves[1])
    assert merged.language.sampled == halves[0].language.sampled + halves[1].language.sampled


def test_sample_is_the_same_whatever_the_split_and_intervals_cover():
    """The sampling design alone, by simulation: each row is sampled by a hash of its key, so a
    split into batches, units or files never changes which rows are sampled; batches with
    different language mixes; the estimate's interval covers the planted share."""
    rng = np.random.default_rng(11)
    tagger = LanguageTagger(sample_every=64)
    keys = pa.array([f"part-{i // 5000:05d}/{i % 5000}" for i in range(20550)])
    whole = sampled_rows(keys, tagger.probability)
    cuts = np.sort(rng.choice(np.arange(1, len(keys)), 12, replace=False))
    pieces = [sampled_rows(keys.slice(a, b - a), tagger.probability)
              for a, b in zip([0, *cuts], [*cuts, len(keys)], strict=True)]
    assert np.array_equal(np.concatenate(pieces), whole)
    assert abs(whole.mean() - 1 / 64) < 0.004
    covered, runs, error = 0, 300, []
    for run in range(runs):
        tally = LanguageTally()
        other_rows = total_rows = 0
        for size, p in ((150, 0.6), (400, 0.5), (20000, rng.uniform(0.02, 0.2))):
            batch_keys = pa.array([f"{run}/{size}/{i}" for i in range(size)])
            other = rng.random(size) < p
            picked = sampled_rows(batch_keys, tagger.probability)
            detected = np.where(other, "fr", "en").astype(object)
            detected[~picked] = None
            weight = np.where(picked, 1 / tagger.probability, np.nan)
            tags = pa.table({DETECTED: pa.array(detected, pa.string()),
                             WEIGHT: pa.array(weight, mask=~picked)})
            tally = tally.merge(LanguageTally.count(tags))
            other_rows, total_rows = other_rows + int(other.sum()), total_rows + size
        truth = other_rows / total_rows
        share = language_coverage(tally, ["en"])["estimate"]["share_other"]
        covered += share["low"] <= truth <= share["high"]
        error.append(share["value"] - truth)
    assert 0.92 <= covered / runs <= 0.98
    assert abs(np.mean(error)) < 0.005


def test_codes_are_normalised_and_settings_checked():
    codes = normalize_codes(pa.array(["EN", "fr-FR", "zh_Hant", None, " ", "nolang", " de ", "yue",
                                      "English", "<b>x</b>", "12"]))
    assert codes.to_pylist() == ["en", "fr", "zh", "und", "und", "und", "de", "yue", "und", "und", "und"]
    assert normalize_codes(pa.array(["en", "ja"]).dictionary_encode()).to_pylist() == ["en", "ja"]
    for bad in ({"sample_every": 0}, {"sample_every": "10"}, {"min_confidence": 1.5}):
        with pytest.raises(UserError):
            LanguageTagger(**bad)
    tags = LanguageTagger(sample_every=1).tag(batch(["une femme devant la gare", "12345", None]))
    assert tags[DETECTED].to_pylist() == ["fr", "und", "und"] and tags[CODE].null_count == 3
    assert tags[WEIGHT].to_pylist() == [1.0, 1.0, 1.0]
    mapping = ColumnMapping()
    for name in ("language", "LANGUAGE", "lang"):
        assert mapping.resolve(["TEXT", name], [LANGUAGE]) == {LANGUAGE: name}
    assert ColumnMapping.parse(["language=detected"]).resolve(["lang", "detected"], [LANGUAGE]) == {
        LANGUAGE: "detected"}
    assert LanguageTagger(sample_every=100).probability == 0.01


def test_lexicons_declare_their_languages(tmp_path, taggers):
    from profiler.taggers.lexicon import load_lexicon

    assert load_lexicon("identity")["meta"]["languages"] == ["en"]
    assert load_lexicon("sexual_terms")["meta"]["languages"] == ["en"]
    text = resource_path("lexicons", "identity.toml").read_text()
    assert 'languages = ["en"]' in text
    undeclared = tmp_path / "old.toml"
    undeclared.write_text(text.replace('languages = ["en"]', ""))
    assert load_lexicon("identity", undeclared)["meta"]["languages"] == ["en"]
    for bad in ('languages = "en"', "languages = []", "languages = [1]"):
        wrong = tmp_path / "bad.toml"
        wrong.write_text(text.replace('languages = ["en"]', bad))
        with pytest.raises(UserError, match="languages"):
            load_lexicon("identity", wrong)
    # a lexicon that also covers French keeps French rows in no_identity
    bilingual = tmp_path / "bilingual.toml"
    bilingual.write_text(text.replace('languages = ["en"]', 'languages = ["en", "FR"]'))
    settings = {"identity": {"lexicon_path": str(bilingual)}}
    both = tuple(build_taggers(DEFAULT_TAGGERS, settings))
    plan = count_plan(both)
    assert plan.languages == ("en", "fr")
    texts, langs = captions(np.random.default_rng(7), 2000)
    tags = tag(batch(texts, langs), both)
    person = np.asarray(tags.column(PERSON_MENTION).to_numpy(zero_copy_only=False), bool)
    in_lexicon = np.isin(langs, ["en", "fr"])
    assert count_batch(tags, plan).population_rows("no_identity") == int((~person & in_lexicon).sum())


def test_profile_reports_language_coverage(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(8)
    for i in range(2):
        texts, langs = captions(rng, 1500)
        pq.write_table(pa.table({"key": [f"{i}-{j}" for j in range(1500)], "TEXT": texts,
                                 "LANGUAGE": langs, "punsafe": rng.random(1500)}),
                       data / f"part-{i}.parquet")
    out = tmp_path / "run"
    assert main(["-q", "profile", str(data), "--out", str(out), "--workers", "1"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    jsonschema.validate(stats, json.loads(SCHEMA.read_text()))
    column = stats["language"]["column"]
    assert column["rows"] == 3000 and stats["language"]["lexicon_languages"] == ["en"]
    tags = pa.concat_tables(pq.read_table(p) for p in sorted((out / "tags").glob("*.parquet")))
    outside = pc.and_(pc.invert(tags.column(PERSON_MENTION)),
                      pc.is_in(tags.column(CODE), pa.array(["fr", "de", "ja"])))
    assert column["not_covered"] - sum(r["person_mention"] for r in column["by_language"]
                                       if r["covered"] is False) == pc.sum(outside).as_py() > 0
    populations = stats["populations"]
    assert populations["no_identity"]["rows"]["*"] == 3000 - populations["person_mention"]["rows"]["*"] \
        - pc.sum(outside).as_py()
    html = (out / "index.html").read_text()
    assert 'id="language"' in html and "Language coverage" in html
    # curation reads the same populations from the tag files: other languages are not no_identity
    from profiler.curate import standard_filter_impacts

    counted = stats["curation"]
    assert json.loads(json.dumps(standard_filter_impacts(out, counted["min_support"],
                                                         counted["confidence"]))) == counted

    # the same captions without the column: an estimate instead, and no_identity keeps every row
    for part in sorted(data.glob("*.parquet")):
        pq.write_table(pq.read_table(part).drop_columns(["LANGUAGE"]), part)
    out2 = tmp_path / "run2"
    assert main(["-q", "profile", str(data), "--out", str(out2), "--workers", "1"]) == 0
    stats = json.loads((out2 / "stats.json").read_text())
    jsonschema.validate(stats, json.loads(SCHEMA.read_text()))
    assert stats["language"]["column"] is None and stats["language"]["estimate"]["sampled"] > 0
    assert stats["populations"]["no_identity"]["rows"]["*"] == 3000 - stats["populations"][
        "person_mention"]["rows"]["*"]
    assert "Estimated share of rows in other languages" in (out2 / "index.html").read_text()


def test_real_web_captions_are_not_called_foreign():
    """Integration on 5,000 real (mostly English) web alt-texts: short product titles and names
    must come out English or undetermined, not another language, or the estimate is inflated."""
    from .conftest import shared_path

    texts = pq.read_table(shared_path("data", "real-captions", "captions-5k.parquet"))["TEXT"]
    rb = batch(texts.combine_chunks().fill_null("").to_pylist())
    tags = pa.table(LanguageTagger(sample_every=1).tag(rb))
    estimate = language_coverage(LanguageTally.count(tags), ["en"])["estimate"]
    assert estimate["sampled"] == 5000
    assert estimate["share_other"]["value"] < 0.03
    assert {"en", "fr", "de"} <= {r["language"] for r in estimate["by_language"]}
