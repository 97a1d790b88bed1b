"""The answerer's word lists: data, in one place. Code elsewhere names a list, never spells one.

spaCy gives entities, tags, the parse and lemmas; what it cannot know is which common nouns
name which kind of answer ("which *player*" asks for a person, "which *startup*" for an
organisation), which verbs report speech, and which question words frame what is asked
rather than what it is about. Those are here, lower case, lemmas unless said otherwise.
"""

from __future__ import annotations

import calendar

from index.tokens import STOPWORDS as INDEX_STOPWORDS


def word_set(text: str) -> frozenset[str]:
    """A set of words written as a whitespace-separated block (easier to read and edit)."""
    return frozenset(text.split())


# The project's stopwords (`index.tokens`, what BM25 drops) and, for the answerer, more function
# words and the words every news question carries ("say", "report", "article"): they match
# everything and so tell nothing. Surface forms.
STOPWORDS = INDEX_STOPWORDS | word_set(
    """
    above against aren't because below doing down during each else few having hers herself
    himself itself let myself nor off ours ourselves out theirs themselves through too until up
    yours yourself yourselves don doesn didn isn wasn weren won wouldn shouldn couldn
    reporting say says said tell told mention mentions news source sources story speak speaks
    spoke spoken speaking comment comments commented remark remarks remarked happen happens
    happened happening
    """
)

# Stems news copy uses interchangeably for one relation ("Russia backs Maduro", "… have thrown
# their support behind Guaido"): a small hand list, since no offline paraphrase model ships.
SYNONYM_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"back", "support", "endors", "recogn", "recognis"}),
    frozenset({"oppos", "reject", "condemn", "denounc"}),
    frozenset({"oust", "fire", "dismiss", "remov", "sack"}),
    frozenset({"buy", "acquir", "purchas", "takeov"}),
    frozenset({"sue", "lawsuit"}),
    frozenset({"ban", "prohibit"}),
)

# Words that frame what kind of answer is wanted, not what it is about ("How did Maduro
# respond?"): articles report the reaction without the word (stems).
FRAME_WORDS = word_set(
    """respond responded response responses react reacted reaction reactions reply replied
    important importance significant significance"""
)

# Titles written as acronyms in articles and spelled out in questions (or the other way).
ROLE_ACRONYMS = {
    "ceo": "chief executive",
    "cfo": "chief financial",
    "cto": "chief technology",
    "coo": "chief operating",
}

# --- what a wh-phrase's head noun asks for ------------------------------------------------------
PERSON_NOUNS = word_set(
    """individual person personality figure executive ceo founder entrepreneur player athlete
    actor actress singer artist celebrity author journalist politician leader prodigy judge
    commissioner captain coach manager minister senator official president director officer
    chairman chairwoman chair spokesperson spokesman spokeswoman lawyer attorney prosecutor
    quarterback striker pitcher boxer fighter driver golfer rapper musician scientist
    researcher economist analyst candidate lawmaker governor mayor ambassador envoy
    co-founder cofounder cfo cto coo wife husband son daughter mother father brother sister
    partner girlfriend boyfriend star defender forward goalkeeper midfielder receiver
    photographer director producer writer host presenter investor billionaire founder"""
)
ORGANISATION_NOUNS = word_set(
    """company institution organization organisation firm entity agency corporation bank
    brand startup retailer manufacturer network outlet publication newspaper
    broadcaster studio label group exchange platform carrier airline automaker chipmaker
    insurer lender university school party union league fund"""
)
# Sports teams go by their cities and countries ("Milwaukee", "New Zealand"): places' names.
TEAM_NOUNS = word_set("team club side opponent franchise")
PLACE_NOUNS = word_set("country nation state city town region province territory place")
GROUP_NOUNS = word_set("nationality religion ethnicity")
DATE_NOUNS = word_set("day date month year week time")
MONEY_NOUNS = word_set(
    """salary price cost revenue amount fee fine valuation sum budget profit loss sales income
    wage pay funding deal"""
)
PERCENT_NOUNS = word_set("percentage percent rate share stake")
SCORE_NOUNS = word_set("score scoreline record")  # "3-1", a team's "3-7"
WORK_NOUNS = word_set(
    """film movie book song album show series game law bill act product app device phone
    model award prize event tournament title novel play drug vaccine"""
)
# Verbs of change: "by how much did the shares fall?" asks for the change, a percentage first.
CHANGE_VERBS = word_set(
    """fall drop rise climb increase decrease decline grow jump slide slump surge gain lose
    plunge tumble sink soar cut raise boost shrink lower reduce slash trim hike lift dip"""
)

# Verbs that report speech: the speaker is their subject ("…,” Healy said).
SPEECH_VERBS = word_set(
    """say tell add remark write tweet post insist warn explain note state argue admit
    continue respond reply acknowledge concede declare stress claim"""
)
# A contest's result ("Who won the Raiders vs Lions game?"): the answer is one of the two sides
# the question sets against each other ("vs", "versus", "between … and"). Verbs whose subject
# won, and whose subject lost.
WINNING_VERBS = word_set(
    """win beat defeat edge top rout thrash down overcome outscore outlast prevail triumph
    crush hammer pummel stun upset sink sweep dominate overpower outclass"""
)
LOSING_VERBS = word_set("lose")
CONTEST_VERBS = WINNING_VERBS | LOSING_VERBS
SIDES_WORDS = word_set("vs vs. v v. versus")

# Question verbs that ask for someone's own words or reaction.
SAYING_QUESTION_VERBS = word_set(
    """say tell react respond warn think feel describe explain comment claim argue admit reply"""
)

# Role words: a description of a person holds one ("Foreign Minister", "human-rights chief").
ROLES = word_set(
    """president secretary minister chief leader head spokesman spokeswoman spokesperson chairman
    chairwoman chair director envoy ambassador adviser advisor official founder co-founder executive
    ceo cfo cto coo lawmaker senator governor mayor judge justice king queen prince princess pope
    general commander prosecutor attorney lawyer analyst professor economist correspondent reporter
    editor coach player singer actor actress rapper star owner investor billionaire entrepreneur
    candidate premier chancellor diplomat activist representative manager partner officer counsel
    quarterback receiver kicker pitcher striker goalkeeper midfielder linebacker cornerback"""
)
# Titles that split a capitalised run into the names around them ("OpenAI CEO Sam Altman",
# "Fed Chair Jerome Powell"); not those that begin names ("General Motors", "King Charles").
TITLE_WORDS = (ROLES | frozenset(ROLE_ACRONYMS)) - word_set(
    "general justice king queen prince princess pope star partner owner player"
)
# spaCy entity labels by the kind of answer they can be.
PERSON_LABELS = frozenset({"PERSON"})
ORGANISATION_LABELS = frozenset({"ORG"})
TEAM_LABELS = frozenset({"ORG", "GPE"})
PLACE_LABELS = frozenset({"GPE", "LOC"})
GROUP_LABELS = frozenset({"NORP"})
WORK_LABELS = frozenset({"WORK_OF_ART", "PRODUCT", "EVENT", "LAW", "FAC"})
NAME_LABELS = PERSON_LABELS | ORGANISATION_LABELS | PLACE_LABELS | GROUP_LABELS | WORK_LABELS
DATE_LABELS = frozenset({"DATE"})
MONEY_LABELS = frozenset({"MONEY"})
PERCENT_LABELS = frozenset({"PERCENT"})
COUNT_LABELS = frozenset({"CARDINAL", "QUANTITY"})

# ISO 4217 codes written before an amount in news copy ("NIS 405 million", "NOK 1.2bn"); the
# small model types such amounts as organisations, so qa.answer.nlp's entity ruler relabels
# them MONEY. Codes that are also words or names in capitals ("TOP", "ALL", "COP 28", "PHP 8")
# are left out.
CURRENCY_CODES = word_set(
    "USD EUR GBP JPY CNY RMB INR NIS ILS NOK SEK DKK ISK CHF AUD CAD NZD HKD SGD KRW TWD "
    "BRL MXN ARS CLP ZAR NGN KES EGP RUB UAH PLN CZK HUF RON AED SAR QAR THB IDR MYR "
    "VND PKR BDT"
)
# Scale words that may follow the amount ("405 million").
AMOUNT_SCALES = word_set("thousand million billion trillion mn bn m k")

# Participles that give a thing its name ("a model called Gemini", "known as Copilot").
NAMING_VERBS = word_set("call name dub title know brand")

# Calendar words, in order (Python's C-locale names, lower case).
WEEKDAYS = tuple(day.lower() for day in calendar.day_name)
MONTHS = tuple(month.lower() for month in calendar.month_name[1:])
CALENDAR_WORDS = frozenset((*WEEKDAYS, *MONTHS))

# Follow-ups (qa.conversation): words that make a question lean on what came before, and the
# pronouns among them that a name earlier in the same question can stand for.
PERSON_PRONOUNS = word_set("he she him her his hers")
PERSONAL_PRONOUNS = PERSON_PRONOUNS | word_set("it its they them their theirs")
ANAPHORA = PERSONAL_PRONOUNS | word_set(
    "this that these those there then same former latter one ones"
)
