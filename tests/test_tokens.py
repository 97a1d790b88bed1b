"""The project's one tokenizer (index.tokens): what BM25 and the answerer each read of a text."""

from __future__ import annotations

from index.tokens import STOPWORDS, tokenize, words
from qa.answer import lexicon, terms


def test_a_hyphenated_compound_is_one_word_for_the_answerer_and_its_parts_for_bm25() -> None:
    text = "Bankman-Fried's lawyers lost 6-0"
    assert words(text) == ["bankman-fried", "lawyers", "lost", "6-0"]
    # BM25 indexes the parts, so a question naming "Fried" still finds the article.
    assert tokenize(text) == ["bankman", "fri", "lawyer", "lost", "6", "0"]


def test_an_apostrophe_keeps_letters_only() -> None:
    """A height ("6'1") is two numbers, as the stored BM25 index has always read it."""
    assert words("He is 6'1 and don't") == ["he", "is", "6", "1", "and", "don't"]


def test_the_answerer_reads_words_and_stems_through_the_same_tokenizer() -> None:
    assert terms.words is words
    assert terms.stems("Bankman-Fried denied the charges") == ["bankman-fri", "deni", "charg"]
    # The answerer drops what BM25 drops, and more (news-question words such as "said").
    assert STOPWORDS <= lexicon.STOPWORDS
    assert "said" in lexicon.STOPWORDS and "said" not in STOPWORDS


def test_role_keys_read_an_acronym_and_its_spelled_form_alike() -> None:
    assert terms.role_keys("Who is the chief executive of Ineos Sport?") == {"ceo"}
    assert terms.role_keys("the CEO of Ratcliffe's Ineos Sport") == {"ceo"}
    assert terms.role_keys("Michigan State's new head football coach") == {"head", "coach"}
    assert terms.role_keys("the company's new product") == frozenset()


def test_true_cased_takes_each_words_most_written_form() -> None:
    from qa.answer.terms import true_cased

    corpus = ["Maduro met the US envoy.", "The US backs Guaido; Maduro does not.", "us and them"]
    assert true_cased("WHO DOES THE US BACK, NOT MADURO?", corpus) == (
        "Who does the US back, not Maduro?"
    )
    assert true_cased("Who backs Maduro?", corpus) == "Who backs Maduro?"  # not in capitals
    assert true_cased("WHO BACKS MADURO?") == "Who backs maduro?"  # no passages: lower case
    # Typed in lower case, the same: the small model finds no name in "maduro" (a dev study of
    # the user and typed questions in lower case: lead .457 -> .500, typed .454 -> .466).
    assert true_cased("who does the us back, not maduro's?", corpus) == (
        "Who does the US back, not Maduro's?"
    )
