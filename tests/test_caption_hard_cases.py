"""Hard cases of real web text for the caption taggers, by the kinds of error hand labels showed.

These are written to be fixed, so they are targeted tests, not an estimate of precision or
recall (that is tests/test_real_captions.py, on a held-out half of labelled real captions).
"""

from __future__ import annotations

import pytest

from profiler.taggers.identity import GENDER, GROUPS, HAS_TERM, MENTIONS, PERSON_MENTION
from profiler.taggers.sexual_terms import LEVEL

from .conftest import captions_batch


def mention(identity, caption: str) -> tuple[bool, list[str]]:
    out = identity.tag(captions_batch([caption]))
    return out[PERSON_MENTION].to_pylist()[0], out[GROUPS].to_pylist()[0]


def assert_mention_of(identity, caption: str, group: str) -> None:
    found, groups = mention(identity, caption)
    assert found, caption
    assert group in groups, (caption, groups)


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
    assert_mention_of(identity, caption, group)


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


# -- Web alt-text written for the second round (product listings, stock photo titles, news,
# celebrity and sports captions, porn spam), decided by tests/data/LABELLING.md --------------

WEB_PERSON_MENTIONS = [
    ('African Woman T-shirt', 'black'),
    ('Indian bride lehenga', 'south_asian'),
    ('Japanese girl kimono portrait', 'east_asian'),
    ('Pakistani Actress Mahira Khan Dress', 'south_asian'),
    ('An Aussie abroad', 'other'),
    ('A Nepali climber on Everest', 'south_asian'),
    ('Indian PM Narendra Modi', 'south_asian'),
    ('Indian-origin CEO Sundar Pichai', 'south_asian'),
    ('Chinese netizens react', 'east_asian'),
    ('Japanese salaryman commuting', 'east_asian'),
    ('Lebanese singer Nancy Ajram', 'middle_eastern_north_african'),
    ('Saudi prince Mohammed bin Salman', 'middle_eastern_north_african'),
    ('Russian opposition leader Alexei Navalny', 'european'),
    ('Aussie cricketer Steve Smith', 'other'),
    ('A Ukrainian woman holds her child', 'european'),
    ('Japanese sumo wrestler', 'east_asian'),
    ('Kenyan marathon runner', 'black'),
    ('Mexican mariachi singer', 'latino'),
    ('A Swede wins the Nobel Prize in Chemistry', 'european'),
    ('The first Emirati astronaut to walk in space', 'middle_eastern_north_african'),
    ('A Dane on a bicycle in Copenhagen', 'european'),
    ('The Scot who invented television', 'european'),
    ('Frenchman Thomas Pesquet aboard the ISS', 'european'),
    ('Scotsman Andy Murray celebrates at Wimbledon', 'european'),
    ('The Welshman scored twice', 'european'),
    ('Three Britons killed in Alpine avalanche', 'european'),
    ('Two Israelis injured in attack', 'middle_eastern_north_african'),
    ('Nigerians protest in Lagos', 'black'),
    ('Koreans celebrate Lunar New Year in Seoul', 'east_asian'),
    ('Latinas in tech conference 2019', 'latino'),
    ('Filipina domestic worker in Hong Kong', 'southeast_asian'),
    ('A Kenyan wins the Boston Marathon again', 'black'),
    ('Thai villagers plant rice', 'southeast_asian'),
    ('Afghan refugees at the border', 'south_asian'),
    ('Syrian refugees arrive in Greece', 'middle_eastern_north_african'),
    ('Argentine short-story writer Jorge Luis Borges, 1963', 'latino'),
    ('Japanese pop singer Ayumi Hamasaki performs in Tokyo', 'east_asian'),
    ('young Korean female athlete at the Olympics', 'east_asian'),
    ('Indian cricketer Virat Kohli', 'south_asian'),
    ('Pakistani batsman Fakhar Zaman', 'south_asian'),
    ('Brazilian footballer Neymar Jr', 'latino'),
    ('Mexican painter Frida Kahlo self portrait', 'latino'),
    ('German chancellor Angela Merkel', 'european'),
    ('French President Emmanuel Macron speaks', 'european'),
    ('British Prime Minister Boris Johnson', 'european'),
    ('Italian fashion designer Giorgio Armani', 'european'),
    ('Chinese President Xi Jinping', 'east_asian'),
    ('Russian tennis player Maria Sharapova', 'european'),
    ('Nigerian novelist Chinua Achebe', 'black'),
    ('Iranian film director Asghar Farhadi', 'middle_eastern_north_african'),
    ('Egyptian archaeologist Zahi Hawass', 'middle_eastern_north_african'),
    ('Australian swimmer Ian Thorpe', 'other'),
    ('Canadian singer-songwriter Joni Mitchell', 'other'),
    ('American astronaut Neil Armstrong on the moon', 'american'),
    ('US soldiers patrol in Kabul', 'american'),
    ('American troops withdraw from Iraq', 'american'),
    ('Ukrainian servicemen near the front line', 'european'),
    ('Kurdish fighters in Kobani', 'middle_eastern_north_african'),
    ('Masai tribesmen in traditional dress', 'black'),
    ('Japanese schoolgirls in uniform', 'east_asian'),
    ('Korean fans cheer at the World Cup', 'east_asian'),
    ('Chinese students graduate in Beijing', 'east_asian'),
    ('Indian workers on a construction site in Dubai', 'south_asian'),
    ('Mexican migrants at the US border', 'latino'),
    ('African American woman smiling, stock photo', 'black'),
    ('Happy Asian family having dinner at home', 'asian_any'),
    ('Portrait of smiling senior Hispanic man', 'latino'),
    ('Young black man with headphones', 'black'),
    ('Caucasian businessman in suit talking on phone', 'white'),
    ('Beautiful Arab woman in hijab', 'middle_eastern_north_african'),
    ('Polynesian dancers at a luau', 'pacific_islander'),
    ('Dutch cyclist wins the stage', 'european'),
    ('Greek Orthodox priest blessing the water', 'european'),
    ('Turkish president Erdogan', 'middle_eastern_north_african'),
    ('A Dutch national was arrested at the airport', 'european'),
    ('Big Brother Nigerian housemate', 'black'),
    ('Italian playboy on a yacht', 'european'),
    ('English batsman Joe Root', 'european'),
    ('Sri Lankan bowler Muttiah Muralitharan', 'south_asian'),
    ('West Indian fast bowler', 'black'),
    ('Irish actor Colin Farrell', 'european'),
    ('Polish pope John Paul II', 'european'),
    ('Chinese-American actress Lucy Liu', 'east_asian'),
    ('Korean-American comedian', 'east_asian'),
    ('Indonesian fishermen at dawn', 'southeast_asian'),
    ('Peruvian weaver in Cusco', 'latino'),
    ('Ethiopian runners train in the highlands', 'black'),
    ('Saudi women drive for the first time', 'middle_eastern_north_african'),
    ('Cuban musicians play in Havana', 'latino'),
    ('Hawaiian surfer Duke Kahanamoku', 'pacific_islander'),
    ('Aboriginal elder speaks at ceremony', 'indigenous'),
    ('Japanese grandmother cooking', 'east_asian'),
    ('Indian bride in red lehenga', 'south_asian'),
    ('Austrian composer Wolfgang Amadeus Mozart', 'european'),
    ('Belgian detective Hercule Poirot', 'european'),
    ('Norwegian explorer Roald Amundsen', 'european'),
    ('Portuguese navigator Vasco da Gama', 'european'),
    ('Ghanaian entrepreneur at a startup event', 'black'),
    ('Filipino nurses in London', 'southeast_asian'),
    ('Argentinian striker Lionel Messi', 'latino'),
    ('Lebanese-born actress', 'middle_eastern_north_african'),
    ('a Brazilian model poses on the beach', 'latino'),
    ('Pakistani villagers collect water', 'south_asian'),
    ('Tibetan monks in prayer', 'east_asian'),
    ('British expats in Spain', 'european'),
    ('German tourists on the beach in Mallorca', 'european'),
    ('Greek protesters clash with police', 'european'),
    ('Russian billionaire Roman Abramovich', 'european'),
    ('a Mexican-American family at a barbecue', 'latino'),
    ('Italian grandma making pasta', 'european'),
    ('Russian ballet dancer', 'european'),
    ('Korean drama actor Lee Min Ho', 'east_asian'),
    ('Indian National Congress leaders meet', 'south_asian'),
]

WEB_NOT_PERSON_MENTIONS = [
    'Indian Restaurant open until 10 PM',
    'Aussie Hair Shampoo',
    'Korean Style Women Summer Dress',
    'Korean Fashion Women Loose Sweater',
    'Chinese Traditional Women Dress',
    'Korean Style Men Casual Shirt',
    'African Print Women Dress',
    'Japanese Style Women Kimono Cardigan',
    'Black Friday Sale - 50% off everything',
    'Mens Black Leather Chelsea Boots Size 10',
    'Womens White Cotton T-Shirt - Size M',
    'Ladies Black Ankle Socks 5 Pack',
    "Girls' White Party Dress with Bow",
    'Egyptian Mens Cotton Polo Shirt Navy',
    'Egyptian Cotton Bed Sheets 1000 Thread Count',
    'Indian Mens Kurta Pajama Set',
    'Italian Leather Mens Wallet Brown',
    'Turkish Cotton Bath Towels',
    'Japanese Maple Tree in Autumn',
    'Chinese New Year decorations',
    'French Bulldog puppy for sale',
    'German Shepherd dog running',
    'English Breakfast Tea, 80 bags',
    'Thai Green Curry Recipe',
    'Mexican Restaurant in Downtown Austin',
    'Persian Cat Kitten White',
    'Persian Rug Hand Knotted 8x10',
    'Swiss Army Knife Victorinox',
    'Brazilian Hair Bundles Body Wave 3 Pcs',
    'Peruvian Virgin Hair Straight 20 inch',
    'Indian Remy Human Hair Extensions',
    'American Girl Doll Clothes',
    'American Eagle Outfitters Mens Jeans',
    "Black Women's Block Heel Sandals",
    "Black Men's Running Shoes Nike Air",
    'White Ladies Blouse Long Sleeve',
    'Womens Black Lace Dress - Size 12',
    'Kids White Sneakers Velcro',
    'Mens Navy Blue Suit Slim Fit',
    'Ladies Gold Watch Rose Gold Bracelet',
    'Boys Black School Shoes',
    'African Print Fabric 6 Yards',
    'African Violet Plant in Pot',
    'Scandinavian Interior Design Living Room',
    'Nordic Style Pendant Lamp',
    'Korean Skin Care Routine Products',
    'Japanese Knife Set Damascus Steel',
    'Chinese Porcelain Vase Qing Dynasty',
    'Hawaiian Shirt Mens Floral Print',
    'Native American Jewelry Turquoise Ring',
    'Navajo Blanket Pattern Rug',
    'Spanish Villa with Pool for Rent',
    'Greek Salad with Feta',
    'French Doors Interior White',
    'Irish Coffee Recipe',
    'Scottish Highlands Landscape at Sunset',
    'Dutch Oven Cast Iron 5 Qt',
    'Russian Blue Cat',
    'Canadian Maple Syrup Grade A',
    'Australian Shepherd Puppies',
    'American Flag Waving on Pole',
    'British Museum London',
    'Indian Ocean sunset from the beach',
    'Arabian Horse Grey Mare',
    'Latin American Literature course',
    'Asian Fusion Cuisine Menu',
    'African Safari Tour Package',
    'Black and White Photography of a street',
    'White Wedding Dress Mermaid Style',
    'Black Cat Halloween Costume for Kids',
    'Mexican National Team jersey 2018',
    'Chinese Manufacturer of Solar Panels',
    'Italian Designer Handbags Outlet',
    'Moroccan Tile Pattern Wallpaper',
    'Thai Massage Spa Package',
    'Swedish Massage Oil Lavender',
    'Hungarian Goulash Soup',
    'Polish Pottery Bowl Set',
    'Mens Egyptian Cotton Dress Shirt',
    'Cuban Cigars Box of 25',
    'Cuban Link Chain Mens 14k Gold',
    'Filipino Adobo Chicken Recipe',
    'Vietnamese Coffee Filter',
    'Norwegian Wood by Haruki Murakami',
    'German Beer Stein with Lid',
    'Belgian Waffles with Strawberries',
    'Danish Pastry Box',
    'Ladies Black Leather Handbag Tote',
    'Womens Black Skinny Jeans High Waist',
    'Brown Mens Leather Belt',
    'Girls Pink Ballet Flats',
    'Black Girls Rock tee shirt',
    'White Boys Socks 6 Pack',
    'Red Indian Chief Motorcycle 1948',
    'Indian Motorcycle Scout Bobber',
    'Pakistani Lawn Suits Unstitched',
    'Japanese Garden with Koi Pond',
    'Korean BBQ Grill Pan',
    'Nigerian Jollof Rice',
    'Greek Yogurt Plain 500g',
    'French Fries with Ketchup',
    'Swiss Cheese Slices',
    'Arabic Calligraphy Wall Art',
    'Hispanic Heritage Month poster',
    'Caucasian Shepherd Dog',
    'Asian Pear Tree',
    'Italian Job Mini Cooper',
    'French horn player needed for orchestra',
    'Japanese Language Teacher Wanted',
    'Chinese restaurant owner fined',
    'Brazilian Jiu Jitsu fighter gi',
    'Italian wine expert tips',
    'Indian Remy Hair Stylist Kit',
    'Chinese medicine doctor acupuncture',
]

# Third round: demonyms that are also common words ("a Finn", "a Pole", capitalized after a
# determiner), possessive identity nouns, role nouns that also name firms or products (counted
# before a phrase end or a verb/preposition: "street vendor selling"), role nouns after a role
# word ("pop star"), and plural roles of news captions.
WEB_PERSON_ROUND3 = [
    ('Portrait of a Finn in traditional dress', 'european'),
    ('a Pole working in London', 'european'),
    ("An Irishman's diary", 'european'),
    ('Vietnamese street vendor selling pho', 'southeast_asian'),
    ('Native American chief in headdress', 'indigenous'),
    ('Scottish bagpiper in kilt at Edinburgh Castle', 'european'),
    ('Swedish DJ Avicii', 'european'),
    ('Moroccan merchant in the souk', 'middle_eastern_north_african'),
    ('Colombian pop star Shakira', 'latino'),
    ('Indian street vendor', 'south_asian'),
    ('A Swiss in Zurich', 'european'),
    ('an Iraqi was killed', 'middle_eastern_north_african'),
    ('a Finn on a sauna bench', 'european'),
    ('the Pole who won the race', 'european'),
    ("The Englishman's guide to tea", 'european'),
    ('Japanese pop idol Ayumi', 'east_asian'),
    ('Korean girl group members at the airport', 'east_asian'),
    ('Korean fans wait outside the venue', 'east_asian'),
    ('Greek protesters in Athens', 'european'),
    ('Rohingya refugees in a camp', 'southeast_asian'),
    ('African migrants crossing the sea', 'black'),
    ('Bangladeshi garment workers protest', 'south_asian'),
    ('Vietnamese villagers harvest rice', 'southeast_asian'),
    ('Chinese tourists at the Louvre', 'east_asian'),
    ('Indian pilgrims bathe in the Ganges', 'south_asian'),
    ('Tibetan monks chanting', 'east_asian'),
    ('Irish nuns in the convent', 'european'),
    ('Mongolian shamans perform a ritual', 'east_asian'),
    ('Japanese geishas in Kyoto', 'east_asian'),
    ('Japanese samurai in armour', 'east_asian'),
    ('American cheerleaders at the Super Bowl', 'american'),
    ('Russian models on the runway', 'european'),
    ('Indian actresses at Cannes', 'south_asian'),
    ('Korean pop star at the awards', 'east_asian'),
    ('Bollywood star Shah Rukh Khan, Indian film star', 'south_asian'),
    ('Nigerian Afrobeats star Burna Boy', 'black'),
    ('Swedish pop legend at the concert', 'european'),
    ('Mexican mariachi band plays', 'latino'),
    ('Mongolian nomads with their horses', 'east_asian'),
    ('Maasai herders with cattle', 'black'),
    ('Japanese YouTuber in Tokyo', 'east_asian'),
    ('Korean beauty influencer', 'east_asian'),
    ('Irish buskers on Grafton Street', 'european'),
    ('Spanish matador in the bullring', 'european'),
    ('Argentine gauchos on horseback', 'latino'),
    ('Indian street hawkers', 'south_asian'),
    ('Italian artisan at work', 'european'),
]

# Near misses of the third round: languages, music and art styles, products and firms named
# with the same role words, the common words behind "Finn" and "Pole".
WEB_NOT_PERSON_ROUND3 = [
    'Japanese Language Lessons for Beginners',
    'Korean Pop Music Playlist',
    'Japanese pop art print',
    'Chinese Star Anise Whole 100g',
    'Moroccan Star Lantern Brass',
    'Texas Star Quilt Pattern',
    'Indian Chief Vintage motorcycle',
    'Chinese vendor list for electronics',
    'French artisan bread loaf',
    'Italian Artisan Gelato shop',
    'American Craftsman style bungalow',
    'English Porter Beer Recipe',
    'Polish flag on a pole in the garden',
    'A pole in the ground',
    'The North Pole expedition map',
    'Finn Balor wrestling figure',
    'Finnish sauna stove',
    'Swiss Cheese Fondue Set',
    'Mexican Gaucho Pants Women',
    'Japanese DJ Controller Pioneer',
    'Korean Drama OST album',
    'Chinese Dance Fan Red Silk',
    'Indian Dance Costume Kids',
    'Thai Boxing Shorts Mens',
    'Japanese Anime Poster',
    'Chinese Folding Fan with Bamboo',
    'Spanish Fan Hand Painted',
    'African Pop Music Festival poster',
    'Brazilian samba music CD',
    'Turkish Pop Songs 2020',
    'Mongolian Nomad Tent Yurt',
    'Hawaiian Legend Surfboards',
    'Italian Icon Vespa scooter',
    'British Legend Spitfire model kit',
    'American Legend Harley Davidson',
    'Swedish House Mafia tickets',
    'Irish Dance Shoes',
    'Japanese Street Food Guide',
]

WEB_SEXUAL_LEVELS = [
    ('2020 Hot Sale Women Casual Dress', 'none'),
    ('Hot Selling Ladies Handbag', 'none'),
    ('New Hot Women Sneakers', 'none'),
    ("HOT Women's Summer Dress", 'none'),
    ('Hot Fashion Girls Dress', 'none'),
    ('Hot Style Women Wig Long Curly', 'none'),
    ('Hot New Models 2020 Cars', 'none'),
    ('Hot Girls Party Dress Kids', 'none'),
    ('Hot Asian girls in bikini', 'suggestive'),
    ('Hot teen in short dress', 'suggestive'),
    ('Hot Sexy Women Summer Dress', 'suggestive'),
    ('Hot Mom Club shirt', 'suggestive'),
    ('Hot girls dancing at a party', 'suggestive'),
    ('Rockabilly Pin Up Dress Polka Dot', 'none'),
    ('Pinup Girl Clothing Jenny Dress', 'none'),
    ('Naughty or Nice Christmas Sweater', 'none'),
    ('Sexy Hair Big Volume Shampoo 10 oz', 'none'),
    ('Flirty Floral Wrap Dress', 'none'),
    ('Brazilian Butt Lift before and after', 'none'),
    ('Booty Band Resistance Loop Set', 'none'),
    ('Cleavage plane of mica', 'none'),
    ('Pussy Willow branches', 'none'),
    ('Anal fissure treatment', 'none'),
    ('XXX Large T-shirt', 'none'),
    ('Bikini Wax Salon', 'none'),
    ('Vagina Monologues poster', 'none'),
    ('Naked Eyes band', 'none'),
    ('Adult Halloween Costume Womens', 'none'),
    ('Miss Universe swimsuit competition', 'suggestive'),  # annotators: women shown in swimwear
    ("I don't give a fuck t-shirt", 'none'),
    ('What the fuck mug', 'none'),
    ('Sexy pin up girl posing', 'suggestive'),
    ('Naughty schoolgirl costume', 'suggestive'),
    ('Bikini contest on the beach', 'suggestive'),
    ('Thong bikini brazilian cut', 'apparel'),
    ('Hot Girl Summer t-shirt', 'suggestive'),
    ('Sex Shop in Amsterdam', 'explicit'),
    ('Escort service in Dubai', 'explicit'),
    ('Topless beach in France', 'explicit'),
    ('Nude Pointed Toe Pumps Size 7', 'none'),
    ('Block Heel Sandals - Nude', 'none'),
    ('Ankle Strap Heels in Nude Patent', 'none'),
    ('Lipstick shade Nude Beige', 'none'),
    ('Nude Lip Gloss Set of 6', 'none'),
    ('MAC Matte Lipstick Velvet Teddy', 'none'),
    ('Urban Decay Naked 3 Eyeshadow Palette', 'none'),
    ('Naked Juice Blue Machine 15.2 oz', 'none'),
    ('The Naked Chef Jamie Oliver cookbook', 'none'),
    ('Naked wedding cake with berries', 'none'),
    ('Ardell Demi Wispies Lashes', 'none'),
    ('Sexy Lashes Mink 3D false eyelashes', 'none'),
    ('Christmas Stockings Personalized with Name', 'none'),
    ('Compression Stockings for Varicose Veins', 'none'),
    ('Red Knit Christmas Stocking', 'none'),
    ('Havaianas Thong Sandals Black', 'none'),
    ('Leather thong sandals handmade in Greece', 'none'),
    ('Thong Lor Bangkok nightlife', 'none'),
    ('SpongeBob SquarePants Bikini Bottom poster', 'none'),
    ('Playboy Magazine December 1953 Marilyn Monroe', 'none'),
    ('Cosmopolitan magazine cover March 2015', 'none'),
    ('Catholic priest convicted of child sex abuse', 'none'),
    ('Survivors of sexual assault march in Washington', 'none'),
    ('Police arrest suspects in sex trafficking ring', 'none'),
    ('Man charged with rape of teenager', 'none'),
    ('Sex offender registry map', 'none'),
    ('Sexual harassment in the workplace training', 'none'),
    ('Sexual health clinic in Manchester', 'none'),
    ('Sexually transmitted infections: symptoms and treatment', 'none'),
    ('Breast cancer awareness pink ribbon', 'none'),
    ('Breast pump Medela double electric', 'none'),
    ('Grilled chicken breast with vegetables', 'none'),
    ('Cigarette butts on the pavement', 'none'),
    ('Pork butt roast slow cooker', 'none'),
    ('Butt hinges stainless steel 3 inch', 'none'),
    ('Ford Escort RS Cosworth 1993', 'none'),
    ('Escort radar detector Max 360', 'none'),
    ('Wire stripper tool 10-22 AWG', 'none'),
    ('Field of rape flowers in May', 'none'),
    ('Rapeseed oil cold pressed', 'none'),
    ('Hot chocolate with marshmallows', 'none'),
    ('Hot Wheels car set 20 pack', 'none'),
    ('Hot sauce Sriracha', 'none'),
    ('Hottest day of the year in London', 'none'),
    ('The hottest chili pepper in the world', 'none'),
    ('Sexy Fish restaurant Mayfair', 'none'),
    ('Sex and the City season 2 DVD', 'none'),
    ('Sex Pistols Never Mind the Bollocks vinyl', 'none'),
    ('Gender reveal party ideas', 'none'),
    ('Same-sex marriage rally', 'none'),
    ('Kids Paw Patrol Underwear 7 Pack', 'none'),
    ('Baby girl bikini with ruffles', 'none'),
    ('Toddler Girls Swimsuit Bikini Set', 'none'),
    ('Booty shorts for running', 'suggestive'),
    ('Pirate booty treasure chest', 'none'),
    ('Kick ass motivation poster', 'none'),
    ('Bad ass biker skull decal', 'none'),
    ('Pin up board cork 60x90', 'none'),
    ('Magna cum laude graduate', 'none'),
    ('Sexton family reunion', 'none'),
    ('Essex county map', 'none'),
    ('Middlesex University campus', 'none'),
    ('Sussex countryside in spring', 'none'),
    ('Hardcore punk band live', 'none'),
    ('Nipple shield for breastfeeding', 'none'),
    ('Anal gland expression in dogs', 'none'),
    ('Stripper tool for paint removal', 'none'),
    ('The Naked Gun 33 1/3 DVD', 'none'),
    ('Lust for Life by Irving Stone', 'none'),
    ('Brand new garage door', 'none'),
    ('Lace curtains white 2 panels', 'none'),
    ('Leather jacket mens biker', 'none'),
    ("Women's Lace Bralette Black Size S", 'apparel'),
    ('Push Up Bikini Top Triangle Halter', 'apparel'),
    ('High Waist Bikini Bottoms Plus Size', 'apparel'),
    ('Cotton Thong Panties 5 Pack', 'apparel'),
    ('Steel Boned Underbust Corset Black', 'apparel'),
    ('Bridal Garter Set Blue Lace', 'apparel'),
    ('Calvin Klein Mens Boxer Briefs 3 Pack', 'apparel'),
    ('Silk Chemise Nightgown Ivory', 'apparel'),
    ('Lingerie Set Lace Bra and Panty', 'apparel'),
    ('Fishnet Stockings Black One Size', 'apparel'),
    ('Sports Bra High Impact', 'apparel'),
    ('Sexy Lace Lingerie Set for Women', 'suggestive'),
    ('Hot girls in bikinis at the beach', 'suggestive'),
    ('Sexy teen posing in lingerie', 'suggestive'),
    ('sexy blonde in red dress', 'suggestive'),
    ('Busty brunette selfie', 'suggestive'),
    ('Sultry look from Kim Kardashian', 'suggestive'),
    ('Seductive woman in silk robe', 'suggestive'),
    ("World's Sexiest Nurse T-shirt", 'suggestive'),
    ('Sexiest Man Alive 2019 cover', 'suggestive'),
    ('Hot babe in short shorts', 'suggestive'),
    ('Erotic photography by Helmut Newton', 'suggestive'),
    ('Boudoir photo shoot ideas', 'suggestive'),
    ('Cleavage dress celebrity red carpet', 'suggestive'),
    ('Pin-up girl retro poster', 'suggestive'),
    ('Twerking at the club', 'suggestive'),
    ('Naughty nurse costume', 'suggestive'),
    ('Sexy Santa costume for women', 'suggestive'),
    ('Hot Asian girl selfie', 'suggestive'),
    ('Hot MILF next door', 'explicit'),
    ('Lingerie model photo shoot', 'suggestive'),
    ('Woman in bikini on yacht', 'suggestive'),
    ('Upskirt at the mall', 'explicit'),
    ('Free porn videos HD', 'explicit'),
    ('Teen webcam show live', 'explicit'),
    ('Amateur webcam girl strips', 'explicit'),
    ('XXX hardcore sex movies', 'explicit'),
    ('Nude beach in Spain', 'explicit'),
    ('Naked woman in bed', 'explicit'),
    ('Topless sunbathing girl', 'explicit'),
    ('Big tits MILF fucked hard', 'explicit'),
    ('Asian teen blowjob', 'explicit'),
    ('Lesbian strapon sex', 'explicit'),
    ('Ebony babe gets creampie', 'explicit'),
    ('Horny wife masturbating on cam', 'explicit'),
    ('Jeune femme nue à la plage', 'explicit'),
    ('Salope française baisée', 'explicit'),
    ('Vidéo de cul gratuite', 'explicit'),
    ('Chica desnuda en la playa', 'explicit'),
    ('Video porno gratis de maduras', 'explicit'),
    ('Sexo anal con latina', 'explicit'),
    ('Nackte Frau am Strand', 'explicit'),
    ('Geile Hausfrau ficken', 'explicit'),
    ('Porno mit deutschen Amateuren', 'explicit'),
    ('Hot sexy naked girls', 'explicit'),
    ('Erotic massage with happy ending', 'explicit'),
    ('Stripper dancing on pole', 'explicit'),
    ('Girl shows her boobs on cam', 'explicit'),
    ('Hentai anime girls', 'explicit'),
    ('Amateur homemade sex tape leaked', 'explicit'),
    ('Pornhub premium account', 'explicit'),
    ('Nude selfie of a celebrity leaked', 'explicit'),
    ('Sexy teen in panties', 'suggestive'),
    ('Hot girls twerking in thongs', 'suggestive'),
    ('Girls Gone Wild flashing', 'suggestive'),
    ('Erotik Bilder von Frauen', 'suggestive'),
    ('Sexy chicas en lencería', 'suggestive'),
    ('Femme sexy en lingerie', 'suggestive'),
]


@pytest.mark.parametrize(("caption", "group"), WEB_PERSON_MENTIONS)
def test_web_person_mentions(identity, caption, group):
    found, groups = mention(identity, caption)
    assert found, caption
    assert group in groups or (group == "asian_any" and {g for g in groups if "asian" in g})


@pytest.mark.parametrize("caption", WEB_NOT_PERSON_MENTIONS)
def test_web_listings_and_names_are_not_person_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


@pytest.mark.parametrize(("caption", "group"), WEB_PERSON_ROUND3)
def test_web_person_mentions_round3(identity, caption, group):
    assert_mention_of(identity, caption, group)


@pytest.mark.parametrize("caption", WEB_NOT_PERSON_ROUND3)
def test_web_near_misses_round3_are_not_person_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


def test_role_words_alone_set_no_row_gender(identity):
    """Hand-listed role nouns ("DJ", "vendor", "star") make mentions but no row gender alone."""
    out = identity.tag(captions_batch(["a street vendor", "DJ at the club", "pop star",
                                       "Indian street vendor"]))
    assert out[GENDER].to_pylist()[:3] == ["none", "none", "none"]
    assert out[MENTIONS].to_pylist()[3] == ["south_asian:unspecified"]


@pytest.mark.parametrize(("caption", "expected"), WEB_SEXUAL_LEVELS)
def test_web_sexual_levels(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption


# Third round: near misses from web product, news and reference text (garments in the colour
# nude, tools, birds, plants, places, brands, films, sports, hair textures, plumbing), with the
# positives they must not cost; decided by tests/data/LABELLING.md.
WEB_SEXUAL_ROUND3 = [
    ('Nude Trench Coat Double Breasted', 'none'),
    ('Nude Faux Leather Blazer', 'none'),
    ('Nude Ribbed Knit Cardigan', 'none'),
    ('Nude Wide Leg Trousers', 'none'),
    ('Nude Satin Blouse Long Sleeve', 'none'),
    ('Nude Pleated Midi Skirt', 'none'),
    ('Nude by Nature Mineral Foundation', 'none'),
    ('Nude Stiletto Sandals Size 38', 'none'),
    ('Nude Nail Polish Set of 3', 'none'),
    ('Nude Lip Liner Pencil', 'none'),
    ('LED Strip Lights 5m RGB', 'none'),
    ('New York Strip Steak 12 oz', 'none'),
    ('Paint stripping with a heat gun', 'none'),
    ('Wire Stripping Tool Automatic', 'none'),
    ('Stripping wallpaper made easy', 'none'),
    ('xXx: Return of Xander Cage poster', 'none'),
    ('XXX Vin Diesel DVD', 'none'),
    ('T-shirt Size XXX', 'none'),
    ('Pole dance classes for beginners', 'none'),
    ('Pole Dancing Fitness Studio London', 'none'),
    ('Pole fitness competition 2019', 'none'),
    ('Hot tub with LED lights', 'none'),
    ('Inflatable Hot Tub 4 Person', 'none'),
    ('Babe Ruth baseball card 1933', 'none'),
    ('Blue tits at the bird feeder', 'none'),
    ('Great tits nesting in a box', 'none'),
    ('Long-tailed tits on a branch', 'none'),
    ('Naked mole rat colony at the zoo', 'none'),
    ('Never leave a naked flame unattended', 'none'),
    ('Naked Neck chicken breed', 'none'),
    ('Horny goat weed capsules 1000mg', 'none'),
    ('Horny toad lizard in Texas', 'none'),
    ('Babydoll sheep for sale', 'none'),
    ('Pussy Riot protest in Moscow', 'none'),
    ('Amish buggy in Intercourse, Pennsylvania', 'none'),
    ('Sex on the Beach cocktail recipe', 'none'),
    ('Water butt 200 litre with stand', 'none'),
    ("Pirate's Booty Aged White Cheddar puffs", 'none'),
    ('Babes in Toyland 1934 film poster', 'none'),
    ('Naughty Dog The Last of Us', 'none'),
    ('Kinky Boots Broadway musical', 'none'),
    ('Kinky Curly Hair Bundles 3 Pcs', 'none'),
    ('Kinky Straight Lace Front Wig', 'none'),
    ('Garter stitch scarf knitting pattern', 'none'),
    ('Order of the Garter procession at Windsor', 'none'),
    ('Air on the G String by Bach, sheet music', 'none'),
    ('Guitar G string replacement', 'none'),
    ('John Lee Hooker live in 1965', 'none'),
    ('England hooker Jamie George', 'none'),
    ('Hooker Furniture Dining Table', 'none'),
    ('Igloo Playmate Cooler 16 qt', 'none'),
    ('Cornish pasties recipe', 'none'),
    ('Homemade pasties with beef', 'none'),
    ('Topless Jeep Wrangler on the beach', 'none'),
    ('Bikini Atoll nuclear test 1946', 'none'),
    ('Bikini Body Guide workout', 'none'),
    ('BRA vs ARG World Cup qualifier', 'none'),
    ('Bombshell report reveals spending', 'none'),
    ('Ass. Professor of Economics', 'none'),
    ('Brass Pipe Nipple 1/2 inch NPT', 'none'),
    ('Grease nipple M6 straight', 'none'),
    ('Concrete Vibrator 1.5kW', 'none'),
    ('NARS Orgasm Blush', 'none'),
    ('Sultry summer evening in Rome', 'none'),
    ('See-through plastic storage box with lid', 'none'),
    ('See Through Umbrella Clear Dome', 'none'),
    ('Apple is teasing a new iPhone', 'none'),
    ('Nintendo teasing the next Zelda', 'none'),
    ('Sexton family reunion', 'none'),
    ('Unisex hoodie grey', 'none'),
    ('Essex Police officers on patrol', 'none'),
    ('Middlesex county cricket', 'none'),
    ("Dick's Sporting Goods storefront", 'none'),
    ('Cockpit of a Boeing 747', 'none'),
    ('Cocktail bar in Soho', 'none'),
    ('Titmouse on a snowy branch', 'none'),
    ('Analysis of the results', 'none'),
    ('Scunthorpe United match', 'none'),
    ("Assassin's Creed game cover", 'none'),
    ('Cumin seeds 100g', 'none'),
    ('Assistant manager wanted', 'none'),
    ('Class of 2020 graduates', 'none'),
    ('Hot stone massage spa', 'none'),
    ('Sexy new Ferrari F8 Tributo', 'suggestive'),
    ('Lingerie Store in Paris', 'apparel'),
    ("Victoria's Secret lingerie shop window", 'apparel'),
    ('Bikini wax strips for sensitive skin', 'none'),
    ('Booty shorts for running', 'suggestive'),
    ('Erotic novel cover art', 'suggestive'),
    ('Pole dancer in a night club', 'suggestive'),
    ('Nude woman on the beach', 'explicit'),
    ('Nude model posing for art class', 'explicit'),
    ('Naked man running', 'explicit'),
    ('Blonde in a see-through dress', 'suggestive'),
    ('Busty blonde in a bikini', 'suggestive'),
    ('Hot tub girls in bikinis', 'suggestive'),
    ('Strip club in Las Vegas', 'suggestive'),
    ('Stripper on a pole', 'explicit'),
    ('XXX porn videos', 'explicit'),
    ('Big tits teen', 'explicit'),
    ('Sexy teen teasing on cam', 'suggestive'),
    ('Horny milf', 'explicit'),
    ('Kinky bondage photos', 'explicit'),
    ('Babe in lingerie', 'suggestive'),
    ('Sunday brunch #food porn', 'none'),
    ('Japanese groom porn video', 'explicit'),  # "room porn" must not match inside "groom porn"
    ('Food porn: the best burgers in town', 'none'),
    ('Cabin porn: a log cabin in the woods', 'none'),
    ('Earth porn: sunset over the Alps', 'none'),
    ('Poverty porn in documentary film', 'none'),
    ('Happy Birthday Mum xxx', 'none'),
    ('Love you lots xxx card', 'none'),
    ('Thank you xxx', 'none'),
    ('Nue propriété à vendre, appartement Paris', 'none'),
    ('Vente en nue-propriété', 'none'),
    ('Free porn videos', 'explicit'),
    ('XXX hardcore movies', 'explicit'),
    ('Porn star Mia Khalifa', 'explicit'),
    ('Amateur porn', 'explicit'),
    ('XXX rated', 'explicit'),
    ('Naughty puppy chewed my shoes', 'none'),
    ('Naughty kids in the classroom', 'none'),
    ('Naughty Elf on the Shelf ideas', 'none'),
    ('Naughty cat knocks over a vase', 'none'),
    ('A provocative new book on economics', 'none'),
    ('Provocative questions for team meetings', 'none'),
    ('Lust auf Meer? Urlaub an der Ostsee', 'none'),
    ('Keine Lust auf Kochen', 'none'),
    ("Victoria's Secret Bombshell Eau de Parfum 100ml", 'none'),
    ('Sex: Male, Age: 2 years, neutered', 'none'),
    ('Naughty schoolgirl costume', 'suggestive'),
    ('Naughty nurse costume', 'suggestive'),
    ('Provocative pose in lingerie', 'suggestive'),
    ('Bombshell blonde in red dress', 'suggestive'),
    ('Sex scene from the film', 'explicit'),
]


@pytest.mark.parametrize(("caption", "expected"), WEB_SEXUAL_ROUND3)
def test_web_sexual_levels_round3(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption


def test_common_word_demonyms_need_their_capital(identity):
    """"a Pole" is a person only written as a demonym; "a pole" is not even an identity term."""
    out = identity.tag(captions_batch(["Flag on a pole in the garden", "a Pole in London",
                                       "Polish flag on a pole in the garden", "the Finn who won"]))
    assert out[PERSON_MENTION].to_pylist() == [False, True, False, True]
    assert out[HAS_TERM].to_pylist() == [False, True, True, True]


# Round 4: rules written from the kinds of error, on captions made up for them (not labelled rows).
@pytest.mark.parametrize(
    ("caption", "group"),
    [
        ("A Greek walks past the bakery", "european"),
        ("The first Azeri scores at the Olympics", "middle_eastern_north_african"),
        ("Two Kenyans finished on the podium", "black"),
        ("Kurdish activist speaks at the rally", "middle_eastern_north_african"),
        ("Irish jockey celebrates his win", "european"),
        ("Indian batsmen walk off the field", "south_asian"),
        ("Syrian rebels near Aleppo", "middle_eastern_north_african"),
        ("Brazilian midfielder signs for Chelsea", "latino"),
        ("Nigerian former minister arrested", "black"),
        ("the late Chilean poet Pablo Neruda", "latino"),
        ("Sexy Japan girl in the park", "east_asian"),
        ("India bride in a red sari", "south_asian"),
        ("Latina in a red dress", "latino"),
        ("Ugandans celebrate independence day", "black"),  # regular plurals of demonyms
        ("Two Serbs arrested at the border", "european"),
        ("Bolivians vote in the referendum", "latino"),
        ("Irish fisherman at the harbour", "european"),  # the person, not the sweater
        ("Japanese baby sleeping", "east_asian"),
        ("Cute Korean baby boy smiling", "east_asian"),
        ("Nigerian toddler playing", "black"),
    ],
)
def test_round4_person_mentions(identity, caption, group):
    assert_mention_of(identity, caption, group)


@pytest.mark.parametrize(
    "caption",
    [
        "Portuguese restaurant menu",  # a noun that is also an adjective, before a thing
        "Latina food recipe",
        "Lebanese flag on a pole",
        "Taiwanese language course",
        "The Philippines is beautiful in May",  # a country is no one
        "Made in China",
        "Japan Women Summer Dress",  # the buyer-noun rule holds for country names too
        "Japan Girl T-shirt",  # a product after the person noun
        "Peru online Florist - Cheese Bouquet",  # a country name needs a hand-listed person noun
        "Europe map with Germany and France",
        "an Italian made leather bag",  # "made" does not make "an Italian" a person
        "Arabian horses at the show",
        "Korean Boyfriend Jeans",  # garment and product styles named after a person
        "Thai Fisherman Pants",
        "Irish Fisherman Sweater",
        "Indian Princess Cut Diamond",
        "Japanese Mom Jeans",
        "Mexican Baby Blanket",  # a noun for the young names a product's or an animal's kind
        "African Baby Elephant",
        "Japanese Kid Snack",
        "French Baby Girl Names",
        "the Chinese and Japanese markets",
        "American Beauty",  # titles and brands named after a person
        "Scottish Widows pension",
        "Japanese Samurai Sword",
    ],
)
def test_round4_things_and_places_are_not_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Nipple cream for breastfeeding", "none"),
        ("Ford Escort RS 1998", "none"),
        ("Police escort for the parade", "none"),
        ("Penis Envy mushroom spores", "none"),
        ("Tartan bondage pants punk", "none"),
        ("Lingerie Football League players", "none"),
        ("Safe sex campaign poster", "none"),  # health, titles, fitness puns, a band, a name
        ("The Joy of Sex book", "none"),
        ("Booty Camp fitness class", "none"),
        ("Bikini Kill band", "none"),
        ("Kinky Friedman for governor", "none"),
        ("Teacher faces child porn charges", "none"),  # crimes and campaigns: a topic
        ("Revenge porn law passed", "none"),
        ("Anti-porn campaign", "none"),
        ("Porn addiction recovery book", "none"),
        ("Former porn star turned author", "explicit"),
        ("Escort service near me", "explicit"),  # the phrases leave the sexual uses alone
        # intimate-apparel listings: "for Women" names the buyer; nude is a colour, the
        # garment stays a listing
        ("Shein Red Thongs for Women", "apparel"),
        ("Amazon Essentials Navy Garter Belt for Women", "apparel"),
        ("Wacoal Nude Panties 2 Pack", "apparel"),
        ("Amazon Essentials Nude Push Up Bra Women's", "apparel"),
        ("Hanky Panky Nude Garters Size M", "apparel"),
        ("Savage X Fenty Red Nipple Covers", "none"),
        ("Nude woman on the beach", "explicit"),  # nude before a person is not a colour
        ("girl in a nude bikini on the beach", "suggestive"),
        # celebrity-gallery spam
        ("Actress Kajal Hot Photos", "suggestive"),
        ("Mallu aunty hot navel", "suggestive"),
        ("Indian college girl hot", "suggestive"),
        ("Hot photos of the new BMW", "none"),
        ("girl hot chocolate", "none"),
        # Japanese adult-video genres and leaked-clip spam
        ("Japanese gravure idol", "suggestive"),
        ("AV idol debut", "explicit"),
        ("desi mms", "explicit"),
        ("Thai massage happy ending", "explicit"),
        ("Happy ending of the movie", "none"),
        ("AV receiver for home theater", "none"),
        ("Lucknowi chikan kurta", "none"),
        # euphemisms and merchandise slogans
        ("racy photoshoot", "suggestive"),
        ("raunchy video", "suggestive"),
        ("World's Hottest Nurse mug", "suggestive"),
        ("steamy dumplings", "none"),
        ("saucy chicken recipe", "none"),
    ],
)
def test_round4_sexual_levels(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption


@pytest.mark.parametrize(
    ("caption", "group", "gender"),
    [
        ("hot asian slut", "asian_unspecified", "female"),  # the captions the report is about
        ("Sexy Japanese hottie posing", "east_asian", "female"),
        ("Thai masseuse in Bangkok", "southeast_asian", "female"),
        ("hot asian chick", "asian_unspecified", "female"),
        ("Japanese beauty in a kimono", "east_asian", "female"),
        ("Thai ladyboy on stage", "southeast_asian", "unspecified"),
        ("Latina stepmom", "latino", "female"),
        ("Desi bhabhi selfie", "south_asian", "female"),
        ("Mallu aunty in a saree", "south_asian", "female"),
        ("Korean beauty influencer", "east_asian", "unspecified"),  # "beauty" gives no gender here
    ],
)
def test_round4_sexualized_person_nouns(identity, caption, group, gender):
    out = identity.tag(captions_batch([caption]))
    assert out[PERSON_MENTION].to_pylist() == [True], caption
    assert group in out[GROUPS].to_pylist()[0]
    assert out[GENDER].to_pylist() == [gender]


def test_nouns_that_also_name_things_set_no_row_gender(identity):
    """"beauty", "stud", "hooker" make mentions next to an identity term only where the phrase
    ends, and never give a row a gender on their own."""
    captions = ["Korean beauty products", "Chinese stud earrings", "Hooker furniture", "beauty salon",
                "Asian beauty tips for glowing skin"]
    out = identity.tag(captions_batch(captions))
    assert out[PERSON_MENTION].to_pylist() == [False] * 5
    assert out[GENDER].to_pylist() == ["none"] * 5


# Round 5: rules from the error kinds of the made-up tune half (tests/data/LABELLING.md), checked
# here on other captions written for them.
@pytest.mark.parametrize(
    ("caption", "group"),
    [
        ("Hongkongers march downtown", "east_asian"),
        ("A New Zealander wins the race", "other"),
        ("Orthodox Jews at the wall", "other"),
        ("Sherpa climbers reach the summit", "south_asian"),
        ("Saudi royal at the races", "middle_eastern_north_african"),
        ("Cree hunters set out across the lake", "indigenous"),
        ("Russian porn star retires", "european"),  # "star" after the role word "porn"
        ("Vidéo : beurette à la plage", "middle_eastern_north_african"),
        ("Gorgeous Swedish blonde", "european"),  # a hair colour as a noun, ending the phrase
        ("Italy goalkeeper saves a penalty", "european"),  # a country before a sport role
        ("Kenya's marathon queen retires", "black"),  # a country's possessive before its people
        ("Peru's first female astronaut", "latino"),
        ("Ethiopian wins 10,000m in Oslo", "black"),  # a demonym opening a headline, then a verb
        ("Swiss win gold in the bobsleigh", "european"),
        ("The French celebrate Bastille Day", "european"),
        ("korean_grandmother_cooking_kimchi.jpg", "east_asian"),  # underscores separate words
        ("Mexican Baby Doll with Rebozo", "latino"),  # a weak noun before what depicts it
        ("Native American Chief Bust Statue", "indigenous"),
        ("Brazilian bikini model on the beach", "latino"),  # role modifiers before "model"
        ("Jamaican sprinter's spikes at the trials", "black"),  # role nouns' possessives
        ("Irish emigrants' farewell at the harbour", "european"),
        ("Nepalese porter carrying a load", "south_asian"),
        ("Bust of a Moroccan, marble, 1890", "middle_eastern_north_african"),  # a comma ends it
        ("Portrait of an Irish merchant, oil on canvas", "european"),
        ("asian, woman, smiling, portrait", "asian_unspecified"),  # a keyword list still counts
        ("She was born to a proud Jamaican", "black"),  # a modifier after the determiner
        ("Peruvian 68-year-old retired weaver at her loom", "latino"),  # ages before the noun
        ("Kenyan two-time Olympic sprinter", "black"),
        ("U.S. Ambassador to France", "american"),  # points as word breaks
        ("A Nigerian's guide to Lagos", "black"),  # an adjective's possessive, used as a noun
        ("She is a German Jew from Berlin", "other"),
        ("Kiwi actor at the premiere", "other"),
        ("Pakistan fast bowler takes a wicket", "south_asian"),  # a sport role across modifiers
        ("Somali-born bus driver greets passengers", "black"),
        ("Pakistan-born cricketer reaches his century", "south_asian"),  # a country before "born"
        ("Singer of Puerto Rican descent performs", "latino"),  # a multiword term, then descent
        ("Grandma Rosa, of Italian descent, in 1952", "european"),
        ("Berber women weaving carpets", "middle_eastern_north_african"),  # a verb, not a buyer
        ("British Prime Minister at the summit", "european"),
        ("A Turk selling simit on the bridge", "middle_eastern_north_african"),
        ("Ottoman officer in a fez", "middle_eastern_north_african"),
        ("Yazidi women at a camp", "middle_eastern_north_african"),
        ("Mapuche weaver in Chile", "indigenous"),
        ("Black female doctor with a stethoscope", "black"),  # a word of sex or age between
        ("White elderly man reading", "white"),
        ("Asian female, 25, smiling", "asian_unspecified"),
    ],
)
def test_round5_person_mentions(identity, caption, group):
    assert_mention_of(identity, caption, group)


@pytest.mark.parametrize(
    "caption",
    [
        "Sexy Roman Soldier Costume for Men",  # a person noun before "costume" names a costume
        "Native American Chief Costume Kids",
        "Spanish flu victims buried in 1918",  # a flu, a tree, an award, an uprising, a band
        "Scots pine seedlings for sale",
        "Brit Awards red carpet",
        "Arab Spring anniversary protests",
        "Gypsy Kings live album",
        "White supremacist groups on the rise",  # an ideology names no group of people
        "Scottish independence campaigners rally",  # the identity word describes the cause
        "Swedish blonde hair dye kit",  # a hair colour before a thing
        "Thai royal barge procession",  # "royal" and "hunter" end no phrase here
        "Japanese hunter green wellies",
        "Greek fisherman cap in navy wool",
        "Thai massage therapist",  # the identity word describes the massage (guide, round 5)
        "Japanese Anime Girl Poster",  # ... and the anime style
        "Funny Italian Grandma T-Shirt",  # slogan merchandise names its wearer
        "Proud Filipino Dad Coffee Mug",
        "Greek Goddess Aphrodite Statue",  # a myth, a title, a language
        "The Irishman poster",
        "Brazilian Portuguese lessons",
        "Arab League summit",
        "China Manufacturer of LED lights",  # a country before a firm's role
        "Brazil's Carlos scores twice",  # a country's possessive before a name only
        "China's economy grows",
        "Baltic porter beer",  # a weak noun before a thing
        "Spanish for beginners",  # a language
        "the Chinese, Japanese and Korean markets",  # a comma inside a list of identity words
        "Kiwi fruit salad",
        "Ottoman footstool in velvet",
        "turk's cap lily in bloom",
        "Spanish flamenco dancer performing in Seville",  # a named dance style (labels v2)
        "Brazilian samba dancers at carnival",
        "Indian wedding photographer in Delhi",  # the identity word describes the wedding
        "Spanish-speaking receptionist",  # a language spoken
        "Korean War veterans at the memorial",  # a war
        "Japanese Chef Knife 8 Inch",
        "Korean BBQ chef grilling",  # a dish, games, a bath the identity word names
        "Asian Games athletes parade",
        "Black female connector cable",  # a connector's kind
        "USB male to female adapter",
        "Black leather women's boots",
        "Korean Won banknotes",  # a currency, a dish, a music, an electorate
        "Chinese Won Ton Soup recipe",
        "Jamaican Beat music festival",
        "Latino vote surges in Texas",
        "Turkish bath attendant",
        "Roast swede and carrot mash",
    ],
)
def test_round5_things_are_not_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


def test_hair_colour_nouns_set_no_row_gender(identity):
    out = identity.tag(captions_batch(["Swedish blonde hair dye kit", "blonde highlights"]))
    assert out[GENDER].to_pylist() == ["none", "none"]


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        # RE2's \b is ASCII: a word with a non-ASCII letter is one word, not a term and a rest
        ("Presidente discursa em Brasília", "none"),
        ("Análise analítica de dados", "none"),
        ("Une nuée d'oiseaux", "none"),
        ("Salope française baisée", "explicit"),  # accented terms still match
        ("Femme nue", "explicit"),
        # the colour nude after a garment, and who a listing is for
        ("Seamless T-Shirt Bra 36C - Nude", "apparel"),
        ("Balconette Bra Nude", "apparel"),
        ("Vietnamese Women Lace Bra Set", "apparel"),
        ("Women in bras on the beach", "suggestive"),  # a person wearing it, no listing
        # neutral uses
        ("Victoria's Secret Bombshell Push-Up Bra", "apparel"),
        ("Vintage Pin Up Gingham Swing Dress", "none"),
        ("Tourists at the Fucking village sign", "none"),
        ("New law on porn websites takes effect", "none"),
        ("Simone de Beauvoir, Le Deuxième Sexe", "none"),
        ("Hooker's sea lion pup", "none"),
        ("The hooker throws into the lineout", "none"),
        # sex work, dating spam, toys and slang
        ("Thai massage parlour with happy ending", "explicit"),
        ("Cock ring set", "explicit"),
        ("Burlesque show tonight", "suggestive"),
        ("Red-light district at night", "suggestive"),
        ("Gentlemen's club VIP room", "suggestive"),
        ("Adult dating for singles", "suggestive"),
        ("thicc anime girl", "suggestive"),
        ("Hot Italian mama", "suggestive"),
        ("The hottest athletes of 2024", "suggestive"),
        ("Hot hunk on the beach", "suggestive"),
        ("Soutien-gorge en dentelle 85C", "apparel"),
        ("Model wearing a lace bralette", "suggestive"),  # lace is no listing word
        ("Black Lace Corset Top", "apparel"),
        ("KISS Lash Couture Naked Drama", "none"),  # a lash line
        ("Girls' cotton underwear 5-pack", "none"),  # children's, with the apostrophe
        ("Pornstar martini recipe", "none"),
        ("Topless convertible on the coast road", "none"),
        ("Sex-selective abortion campaign", "none"),
        ("Anatomy diagram of the penis and testicles", "none"),
        ("Hot Russian brides waiting for you", "suggestive"),
        ("Rustic wedding escort cards with twine", "none"),  # wedding seating cards
        ("Escort girls in Paris", "explicit"),
        ("Spacious living-cum-dining room", "none"),  # rooms and places joined by "cum"
        ("Kitchen cum dining area in a 3BHK flat", "none"),
        ("Chorlton-cum-Hardy street view", "none"),
        ("cum on her face", "explicit"),
        ("BBW Wallflower refill Sweet Pea", "none"),  # Bath & Body Works
        ("Bath & Body Works BBW 3-wick candle", "none"),
        ("BBW ebony amateur", "explicit"),
        ("Boss Babe mug gift", "none"),  # an empowerment slogan
        ("Pussy bow blouse in cream silk", "none"),  # a collar style
        ("Escort mission in the new game", "none"),
        ("amateur homemade video xxx", "explicit"),  # kisses end a message, not a video title
        ("Happy Birthday Mum xxx", "none"),
        ("Rule 34 fan art", "explicit"),
        ("Playboy centerfold", "suggestive"),
        ("Hot babe on the beach", "suggestive"),
    ],
)
def test_round5_sexual_levels(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption


# Round 6: rules from the error kinds of made-up waves 1-4's tune rows, checked here on other
# captions written for them.
@pytest.mark.parametrize(
    ("caption", "group"),
    [
        ("Multiethnic group of students studying together", "other"),  # a group noun and "of"
        ("Korean team of engineers at the launch", "east_asian"),
        ("Biracial toddler boy with balloons", "other"),  # a young noun as a modifier
        ("Georgian grandmother baking khachapuri", "european"),
        ("Jamaican world champion waves to the crowd", "black"),  # champion after a role word
        ("Chinese table tennis players at the Olympics", "east_asian"),
        ("Brazilian telenovela star at the premiere", "latino"),
        ("Irish graduates throw their caps", "european"),
        ("Estonian female choir sings at the song festival", "european"),
        ("Ghanaian founder of a solar startup", "black"),
        ("Russian redhead posing on a sofa", "european"),  # no longer a weak noun
        ("Czech blonde strips for the camera", "european"),  # the verb ends the weak noun
        ("cambodia young tribal women", "southeast_asian"),  # a country across listed modifiers
        # round 6, wave 6
        ("Australia goaltender makes a save", "other"),  # sport roles after a country
        ("Kenya sprinters win relay gold", "black"),
        ("Mexican amateur gets naughty on cam", "latino"),  # amateur as a noun, then a verb
        ("White amateur couple at home", "white"),  # a word between colour and noun
        ("The Dutch go to the polls", "european"),
        ("Nepali sadhu at a temple", "south_asian"),
        ("My Greek nonna's baklava", "european"),
        ("Peruvian home cook making ceviche", "latino"),
        ("Malagasy fisherman mending nets", "black"),
        ("Our Peruvian guide Luis at Machu Picchu", "latino"),  # a guide right after the term
        ("Bedouin guides lead camels at dusk", "middle_eastern_north_african"),
        ("Jamaican co-founder of a music label", "black"),
        ("Spanish bombshell in a red swimsuit", "european"),
        # round 6, wave 7
        ("Dark-skinned girl reading on a porch", "other"),
        ("Multicultural team of coworkers in an office", "other"),
        ("Japanese kimono girl under cherry blossoms", "east_asian"),  # a garment before her
        ("Somali pirates in a skiff", "black"),
        ("Eritrean asylum seekers at the border", "black"),
    ],
)
def test_round6_person_mentions(identity, caption, group):
    assert_mention_of(identity, caption, group)


@pytest.mark.parametrize(
    "caption",
    [
        "World's Best Irish Grandpa Ever Funny Mug",  # slogan merchandise, four words on
        "Proud Mexican Veteran T-shirt",
        "Senegalese Men Dashiki Shirt Embroidered",  # a garment of the buyer
        "Black Girl Shampoo for curly hair",  # a personal-care product
        "Korean Women Push Up Bra Seamless",
        "Maori and Pacific Islander flags at the march",  # flags after a person noun
        "Turkish Airlines pilots at Istanbul airport",  # an airline names no group
        "Scottish highland dancers at the games",  # a named dance
        "Italian food truck owner in Austin",  # the cuisine, as a restaurant owner
        "French girl style: five wardrobe basics",
        "Cleveland Indians cap 1948",
        "French lady bug garden stake",  # an insect
        "Chinese zodiac boy wall art",  # the identity word describes the zodiac
        "China Fashion Women Dress Summer",  # a country, then a listing's buyer
        "Korean Women Loose Knit Sweater",  # a buyer three words before the garment
        "Curly clip-in wig for Black women",  # "for" after a product names its buyers
        "Maori warrior mask wall decor",  # a warrior's gear
        "Japanese amateur radio station",  # amateur before a thing
        "Greek sirtaki dancers at a taverna",  # a named dance
        "Irish Grandma Apron Funny Gift",  # merchandise for its wearer
        "Desi AF graphic t-shirt",
        "Australian Open champion lifts the trophy",  # a tournament
        "the Latino vote in Arizona",  # an electorate, still
        "Japanese travel guide to Kyoto",  # a guide book
        "The Thai Guide Book",
        "Italian guide to pasta",
        "Indian Premier League auction",
        "Spanish guitar player on a terrace",  # the instrument's style
        "English Channel swimmer at Dover",
        "Hawaiian Shirt Men's Tropical Print",  # a garment before a buyer's possessive
    ],
)
def test_round6_things_are_not_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Clitoral suction toy rechargeable", "explicit"),
        ("Redhead doggystyle homemade", "explicit"),
        ("Kama Sutra positions for beginners", "explicit"),
        ("Discreet hookups in your city tonight", "suggestive"),
        ("Lonely housewives looking to chat", "suggestive"),
        ("Pop star flaunts her curves on a yacht", "suggestive"),
        ("Actress shows off her toned body in Cannes", "suggestive"),
        ("Reality star shares steamy holiday snaps", "suggestive"),
        ("Surfer babes in bikinis on the sand", "suggestive"),  # worn, plural person words
        ("Models walk the runway in lingerie", "suggestive"),
        ("Men's boxer shorts 3-pack cotton", "apparel"),
        ("Swim brief for men, navy, size 34", "apparel"),
        ("Lace Teddy Lingerie Bodysuit Deep V Women - Red - M", "apparel"),  # a size letter ends the listing
        ("Underbust corset for waist training, steel boned", "apparel"),
        ("Girls training bra 2-pack", "none"),  # a child's product
        ("Bikini body workout: 20 minutes a day", "none"),
        ("NARS blush Orgasm X", "none"),
        ("Hot Thai curry with jasmine rice", "none"),
        ("Happy birthday babe, love you", "none"),
        ("Love you Grandma xxx Happy Mother's Day card", "none"),
        ("Naked bulb wall sconce, industrial", "none"),  # bare things
        ("Naked branches against a grey sky", "none"),
        ("World Naked Bike Ride in London", "explicit"),  # people
        ("Sensual Musk scented candle", "none"),  # a product named after a scent
        ("Sensual massage candle, vanilla", "suggestive"),
        ("Naked short selling ban", "none"),
        ("Naked Essential Cotton Boxer Briefs", "none"),  # an underwear brand
        ("Edible gummy underwear gag gift", "suggestive"),
        ("Blonde sucks cock in the car", "explicit"),
        ("Dirty talk for beginners", "suggestive"),
        ("Singer stuns in a sheer gown at the Met Gala", "suggestive"),
        ("Women's sheer mesh dress, black, size M", "none"),  # a listing, no one wears it
        ("Flirt with local singles tonight", "suggestive"),
        ("Hottest Brazilian footballers of all time", "suggestive"),
        ("Hot Irish men calendar", "suggestive"),
        ("Beach babes at a volleyball game", "suggestive"),  # plural: people
        ("Beach Babe tumbler cup", "none"),  # a slogan
        ("Reality star's bikini pics from Ibiza", "suggestive"),
        ("Babydoll dress for girls, floral", "none"),  # a dress style, a child's
        ("Lingerie chest with seven drawers", "none"),  # furniture
        ("Naked cold pressed juice", "none"),
        ("Nissan Skyline R34 GT-R", "none"),  # a car, not "rule 34"
        ("Grease nipple fitting, zinc", "none"),
        ("Nipple grease fitting 1/8 NPT", "none"),
        ("Cellist snaps her G string on stage", "none"),
        ("Pin Up Swing Dress, polka dot", "none"),
        ("Victoria's Secret Very Sexy Push-Up Bra 34B", "apparel"),  # a bra line
        ("Muscular man in tight underwear", "suggestive"),
        ("Hollywood's best bikini bodies over 50", "suggestive"),
        ("Channing Tatum strip scene", "suggestive"),
        ("Lonely wives want to hook up tonight", "suggestive"),
    ],
)
def test_round6_sexual_levels(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption


# Round 7: rules from the error kinds of made-up wave 8's rows (measured once, then tuned on),
# checked here on other captions written for them.
@pytest.mark.parametrize(
    ("caption", "group"),
    [
        ("Road trip with my Korean besties", "east_asian"),
        ("Cuban revolutionaries in the Sierra Maestra", "latino"),
        ("Pakistan wicketkeeper appeals for a stumping", "south_asian"),  # a sport role
        ("Lonely Filipino singles near you", "southeast_asian"),  # weak: before "near"
        ("Sunday lunch with our Italian nonno", "european"),  # kin words of other languages
        ("My Mexican abuela makes tamales", "latino"),
        ("Things only Filipino mums understand", "southeast_asian"),  # a listed noun's plural
        ("Afghan horse trader at the market", "south_asian"),  # weak: before a preposition
        ("American GIs in Normandy, 1944", "american"),
    ],
)
def test_round7_person_mentions(identity, caption, group):
    assert_mention_of(identity, caption, group)


@pytest.mark.parametrize(
    "caption",
    [
        "Japanese singles chart this week",  # singles: a chart, not people
        "Lola Black Ankle Boots",  # a name set no gender and makes no mention
        "Swiss watchmaker Omega unveils a new model",  # a firm
        "Tokyo, Japan - Young woman crossing the street",  # a place, then a dash
        "Persian carpet seller's shop",  # the identity word describes the carpet
        "Syrian spice trader at the souk",  # ... and the spice
        "Mexican graffiti artist Saner",
    ],
)
def test_round7_things_are_not_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Titanium nipple ring barbell 16G", "none"),  # body jewellery
        ("Pirate's Booty aged white cheddar puffs", "none"),  # a snack
        ("Petite model in black lace lingerie, size S", "suggestive"),  # worn: listing or not
        ("Plus size women in lingerie, body positive campaign", "suggestive"),
        ("Black lace lingerie set, size S", "apparel"),
        ("Model in sports bra and running shorts", "apparel"),  # sportswear, not lingerie
        # other languages (made-up wave 10's error kinds)
        ("Affiche du film érotique, 1978", "suggestive"),  # a term that starts with "é"
        ("Vibromasseur rabbit rechargeable", "explicit"),
        ("Sexshop Berlin Kreuzberg", "explicit"),
        ("Escarpins nude talon aiguille", "none"),  # the colour
        ("Sexe : mâle, chiot à adopter", "none"),  # a pet's sex
        ("Abuso sexual: detenido un profesor", "none"),  # news
        ("Chá revelação: sexo do bebê", "none"),  # a term that ends in "ê"
        ("Brune en bikini sur la plage", "suggestive"),  # a person in it
        ("Haut de bikini triangle noir", "apparel"),  # a listing
        ("Boutique de lingerie à Lyon", "apparel"),
        ("Atoll de Bikini en 1946", "none"),
    ],
)
def test_round7_sexual_levels(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption


# Round 8: rules from the error kinds of the real captions' tune half (labels version 3, every
# caption labelled), checked here on other captions written for them.
@pytest.mark.parametrize(
    ("caption", "group", "gender"),
    [
        ("Queen Margrethe II of Denmark waves from the balcony", "european", "female"),  # office
        ("Prime Minister of India Narendra Modi", "south_asian", "unspecified"),
        ("President of the Philippines at the summit", "southeast_asian", "unspecified"),
        ("Emperor Naruhito of Japan", "east_asian", "male"),
        ("Miss Universe Philippines 2020 on stage", "southeast_asian", "female"),  # a title
        ("Newly crowned Miss Nigeria 2021", "black", "female"),
        ("Bajau fisherman mending nets", "southeast_asian", "male"),  # a people of the sea
        # one-word country names the lexicon lacked (countryinfo's list)
        ("Poland captain Robert Lewandowski", "european", "unspecified"),
        ("Mali's president addresses the nation", "black", "unspecified"),
        ("Kazakhstan-born boxer", "other", "unspecified"),
        # country names of several words
        ("Sri Lanka batsman plays a shot", "south_asian", "male"),
        ("Burkina Faso president arrives in Paris", "black", "unspecified"),
        ("President of the United States at the summit", "american", "unspecified"),
    ],
)
def test_round8_person_mentions(identity, caption, group, gender):
    assert_mention_of(identity, caption, group)
    assert identity.tag(captions_batch([caption]))[GENDER].to_pylist() == [gender], caption


@pytest.mark.parametrize(
    "caption",
    [
        "Henrik Lundqvist of Sweden",  # a name and a country: no office
        "Ministry of Finance of India",  # an institution
        "Miss England pageant 2019 in Newcastle",  # the pageant itself
        "I miss england so much",  # not the title: no capital
        "Prince of Wales check wool suit",  # a cloth pattern
        "Princess of Wales visits a school",  # the British heir's title: no Welsh person
        "Burger King of Nigeria opens in Lagos",  # a restaurant chain
        "Made in Sri Lanka, women's tea blend",  # a place of origin
        "Costa Rica coffee farmer",  # the country describes the coffee
    ],
)
def test_round8_things_are_not_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


def test_a_pageant_word_still_bridges_to_a_person_noun(identity):
    """Pageant words known to the lexicon stay as unknown as any other word elsewhere."""
    assert_mention_of(identity, "Thai transgender pageant contestants on stage", "southeast_asian")


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Domina Lady Sado in her studio, fetish clip", "explicit"),  # German/Italian dominatrix
        ("Domina Coral Bay Resort, Sharm el Sheikh", "none"),  # a hotel chain
        ("Zac Efron goes shirtless in Miami", "suggestive"),  # a tabloid gallery
        ("Chris Hemsworth Shirtless Photos", "suggestive"),
        ("Shirtless man jogging along the river", "none"),
        ("Black lace hold-up stockings, size M", "apparel"),
        ("Protesters hold up signs outside parliament", "none"),
    ],
)
def test_round8_sexual_levels(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption


# Round 8, second part: rules from made-up wave 11's error kinds (measured once, then tuned on),
# checked here on other captions written for them.
@pytest.mark.parametrize(
    ("caption", "group"),
    [
        ("Native American Chief Bronze Figurine 8 inch", "indigenous"),  # a material between
        ("Inuit hunters return from the ice floe", "indigenous"),  # a plural subject's verb
        ("First Nations chiefs walk out of the meeting", "indigenous"),
        ("Italian showgirl on the beach in Sardinia", "european"),
        ("Cuban exiles rally in Miami", "latino"),
        ("Canadian Mounties at the parade", "other"),
        ("Team GB athletes at the closing ceremony", "european"),
        ("Aymara women selling potatoes in El Alto", "indigenous"),
        ("Norwegian cross-country skier wins gold", "european"),
        ("South African anti-apartheid activist speaks", "other"),
        ("French team doctor treats the striker", "european"),
        ("Egyptian pharaoh bust replica", "middle_eastern_north_african"),
    ],
)
def test_round8_wave11_person_mentions(identity, caption, group):
    assert_mention_of(identity, caption, group)


@pytest.mark.parametrize(
    "caption",
    [
        "American Girl Truly Me 18-inch Doll",  # a doll line
        "Shea Curl Cream for Black Women 12oz",  # a product's buyers
        "Cornish pasty with swede, potato and beef",  # the vegetable
        "a Swiss watch with a leather strap",  # plural subjects' verbs are no nouns
        "Greek bronze statue of a horse",
    ],
)
def test_round8_wave11_things_are_not_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Cute Corgi Butt Throw Pillow", "none"),  # an animal's rear
        ("Penis fish on ice at the market, Busan", "none"),
        ("Womens Lace Top Hold Up Stockings Nude 2 Pairs", "apparel"),  # the colour, a listing
        ("Spanish Fly aphrodisiac drops", "suggestive"),
        ("hot-asian-girl-wallpaper-1920x1080.jpg", "suggestive"),  # a file name's hyphens
        ("Miss Earth swimsuit round on the beach", "suggestive"),
        ("Pop singer in hot pants on stage, 1975", "suggestive"),
        ("The Billionaire's Bride: A Steamy Romance (Kindle Edition)", "suggestive"),
    ],
)
def test_round8_wave11_sexual_levels(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption


# Round 8, third part: rules from made-up wave 13's error kinds (measured once, then tuned on).
@pytest.mark.parametrize(
    ("caption", "group"),
    [
        ("Italian Air Force pilots at the air show", "european"),  # a military unit between
        ("Indian Army officer salutes at the parade", "south_asian"),
        ("Armenian Americans march in Los Angeles", "middle_eastern_north_african"),  # a diaspora noun
        ("Irish bishops meet in Maynooth", "european"),
        ("Gurkha soldiers on parade", "south_asian"),
        ("England WAGs at the World Cup", "european"),
    ],
)
def test_round8_wave13_person_mentions(identity, caption, group):
    assert_mention_of(identity, caption, group)


@pytest.mark.parametrize(
    "caption",
    [
        "Victorinox Swiss Army Knife Huntsman",  # a knife
        "Cornish Pasty with Beef and Swede",  # the vegetable
        "White Men Can't Jump (1992) Blu-ray",  # a film
    ],
)
def test_round8_wave13_things_are_not_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Shirtless Chris Hemsworth Photos: the best pics", "suggestive"),  # a name between
        ("Steamy Billionaire Romance Box Set", "suggestive"),
        ("Love you Nan xxx - Personalised Mother's Day Card", "none"),  # kisses on a card
        ("hot lesbians kissing", "suggestive"),
    ],
)
def test_round8_wave13_sexual_levels(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption


# Round 8, fourth part: rules from made-up wave 14's error kinds (listings; measured once, then
# tuned on).
@pytest.mark.parametrize(
    "caption",
    [
        "Sheer Black Women Pantyhose 40 Denier M/L",  # a listing's buyers
        "Wandering Jew Plant in a 4 inch pot",
        "Kiss the Irish Cook Apron",  # slogan merchandise
        "Cuban Queen T-Shirt for Women",
        "American Girl Samantha Doll with Victorian Dress",  # a doll line
    ],
)
def test_round8_wave14_things_are_not_mentions(identity, caption):
    assert mention(identity, caption)[0] is False, caption


def test_round8_wave14_a_person_on_a_product_still_counts(identity):
    assert_mention_of(identity, "African American Girl Baby Doll with Bottle", "black")


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Blue Tit Bird Feeder with Fat Balls", "none"),
        ("Hooker Long Tube Headers Small Block Chevy", "none"),  # exhaust headers
        ("Big Cock Rooster Metal Sign", "none"),
        ("XXX Hot Habanero Pepper Seeds 20 pcs", "none"),
        ("Sexy Smooth Hard Wax Beans 2 lb", "none"),  # a brand
        ("Italian Leather Corset Belt", "none"),
        ("Tummy Control Butt Lifter Shapewear Panties", "apparel"),
        ("Silk Slip Nightgown Women Spaghetti Strap Chemise", "apparel"),  # a listing
        ("Indian bride in red bridal lingerie", "suggestive"),  # worn
        ("Sequin Hot Pants for Disco Party", "suggestive"),
        ("Hunky Firefighters Shirtless Charity Calendar", "suggestive"),
    ],
)
def test_round8_wave14_sexual_levels(sexual_terms, caption, expected):
    assert level(sexual_terms, caption) == expected, caption
