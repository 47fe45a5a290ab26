"""Built-in vocabulary and templates for generating English-like prose with no data files.

Sentences are assembled from slots drawn from word lists, so two generated documents share few
word 5-grams (they must not look like accidental near-duplicates), while function words, sentence
lengths and punctuation resemble ordinary web prose closely enough for the quality heuristics.
"""

from __future__ import annotations

import random

ADJ = (
    "quiet old new small large local early late careful bright dark modern ancient rural urban "
    "northern southern eastern western famous private public narrow wide heavy light simple "
    "complex rare common brief steady sudden gentle rough fresh tired busy empty crowded "
    "wooden stone iron coastal mountain river forest desert winter summer annual weekly"
).split()
NOUN = (
    "engineer teacher farmer doctor painter writer student sailor baker nurse miner judge "
    "council library bridge harbour village market station museum garden factory kitchen "
    "railway school hospital theatre river valley island castle tower mill orchard vineyard "
    "committee company newspaper orchestra laboratory workshop parish county festival museum "
    "committee archive cathedral lighthouse canal highway airport stadium bakery brewery"
).split()
PNOUN = (
    "farmers teachers visitors students workers families sailors merchants engineers nurses "
    "children volunteers residents travellers musicians builders fishermen officials readers "
    "neighbours members scientists historians gardeners drivers pilots"
).split()
VERB_PAST = (
    "repaired described visited built opened closed painted studied measured restored "
    "designed moved sold bought found lost planted harvested recorded published announced "
    "funded replaced inspected cleaned expanded renamed surveyed organised photographed"
).split()
VERB = (
    "repair describe visit build open close paint study measure restore design move sell "
    "buy find plant harvest record publish announce fund replace inspect clean expand survey "
    "organise photograph"
).split()
ADV = (
    "slowly carefully quickly quietly often rarely eventually gradually finally partly "
    "openly briefly steadily largely mostly"
).split()
PLACE = (
    "Lisbon Oslo Bristol Porto Leeds Kyoto Quebec Dublin Tartu Bergen Lyon Graz Turin Cork "
    "Utrecht Gdansk Riga Malmo Ghent Bologna Aarhus Seville Valencia Halifax Dundee Tromso "
    "Salzburg Krakow Toledo Bruges Cadiz Aberdeen Wellington Hobart Perth Adelaide"
).split()
NAME = (
    "Maria Jonas Aiko Pedro Fatima Lars Ingrid Tomas Helen Omar Rosa Ivan Chen Amara Nils "
    "Clara Samuel Leila Bruno Elena Hugo Mei Daniel Sofia Kofi Anna Mateo Yusuf Greta Paolo"
).split()
TIME = (
    "spring autumn winter summer morning evening decade century season year week month"
).split()
EVENT = (
    "flood storm election harvest fire strike festival census reform merger drought "
    "restoration inspection survey meeting"
).split()
TEMPLATES = (
    "The {adj} {noun} in {place} {verb_past} the {adj2} {noun2} last {time}.",
    "{name} {verb_past} a {adj} {noun} near {place} in {year}.",
    "Many {pnoun} {verb} the {noun} {adv}, although few of them {verb2} it every {time}.",
    "According to {name}, the {noun} was {verb_past} after the {event} of {year}.",
    "By {year} the {adj} {noun} had {verb_past} more than {num} {pnoun}.",
    "{pnoun_cap} from {place} {adv} {verb_past} the {noun} and its {adj} {noun2}.",
    "It is said that the {noun} of {place} {verb_past} {num} {pnoun} during the {event}.",
    "When the {event} ended, {name} and the {pnoun} {verb_past} a {adj} {noun2}.",
    "The {noun} has been {verb_past} {adv} since {year}, and it still serves {num} {pnoun}.",
    "In {place}, the {adj} {noun} is known for its {adj2} {noun2} and its {noun3}.",
    "Some {pnoun} argue that the {noun} should {verb} the {adj} {noun2} before the next {event}.",
    "{name} wrote that every {noun} in {place} {verb_past} at least one {adj} {noun2}.",
    "After {num} years, the {pnoun} of {place} {verb_past} the {adj} {noun} together.",
    "Is the {adj} {noun} in {place} worth a visit during the {time}?",
    "The {event} of {year} changed how the {pnoun} {verb} their {noun}.",
    "Local {pnoun} still {verb} the {adj} {noun} that {name} {verb_past} in {year}.",
    "A report by the {noun} {verb_past} {num} {adj} {pnoun} and {num2} {noun2}s.",
    "Because the {noun} was {adj}, {name} {adv} {verb_past} a {adj2} {noun2} instead.",
    "The {noun2} beside the {noun} was {verb_past} in {year} and {verb_past2} in {year2}.",
    "Visitors to {place} can {verb} the {adj} {noun} on most days of the {time}.",
)


def _pick(rng: random.Random, words: tuple[str, ...] | list[str]) -> str:
    return words[rng.randrange(len(words))]


def sentence(rng: random.Random) -> str:
    """One generated English sentence."""
    tpl = _pick(rng, TEMPLATES)
    year = rng.randint(1750, 2024)
    fields = {
        "adj": _pick(rng, ADJ),
        "adj2": _pick(rng, ADJ),
        "noun": _pick(rng, NOUN),
        "noun2": _pick(rng, NOUN),
        "noun3": _pick(rng, NOUN),
        "pnoun": _pick(rng, PNOUN),
        "verb": _pick(rng, VERB),
        "verb2": _pick(rng, VERB),
        "verb_past": _pick(rng, VERB_PAST),
        "verb_past2": _pick(rng, VERB_PAST),
        "adv": _pick(rng, ADV),
        "place": _pick(rng, PLACE),
        "name": _pick(rng, NAME),
        "time": _pick(rng, TIME),
        "event": _pick(rng, EVENT),
        "year": year,
        "year2": year + rng.randint(1, 60),
        "num": rng.randint(2, 900),
        "num2": rng.randint(2, 90),
    }
    fields["pnoun_cap"] = fields["pnoun"].capitalize()
    return tpl.format(**fields)


def paragraph(rng: random.Random, n_sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(n_sentences))


def title(rng: random.Random) -> str:
    return f"The {_pick(rng, ADJ)} {_pick(rng, NOUN)} of {_pick(rng, PLACE)}".title()


FOREIGN = {
    "de": (
        "Die Stadt liegt am Ufer eines breiten Flusses und hat eine lange Geschichte.",
        "Im Sommer kommen viele Besucher, um die alte Kirche und den Markt zu sehen.",
        "Der Bürgermeister erklärte, dass die Brücke im nächsten Jahr erneuert wird.",
        "Viele Familien arbeiten seit Generationen in der Landwirtschaft und im Handwerk.",
        "Die Schule wurde vor hundert Jahren gegründet und ist heute ein Museum.",
        "Nach dem Regen waren die Straßen leer, und die Läden schlossen früher.",
        "Das Orchester spielt jeden Freitag im großen Saal des Rathauses.",
        "Eine neue Bahnlinie verbindet das Dorf mit der Hauptstadt.",
    ),
    "fr": (
        "La ville se trouve au bord d'une grande rivière et possède une longue histoire.",
        "En été, de nombreux visiteurs viennent voir la vieille église et le marché.",
        "Le maire a annoncé que le pont sera rénové l'année prochaine.",
        "Beaucoup de familles travaillent depuis des générations dans l'agriculture.",
        "L'école a été fondée il y a cent ans et abrite aujourd'hui un musée.",
        "Après la pluie, les rues étaient vides et les magasins ont fermé plus tôt.",
        "L'orchestre joue chaque vendredi dans la grande salle de la mairie.",
        "Une nouvelle ligne de chemin de fer relie le village à la capitale.",
    ),
    "es": (
        "La ciudad está a orillas de un gran río y tiene una larga historia.",
        "En verano llegan muchos visitantes para ver la iglesia antigua y el mercado.",
        "El alcalde anunció que el puente será renovado el próximo año.",
        "Muchas familias trabajan desde hace generaciones en la agricultura.",
        "La escuela fue fundada hace cien años y hoy es un museo.",
        "Después de la lluvia las calles estaban vacías y las tiendas cerraron antes.",
        "La orquesta toca cada viernes en el gran salón del ayuntamiento.",
        "Una nueva línea de tren une el pueblo con la capital.",
    ),
}

MENU_ITEMS = (
    "Home About Contact Blog Shop Services Careers Login Register Cart Search Help FAQ News "
    "Events Gallery Support Privacy Terms Sitemap Newsletter Account Wishlist Deals"
).split()
BOILERPLATE_LINES = (
    "We use cookies to improve your experience. By continuing you accept our cookie policy",
    "Please enable javascript to view this page",
    "Copyright 2024 All rights reserved",
    "Subscribe to our newsletter",
    "Click here to read more",
    "Terms of use | Privacy policy | Cookie settings",
    "Share on Facebook Share on Twitter",
    "Skip to main content",
    "Sign up for free today",
    "Posted in Uncategorized | Leave a comment",
)
SPAM_WORDS = (
    "cheap best buy discount free offer casino loans pills online deal winner cash bonus "
    "crypto guaranteed limited click now viagra replica watches sale"
).split()
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation "
    "ullamco laboris nisi ut aliquip ex ea commodo consequat."
)
CODE = (
    "function init() { var x = document.getElementById('main'); if (x) { x.style.display = 'none'; } }",
    "for (let i = 0; i < items.length; i++) { total += items[i].price; }",
    "$(document).ready(function() { $('.menu').toggle(); });",
    "window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}",
    ".header { margin: 0 auto; padding: 10px; } .footer { color: #333; }",
)
# Synthetic hostile and violent sentences aimed at groups, for exercising the toxicity stage.
TOXIC = (
    "All {group} are disgusting vermin and should be driven out of this country.",
    "I hate {group}, they are filthy animals and deserve to be beaten.",
    "Someone should kill every one of those {group} before they ruin everything.",
    "{group_cap} are subhuman trash and we must attack them in the streets.",
)
GROUPS = ("immigrants", "muslims", "jews", "women", "gays", "disabled people", "christians")
