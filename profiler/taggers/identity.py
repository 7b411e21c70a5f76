"""identity tagger: who the caption says is depicted, as person mentions of identity groups.

Vectorized in three steps: one RE2 pass over all captions finds candidates (an identity term or
a person noun); only candidates are tokenized; token ids then go through numpy rules (window
to a person noun, colour-word restrictions, possessive and product-noun checks, an identity
adjective used as a noun after a determiner), never a Python loop per caption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.schema import CAPTION, GENDERS
from profiler.taggers.base import Membership, Tagger
from profiler.taggers.identity_lexicon import (
    FEMALE,
    MALE,
    MENTION_GENDERS,
    PHRASE_BREAK,
    UNSPECIFIED,
    IdentityLexicon,
    compile_identity_lexicon,
)
from profiler.taggers.text import match_mask, normalize_quotes, tokenize

PREFIX = "identity."
PERSON_MENTION = "identity.person_mention"
GROUPS = "identity.groups"
GENDER = "identity.gender"
MENTIONS = "identity.mentions"
TERMS = "identity.terms"
HAS_TERM = "identity.has_term"
MEMBERSHIP = Membership(person=PERSON_MENTION, mentions=MENTIONS, gender=GENDER, groups=GROUPS,
                        mention_genders=MENTION_GENDERS)
WINDOW = 6  # tokens an adjective may sit before its person noun ("asian young pretty woman")

_GENDER_NONE = GENDERS.index("none")
_GENDER_MIXED = GENDERS.index("mixed")


@dataclass
class _Mentions:
    """Person mentions found in one batch: parallel arrays, one entry per mention."""

    row: np.ndarray
    group: np.ndarray
    gender: np.ndarray
    lemma: np.ndarray


class IdentityTagger(Tagger):
    name = "identity"
    requires = (CAPTION,)
    membership = MEMBERSHIP
    vocabulary = ((GENDER, GENDERS),)  # groups and mentions: from the taxonomy (Membership)

    def __init__(self, lexicon_path: str | None = None):
        self.lexicon: IdentityLexicon = compile_identity_lexicon(lexicon_path)
        lex = self.lexicon
        self._group_names = pa.array(lex.groups, pa.string())
        self._lemma_names = pa.array(lex.lemmas, pa.string())
        self._mention_names = pa.array(
            [f"{g}:{s}" for g in lex.groups for s in MENTION_GENDERS], pa.string()
        )
        self._gender_names = pa.array(GENDERS, pa.string())

    def versions(self) -> dict[str, str]:
        return {self.lexicon.name: self.lexicon.version}

    def describe(self) -> dict:
        return {
            "lexicon": self.lexicon.source,
            "lexicon_sha256": self.lexicon.sha256,
            "groups": self.lexicon.group_labels,
            "aggregates": self.lexicon.aggregates,
        }

    def tag(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        captions = batch.column(CAPTION)
        n = len(captions)
        lex = self.lexicon
        # Candidates are read with spaces for underscores (see `candidate_pattern`).
        candidates = np.flatnonzero(match_mask(captions, lex.candidate_pattern))
        candidate_captions = pc.replace_substring(
            captions.take(pa.array(candidates, pa.int64())), "_", " ")
        has_identity = match_mask(candidate_captions, lex.identity_pattern)
        identity_rows, person_rows = candidates[has_identity], candidates[~has_identity]
        identity_captions = candidate_captions.filter(pa.array(has_identity))
        # "Black Friday sale": an identity term with no person noun and no identity noun can
        # make no mention, so only the rest goes through tokenizing and the token rules.
        scan = np.zeros(len(identity_captions), bool)
        for pattern in lex.mention_possible_patterns:
            scan |= match_mask(identity_captions, pattern)
        scanned_rows = identity_rows[scan]
        mentions, scanned_gender = self._scan(identity_captions.filter(pa.array(scan)))
        mentions.row = scanned_rows[mentions.row]
        has_term_full = np.zeros(n, bool)
        has_term_full[identity_rows] = True
        gender = np.full(n, _GENDER_NONE, np.int8)
        gender[scanned_rows] = scanned_gender
        gender[person_rows] = self._gender_by_pattern(
            candidate_captions.filter(pa.array(~has_identity))
        )
        mention_gender = _combine_genders(mentions.row, mentions.gender, n)
        has_mention = mention_gender != _GENDER_NONE
        gender[has_mention] = mention_gender[has_mention]

        n_genders = len(MENTION_GENDERS)
        return {
            PERSON_MENTION: pa.array(has_mention),
            GROUPS: _lists(mentions.row, mentions.group, n, self._group_names),
            GENDER: self._gender_names.take(pa.array(gender)),
            MENTIONS: _lists(
                mentions.row, mentions.group * n_genders + mentions.gender, n, self._mention_names
            ),
            TERMS: _lists(mentions.row, mentions.lemma, n, self._lemma_names),
            HAS_TERM: pa.array(has_term_full),
        }

    def _gender_by_pattern(self, captions: pa.Array) -> np.ndarray:
        """Gender of captions with person nouns but no identity term: one RE2 pass per gender
        (tokenizing them would cost more, and no mention rule applies)."""
        flags = np.stack([match_mask(captions, p) for p in self.lexicon.person_patterns], axis=1)
        rows, genders = np.nonzero(flags)
        return _combine_genders(rows, genders, len(captions))

    def taxonomy(self) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
        return tuple(self.lexicon.groups), {k: tuple(v) for k, v in self.lexicon.aggregates.items()}

    def covered_languages(self) -> tuple[str, ...]:
        return tuple(self.lexicon.languages)

    # -- matching over candidate captions ------------------------------------------------------

    def _scan(self, captions: pa.Array) -> tuple[_Mentions, np.ndarray]:
        """Mentions and gender-of-any-person-noun for captions holding an identity term."""
        lex = self.lexicon
        m = len(captions)
        lowered = normalize_quotes(pc.utf8_lower(captions))
        if lex.neutral_pattern:
            lowered = pc.replace_substring_regex(lowered, lex.neutral_pattern, " ")
        # (a dash between spaces and a pipe end a listing's part: "Havana, Cuba - Old man ...")
        lowered = pc.replace_substring_regex(lowered, r"[,;:()\[\]|]|\s[\-\x{2013}\x{2014}]+\s",
                                             f" {PHRASE_BREAK} ")
        tokens, parent = tokenize(lowered)
        ids = pc.index_in(tokens, value_set=lex.vocab).fill_null(-1).to_numpy().astype(np.int64)
        known = ids >= 0
        safe = np.where(known, ids, 0)

        def attr(table: np.ndarray, missing=0) -> np.ndarray:
            return np.where(known, table[safe], missing)

        group = attr(lex.group, -1).astype(np.int32)
        lemma = attr(lex.lemma_id, -1).astype(np.int32)
        noun_gender = attr(lex.noun_gender, -1).astype(np.int8)
        colour = attr(lex.colour, False)
        absorbed = np.zeros(len(ids), bool)
        place = attr(lex.place, False)
        _apply_multiwords(lex, ids, parent, group, lemma, noun_gender, colour, absorbed, place)
        _absorb_diaspora(attr(lex.diaspora, False), parent, group, noun_gender, absorbed)

        person_gender = attr(lex.person_gender, -1).astype(np.int8)
        is_modifier = attr(lex.modifier, False)
        next_is_person = _shift(person_gender >= 0, parent, 1, False)
        follower, determiner = attr(lex.follower, False), attr(lex.determiner, False)
        thing, depiction = attr(lex.thing, False), attr(lex.depiction, False)
        # "a Dutch national" ends the phrase; "Indian National Congress" does not.
        ends_phrase = _shift(follower, parent, 1, False)
        ends_phrase |= ~_shift(np.ones(len(ids), bool), parent, 1, False)
        # ... but a comma inside a list of identity words does not: "the Chinese, Japanese and
        # Korean markets"
        ends_phrase &= ~(_shift(ids == lex.break_id, parent, 1, False)
                         & _shift(group >= 0, parent, 2, False))
        is_person = (person_gender >= 0) & ~(is_modifier & next_is_person)
        # ... or before what depicts them: "Caucasian Baby Doll", "Native American Chief Bust"
        depicted = _shift(depiction, parent, 1, False)
        depicted |= (_shift(attr(lex.depiction_material, False), parent, 1, False)
                     & _shift(depiction, parent, 2, False))  # "... Chief Resin Figurine"
        weak = attr(lex.weak, False)
        is_person &= ~weak | ends_phrase | depicted
        # "pop star", "film legend": a person only right after a role word ("star anise" is not).
        is_person &= ~attr(lex.after_role, False) | _shift(is_modifier, parent, -1, False)
        # "Sherpa guide", "our Egyptian guide": right after the identity term, and not before
        # "to" or a thing ("Japanese guide to sushi", "Italian guide book")
        guide_ends = (ids == lex.to_id) | thing | depiction
        is_person &= ~attr(lex.adjacent_role, False) | (
            _shift(group >= 0, parent, -1, False) & ~_shift(guide_ends, parent, 1, False))
        possessive = attr(lex.possessive, False)
        product, breaker = attr(lex.product, False), follower | determiner
        # A product up to three tokens on: "Asian Men Slim Fit Jeans", "Korean Women Casual
        # Oversized Hoodie" (a listing's buyers); a brand noun right after the noun
        garment_next = _product_ahead(product, breaker, parent, lex.product_window)
        product_next = _shift(attr(lex.brand, False), parent, 1, False) | garment_next
        is_identity = group >= 0
        filler = is_modifier | attr(lex.connector, False) | is_identity | absorbed
        # "Greek Orthodox priest", "Spanish flamenco dancer", "British Prime Minister": one
        # word the lexicon does not know may stand right before the person noun.
        unknown = ~known | attr(lex.inert, False)  # "prime" of the term "uk prime minister"
        number = _is_number(tokens)
        filler |= unknown & _shift(is_person, parent, 1, False) & ~number
        # "Cuban 72-year-old retired coach", "Sudanese 3-time Olympic sprinter"
        filler |= number & _shift(is_modifier, parent, 1, False)
        # "Arab hijab girl", "Japanese kimono model": a garment right before a person noun who is
        # not a listing's buyer describes that person
        buyer = attr(lex.buyer, False)
        # (not before a trade's noun: in "Turkish carpet seller" the word describes the carpet)
        filler |= product & _shift(is_person & ~buyer & ~possessive & ~weak, parent, 1, False)
        # "Multiracial group of friends": a group noun and "of" before the person noun
        is_of = ids == lex.of_id
        collective_of = attr(lex.collective, False) & _shift(is_of, parent, 1, False)
        filler |= collective_of | (is_of & _shift(collective_of, parent, -1, False))

        found_at = _find_person_noun(is_identity, is_person, filler, parent)
        noun_pos = np.where(found_at >= 0, found_at, 0)
        # Right before the noun, or with one word of age or sex between ("Black female doctor",
        # "White elderly man"; not "Black leather women's boots")
        position = np.arange(len(ids))
        is_colour_ok = (
            ((found_at == position + 1)
             | ((found_at == position + 2) & _shift(attr(lex.colour_bridge, False), parent, 1, False)))
            & ~possessive[noun_pos]
            & ~_shift(attr(lex.colour_blocker, False), parent, -1, False)
        )
        adjective_ok = (found_at >= 0) & ~(possessive[noun_pos] & product_next[noun_pos])
        adjective_ok &= ~product_next[noun_pos] | ~colour
        # "Italian designer handbags": a derived noun before a product noun is a modifier.
        derived = attr(lex.derived, False)
        adjective_ok &= ~(derived[noun_pos] & _product_ahead(product, breaker, parent, 2)[noun_pos])
        adjective_ok &= ~colour | is_colour_ok
        # A country name is weaker evidence than a demonym: only right before a hand-listed
        # person noun ("Japan girl", "India bride"; not "Kenya runner", "Peru online Florist").
        place_ok = is_colour_ok & ~product_next[noun_pos] & ~derived[noun_pos]
        # ... across modifiers the lexicon lists, no unknown word: "laos tribal women"
        # (a country's other words too: "Burkina Faso president")
        across = _find_person_noun(is_identity & place, is_person,
                                   (is_modifier & (ids != lex.break_id)) | absorbed, parent)
        across_pos = np.where(across >= 0, across, 0)
        place_ok |= (across >= 0) & ~product_next[across_pos] & ~derived[across_pos]
        # "Germany goalkeeper", "Pakistan fast bowler": a sport role, across role modifiers
        place_ok |= (found_at >= 0) & attr(lex.team_role, False)[noun_pos]
        # "Pakistan-born cricketer": a country name before "born" is its demonym
        place_ok |= (found_at >= 0) & _shift(ids == lex.born_id, parent, 1, False)
        # "Ghana's president", "Nigeria's first female fighter pilot": a country's possessive
        place_ok |= attr(lex.place_possessive, False) & (found_at >= 0) & ~product_next[noun_pos]
        adjective_ok &= ~place | place_ok
        # "Korean Style Women Summer Dress": a buyer noun with a garment after it (no verb or
        # preposition between) names who a listing is for, not a person shown ("African Woman
        # T-shirt", "Indian bride lehenga" show one).
        adjective_ok &= ~(buyer[noun_pos] & garment_next[noun_pos])
        # "Afro Kinky Curly Wig for Black Women": "for" after a product names its buyers too.
        for_buyers = _shift(ids == lex.for_id, parent, -1, False) & _product_behind(product, parent)
        adjective_ok &= ~(for_buyers & buyer[noun_pos])
        # "Greek Goddess Costume": the person noun names a costume.
        adjective_ok &= ~_shift(attr(lex.costume, False), parent, 1, False)[noun_pos]
        noun_ok = (found_at < 0) & (noun_gender >= 0) & ~colour
        # "Portuguese restaurant", "Latina food recipe": a noun that is also an adjective
        # describes the thing after it.
        noun_ok &= ~(attr(lex.adjective, False) & _shift(thing, parent, 1, False))
        # "the first Emirati to ...", "Two Chinese arrested": an adjective used as a noun.
        determiner_before = _shift(determiner, parent, -1, False)
        # ... or with a modifier between: "a proud Jamaican", "an elderly Greek in ..."
        determiner_before |= (_shift(is_modifier, parent, -1, False)
                              & _shift(determiner, parent, -2, False))
        noun_ok |= (found_at < 0) & ~colour & ends_phrase & determiner_before
        # "Ethiopian wins 10,000m", "Swiss win gold": a demonym opening a headline, then a verb
        opens_caption = ~_shift(np.ones(len(ids), bool), parent, -1, False)
        noun_ok |= ((found_at < 0) & ~colour & opens_caption
                    & _shift(attr(lex.headline_verb, False), parent, 1, False))
        noun_ok &= ~place  # "the Philippines is ...": a country is no one
        # "a Pole working in London": a demonym that is also a common word names a person
        # only that way ("pole dancer", "Finn Wolfhard" are no one).
        bare = attr(lex.bare, False)
        adjective_ok &= ~bare
        if bare.any():  # rare: only those rows are read again, for the capital ("a pole in")
            rows = np.unique(parent[bare])
            written = np.zeros(m, bool)
            written[rows] = match_mask(captions.take(pa.array(rows)), lex.bare_pattern)
            noun_ok &= ~bare | written[parent]
        noun_gender = np.where(noun_gender >= 0, noun_gender, UNSPECIFIED).astype(np.int8)
        descent_ok, descent_gender = _descent_mentions(lex, ids, parent, is_identity, person_gender,
                                                       absorbed)
        title_ok, title_gender = _title_mentions(lex, ids, parent, place & is_identity, unknown,
                                                 person_gender, attr(lex.office, False))
        pageant_ok = _pageant_mentions(lex, ids, parent, place & is_identity,
                                       attr(lex.pageant_event, False))
        if pageant_ok.any():  # rare: only those rows are read again, for the capital ("Miss")
            rows = np.unique(parent[pageant_ok])
            written = np.zeros(m, bool)
            written[rows] = match_mask(captions.take(pa.array(rows)), lex.pageant_pattern)
            pageant_ok &= written[parent]
        title_ok |= pageant_ok
        title_gender = np.where(pageant_ok, FEMALE, title_gender).astype(np.int8)
        # (like a descent, a mention of the country itself, with the title's gender)
        descent_ok |= title_ok
        descent_gender = np.where(title_ok, title_gender, descent_gender).astype(np.int8)

        mention = is_identity & (adjective_ok | noun_ok | (descent_ok & ~bare))
        noun_gender_at = person_gender[noun_pos]
        # "Asian female doctor": a gendered noun used as a modifier gives the mention its gender.
        before_noun = person_gender[np.maximum(noun_pos - 1, 0)]
        gendered_modifier = (noun_gender_at == UNSPECIFIED) & (noun_pos - 1 > np.arange(len(ids)))
        gendered_modifier &= (before_noun == FEMALE) | (before_noun == MALE)
        # ... a hand-listed one: "beauty influencer" says nothing of the influencer's gender
        gendered_modifier &= ~derived[np.maximum(noun_pos - 1, 0)]
        noun_gender_at = np.where(gendered_modifier, before_noun, noun_gender_at)
        gender = np.where(
            adjective_ok, noun_gender_at, np.where(noun_ok, noun_gender, descent_gender)
        )
        pos = np.flatnonzero(mention)
        mentions = _unique_mentions(parent[pos], group[pos], gender[pos], lemma[pos])

        # the same nouns as _gender_by_pattern: derived ones only make mentions
        plain_person = (person_gender >= 0) & ~possessive & ~derived
        row_gender = _combine_genders(parent[plain_person], person_gender[plain_person], m)
        return mentions, row_gender


def _is_number(tokens: pa.Array) -> np.ndarray:
    """Tokens that start with a digit ("3 girls' dresses", "2 men" are counts, not roles)."""
    return np.asarray(pc.match_substring_regex(tokens, r"^[0-9]").fill_null(False)
                      .to_numpy(zero_copy_only=False), bool)


def _shift(values: np.ndarray, parent: np.ndarray, offset: int, fill) -> np.ndarray:
    """values[i + offset] where that token is in the same caption, else `fill`."""
    out = np.full(len(values), fill, dtype=values.dtype)
    if offset > 0 and len(values) > offset:
        same = parent[offset:] == parent[:-offset]
        out[:-offset] = np.where(same, values[offset:], fill)
    elif offset < 0 and len(values) > -offset:
        k = -offset
        same = parent[k:] == parent[:-k]
        out[k:] = np.where(same, values[:-k], fill)
    return out


def _product_ahead(product, breaker, parent, window: int) -> np.ndarray:
    """A product noun within `window` tokens after each token, with no function word between
    ("Black Ladies Cotton Socks" is a product; "White man in a suit" is not)."""
    ahead = _shift(product, parent, 1, False)
    open_path = _shift(~breaker & ~product, parent, 1, False)
    for step in range(2, window + 1):
        ahead |= open_path & _shift(product, parent, step, False)
        open_path &= _shift(~breaker & ~product, parent, step, False)
    return ahead


def _product_behind(product, parent, reach: int = 6) -> np.ndarray:
    """A product noun two to `reach` tokens before each token (the token before is "for")."""
    behind = np.zeros(len(product), bool)
    for step in range(2, reach + 1):
        behind |= _shift(product, parent, -step, False)
    return behind


def _apply_multiwords(lex, ids, parent, group, lemma, noun_gender, colour, absorbed, place) -> None:
    """Longest multiword identity terms first: mark the head token, absorb the rest (a country
    of several words marks its head a place: "Sri Lanka batsman")."""
    claimed = np.zeros(len(ids), bool)
    present = set(np.unique(ids).tolist())
    for term in lex.multiwords:
        k = len(term.token_ids)
        if len(ids) < k or not present.issuperset(term.token_ids):
            continue
        hit = np.ones(len(ids) - k + 1, bool)
        for offset, token_id in enumerate(term.token_ids):
            hit &= ids[offset : len(ids) - k + 1 + offset] == token_id
        hit &= parent[k - 1 :] == parent[: len(ids) - k + 1]
        for offset in range(k):
            hit &= ~claimed[offset : len(ids) - k + 1 + offset]
        starts = np.flatnonzero(hit)
        if not len(starts):
            continue
        group[starts], lemma[starts] = term.group, lex.lemmas.index(term.lemma)
        noun_gender[starts], colour[starts], place[starts] = term.noun_gender, False, term.place
        for offset in range(k):
            claimed[starts + offset] = True
        for offset in range(1, k):
            tail = starts + offset
            absorbed[tail], group[tail], noun_gender[tail], colour[tail] = True, -1, -1, False
            place[tail] = False


def _absorb_diaspora(is_suffix, parent, group, noun_gender, absorbed) -> None:
    """"korean american woman": the suffix after an identity term adds no group of its own; a
    suffix that is a noun makes its head one ("Armenian Americans march")."""
    prev_identity = _shift(group >= 0, parent, -1, False)
    tail = is_suffix & prev_identity
    at = np.flatnonzero(tail)
    noun_gender[at - 1] = np.maximum(noun_gender[at - 1], noun_gender[at])
    group[tail] = -1
    absorbed[tail] = True


def _find_person_noun(is_identity, is_person, filler, parent) -> np.ndarray:
    """Position of the first person noun within WINDOW tokens after each identity token."""
    found = np.full(len(is_identity), -1, np.int64)
    open_path = is_identity.copy()
    positions = np.arange(len(is_identity))
    for step in range(1, WINDOW + 1):
        person_here = _shift(is_person, parent, step, False)
        hit = open_path & person_here & (found < 0)
        found[hit] = positions[hit] + step
        open_path &= _shift(filler, parent, step, False) & ~person_here
    return found


def _descent_mentions(lex, ids, parent, is_identity, person_gender, absorbed):
    """"<person noun> [..] of <identity> descent": ok mask and the noun's gender per token
    ("Singer of Puerto Rican descent", "Grandma Rosa, of Italian descent")."""
    prev_is_of = _shift(ids == lex.of_id, parent, -1, False)
    is_descent = np.where(ids >= 0, lex.descent[np.maximum(ids, 0)], False)
    next_is_descent = _shift(is_descent, parent, 1, False)
    for skip in (1, 2):  # past the other words of a multiword term ("puerto rican")
        over = np.ones(len(ids), bool)
        for k in range(1, skip + 1):
            over &= _shift(absorbed, parent, k, False)
        next_is_descent |= over & _shift(is_descent, parent, skip + 1, False)
    gender = np.full(len(ids), -1, np.int8)
    for back in (2, 3, 4, 5):
        before = _shift(person_gender, parent, -back, np.int8(-1))
        gender = np.where(gender >= 0, gender, before)
    ok = is_identity & prev_is_of & next_is_descent & (gender >= 0)
    return ok, gender


def _title_mentions(lex, ids, parent, is_place, unknown, person_gender, office):
    """"King Lajos I of Hungary", "Prime Minister of the Philippines": an office, up to three
    name words the lexicon does not know, "of" (and "the"), then a country: (flags, gender)."""
    ok = np.zeros(len(ids), bool)
    gender = np.full(len(ids), UNSPECIFIED, np.int8)
    is_of = ids == lex.of_id
    after_of = _shift(is_of, parent, -1, False)
    after_of_the = _shift(is_of, parent, -2, False) & _shift(ids == lex.the_id, parent, -1, False)
    places = np.flatnonzero(is_place & (after_of | after_of_the))  # rare: read them one by one
    for at in places:
        k = at - (2 if after_of[at] else 3)  # the word before "of"
        low = max(k - 3, 0)
        while k >= low and parent[k] == parent[at] and not office[k] and unknown[k]:
            k -= 1
        if k >= low and parent[k] == parent[at] and office[k]:
            ok[at], gender[at] = True, person_gender[k]
    return ok, gender


def _pageant_mentions(lex, ids, parent, is_place, pageant_event):
    """"Miss Grand England 2019": "miss", maybe one pageant word, then a country; not the pageant
    itself ("Miss England pageant"). The caller checks the capital M."""
    is_miss = ids == lex.miss_id
    found = _shift(is_miss, parent, -1, False) | _shift(is_miss, parent, -2, False)
    return found & is_place & ~_shift(pageant_event, parent, 1, False)


def _unique_mentions(row, group, gender, lemma) -> _Mentions:
    """One mention per (row, group, gender, term); sorted by row so lists can be built."""
    if not len(row):
        empty = np.zeros(0, np.int64)
        return _Mentions(empty, empty, empty, empty)
    table = np.unique(np.stack([row, group, gender, lemma]).astype(np.int64), axis=1)
    return _Mentions(table[0], table[1], table[2], table[3])


def _combine_genders(row: np.ndarray, gender: np.ndarray, n: int) -> np.ndarray:
    """Per-row GENDERS code from (row, mention gender) pairs: female+male is mixed."""
    has = np.zeros((n, 3), bool)
    has[row, gender] = True
    out = np.full(n, _GENDER_NONE, np.int8)
    out[has[:, UNSPECIFIED]] = GENDERS.index("unspecified")
    out[has[:, FEMALE]] = GENDERS.index("female")
    out[has[:, MALE]] = GENDERS.index("male")
    out[has[:, FEMALE] & has[:, MALE]] = _GENDER_MIXED
    return out


def _lists(row: np.ndarray, code: np.ndarray, n: int, names: pa.Array) -> pa.Array:
    """list<string> per row from sorted (row, code) pairs, deduplicated within a row."""
    if len(row):
        pairs = np.unique(np.stack([row, code]).astype(np.int64), axis=1)
        row, code = pairs[0], pairs[1]
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(row, minlength=n), out=offsets[1:])
    values = names.take(pa.array(code, pa.int64())) if len(code) else pa.array([], pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets), values)
