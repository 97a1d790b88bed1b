"""`AnswerConfig`: every tuned number of the offline answerer, in one documented object.

It is built once (`AnswerConfig()`, or with overrides from `scripts/tune_answers.py --set
NAME=v1,v2`) and handed to `ExtractiveAnswerer`; nothing reads module globals. Each field says
what it does and the dev measurement it was set on (dev only: test is for reporting).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from qa.answer.confidence import default_weights


class AnswerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- sentence relevance (the abstention signal) and ranking ------------------------------
    abstain_lexical: float = Field(
        default=0.18,
        description="Abstain when the best sentence relevance is below this (lexical).",
    )
    abstain_embedding: float = Field(
        default=0.27,
        description="... with the embedding cosine blended in (cosine shifts the scale). Both "
        "set on MultiHop-RAG dev, null vs answerable (scripts/tune_answers.py); 0.27 over 0.26 "
        "(round 13): dev null abstention .958 -> .990 for one right answer (.7035 -> .6991).",
    )
    min_term_share: float = Field(
        default=1.0,
        description="The best sentence must cover this many average question terms' IDF mass "
        "('capital of Australia' must not pass on 'capital' alone).",
    )
    w_cosine: float = Field(
        default=0.5, description="Embedding cosine weight against lexical coverage (dev: 0.5 best)."
    )
    embed_shortlist: int = Field(
        default=4, description="Sentences (best lexical first) given a cosine (dev: all was level)."
    )
    w_retrieval: float = Field(
        default=0.25,
        description="Prior 1/(1+rank) times this (dev citation precision 0.49 -> 0.61).",
    )
    w_pairs: float = Field(
        default=0.5,
        description="Share of the question's adjacent stem pairs a sentence keeps, long "
        "questions only (dev citation precision 0.633 -> 0.647).",
    )
    w_title: float = Field(default=0.5, description="A question term found only in the title.")
    w_source: float = Field(default=1.0, description="A term naming the passage's outlet.")
    unseen_word_weight: float = Field(
        default=0.5,
        description="IDF share of a lower-case question word no passage uses (articles "
        "paraphrase verbs; a missing name means they do not cover the question).",
    )
    synonym_weight: float = Field(default=0.8, description="A question stem matched by a synonym.")
    w_actor: float = Field(
        default=0.3, description="'How did Maduro respond?': a sentence where the named one acts."
    )
    w_as_of: float = Field(
        default=0.3,
        description="'… on September 26, 2023?': added for a passage published that day, less "
        "each day after, nothing from as_of_days on or before it.",
    )
    as_of_days: int = Field(default=7, description="... how many days after the date count.")
    later_report_weight: float = Field(
        default=0.0,
        description="'… on November 6, 2023?' (a short question naming a day): a sentence of an "
        "article published as_of_days or more after it, not naming that day, tells a later "
        "state; its relevance and score are multiplied by this.",
    )
    single_fact_terms: int = Field(
        default=8,
        description="Questions with at most this many content stems (digits not counted: "
        "'$8.5 million' is one constraint) ask one fact: phrases do not count, names come "
        "from fewer sentences (user-question dev lead 0.475 -> 0.575).",
    )

    # --- choosing sentences --------------------------------------------------------------------
    max_sentences: int = Field(default=3, description="Sentences quoted in an answer.")
    follow_ratio: float = Field(
        default=0.8, description="Further sentences score this share of the best."
    )
    reading_ratio: float = Field(
        default=0.5,
        description="A date or figure may come from a sentence scoring down to this share of "
        "the best (user-question dev: when 0.50 -> 0.875 at 0.5).",
    )
    redundant_jaccard: float = Field(default=0.6, description="Stem overlap of a repeat.")
    nearest: int = Field(default=3, description="Passages shown when abstaining.")

    # --- parsing -------------------------------------------------------------------------------
    parse_sentences: int = Field(
        default=8,
        description="Most sentences a strategy parses in one batch (answer-time parsing). Dev, "
        "stand-in retrieval: 12 -> 8 left every user and typed figure level (role errors "
        ".106 -> .091) and parses a third fewer sentences (docs/answerer.md).",
    )
    parse_cache: int = Field(default=4096, description="Parsed sentences kept per process (LRU).")

    # --- name answers --------------------------------------------------------------------------
    sentences_read: int = Field(default=8, description="Best sentences whose names are candidates.")
    single_fact_sentences_read: int = Field(default=3, description="... for a one-fact question.")
    sentence_floor: float = Field(default=0.3, description="... each this share of the best score.")
    w_articles: float = Field(default=0.35, description="Per other retrieved article naming it.")
    single_fact_w_articles: float = Field(default=0.2, description="... for a one-fact question.")
    w_title_name: float = Field(default=0.2, description="Per retrieved title naming it.")
    w_subject: float = Field(default=0.1, description="Share added for being the clause's subject.")
    w_kind: float = Field(default=0.25, description="Bonus for a name of exactly the asked type.")
    kind_mismatch: float = Field(
        default=0.5,
        description="Score factor for a name of a near type (an organisation for 'who'); "
        "MultiHop dev strict 0.549 -> 0.602 at 0.5.",
    )
    full_name_sentences: int = Field(
        default=2,
        description="A name expanded from its surname ('Bankman-Fried') takes its type from "
        "this many sentences that write it in full (the small model types the surname alone "
        "as an organisation 266 times of 302 in the corpus, the full name a person 28 of 28).",
    )
    role_floor: float = Field(
        default=0.6,
        description="A name holding the asked role counts from a sentence scoring this share "
        "of the best, and then outranks names that are only repeated.",
    )

    # --- lists ---------------------------------------------------------------------------------
    list_ratio: float = Field(default=0.85, description="Item sentences read: share of the best.")
    list_sentences: int = Field(default=6, description="... at most this many.")

    # --- figures -------------------------------------------------------------------------------
    figure_sentences: int = Field(
        default=12,
        description="'How much …' abstains when none of these best sentences has a figure.",
    )

    # --- confidence ----------------------------------------------------------------------------
    confidence_weights: dict[str, float] = Field(
        default_factory=default_weights,
        description="Logistic weights of the answer's confidence over `confidence.Signals` "
        "features ('bias' the intercept): qa/models/confidence.json, fitted on dev by "
        "scripts/fit_confidence.py --write (its 'info' gives the dev cross-validated AUCs).",
    )

    doubtful_below: float = Field(
        default=0.3,
        description="An answer whose confidence is below this is marked doubtful (the chat and "
        "the CLI show a caution). Dev: 63 of 479 answers, 48 of them wrong (76 %), 15 of 307 "
        "right answers; at 0.5 short questions lost 26 of 91 right answers to the caution.",
    )

    def abstain_threshold(self, scorer: str) -> float:
        return self.abstain_embedding if scorer == "embedding" else self.abstain_lexical
