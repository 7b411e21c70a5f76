"""Structural recall of the identity tagger on made-up captions, by shape of mention.

Why this exists: the labelled real captions hold few demonym + role-noun, demonym-as-noun and
adjective-noun-before-a-thing shapes, so they cannot show whether a rule generalizes. This builds
captions from every one-word demonym adjective of the shipped lexicon (except the `other` group)
and prints, per shape, the share the tagger counts as a person mention, with a few misses:

  * adj+role: "<Demonym> <role noun> <news tail>" ("Irish jockey celebrates");
  * adj+mod+role: "<Demonym> <modifier> <role noun>" ("Nigerian former minister");
  * det+adj-as-noun: "<determiner> <Demonym> <verb phrase>" ("A Greek walks past a shop");
  * NEG product/thing: "<Demonym> Mens Cotton Polo Shirt", "<Demonym> food recipe", ... (must be 0).

Made-up captions measure rules, not quality on real text (bench/caption_quality.py does that).

    .venv/bin/python bench/identity_probe.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from profiler.taggers.identity import PERSON_MENTION, IdentityTagger
from profiler.taggers.lexicon import load_lexicon

ROLES = ["batsman", "troops", "housemate", "playboy", "national", "writer", "short-story writer",
         "footballer", "striker", "goalkeeper", "rapper", "singer", "novelist", "poet", "painter",
         "chef", "nurse", "soldier", "activist", "journalist", "politician", "minister", "athlete",
         "cyclist", "swimmer", "boxer", "wrestler", "tennis player", "golfer", "jockey", "model",
         "actor", "director", "designer", "architect", "photographer", "scientist", "astronaut",
         "pilot", "farmer", "worker", "immigrant", "refugee", "migrant", "tourist", "pilgrim",
         "citizen", "diplomat", "ambassador", "envoy", "captain", "coach", "manager", "striker",
         "midfielder", "defender", "skier", "sprinter", "marathoner", "climber", "mountaineer",
         "explorer", "missionary", "teacher", "doctor", "surgeon", "lawyer", "judge", "banker",
         "billionaire", "entrepreneur", "tycoon", "socialite", "heiress", "royals", "rebels",
         "protesters", "fans", "supporters", "voters", "workers", "nationals", "expats",
         "expatriate", "veteran", "veterans", "sailors", "fighters", "insurgents", "militants",
         "hostages", "captives", "prisoners", "detainees", "victims", "survivors", "residents",
         "villagers", "locals", "children", "pensioner", "grandmother", "toddler", "twins", "duo",
         "trio", "quartet", "band", "cast", "crew", "squad", "team", "delegation"]
MODIFIERS = ["former", "young", "elderly", "famous", "renowned", "celebrated", "award-winning",
             "legendary", "retired", "veteran", "top", "star", "first-time", "self-taught",
             "short-story", "long-distance", "prima", "pop"]
TAILS = ["arrives in London", "wins award", "pictured in 2019", "at the event", "during interview",
         "celebrates"]
NOUN_USES = ["A", "The first", "Two", "Three", "An elderly", "A young", "The"]
VERB_PHRASES = ["arrested in Paris", "wins gold", "in traditional dress", "walks past a shop",
                "was killed"]
THINGS = ["{} Mens Cotton Polo Shirt", "{} Womens Summer Dress Size M", "{} food recipe",
          "{} flag on pole", "{} restaurant menu", "{} Ladies Handbag - Black",
          "Authentic {} cuisine", "{} language course"]


def shapes(seed: int = 3) -> dict[str, list[str]]:
    terms = load_lexicon("identity", None)["terms"]
    adjectives = sorted({a for group, spec in terms.items() if group != "other"
                         for a in spec.get("adjectives", []) if " " not in a})
    rng = random.Random(seed)
    title = [a[0].upper() + a[1:] for a in adjectives]
    return {
        "adj+role": [f"{a} {r} {rng.choice(TAILS)}" for a in title for r in rng.sample(ROLES, 6)],
        "adj+mod+role": [f"{a} {rng.choice(MODIFIERS)} {rng.choice(ROLES)}" for a in title],
        "det+adj-as-noun": [f"{rng.choice(NOUN_USES)} {a} {rng.choice(VERB_PHRASES)}" for a in title],
        "NEG product/thing": [shape.format(a) for a in title for shape in THINGS],
    }


def main() -> int:
    tagger = IdentityTagger()
    rng = random.Random(0)
    for name, captions in shapes().items():
        flags = tagger.tag(pa.RecordBatch.from_pydict({"caption": captions}))[PERSON_MENTION].to_pylist()
        negative = name.startswith("NEG")
        misses = [c for c, f in zip(captions, flags, strict=True) if f == negative]
        print(f"{name:18s} n={len(captions):5d} person mention {sum(flags) / len(flags):.3f}")
        for caption in rng.sample(misses, min(5, len(misses))):
            print(f"    {'false' if negative else 'missed'}: {caption}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
