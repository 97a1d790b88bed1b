"""Words to stems: the lexical side of scoring and verification, over the project's one
tokenizer (`index.tokens`: the same words and stems BM25 indexed)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from index.tokens import WORD, fold, stem, words
from qa.answer.lexicon import ROLE_ACRONYMS, ROLES, STOPWORDS, SYNONYM_GROUPS

__all__ = [
    "Idf",
    "acronym_alternatives",
    "role_keys",
    "stem_of",
    "stems",
    "synonyms",
    "true_cased",
    "words",
]

_SYNONYMS = {term: frozenset(group - {term}) for group in SYNONYM_GROUPS for term in group}


def synonyms(term: str) -> frozenset[str]:
    return _SYNONYMS.get(term, frozenset())


def stems(text: str) -> list[str]:
    """Stems of the content words of `text`, in order, stopwords dropped. A stopword written
    in capitals is an acronym and stays ("the US", "U.S.", "WHO"), unless the whole text is
    in capitals ("WHO IS SAM ALTMAN?")."""
    text = _DOTTED_ACRONYM.sub(lambda m: m.group(0).replace(".", "") + " ", text)
    letters = [c for c in text if c.isalpha()]
    acronyms_count = sum(c.isupper() for c in letters) <= len(letters) / 2
    kept = []
    for match in WORD.finditer(text):
        raw, word = match.group(0), fold(match.group(0))
        if word not in STOPWORDS or (acronyms_count and len(raw) >= 2 and raw.isupper()):
            kept.append(stem(word))
    return kept


_DOTTED_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,6}")


def role_keys(text: str) -> frozenset[str]:
    """The role words `text` holds, an acronym and its spelled-out form one key: "the CEO of
    Ineos" and "chief executive of Ineos" both hold {"ceo"}."""
    lowered = text.lower()
    found = set(words(lowered))
    keys = set()
    for acronym, spelled in ROLE_ACRONYMS.items():
        if acronym in found or spelled in lowered:
            keys.add(acronym)
            found -= set(spelled.split())
    return frozenset(keys | (found & ROLES))


_POSSESSIVE = re.compile(r"['’]s$")


def true_cased(text: str, corpus: Iterable[str] = ()) -> str:
    """`text` written in one case, each word as `corpus` writes it most often ("WHO BACKS
    MADURO?" or "who backs maduro?" over the articles: "Who backs Maduro?"): the small model
    reads words in capitals as proper nouns, so it finds no wh-phrase and no verb, and finds
    no name in lower case. A word `corpus` never writes stays in lower case. Any `text` in
    mixed case as it is."""
    if any(char.islower() for char in text) and any(char.isupper() for char in text):
        return text
    asked = {_POSSESSIVE.sub("", match.group(0)).lower() for match in WORD.finditer(text)}
    if not asked:
        return text
    written = Counter(
        word
        for passage in corpus
        for match in WORD.finditer(passage)
        if (word := _POSSESSIVE.sub("", match.group(0))).lower() in asked
    )
    form: dict[str, str] = {}
    for word, _ in written.most_common():
        form.setdefault(word.lower(), word)

    def as_written(match: re.Match[str]) -> str:
        word = match.group(0)
        base = _POSSESSIVE.sub("", word)
        return form.get(base.lower(), base.lower()) + word[len(base) :].lower()

    cased = WORD.sub(as_written, text)
    return cased[:1].upper() + cased[1:]


def stem_of(word: str) -> str:
    return stem(word.lower())


class Idf:
    """Inverse document frequency over a small set of texts (the retrieved sentences).

    Terms absent from every text get the highest weight: a question term that nothing
    mentions ("Australia") must drag coverage down, which is what drives abstention.
    """

    def __init__(self, documents: Iterable[Iterable[str]]):
        distinct = [set(terms) for terms in documents]
        self.n_docs = len(distinct)
        self.doc_freq = Counter(term for terms in distinct for term in terms)

    def __call__(self, term: str) -> float:
        df = self.doc_freq.get(term, 0)
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))


# "IMF" in a question, "International Monetary Fund" in the article (and the other way round):
# an acronym stands for the capitalised words whose initials spell it; "of", "the", "and",
# "for" in between do not count ("Organization of American States" is OAS).
_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,6}|\b[A-Z]{2,6}s?\b")
_CONNECTOR = r"(?:of|the|and|for|on|de)"
_CAPITALISED_RUN = re.compile(rf"\b[A-Z][a-z]+(?:\s+(?:{_CONNECTOR}\s+)*[A-Z][a-z]+)+\b")


def acronyms(text: str) -> set[str]:
    """Upper-case abbreviations in `text`, without dots or a plural s: {"IMF", "UN"}."""
    found = (m.group(0).replace(".", "").removesuffix("s") for m in _ACRONYM.finditer(text))
    return {letters for letters in found if 2 <= len(letters) <= 6 and letters.isupper()}


def expansions(acronym: str, text: str) -> set[frozenset[str]]:
    """The stems of each capitalised phrase in `text` whose initials spell `acronym`."""
    found = set()
    for match in _CAPITALISED_RUN.finditer(text):
        capitalised = [w for w in match.group(0).split() if w[0].isupper()]
        # a longer run may hold the phrase: "The International Monetary Fund Said"
        for start in range(len(capitalised) - len(acronym) + 1):
            window = capitalised[start : start + len(acronym)]
            if "".join(w[0] for w in window) == acronym:
                found.add(frozenset(stem_of(w) for w in window))
    return found


def acronym_alternatives(question: str, texts: list[str]) -> dict[str, list[frozenset[str]]]:
    """Question stem -> stem sets that stand for it in `texts`: "imf" -> {internat, monetari,
    fund} when the question says IMF and a text spells it out; each of "internat", "monetari",
    "fund" -> {"imf"} when the question spells out what a text abbreviates."""
    alternatives: dict[str, list[frozenset[str]]] = {}
    joined = "\n".join(texts)
    for acronym in acronyms(question):
        for phrase in expansions(acronym, joined):
            alternatives.setdefault(stem_of(acronym), []).append(phrase)
    for acronym in acronyms(joined):
        for phrase in expansions(acronym, question):
            for term in phrase:
                alternatives.setdefault(term, []).append(frozenset({stem_of(acronym)}))
    # Titles are written lower case, so no capitalised run spells them: "chief executive" in
    # the question, "CEO" in the article (and the other way round).
    asked = set(stems(question))
    for acronym, spelled in _SPELLED_ROLES.items():
        if acronym in asked:
            alternatives.setdefault(acronym, []).append(spelled)
        if spelled <= asked:
            for term in spelled:
                alternatives.setdefault(term, []).append(frozenset({acronym}))
    return alternatives


_SPELLED_ROLES = {acronym: frozenset(stems(phrase)) for acronym, phrase in ROLE_ACRONYMS.items()}
