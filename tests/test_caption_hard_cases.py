"""Hard cases of real web text for the caption taggers, by the kinds of error hand labels showed.

These are written to be fixed, so they are targeted tests, not an estimate of precision or
recall (that is tests/test_real_captions.py, on a held-out half of labelled real captions).
"""

from __future__ import annotations

import pytest

from profiler.taggers.identity import GENDER, GROUPS, MENTIONS, PERSON_MENTION
from profiler.taggers.sexual_terms import LEVEL

from .conftest import captions_batch


def mention(identity, caption: str) -> tuple[bool, list[str]]:
    out = identity.tag(captions_batch([caption]))
    return out[PERSON_MENTION].to_pylist()[0], out[GROUPS].to_pylist()[0]


def level(sexual_terms, caption: str) -> str:
    return sexual_terms.tag(captions_batch([caption]))[LEVEL].to_pylist()[0]


@pytest.mark.parametrize(
    ("caption", "group"),
    [
        # demonyms used as nouns
        ("Portrait of a Swede in Stockholm", "european"),
        ("She became the first Emirati to climb Everest", "middle_eastern_north_african"),
        ("Two Chinese arrested for alleged theft from donation box", "east_asian"),
        ("An Englishman abroad", "european"),
        ("Interview with a Brit living in Tokyo", "european"),
        # demonym + a role noun from WordNet, or across other modifiers
        ("Pakistani batsman Babar Azam celebrates his century", "south_asian"),
        ("American troops leave the base", "american"),
        ("Big Brother: Nigerian housemate evicted", "black"),
        ("Italian playboy Gianni Agnelli on his yacht", "european"),
        ("He was arrested, a Dutch national said", "european"),
        ("Argentine short-story writer Jorge Luis Borges", "latino"),
        ("Japanese award-winning photographer at work", "east_asian"),
        ("meeting with former US President Bill Clinton", "american"),
    ],
)
def test_missed_person_mentions_are_found(identity, caption, group):
    found, groups = mention(identity, caption)
    assert found, caption
    assert group in groups


@pytest.mark.parametrize(
    "caption",
    [
        # a colour or place of origin before a gendered product noun
        "Falke Cotton Touch Ladies socks - Black",
        "Black Ladies Cotton Socks",
        "Egyptian Mens Cotton Polo Shirt",
        "Black Women's Suede Pointed Heels",
        "Black Lady Leather Ankle Boots",
        "White Girl Summer Dress",
        "Indian National Congress rally",
        "Dutch national team jersey",
        "Italian designer handbags on sale",
        "Chinese manufacturer of LED lights",
        "German Shepherd puppy",
        "Sexton Ancient Kiva Ladder Poles",
        "Buy an English and French dictionary",
        "The English version of the manual",
        "Huckleberry Finn",
    ],
)
def test_product_and_name_traps_are_not_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


def test_wordnet_role_nouns_make_gendered_mentions_only_next_to_an_identity_term(identity):
    out = identity.tag(captions_batch(["a batsman at the crease", "Pakistani batsman",
                                       "Kenyan spokeswoman", "a Swede"]))
    assert out[PERSON_MENTION].to_pylist() == [False, True, True, True]
    assert out[MENTIONS].to_pylist()[1:] == [["south_asian:male"], ["black:female"],
                                             ["european:unspecified"]]
    assert out[GENDER].to_pylist()[0] == "none"  # a WordNet noun alone sets no row gender


@pytest.mark.parametrize(
    "caption",
    [
        "Nude Pointed Toe Pumps",
        "Block Heel Sandals - Nude",
        "Black/Nude Patent Leather Court Shoe",
        "Urban Decay Naked Heat Eyeshadow Palette",
        "Naked Juice Green Machine",
        "Ardell Flirty Lashes 3 pairs",
        "House of Lashes Sultry Mink",
        "Personalised Christmas Stockings with Name",
        "Knitted Christmas stocking, red and white",
        "Graduated Compression Stockings 20-30 mmHg",
        "Havaianas thong sandals",
        "Thong Lor night market, Bangkok",
        "SpongeBob in Bikini Bottom",
        "Playboy Magazine, June 1975 issue",
        "Church sex abuse scandal: bishop resigns",
        "Sexual health clinic opening hours",
        "closeup of cigarette butts",
        "Escort Passport radar detector",
        "Kids Elmo Underwear 3-Pack",
        "Hot chocolate recipe",
        "Raving Hardcore techno night",
        "Bottomless mimosas brunch",
        "Rodin, Le Baiser (The Kiss), marble",
    ],
)
def test_false_sexual_terms_are_none(sexual_terms, caption):
    assert level(sexual_terms, caption) == "none", caption


@pytest.mark.parametrize(
    "caption",
    [
        "Plus Size Tie Waist One Shoulder Bikini Set",
        "Women's Lace Thong 3 Pack - Size M",
        "Black Satin Overbust Corset Top",
        "Blue Lace Wedding Garter Set",
        "Push Up Padded Bra 34B",
        "Sheer Thigh High Stockings, black, one size",
    ],
)
def test_intimate_apparel_listings_are_apparel(sexual_terms, caption):
    assert level(sexual_terms, caption) == "apparel", caption


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Sexy Lace Push Up Bra Set", "suggestive"),  # a listing that sells with "sexy"
        ("brunette in a bikini pointing a finger", "suggestive"),  # worn, not for sale
        ("Jeune salope se fait baiser", "explicit"),
        ("Femme nue sur la plage", "explicit"),
        ("Vidéo porno gratuite", "explicit"),
        ("Watch adult movies free", "explicit"),
        ("Mistress with her slave: scat play", "explicit"),
        ("World's Sexiest Grandpa T-Shirt", "suggestive"),
        ("Hottest Dad Ever mug", "suggestive"),
        ("Hot latina model photos", "suggestive"),
        ("Woman with huge ass filmed on the street", "suggestive"),
        ("Young courtesan with her lover, sexual oil painting", "suggestive"),
    ],
)
def test_missed_sexual_terms_are_found(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption
