"""List questions ("which countries back Maduro?") and the entities that answer them.

The answer to a list question is usually a coordinated list of capitalised names in one
sentence ("Russia, China, Iran, Syria, Cuba and Turkey have voiced their backing …"), or
names spread over a few sentences. We find the kind of thing asked for, read capitalised
spans out of the answering sentences, and, where we know the kind (countries), keep only
names of that kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answer.terms import STOPWORDS, stem_of, word_set

_IRREGULAR_PLURALS = frozenset(["people", "men", "women", "children", "media", "police", "staff"])
_LIST_PATTERNS = [
    # "Which countries", "Which other countries", "Which two Israeli startups", "Which EU
    # countries": numbers, a few adjectives and capitalised words may come before the noun.
    re.compile(
        r"^\s*(?i:which|what)\s+(?i:are\s+the\s+|were\s+the\s+)?(?i:other\s+)?"
        r"(?:(?:two|three|four|five|six|seven|eight|nine|ten|\d+|top|major|new|big|biggest|"
        r"largest|[A-Z][\w.\-]*)\s+){0,2}([a-z][a-z\-]*)\b"
    ),
    re.compile(r"^\s*(?:list|name)\s+(?:all\s+)?(?:the\s+)?([a-z][a-z\-]*)\b", re.I),
]
_WHO_PLURAL = re.compile(r"^\s*who\s+(?:are|were)\b", re.I)
_QUESTION_FILLER = word_set(
    """
    is are was were do does did has have will would can could
    """
)

# Names of countries (and the usual short forms news copy uses), lower-cased.
COUNTRIES = word_set(
    """
    afghanistan albania algeria andorra angola argentina armenia australia austria
    azerbaijan bahamas bahrain bangladesh barbados belarus belgium belize benin bhutan
    bolivia bosnia botswana brazil brunei bulgaria burkina burundi cambodia cameroon canada
    chad chile china colombia comoros congo croatia cuba cyprus czechia czech denmark
    djibouti dominica ecuador egypt eritrea estonia eswatini ethiopia fiji finland france
    gabon gambia georgia germany ghana greece grenada guatemala guinea guyana haiti honduras
    hungary iceland india indonesia iran iraq ireland israel italy jamaica japan jordan
    kazakhstan kenya kiribati kosovo kuwait kyrgyzstan laos latvia lebanon lesotho liberia
    libya liechtenstein lithuania luxembourg madagascar malawi malaysia maldives mali malta
    mauritania mauritius mexico micronesia moldova monaco mongolia montenegro morocco
    mozambique myanmar burma namibia nauru nepal netherlands holland nicaragua niger nigeria
    norway oman pakistan palau palestine panama paraguay peru philippines poland portugal
    qatar romania russia rwanda samoa senegal serbia seychelles singapore slovakia slovenia
    somalia spain sudan suriname sweden switzerland syria taiwan tajikistan tanzania
    thailand togo tonga tunisia turkey turkiye turkmenistan tuvalu uganda ukraine uruguay
    uzbekistan vanuatu venezuela vietnam yemen zambia zimbabwe britain england scotland
    wales america us usa u.s. u.s.a. uk u.k. uae
    """
) | frozenset(
    [
        "united states",
        "united kingdom",
        "great britain",
        "south africa",
        "south korea",
        "north korea",
        "south sudan",
        "new zealand",
        "saudi arabia",
        "sri lanka",
        "costa rica",
        "el salvador",
        "dominican republic",
        "czech republic",
        "ivory coast",
        "sierra leone",
        "united arab emirates",
        "papua new guinea",
        "east timor",
        "north macedonia",
        "cape verde",
        "equatorial guinea",
        "trinidad and tobago",
        "vatican city",
        "central african republic",
        "burkina faso",
        "bosnia and herzegovina",
    ]
)


def is_country(name: str) -> bool:
    """ "Turkey", "the Netherlands": a name in the country gazetteer."""
    return name.lower().removeprefix("the ") in COUNTRIES


KIND_GAZETTEERS: dict[str, frozenset[str]] = {"countri": COUNTRIES, "nation": COUNTRIES}

# A capitalised word: "Russia", "U.S.", "Bankman-Fried", "McDonald's", "OpenAI", "X".
_CAP_WORD = r"(?:[A-Z][A-Za-z0-9]*(?:[.\-'’][A-Za-z0-9]+)*\.?|[A-Z]\.)"
# Lower-case words allowed inside a name: "Bank of America", "Organization of American States".
# "and" is not allowed: it separates list items far more often than it joins a name.
_NAME = re.compile(
    rf"{_CAP_WORD}(?:\s+(?:(?:of|de|du|del|da|la|von|van|for)\s+(?:the\s+)?)?{_CAP_WORD})*"
)
_LIST_GLUE = re.compile(r"^\s*(?:,\s*(?:and\s+|or\s+)?|\s+(?:and|or|&)\s+)$")


@dataclass(frozen=True)
class ListQuery:
    kind: str  # the plural noun asked for, e.g. "countries"; "people" for "who are …"

    @property
    def kind_stem(self) -> str:
        return stem_of(self.kind)

    @property
    def gazetteer(self) -> frozenset[str] | None:
        return KIND_GAZETTEERS.get(self.kind_stem)


@dataclass(frozen=True)
class Entity:
    text: str
    start: int  # offsets within the sentence
    end: int
    possessive: bool


def _is_plural(word: str) -> bool:
    word = word.lower()
    if word in _IRREGULAR_PLURALS:
        return True
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def detect_list_question(question: str) -> ListQuery | None:
    """A ListQuery when the question asks for several things of one kind."""
    if _WHO_PLURAL.match(question):
        return ListQuery("people")
    for pattern in _LIST_PATTERNS:
        match = pattern.match(question)
        if match:
            word = match.group(1)
            if word.lower() not in _QUESTION_FILLER and _is_plural(word):
                return ListQuery(word.lower())
    return None


def _trim_name(text: str) -> str:
    """Drop a trailing connector or sentence period the regex may have swallowed."""
    text = re.sub(r"\s+(?:of|de|du|del|da|la|von|van|the|for)$", "", text)
    parts = text.split()
    last = parts[-1] if parts else ""
    if last.endswith(".") and last.count(".") == 1 and last[:-1].lower() not in _ABBREVIATIONS:
        # "Turkey." / "Warner Bros. Discovery." at the end of a sentence; keep "U.S.", "Inc."
        text = text[:-1]
    return text


_ABBREVIATIONS = word_set("bros inc co corp ltd plc jr sr st mt dr mr mrs ms gen sen rep gov")


def name_spans(text: str) -> list[tuple[str, int]]:
    """Every capitalised span (trimmed) and its start, sentence starts included."""
    return [(_trim_name(m.group(0)), m.start()) for m in _NAME.finditer(text)]


_CALENDAR_WORDS = word_set(
    """monday tuesday wednesday thursday friday saturday sunday january february march april
    june july august september october november december"""
)


def find_entities(sentence: str, known_names: frozenset[str] = frozenset()) -> list[Entity]:
    """Capitalised name spans in `sentence`.

    The first word of a sentence is capitalised anyway, so it counts as a name only when it
    is a known name (seen capitalised mid-sentence elsewhere, or in a gazetteer).
    """
    entities = []
    for match in _NAME.finditer(sentence):
        text = _trim_name(match.group(0))
        start = match.start()
        if text.lower() in STOPWORDS:
            continue
        at_sentence_start = start == 0 or (start <= 2 and sentence[:start].strip() in '"“(')
        if at_sentence_start:
            first, _, rest = text.partition(" ")
            if first.lower() not in known_names and first.lower() not in COUNTRIES:
                if not rest:
                    continue
                start += len(first) + 1
                text = rest
        first, _, rest = text.partition(" ")
        if rest and first.lower() in _CALENDAR_WORDS:  # "On Monday John Hynes was hired"
            start += len(first) + 1
            text = rest
        end = start + len(text)
        possessive = sentence[end : end + 2] in ("'s", "’s")
        entities.append(Entity(text, start, end, possessive))
    return entities


def coordinated_lists(sentence: str, entities: list[Entity]) -> list[list[Entity]]:
    """Runs of ≥2 entities joined only by commas/"and"/"or": "Russia, China and Iran"."""
    runs: list[list[Entity]] = []
    current: list[Entity] = []
    for entity in entities:
        if current and _LIST_GLUE.match(sentence[current[-1].end : entity.start]):
            current.append(entity)
            continue
        if len(current) >= 2:
            runs.append(current)
        current = [entity]
    if len(current) >= 2:
        runs.append(current)
    return runs


def capitalised_words(text: str) -> set[str]:
    """Lower-cased words that appear capitalised somewhere other than a sentence start."""
    return {m.group(1).lower() for m in re.finditer(r"(?<![.!?\n\"“])\s([A-Z][A-Za-z\-']+)", text)}


def normalise_item(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def matches_kind(entity_text: str, query: ListQuery) -> bool:
    gazetteer = query.gazetteer
    if gazetteer is None:
        return True
    lowered = entity_text.lower()
    return lowered in gazetteer or lowered.removeprefix("the ") in gazetteer
