"""qa.render: answers become safe, Markdown-inert HTML. Pure and fast."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.render import (
    DOUBTFUL,
    EMPTY_SOURCES_HTML,
    anchor_id,
    answer_markdown,
    article_rows,
    escape_text,
    example_questions,
    highlight_passage,
    notices,
    render_answer,
    render_error,
    render_ingest_report,
    render_partial,
    render_sources,
    render_user,
    safe_url,
    snippet,
    source_choices,
    text_with_days,
    text_with_markers,
)
from qa.types import Answer, AnswerItem, Citation, DateFilter, Lead, Passage

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror=alert(1)>",
    "[click me](javascript:alert(1))",
    "![pic](https://evil.example/x.png)",
    "<a href='javascript:alert(1)'>x</a>",
    "**bold** _it_ `code` $$x^2$$ {{7*7}} ${7*7}",
    "<svg/onload=alert(1)>",
    "```mermaid\ngraph TD; A-->B\n```",
    "https://autolink.example/path www.example.com a@b.example",
]
ALLOWED_TAGS = {
    "div",
    "p",
    "ul",
    "li",
    "a",
    "span",
    "strong",
    "em",
    "mark",
    "blockquote",
    "details",
    "summary",
    "table",
    "tr",
    "td",
    "h3",
    "br",
}
ALLOWED_ATTRS = {"class", "href", "id", "title", "role", "target", "rel"}


class TagCollector(HTMLParser):
    """Every tag and attribute a browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(markup)
    collector.close()
    return collector


def assert_only_our_markup(markup: str) -> None:
    for tag, attrs in parse(markup).tags:
        assert tag in ALLOWED_TAGS, (tag, markup)
        assert set(attrs) <= ALLOWED_ATTRS, (tag, attrs)
        href = attrs.get("href")
        if href is not None:
            assert href.startswith("#src-") or re.match(r"https?://", href), href


def citation(n: int = 1, **overrides: object) -> Citation:
    passage = "Intro sentence. Russia, China and Cuba back Maduro. Closing words."
    quote = "Russia, China and Cuba back Maduro."
    start_in_passage = passage.index(quote)
    fields: dict[str, object] = {
        "n": n,
        "article_id": f"art-{n}",
        "chunk_id": f"art-{n}:0",
        "title": "Venezuela showdown at the UN",
        "source": "Wire",
        "url": "https://news.example/venezuela",
        "published": "2019-01-26T00:00:00+00:00",
        "quote": quote,
        "start": 1000 + start_in_passage,
        "end": 1000 + start_in_passage + len(quote),
        "passage": passage,
        "passage_start": 1000,
        "scores": {"bm25": 0.66, "dense": 0.39},
    }
    fields.update(overrides)
    return Citation(**fields)


def list_answer() -> Answer:
    return Answer(
        question="Which countries back Maduro?",
        answer="- Russia [1]\n- China [1][2]\n- Cuba [2]",
        citations=[citation(1), citation(2, supported=False)],
        items=[
            AnswerItem(text="Russia", citations=[1]),
            AnswerItem(text="China", citations=[1, 2]),
            AnswerItem(text="Cuba", citations=[2]),
        ],
    )


# --- escaping ----------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", XSS)
def test_escape_text_leaves_no_markup_and_round_trips(attack: str) -> None:
    escaped = escape_text(attack)
    assert "<" not in escaped.replace("<br>", "")
    for active in "[]()`*_$:{}":
        assert active not in escaped
    # What the browser shows is exactly the original text (newlines become <br>).
    assert "".join(parse(escaped).text) == attack.replace("\n", "")


@pytest.mark.parametrize("attack", XSS)
def test_escaped_text_is_inert_under_markdown(attack: str) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(escape_text(attack))
    tags = {tag for tag, _ in parse(rendered).tags}
    assert tags <= {"p", "br"}, rendered


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "/relative/path",
        "//evil.example/x",
        "http://",
        "ftp://files.example/x",
        "",
    ],
)
def test_safe_url_rejects_non_http(url: str) -> None:
    assert safe_url(url) is None


def test_safe_url_accepts_http_and_https() -> None:
    assert safe_url("https://a.example/x?y=1") == "https://a.example/x?y=1"
    assert safe_url("HTTP://a.example") == "HTTP://a.example"


# --- answers in the chat -------------------------------------------------------------------------
def test_list_answer_shows_each_item_with_linked_markers() -> None:
    markup = render_answer(list_answer(), key=7)
    assert_only_our_markup(markup)
    items = re.findall(r"<li>(.*?)</li>", markup)
    assert [re.sub(r"<.*?>.*?</a>|<.*?>", "", i).strip() for i in items] == [
        "Russia",
        "China",
        "Cuba",
    ]
    assert items[1].count('href="#src-7-') == 2
    assert f'href="#{anchor_id(7, 1)}"' in items[0]


def test_unsupported_citation_is_marked_in_chat_and_panel() -> None:
    answer = list_answer()
    chat = render_answer(answer, key=1)
    assert 'class="qa-cite qa-cite-unsupported" href="#src-1-2"' in chat
    assert "&#91;2?&#93;" in chat
    panel = render_sources(answer, key=1)
    card_2 = panel[panel.index('id="src-1-2"') - 60 :]
    assert "qa-source-unsupported" in card_2 and "Not verified" in card_2
    card_1 = panel[panel.index('id="src-1-1"') : panel.index('id="src-1-2"')]
    assert "Not verified" not in card_1


def test_markers_without_citation_stay_plain_text() -> None:
    markup = text_with_markers("Claim [1] and [9].", [citation(1)], key="k")
    assert 'href="#src-k-1"' in markup
    assert "src-k-9" not in markup and "qa-cite-missing" in markup


def test_prose_answer_with_grouped_markers() -> None:
    answer = Answer(question="q", answer="They met [1, 2].", citations=[citation(1), citation(2)])
    markup = render_answer(answer, key=3)
    assert markup.count('href="#src-3-') == 2


def test_bold_lead_renders_as_strong_and_stays_escaped() -> None:
    answer = Answer(
        question="q",
        answer="**Juan Guaido**: the interim leader [1].\n\nQuote. [1]",
        citations=[citation(1)],
    )
    markup = render_answer(answer, key=4)
    assert "<strong>Juan Guaido</strong>&#58; the interim leader" in markup
    assert "**" not in markup
    hostile = Answer(
        question="q", answer="**<script>alert(1)</script>** [1]", citations=[citation(1)]
    )
    markup = render_answer(hostile, key=5)
    assert_only_our_markup(markup)
    assert "<strong>&lt;script&gt;" in markup


def test_notice_filters_and_standalone_question_are_visible() -> None:
    answer = list_answer().model_copy(
        update={
            "notice": "The LLM timed out; showing the extractive answer.",
            "mode": "llm-fallback",
            "filters": DateFilter(since="2019-01-01", reason="question says 'in 2019'"),
            "standalone_question": "Which countries back <b>Maduro</b>?",
        }
    )
    markup = render_answer(answer, key=1)
    assert 'class="qa-notice"' in markup and "LLM timed out" in markup
    assert "qa-mode-llm-fallback" in markup
    assert "since 2019&#45;01&#45;01" in markup
    assert "&lt;b&gt;Maduro&lt;&#47;b&gt;" in markup


def test_abstention_is_a_distinct_box_listing_nearest_passages() -> None:
    nearest = Passage(
        chunk_id="c",
        article_id="a",
        text="Unrelated <b>text</b>.",
        start=0,
        end=20,
        title="Nearby <script>x</script>",
        source="Wire",
        published="2019-01-02",
        score=0.2,
        scores={"bm25": 0.1},
    )
    answer = Answer(
        question="Who won the 1930 World Cup?",
        answer="The articles don't say.",
        abstained=True,
        reason="The articles don't say: none mentions “World Cup”.",
        nearest=[nearest],
    )
    chat = render_answer(answer, key=2)
    assert_only_our_markup(chat)
    assert 'class="qa-abstain"' in chat and "Not found in the articles" in chat
    assert "Nearby &lt;script&gt;" in chat and "<script" not in chat
    assert "Unrelated &lt;b&gt;text" in chat  # a snippet says what each nearest passage is
    panel = render_sources(answer, key=2)
    assert_only_our_markup(panel)
    assert "Nearest passages" in panel and "Unrelated &lt;b&gt;text&lt;&#47;b&gt;" in panel


def test_a_photo_caption_is_shown_on_its_card_as_a_caption_and_escaped() -> None:
    answer = list_answer()
    article_id = answer.citations[0].article_id
    panel = render_sources(answer, key=4, captions={article_id: "Crowds <b>gather</b> [1]"})
    assert_only_our_markup(panel)
    assert panel.count('class="qa-caption"') == 1
    caption = panel.split('class="qa-caption">')[1].split("</div>")[0]
    assert (
        html.unescape(caption)
        == '<span class="qa-caption-label">Photo caption:</span> <em>Crowds <b>gather</b> [1]</em>'
    )
    assert "qa-caption" not in render_sources(answer, key=4)  # none without a caption


def test_outputs_are_single_line_so_markdown_keeps_them_one_html_block() -> None:
    markdown_it = pytest.importorskip("markdown_it")
    answer = list_answer()
    answer.items[0].text = "Russia\n\n# heading *x*"
    for markup in (render_answer(answer, 1), render_sources(answer, 1)):
        assert "\n" not in markup
        rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(markup)
        assert rendered.rstrip("\n") == markup


def test_snippet_is_one_line_and_cut_at_a_word() -> None:
    assert snippet("a  b\n\nc") == "a b c"
    cut = snippet("word " * 100, limit=23)
    assert cut == "word word word word …"


def test_partial_user_and_error_messages_are_escaped() -> None:
    assert "&lt;script&gt;" in render_partial("Russia <script>x</script> [1]")
    assert "&#91;1&#93;" in render_partial("Russia [1]")
    assert "Searching" in render_partial("  ")
    assert "&lt;img" in render_user("<img src=x onerror=alert(1)>")
    error = render_error("Chroma <down>")
    assert 'role="alert"' in error and "&lt;down&gt;" in error


# --- sources panel -----------------------------------------------------------------------------
def test_sources_card_has_title_link_source_date_highlight_and_scores() -> None:
    panel = render_sources(list_answer(), key=5)
    assert_only_our_markup(panel)
    card = panel[panel.index('id="src-5-1"') : panel.index('id="src-5-2"')]
    assert 'href="https://news.example/venezuela"' in card
    assert "Venezuela showdown at the UN" in card
    assert "Wire" in card and "2019&#45;01&#45;26" in card
    assert "<mark>Russia, China and Cuba back Maduro&#46;</mark>" in card
    assert "<details" in card and "bm25" in card


def test_highlight_uses_offsets_then_falls_back_to_search() -> None:
    good = citation()
    assert highlight_passage(good).count("<mark>") == 1
    shifted = citation(start=0, end=5)  # wrong offsets: the quote is still found by text
    assert "<mark>Russia, China and Cuba back Maduro&#46;</mark>" in highlight_passage(shifted)
    missing = citation(quote="Not in the passage.")
    markup = highlight_passage(missing)
    assert "<mark>Not in the passage&#46;</mark>" in markup and "Intro sentence" in markup
    repeated = citation(
        passage="Cuba. Cuba.", quote="Cuba.", start=1006, end=1011, passage_start=1000
    )
    assert highlight_passage(repeated) == "Cuba&#46; <mark>Cuba&#46;</mark>"


@pytest.mark.parametrize("attack", XSS)
def test_hostile_article_fields_never_become_markup(attack: str) -> None:
    hostile = citation(
        title=attack,
        source=attack,
        url="javascript:alert(1)",
        quote=attack,
        passage=f"Before. {attack} After.",
        start=1008,
        end=1008 + len(attack),
    )
    answer = Answer(
        question=attack,
        answer=f"{attack} [1]",
        citations=[hostile],
        also_reported_by={"art-1": [attack]},
        notice=attack,
    )
    for markup in (render_answer(answer, 1), render_sources(answer, 1)):
        assert_only_our_markup(markup)
        assert "javascript:" not in markup.lower()
    assert "<mark>" in render_sources(answer, 1)


@given(
    text=st.text(max_size=200),
    url=st.text(max_size=40),
    quote_at=st.integers(min_value=0, max_value=200),
)
@settings(max_examples=150, deadline=None)
def test_any_article_text_renders_to_our_markup_only(text: str, url: str, quote_at: int) -> None:
    quote = text[quote_at : quote_at + 20] or "x"
    cited = citation(
        title=text,
        source=text,
        url=url,
        quote=quote,
        passage=text,
        start=1000 + quote_at,
        end=1000 + quote_at + len(quote),
    )
    answer = Answer(
        question=text,
        answer=text + " [1]",
        citations=[cited],
        items=[AnswerItem(text=text, citations=[1])],
    )
    for markup in (render_answer(answer, 1), render_sources(answer, 1)):
        assert_only_our_markup(markup)
        assert "\n" not in markup


# --- articles tab ------------------------------------------------------------------------------
@dataclass
class Record:
    article_id: str
    title: str
    source: str
    published: str
    caption: str = ""


RECORDS = [
    Record("a1", "Security agents with the U.S. Embassy in Venezuela leave", "", "2019-01-26"),
    Record("a2", "OpenAI board ousts Sam Altman: what we know", "TechCrunch", "2023-11-18T10:00"),
    Record("a3", "Fed holds rates steady", "Reuters", "2023-12-13T00:00:00+00:00"),
]


def test_article_rows_newest_first_and_filtered_by_title() -> None:
    rows = article_rows(RECORDS)
    assert [r[3] for r in rows] == ["a3", "a2", "a1"]
    assert rows[0] == ["Fed holds rates steady", "Reuters", "2023-12-13", "a3"]
    assert [r[3] for r in article_rows(RECORDS, "  openai ")] == ["a2"]
    assert article_rows(RECORDS, "no such title") == []


def test_source_choices_are_distinct_and_skip_empty() -> None:
    assert source_choices([*RECORDS, Record("a4", "x", "Reuters", "")]) == ["Reuters", "TechCrunch"]


def test_example_questions_come_from_titles_and_the_seed() -> None:
    questions = example_questions(RECORDS)
    assert questions[:3] == [
        "Which countries back Maduro?",
        "Who is Juan Guaido?",
        "When did Maduro close the embassy in Washington?",
    ]
    assert questions[3:] == ["What is reported about Fed holds rates steady?"]  # newest title
    assert "What is reported about OpenAI board ousts Sam Altman?" in example_questions(
        RECORDS, limit=5
    )
    assert "Which countries back Maduro?" not in example_questions(RECORDS[1:])
    assert example_questions([]) == []


def test_ingest_report_lists_problems_escaped() -> None:
    report = {
        "added": 1,
        "failed": 1,
        "chunks": 5,
        "seconds": 1.5,
        "errors": [{"path": "<b>x.txt</b>", "line": 3, "reason": "not UTF-8"}],
        "warnings": [],
    }
    markup = render_ingest_report(report)
    assert_only_our_markup(markup)
    assert "qa-status-error" in markup and "1 added" in markup and "&lt;b&gt;x" in markup


def test_empty_sources_placeholder_is_static_markup() -> None:
    assert_only_our_markup(EMPTY_SOURCES_HTML)


def test_a_doubtful_answer_carries_a_caution_beside_any_notice() -> None:
    sure = list_answer()
    assert "Low confidence" not in render_answer(sure, key=1)
    doubtful = sure.model_copy(update={"doubtful": True, "notice": "The LLM timed out."})
    markup = render_answer(doubtful, key=2)
    assert markup.count('class="qa-notice"') == 2
    assert "LLM timed out" in markup and "Low confidence" in markup
    assert notices(doubtful) == [("Note", "The LLM timed out."), ("Low confidence", DOUBTFUL)]


@pytest.mark.parametrize("attack", XSS)
def test_the_apis_markdown_answer_shows_article_markup_as_text_everywhere(attack: str) -> None:
    """`answer` / `content` go to clients that render Markdown with HTML (round 19 sweep: an
    article's <img onerror> and [link](…) came out live). Article text is made literal there;
    the chat window and the terminal show the article's own characters."""
    markdown_it = pytest.importorskip("markdown_it")
    attack = " ".join(attack.split())  # a quote is one line
    quote = f"The mayor {attack} resigned [7]."
    answer = Answer(
        question="q",
        answer="",
        lead=Lead(text=f"Adam {attack}", citations=[1]),
        citations=[citation(1).model_copy(update={"quote": quote})],
    )

    text = answer_markdown(answer)
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(text)

    assert {tag for tag, _ in parse(rendered).tags} <= {"p", "strong", "br"}, rendered
    assert attack in html.unescape(re.sub(r"<[^>]+>", "", rendered))
    chat = Answer(question="q", answer=text, citations=answer.citations)
    assert_only_our_markup(render_answer(chat, key=1))
    assert render_answer(chat, key=1).count('href="#src-1-') == 2  # "[7]" is the article's
    assert text_with_days(chat) == f"**Adam {attack}** [1].\n\n{quote} [1]"
    assert html.unescape(render_partial(text)).count("\\") == attack.count("\\")


@pytest.mark.parametrize(
    "quote", ["# Breaking", "> quoted", "- dash", "+ plus", "1. First", "2) Then"]
)
def test_a_quote_opening_the_answer_never_becomes_a_heading_quote_or_list(quote: str) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    answer = Answer(
        question="q", answer="", citations=[citation(1).model_copy(update={"quote": quote})]
    )

    rendered = markdown_it.MarkdownIt("commonmark").render(answer_markdown(answer))

    assert {tag for tag, _ in parse(rendered).tags} == {"p"}, rendered
    assert quote in html.unescape(rendered)
