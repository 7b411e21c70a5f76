"""Compile the identity lexicon TOML into token lookup tables for the vectorized matcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from profiler.errors import UserError
from profiler.taggers.lexicon import load_lexicon, require
from profiler.taggers.text import alternation, term_pattern

FEMALE, MALE, UNSPECIFIED = 0, 1, 2
MENTION_GENDERS = ("female", "male", "unspecified")


@dataclass
class _Entry:
    """What one token surface means; a token can be several things ("female": noun + modifier)."""

    group: int = -1
    lemma: str = ""
    colour: bool = False
    noun_gender: int = -1
    person_gender: int = -1
    possessive: bool = False
    modifier: bool = False
    connector: bool = False
    descent: bool = False
    diaspora: bool = False
    product: bool = False
    brand: bool = False
    colour_blocker: bool = False
    derived: bool = False  # a person noun only for mentions (WordNet vocabulary, weak nouns)
    weak: bool = False
    buyer: bool = False  # a plural person noun that names a listing's buyers ("women", "men")
    determiner: bool = False
    follower: bool = False
    bare: bool = False  # a demonym that is also a common word: a noun only after a determiner
    after_role: bool = False  # a person noun only after a role word ("pop star", not "star anise")
    adjective: bool = False  # an identity adjective (some are nouns too: "Portuguese", "Latina")
    place: bool = False  # a country name: describes a person right before a person noun only
    thing: bool = False  # a noun for a thing an identity word may describe ("restaurant", "flag")
    costume: bool = False  # after a person noun, a costume ("Greek Goddess Costume")
    team_role: bool = False  # a sport role a country name may describe ("Germany goalkeeper")
    place_possessive: bool = False  # "Ghana's": a country's possessive, before its people
    headline_verb: bool = False  # "Ethiopian wins ...": after a demonym opening a caption
    depiction: bool = False  # "Caucasian Baby Doll": ends a weak noun's phrase (it is depicted)
    colour_bridge: bool = False  # may stand between a colour term and its noun ("Black female doctor")
    adjacent_role: bool = False  # a person only right after an identity term ("Sherpa guide")
    collective: bool = False  # "group of" may stand before a person noun ("group of friends")
    office: bool = False  # "King ... of Hungary": an office held of a country names a person


@dataclass(frozen=True)
class Multiword:
    token_ids: tuple[int, ...]
    group: int
    noun_gender: int
    lemma: str
    place: bool = False  # a country of several words ("Sri Lanka"): a place, not an adjective


@dataclass
class IdentityLexicon:
    """Token tables: index arrays are aligned with `vocab` (one row per token surface)."""

    name: str
    version: str
    source: str
    sha256: str
    groups: list[str]
    group_labels: dict[str, str]
    aggregates: dict[str, list[str]]
    vocab: pa.Array
    lemmas: list[str]
    group: np.ndarray
    lemma_id: np.ndarray
    colour: np.ndarray
    noun_gender: np.ndarray
    person_gender: np.ndarray
    possessive: np.ndarray
    modifier: np.ndarray
    connector: np.ndarray
    descent: np.ndarray
    diaspora: np.ndarray
    product: np.ndarray
    brand: np.ndarray
    colour_blocker: np.ndarray
    derived: np.ndarray
    weak: np.ndarray
    buyer: np.ndarray
    determiner: np.ndarray
    follower: np.ndarray
    bare: np.ndarray
    after_role: np.ndarray
    adjective: np.ndarray
    thing: np.ndarray
    inert: np.ndarray  # a word of a multiword term or of an inert flag only: as unknown as any other
    costume: np.ndarray
    team_role: np.ndarray
    place_possessive: np.ndarray
    headline_verb: np.ndarray
    depiction: np.ndarray
    colour_bridge: np.ndarray
    collective: np.ndarray
    adjacent_role: np.ndarray
    place: np.ndarray
    office: np.ndarray
    pageant_event: np.ndarray
    depiction_material: np.ndarray
    of_id: int
    for_id: int
    to_id: int
    break_id: int
    born_id: int
    the_id: int
    miss_id: int
    product_window: int = 1
    multiwords: list[Multiword] = field(default_factory=list)
    identity_pattern: str = ""
    bare_pattern: str = ""  # a determiner and a capitalized `determiner_nouns` demonym
    pageant_pattern: str = ""  # "Miss" with its capital, then a word or two (the rules check the country)
    person_patterns: tuple[str, str, str] = ("", "", "")  # female, male, unspecified
    # Rows with an identity term need the token rules only if one of these matches too. Kept
    # apart: one alternation of them all outgrows RE2's DFA memory and becomes ~50x slower.
    mention_possible_patterns: tuple[str, ...] = ()

    # Rows worth a look: an identity term, a person noun (for the row's gender), or an
    # underscore, which joins words for RE2's \b ("vietnamese_farmer_planting_rice.jpg"). A
    # country name before a hand-listed noun is left to the noun's own pattern: one RE2 pass,
    # within the DFA budget.
    candidate_pattern: str = ""
    neutral_pattern: str = ""
    languages: tuple[str, ...] = ("en",)  # [meta] languages: other languages are not covered


PHRASE_BREAK = "0brk0"  # letters and digits only: a token of its own
COLOUR_BLOCKERS = ("off", "jet", "pure", "snow", "bright", "solid", "all", "matte", "glossy",
                   "pearl", "true", "ivory", "in", "wearing", "with")


def compile_identity_lexicon(path: str | Path | None = None) -> IdentityLexicon:
    """Build lookup tables from the TOML; raises UserError on an inconsistent lexicon."""
    data = load_lexicon("identity", path)
    groups_table = require(data, "groups")
    groups = list(groups_table)
    group_index = {name: i for i, name in enumerate(groups)}
    aggregates = {k: list(v) for k, v in data.get("aggregates", {}).items()}
    for aggregate, members in aggregates.items():
        unknown = [m for m in members if m not in group_index]
        if unknown:
            raise UserError(f"identity lexicon: aggregate {aggregate!r} names unknown groups {unknown}")

    entries: dict[str, _Entry] = {}
    multiwords: list[tuple[tuple[str, ...], int, int, str, bool]] = []

    def entry(surface: str) -> _Entry:
        return entries.setdefault(surface, _Entry())

    def add_identity(term: str, group: int, noun_gender: int, colour: bool,
                     place: bool = False) -> None:
        words = tuple(term.lower().split())
        if len(words) > 1:  # a country of several words is a place too ("Sri Lanka batsman")
            multiwords.append((words, group, noun_gender, " ".join(words), place))
            for word in words:
                entry(word)
            return
        e = entry(words[0])
        e.group, e.lemma, e.colour = group, words[0], colour
        e.adjective |= noun_gender < 0
        if noun_gender >= 0:
            e.noun_gender = noun_gender
            # "An Irishman's diary": an identity noun's possessive names the same person.
            for surface, _ in _noun_forms(words[0])[1:]:
                p = entry(surface)
                p.group, p.lemma, p.noun_gender = group, words[0], noun_gender

    for group_name, spec in require(data, "terms").items():
        if group_name not in group_index:
            raise UserError(f"identity lexicon: [terms.{group_name}] is not a declared group")
        gi = group_index[group_name]
        for term in spec.get("adjectives", []):
            add_identity(term, gi, -1, False)
            if " " not in term.strip():  # "A Korean's guide": an adjective used as a noun
                possessive = entry(term.lower() + "'s")
                possessive.group, possessive.lemma = gi, term.lower()
                possessive.noun_gender = UNSPECIFIED
        for term in spec.get("colour", []):
            add_identity(term, gi, -1, True)
        for term in spec.get("nouns", []):
            add_identity(term, gi, UNSPECIFIED, False)
        for term in spec.get("female_nouns", []):
            add_identity(term, gi, FEMALE, False)
        for term in spec.get("male_nouns", []):
            add_identity(term, gi, MALE, False)
        for term in spec.get("countries", []):
            add_identity(term, gi, -1, False, place=True)
            if " " in term.strip():  # "President of the United States": the multiword's place
                continue
            entry(term.lower()).place = True
            # "Ghana's president", "Kenya's marathon queen": the country's own people
            possessive = entry(term.lower() + "'s")
            possessive.group, possessive.lemma = gi, term.lower()
            possessive.place = possessive.place_possessive = True
        for term in spec.get("determiner_nouns", []):
            add_identity(term, gi, -1, False)
            entry(term.lower()).bare = True

    nouns = require(data, "person_nouns")
    for gender, key in ((FEMALE, "female"), (MALE, "male"), (UNSPECIFIED, "unspecified"),
                        (UNSPECIFIED, "extra")):
        for noun in nouns.get(key, []):
            for surface, possessive in _noun_forms(noun.lower()):
                e = entry(surface)
                if e.person_gender < 0 or not possessive:
                    e.person_gender, e.possessive = gender, possessive
    for surface in nouns.get("possessive", []):
        e = entry(surface.lower())
        base = surface.lower().rstrip("'").removesuffix("s")
        base_gender = entries.get(base + "s", entries.get(base, _Entry())).person_gender
        e.person_gender = base_gender if base_gender >= 0 else UNSPECIFIED
        e.possessive = True

    # Derived vocabularies only fill gaps: a hand-listed noun or an identity term keeps its
    # meaning. They make mentions but take no part in a row's gender without one.
    for gender, key in ((FEMALE, "mention_only_female"), (MALE, "mention_only_male")):
        for noun in nouns.get(key, []):
            e = entry(noun.lower())
            if e.person_gender < 0 and e.group < 0:
                e.person_gender, e.derived = gender, True
    for noun in [*nouns.get("weak", []), *nouns.get("roles", []), *nouns.get("after_role", []),
                 *nouns.get("adjacent_roles", []), *nouns.get("team_roles", []),
                 *nouns.get("wordnet", [])]:
        # with their possessives: "Jamaican sprinter's spikes", "Irish emigrants' farewell"
        for surface, possessive in _noun_forms(noun.lower()):
            e = entry(surface)
            if e.person_gender < 0 and e.group < 0:
                e.person_gender, e.derived = _derived_gender(noun.lower()), True
                e.possessive = possessive
    for noun in nouns.get("team_roles", []):
        entries[noun.lower()].team_role = True
    for noun in nouns.get("weak", []):
        entries[noun.lower()].weak = True
    for noun in nouns.get("after_role", []):
        entries[noun.lower()].after_role = True
    for noun in nouns.get("adjacent_roles", []):
        entries[noun.lower()].adjacent_role = True

    grammar = require(data, "grammar")
    for flag, key in (("modifier", "modifiers"), ("modifier", "modifiers_roles"),
                      ("connector", "connectors"), ("descent", "descent_words"),
                      ("diaspora", "diaspora_suffixes"), ("product", "product_nouns"),
                      ("brand", "brand_nouns"), ("buyer", "buyer_nouns"),
                      ("determiner", "determiners"), ("follower", "noun_followers"),
                      ("costume", "costume_nouns"), ("headline_verb", "headline_verbs"),
                      ("follower", "headline_verbs"), ("depiction", "depiction_nouns"),
                      ("colour_bridge", "colour_bridges"),
                      ("collective", "collective_nouns"), ("office", "office_titles")):
        for word in grammar.get(key, []):
            setattr(entry(word.lower()), flag, True)
    # Things an identity word describes: they stop the one-unknown-word bridge ("French horn
    # player") and an adjective-noun's noun reading ("Portuguese restaurant", "Latina recipes").
    for key in ("subject_nouns", "product_nouns", "brand_nouns"):
        for word in grammar.get(key, []):
            entry(word.lower()).thing = True
    for word in grammar.get("colour_blockers", COLOUR_BLOCKERS):
        entry(word.lower()).colour_blocker = True
    entry("of")
    entry("for")
    entry("to")
    entry("born")
    entry("the")
    entry("miss")
    # words that are flags of their own column only, and otherwise as unknown as any other
    # ("Greek bronze statue", "Chinese jade carver": one unknown word before a person noun)
    inert_flags = {key: [w.lower() for w in grammar.get(key, [])]
                   for key in ("pageant_events", "depiction_materials")}
    for word in (w for words in inert_flags.values() for w in words):
        entry(word)
    # A comma, semicolon, colon or bracket, written as one token (PHRASE_BREAK) before
    # tokenizing: it ends a phrase ("Head of an Ethiopian, bronze") and may stand between an
    # identity word and its noun as a modifier would ("asian, woman, smiling").
    brk = entry(PHRASE_BREAK)
    brk.follower = brk.modifier = True

    vocab = list(entries)
    index = {surface: i for i, surface in enumerate(vocab)}
    lemmas = sorted({e.lemma for e in entries.values() if e.lemma} | {m[3] for m in multiwords})
    lemma_index = {lemma: i for i, lemma in enumerate(lemmas)}

    def column(attr: str, dtype) -> np.ndarray:
        return np.array([getattr(entries[s], attr) for s in vocab], dtype=dtype)

    # Possessives need no terms of their own: "irishman" matches "irishman's" (a whole word).
    identity_terms = [s for s, e in entries.items()
                      if e.group >= 0 and not e.bare and not e.place and "'" not in s]
    identity_terms += [" ".join(m[0]) for m in multiwords if not m[4]]
    identity_nouns = [s for s, e in entries.items()
                      if e.group >= 0 and e.noun_gender >= 0 and "'" not in s] + [
        " ".join(m[0]) for m in multiwords if m[2] >= 0
    ]
    any_person = [s for s, e in entries.items() if e.person_gender >= 0 and "'" not in s]
    person_terms = [
        [s for s, e in entries.items()
         if e.person_gender == gender and not e.possessive and not e.derived]
        for gender in (FEMALE, MALE, UNSPECIFIED)
    ]
    determiners = [s for s, e in entries.items() if e.determiner]
    # "Two Chinese arrested": an identity term used as a noun after a determiner.
    adjectives = [s for s, e in entries.items()
                  if e.group >= 0 and e.noun_gender < 0 and not e.colour]
    adjectives += [" ".join(m[0]) for m in multiwords if m[2] < 0 and not m[4]]
    noun_use = (rf"{alternation(determiners)}[\s\-_]+(?:[a-z]+\s+)?{alternation(adjectives)}"
                if determiners else "")
    # "a Finn", "a Pole": capitalized after a determiner only ("a pole in the ground" is no one).
    bare = [s for s, e in entries.items() if e.bare]
    identity_pattern, bare_pattern = alternation(identity_terms), ""
    if bare and determiners:
        capitalized = "|".join(term_pattern(b).capitalize() for b in sorted(bare))
        bare_pattern = rf"{alternation(determiners)}[\s\-_]+(?-i:(?:{capitalized})\b)"
        identity_pattern += "|" + bare_pattern
    person_patterns = tuple(alternation(terms, possessive_follows=False) for terms in person_terms)
    # A country name matters only right before a hand-listed person noun: only then is its row
    # a candidate ("Made in China" is not, and country names are common in product captions).
    places = [s for s, e in entries.items() if e.place and not e.place_possessive]
    places += [" ".join(m[0]) for m in multiwords if m[4]]
    pageant_pattern = titles = ""
    if places:
        nouns_listed = [noun for terms in person_terms for noun in terms]
        team_roles = [s for s, e in entries.items() if e.team_role]

        def place_before(nouns: str) -> str:
            """A country, then its possessive, "born", or up to two words and one of `nouns`
            (the token rules check the words are modifiers: "laos tribal women")."""
            return (rf"{alternation(places)}(?:['\x{{2019}}]s\b|[\s\-_]+born\b|"
                    rf"(?:[\s\-_]+[a-z]+){{0,2}}[\s\-_]+{nouns})")

        place_forms = place_before(alternation(team_roles))
        # (one alternation of the places for both kinds of noun keeps within the DFA budget)
        place_nouns = place_before(f"(?:{alternation(team_roles)}|{alternation(nouns_listed)})")
        # "King Lajos I of Hungary", "Miss Grand England": an office or a pageant title of a
        # country. "miss" and WordNet's offices ("minister") are no hand-listed person nouns:
        # their rows are candidates by the title alone (a second alternation of the places in
        # the pass over every row would cost more than the few extra rows).
        pageant_words = grammar.get("pageant_words", [])
        pageant = rf"\bmiss[\s\-_]+(?:{alternation(pageant_words)}[\s\-_]+)?"
        offices = [s for s, e in entries.items() if e.office]
        office = (rf"{alternation(offices)}(?:[\s\-_]+[\w.]+){{0,3}}[\s\-_]+of[\s\-_]+"
                  if offices else r"[^\s\S]")
        # (the shape only, not the country: the token rules check it, and an alternation of
        # the places here cost more than the few extra rows it keeps out)
        titles = rf"{pageant}[a-z]|{office}"
        # (the capital of "Miss" only: the token rules have checked the country)
        pageant_pattern = r"(?-i:\bMiss|\bMISS)[\s\-_]+(?:[a-z]+[\s\-_]+)?[a-z]"
        candidate_pattern = "|".join([identity_pattern, place_forms, titles,
                                      *person_patterns, "_"])
        identity_pattern = "|".join([identity_pattern, place_nouns, titles])
    else:
        candidate_pattern = "|".join([identity_pattern, *person_patterns, "_"])
    # "Ethiopian wins 10,000m", "Swiss win gold": a demonym opening a headline, then its verb.
    verbs = [s for s, e in entries.items() if e.headline_verb]
    # (any first word: the token rules check it is a demonym; a second alternation of every
    # adjective here cost more to compile than the few extra rows cost to read)
    headline = rf"^[\s\W]*[a-z]+[\s\-_]+{alternation(verbs)}" if verbs else ""
    neutral = [alternation(phrases)] if (phrases := grammar.get("neutral_phrases", [])) else []
    neutral += [f"(?:{p})" for p in grammar.get("neutral_patterns", [])]
    return IdentityLexicon(
        name=data["meta"]["name"],
        version=str(data["meta"]["version"]),
        source=data["meta"]["source"],
        sha256=data["meta"]["sha256"],
        languages=tuple(data["meta"]["languages"]),
        groups=groups,
        group_labels={g: groups_table[g].get("label", g) for g in groups},
        aggregates=aggregates,
        vocab=pa.array(vocab, pa.string()),
        lemmas=lemmas,
        group=column("group", np.int16),
        lemma_id=np.array([lemma_index.get(entries[s].lemma, -1) for s in vocab], np.int32),
        colour=column("colour", bool),
        noun_gender=column("noun_gender", np.int8),
        person_gender=column("person_gender", np.int8),
        possessive=column("possessive", bool),
        modifier=column("modifier", bool),
        connector=column("connector", bool),
        descent=column("descent", bool),
        diaspora=column("diaspora", bool),
        product=column("product", bool),
        brand=column("brand", bool),
        colour_blocker=column("colour_blocker", bool),
        derived=column("derived", bool),
        weak=column("weak", bool),
        buyer=column("buyer", bool),
        determiner=column("determiner", bool),
        follower=column("follower", bool),
        bare=column("bare", bool),
        after_role=column("after_role", bool),
        adjective=column("adjective", bool),
        thing=column("thing", bool),
        inert=np.array([entries[s] == _Entry() for s in vocab], bool),
        costume=column("costume", bool),
        team_role=column("team_role", bool),
        place_possessive=column("place_possessive", bool),
        headline_verb=column("headline_verb", bool),
        depiction=column("depiction", bool),
        colour_bridge=column("colour_bridge", bool),
        collective=column("collective", bool),
        adjacent_role=column("adjacent_role", bool),
        place=column("place", bool),
        office=column("office", bool),
        # "Miss England pageant": the pageant, not its titleholder
        pageant_event=np.isin(vocab, inert_flags["pageant_events"]),
        depiction_material=np.isin(vocab, inert_flags["depiction_materials"]),
        of_id=index["of"],
        for_id=index["for"],
        to_id=index["to"],
        break_id=index[PHRASE_BREAK],
        born_id=index["born"],
        the_id=index["the"],
        miss_id=index["miss"],
        product_window=int(grammar.get("product_window", 1)),
        multiwords=sorted(
            (Multiword(tuple(index[w] for w in words), g, ng, lemma, place)
             for words, g, ng, lemma, place in multiwords),
            key=lambda m: -len(m.token_ids),
        ),
        identity_pattern=identity_pattern,
        candidate_pattern=candidate_pattern,
        bare_pattern=bare_pattern,
        pageant_pattern=pageant_pattern,
        person_patterns=person_patterns,
        mention_possible_patterns=tuple(
            p for p in (*_chunked_alternations(identity_nouns + any_person),
                        "|".join(p for p in (noun_use, headline, r"\bmiss\b" if places else "")
                                 if p))
            if p
        ),
        neutral_pattern="|".join(neutral),
    )


# RE2 keeps its DFA within a memory budget; an alternation of about 15k characters still fits,
# one of 18k did not and matched 50x slower (RE2 falls back to its NFA). Chunks stay well under.
MAX_ALTERNATION_CHARS = 13000


def _chunked_alternations(terms: list[str]) -> list[str]:
    """Whole-word alternations of `terms` and their plurals, each under MAX_ALTERNATION_CHARS: a
    row matches any of them exactly when it would match one alternation of all (a plural in -s
    or -es whose singular is listed is left to the plural suffix: fewer, faster alternations)."""
    listed = {t.strip().lower() for t in terms if t.strip()}
    kept: set[str] = set()
    for t in sorted(listed, key=len):  # a base is decided before its plurals
        # (only a kept base makes its plural: "princess" is no plural of a kept "princes",
        # itself left to "prince")
        if not ((t.endswith("s") and t[:-1] in kept) or (t.endswith("es") and t[:-2] in kept)):
            kept.add(t)
    unique = sorted(kept)
    chunks: list[list[str]] = [[]]
    size = 0
    for term in unique:
        if chunks[-1] and size + len(term) + 3 > MAX_ALTERNATION_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(term)
        size += len(term) + 3  # the separator and some escaping
    return [alternation(chunk, plural=True) for chunk in chunks if chunk]


def _derived_gender(noun: str) -> int:
    """Gender a derived noun's form gives ("batswoman", "batsman"); else unspecified."""
    if noun.endswith(("woman", "women", "wife", "wives", "ess", "esses")):
        return FEMALE
    if noun.endswith(("man", "men")) and not noun.endswith(("uman", "umen", "aman", "amen")):
        return MALE
    return UNSPECIFIED


def _noun_forms(noun: str) -> list[tuple[str, bool]]:
    """A person noun and its possessives: woman, woman's; women, women's; girls, girls'."""
    forms = [(noun, False), (noun + "'s", True)]
    if noun.endswith("s"):
        forms.append((noun + "'", True))
    return forms
