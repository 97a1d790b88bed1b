"""Article loaders: every format, every alias, and bad input that never stops the stream."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from index.loaders import (
    MAX_FILE_BYTES,
    SUPPORTED_SUFFIXES,
    headline,
    load_paths,
    load_records,
    parse_date,
)
from index.models import Article, LoadProblem, content_id
from index.settings import SAMPLE_CORPUS
from qa.eval.multihop import corpus_path

FIXTURES = Path(__file__).parent / "fixtures" / "loaders"
SEED = SAMPLE_CORPUS / "venezuela-2019-01-26.txt"
CORPUS = corpus_path()

GOOD_TEXT = "Good headline\n\nA good article body that must still load."


def split(items) -> tuple[list[Article], list[LoadProblem]]:
    items = list(items)
    assert all(isinstance(item, Article | LoadProblem) for item in items)
    return (
        [i for i in items if isinstance(i, Article)],
        [i for i in items if isinstance(i, LoadProblem)],
    )


# --- seed format -----------------------------------------------------------------------------


def test_seed_file_loads_date_caption_title_body():
    articles, problems = split(load_paths([SEED]))
    assert problems == []
    [article] = articles
    assert article.published == datetime(2019, 1, 26, tzinfo=UTC)
    assert article.caption.startswith("Security agents with the U.S. Embassy in Venezuela")
    assert article.caption.endswith("their families Friday.")
    # The first line is a photo caption: it stays the caption, and the title is the headline
    # of the body's first sentence without its dateline ("UNITED NATIONS -- "), <= ~120 chars.
    assert article.title.startswith("Venezuela's political showdown moves to the United Nations")
    assert len(article.title) <= 121 and "Security agents" not in article.title
    # Its id is the one it had when the caption was the title: an old index updates in place.
    assert article.article_id == content_id(headline(article.caption), article.body)
    assert article.body.startswith("UNITED NATIONS -- Venezuela's political showdown")
    assert "\n\n" in article.body and not article.body.startswith(" date")
    assert article.source == "" and article.url == ""
    assert article.article_id.startswith("sha256:")
    assert article.origin == SEED.name  # the file name: never the server path


def test_a_caption_without_a_title_gives_way_to_the_body_for_the_title():
    [article] = load_records(
        [{"caption": "Crowds gather in the square.", "body": "ROME -- The mayor resigned. More."}],
        "api",
    )
    assert isinstance(article, Article)
    assert (article.title, article.caption) == (
        "The mayor resigned",
        "Crowds gather in the square.",
    )
    assert article.article_id == content_id("Crowds gather in the square", article.body)
    [untitled] = load_records([{"body": "ROME -- The mayor resigned. More."}], "api")
    assert isinstance(untitled, Article) and untitled.title == "The mayor resigned"
    assert untitled.article_id == content_id("ROME -- The mayor resigned", untitled.body)
    [titled] = load_records([{"title": "T", "caption": "C.", "body": "B."}], "api")
    assert isinstance(titled, Article) and titled.title == "T"
    assert titled.article_id == content_id("T", "B.")  # a real title still names it


def test_seed_first_line_without_leading_space(tmp_path: Path):
    path = tmp_path / "seed.txt"
    path.write_text("date 2021-05-03 Crowds gather. More text.\n\nBody paragraph one.\n")
    [article] = load_paths([path])
    assert article.published_date == "2021-05-03"
    assert article.caption == "Crowds gather. More text."
    assert article.title == "Body paragraph one"
    assert article.body == "Body paragraph one."


def test_first_line_starting_with_the_word_date_is_not_the_seed_format(tmp_path: Path):
    path = tmp_path / "date-night.txt"
    path.write_text("Date night ideas for couples\n\nGo out for dinner.")
    [article] = load_paths([path])
    assert (article.title, article.caption, article.published) == (
        "Date night ideas for couples",
        "",
        None,
    )


# --- MultiHop-RAG corpus ---------------------------------------------------------------------


def test_corpus_json_loads_609_articles_with_urls_sources_dates():
    articles, problems = split(load_paths([CORPUS]))
    assert problems == []
    assert len(articles) == 609
    assert len({a.article_id for a in articles}) == 609
    assert all(a.article_id == a.url and a.url.startswith("http") for a in articles)
    assert all(a.source and a.published and a.title and a.body for a in articles)
    assert all(a.published.tzinfo is not None for a in articles)
    assert not any(a.author in ("None", "null") for a in articles)
    assert sum(a.author == "" for a in articles) == 68  # 64 null + 4 "" authors in the corpus
    first = articles[0]
    assert first.source == "Mashable" and first.category == "entertainment"
    assert first.published == datetime(2023, 11, 27, 8, 45, 59, tzinfo=UTC)
    assert first.origin == f"{CORPUS.name}#0"


# --- HTML, markdown, plain text --------------------------------------------------------------


def test_html_title_date_author_source_url_and_main_text():
    [article] = load_paths([FIXTURES / "article.html"])
    assert article.title == "Council approves river bridge"
    assert article.published_date == "2023-10-07"
    assert article.author == "Jane Doe"
    assert article.source == "Riverside Gazette"
    assert article.url == "https://gazette.example/news/council-approves-bridge"
    assert article.body.startswith("The city council voted 7 to 2")
    assert "Opponents said" in article.body
    assert article.body.count("\n\n") == 2  # three paragraphs
    assert "Home" not in article.body and "All rights reserved" not in article.body


def test_markdown_front_matter_and_light_markup_stripping():
    [article] = load_paths([FIXTURES / "note.md"])
    assert article.title == "Harbour reopens after storm"
    assert article.published_date == "2023-03-14"
    assert (article.source, article.author) == ("Coastal Times", "Sam Lee")
    assert article.url == "https://coastal.example/harbour-reopens"
    assert "The harbour reopened on Monday after" in article.body
    assert "About forty boats were damaged" in article.body
    assert "snake_case_name" in article.body
    assert "#" not in article.body and "*" not in article.body and "](" not in article.body


def test_markdown_heading_becomes_title(tmp_path: Path):
    path = tmp_path / "story.md"
    path.write_text("\n# Floods hit the *valley*\n\nRivers rose overnight.\n\n## Later\n\nMore.")
    [article] = load_paths([path])
    assert article.title == "Floods hit the valley"
    assert article.body == "Rivers rose overnight.\n\nLater\n\nMore."


def test_plain_text_first_line_is_title(tmp_path: Path):
    path = tmp_path / "plain.txt"
    path.write_bytes(
        b"Markets rally\r\nStocks rose sharply on Friday.  \r\n\r\n\r\n\r\nBonds fell.\r\n"
    )
    [article] = load_paths([path])
    assert article.title == "Markets rally"
    assert article.body == "Stocks rose sharply on Friday.\n\nBonds fell."  # normalised
    assert article.published is None and article.source == ""


def test_single_long_paragraph_keeps_all_text_in_body(tmp_path: Path):
    text = "The committee met again on Monday. " * 10
    path = tmp_path / "one.txt"
    path.write_text(text)
    [article] = load_paths([path])
    assert article.body == text.strip()
    assert article.title == "The committee met again on Monday"


@pytest.mark.parametrize(
    ("opening", "published", "source"),
    [
        ("SANTIAGO, March 4, 2024 (Reuters) - Chile signed", "2024-03-04", "Reuters"),
        ("FRANKFURT, June 6, 2024 - The bank cut", "2024-06-06", ""),
        ("WASHINGTON (AP) — The Senate voted", "", "AP"),
        ("LONDON, June 3 (Reuters) - Shares fell", "", "Reuters"),  # no year: no date guessed
        ("U.S. - China talks resumed", "", ""),  # a hyphen, not a dateline
    ],
)
def test_a_text_article_takes_date_and_outlet_from_its_dateline(
    tmp_path: Path, opening: str, published: str, source: str
):
    body = f"{opening} on Monday, officials said. More text."
    for name, text in (("plain.txt", f"A headline\n\n{body}"), ("lead.md", body)):
        path = tmp_path / name
        path.write_text(text)
        [article] = load_paths([path])
        assert isinstance(article, Article)
        assert (article.published_date, article.source) == (published, source)
        assert article.body == body  # the dateline stays: citations quote the body


def test_front_matter_and_the_seed_date_line_win_over_the_dateline(tmp_path: Path):
    dateline = "SANTIAGO, March 4, 2024 (Reuters) - Chile signed a deal."
    fronted = tmp_path / "fronted.md"
    fronted.write_text(f"---\ntitle: Deal\ndate: 2024-03-05\n---\n\n{dateline}\n")
    seed = tmp_path / "seed.txt"
    seed.write_text(f" date 2024-03-06 A photo caption.\n{dateline}\n")
    sourced = tmp_path / "sourced.md"
    sourced.write_text(f"---\nsource: Reuters Chile\n---\n\n{dateline}\n")
    [a, b, c] = load_paths([fronted, seed, sourced])
    assert (a.published_date, a.source) == ("2024-03-05", "Reuters")
    assert (b.published_date, b.source) == ("2024-03-06", "Reuters")
    assert (c.published_date, c.source) == ("2024-03-04", "Reuters Chile")


def test_bidi_controls_are_dropped_and_bidi_marks_kept(tmp_path: Path):
    """An override (U+202E) makes a quote display in another order than its characters
    ("said gnorw si siht" inside one reads "said this is wrong"); RLM/LRM are Arabic and
    Hebrew text's own marks and stay."""
    override = "said \u202egnorw si siht\u202c and \u2067isolated\u2069 \u202aembedded\u202c"
    kept = "said gnorw si siht and isolated embedded"
    [record] = load_records(
        [{"title": "RTL \u202eevil\u202c", "source": "\u202eSOURCE\u202c", "body": override}], "api"
    )
    assert isinstance(record, Article)
    assert (record.title, record.source, record.body) == ("RTL evil", "SOURCE", kept)
    path = tmp_path / "arabic.txt"
    path.write_text(
        "\u0627\u0644\u0631\u064a\u0627\u0636\u200f 2024\n\nBody \u200f\u202b1.5\u202c.\n"
    )
    [article] = load_paths([path])
    assert article.title == "\u0627\u0644\u0631\u064a\u0627\u0636\u200f 2024"
    assert article.body == "Body \u200f1.5."


def test_headline_cuts_long_sentence_at_word_boundary():
    title = headline("word " * 60)
    assert len(title) <= 121 and title.endswith("word…")


# --- aliases and dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field", "expected"),
    [
        ({"headline": "H", "body": "b"}, "title", "H"),
        ({"text": "from text"}, "body", "from text"),
        ({"content": "from content"}, "body", "from content"),
        ({"article": "from article"}, "body", "from article"),
        ({"body": "b", "link": "https://x.example/a"}, "url", "https://x.example/a"),
        ({"body": "b", "byline": "By Ann"}, "author", "By Ann"),
        ({"body": "b", "authors": ["Ann", "Bo"]}, "author", "Ann, Bo"),
        ({"body": "b", "author": "None"}, "author", ""),
        ({"body": "b", "author": None}, "author", ""),
        ({"body": "b", "publisher": "P"}, "source", "P"),
        ({"body": "b", "site": "S"}, "source", "S"),
        ({"body": "b", "sitename": "SN"}, "source", "SN"),
        ({"body": "b", "source": {"id": None, "name": "BBC News"}}, "source", "BBC News"),
        ({"body": "b", "category": "sports"}, "category", "sports"),
        ({"body": "b", "date": "2023-10-07"}, "published_date", "2023-10-07"),
        ({"body": "b", "publishedAt": "2023-10-07T12:00:00Z"}, "published_date", "2023-10-07"),
        ({"body": "b", "published": "2023-10-07"}, "published_date", "2023-10-07"),
        ({"body": "b", "published_at": "2023-10-07"}, "published_date", "2023-10-07"),
        ({"body": "b", "pubDate": "Sat, 07 Oct 2023 12:00:00 GMT"}, "published_date", "2023-10-07"),
    ],
)
def test_field_aliases(record: dict, field: str, expected: str):
    [article] = load_records([record], origin="api")
    assert getattr(article, field) == expected
    assert article.origin == "api#0"


@pytest.mark.parametrize(
    "value",
    [
        "2023-10-07",
        "2023-10-07T12:00:00Z",
        "2023-10-07T12:00:00+00:00",
        "2023-10-07 12:00:00",
        "Sat, 07 Oct 2023 12:00:00 GMT",
        "Sat, 07 Oct 2023 12:00:00 +0000",
        "October 7, 2023",
        1696680000,
    ],
)
def test_parse_date_formats_are_utc_aware(value):
    parsed = parse_date(value)
    assert parsed.date().isoformat() == "2023-10-07"
    assert parsed.utcoffset() is not None


def test_json_wrapper_object_and_single_record(tmp_path: Path):
    wrapped = tmp_path / "newsapi.json"
    wrapped.write_text(
        json.dumps(
            {
                "status": "ok",
                "articles": [
                    {"title": "A", "content": "Body A", "source": {"name": "Reuters"}},
                    {"title": "B", "description": "no body here"},
                ],
            }
        )
    )
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"title": "C", "body": "Body C", "url": "https://c.example"}))
    articles, problems = split(load_paths([wrapped, single]))
    assert [(a.title, a.source) for a in articles] == [("A", "Reuters"), ("C", "")]
    assert articles[1].article_id == "https://c.example"
    [problem] = problems
    assert problem.path == str(wrapped) and "index 1" in problem.reason


def test_load_records_reports_non_objects_and_keeps_going():
    articles, problems = split(load_records([{"body": "x"}, "oops", {"text": "y"}], "upload"))
    assert [a.body for a in articles] == ["x", "y"]
    [problem] = problems
    assert problem.path == "upload" and "index 1" in problem.reason and "string" in problem.reason
    [single] = load_records({"body": "a dict, not a list"}, "upload")  # type: ignore[arg-type]
    assert single.body == "a dict, not a list"


# --- bad input never stops the stream --------------------------------------------------------

# Each case writes one bad input into tmp_path and returns (path, expected reason fragment,
# expected line, fatal, articles that should still load from the bad input itself).
BadCase = Callable[[Path], tuple[Path, str, int | None, bool, int]]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_CASES: dict[str, BadCase] = {
    "empty file": lambda d: (_write(d / "empty.txt", b""), "empty", None, True, 0),
    "whitespace only": lambda d: (_write(d / "blank.md", b"  \n\n\t"), "empty", None, True, 0),
    "binary NUL bytes": lambda d: (
        _write(d / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        "binary",
        None,
        True,
        0,
    ),
    "binary control chars": lambda d: (
        _write(d / "blob.txt", bytes(range(1, 9)) * 40),
        "binary",
        None,
        True,
        0,
    ),
    "invalid utf-8 (cp1252)": lambda d: (
        _write(d / "latin.txt", b"Caf\xe9 opens\n\nThe caf\xe9 opened today."),
        "decoded as cp1252",
        None,
        False,
        1,
    ),
    "invalid utf-8 (latin-1)": lambda d: (
        _write(d / "weird.txt", b"Title\n\nBad byte \x81 here."),
        "decoded as latin-1",
        None,
        False,
        1,
    ),
    "malformed json": lambda d: (
        _write(d / "bad.json", b'[\n{"title": "x",\n "body": }\n]'),
        "malformed JSON",
        3,
        True,
        0,
    ),
    "json top level not object": lambda d: (
        _write(d / "num.json", b"42"),
        "object or a list",
        None,
        True,
        0,
    ),
    "json record not object": lambda d: (
        _write(d / "list.json", b'[{"body": "fine"}, [1, 2]]'),
        "index 1 is not a JSON object",
        None,
        True,
        1,
    ),
    "jsonl bad line": lambda d: (
        _write(d / "feed.jsonl", b'{"body": "one"}\n{"body": "tw\n{"body": "three"}\n'),
        "malformed JSON",
        2,
        True,
        2,
    ),
    "jsonl record not object": lambda d: (
        _write(d / "feed2.jsonl", b'{"body": "one"}\n\n"just a string"\n'),
        "not a JSON object",
        3,
        True,
        1,
    ),
    "missing body": lambda d: (
        _write(d / "nobody.json", b'{"title": "No body"}'),
        "missing or empty body",
        None,
        True,
        0,
    ),
    "empty body": lambda d: (
        _write(d / "emptybody.jsonl", b'{"title": "T", "body": "  \\n "}\n'),
        "missing or empty body",
        1,
        True,
        0,
    ),
    "markdown with only front matter": lambda d: (
        _write(d / "front.md", b"---\ntitle: X\n---\n"),
        "no article text after the front matter",
        None,
        True,
        0,
    ),
    "markdown with only a heading": lambda d: (
        _write(d / "heading.md", b"# Just a heading\n"),
        "no article text after the title",
        None,
        True,
        0,
    ),
    "seed date line with no text": lambda d: (
        _write(d / "seed.txt", b" date 2019-01-26 Protesters march in Caracas\n"),
        "no article text after the date line",
        None,
        True,
        0,
    ),
    "unparseable date": lambda d: (
        _write(d / "date.json", b'{"body": "text", "date": "sometime last week"}'),
        "unparseable date 'sometime last week'",
        None,
        False,
        1,
    ),
    "too large": lambda d: (
        _sparse(d / "huge.jsonl", 3 * MAX_FILE_BYTES),  # its size, not what was read, is said
        "too large: 30.0 MB",
        None,
        True,
        0,
    ),
    "html without article text": lambda d: (
        _write(d / "script.html", b"<html><body><script>var x = 1;</script></body></html>"),
        "no article text",
        None,
        True,
        0,
    ),
    "missing path": lambda d: (d / "does-not-exist.txt", "no such file", None, True, 0),
    "unsupported type named explicitly": lambda d: (
        _write(d / "report.docx", b"PK\x03\x04"),
        "unsupported file type '.docx'",
        None,
        True,
        0,
    ),
}


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)  # sparse: no 20 MB actually written
    return path


@pytest.mark.parametrize("case", list(BAD_CASES), ids=list(BAD_CASES))
def test_bad_input_is_reported_and_good_input_still_loads(case: str, tmp_path: Path):
    bad, reason, line, fatal, kept = BAD_CASES[case](tmp_path)
    before = _write(tmp_path / "before.txt", GOOD_TEXT.encode())
    after = _write(tmp_path / "after.json", json.dumps({"title": "After", "body": "ok"}).encode())

    articles, problems = split(load_paths([before, bad, after]))

    [problem] = problems
    assert problem.path == str(bad)
    assert reason in problem.reason
    assert problem.line == line
    assert problem.fatal is fatal
    assert str(bad) in str(problem)  # the rendered message names the input
    titles = [a.title for a in articles]
    assert titles[0] == "Good headline" and titles[-1] == "After"
    assert len(articles) == 2 + kept


def test_kept_articles_from_bad_inputs_have_the_right_content(tmp_path: Path):
    latin = _write(tmp_path / "latin.txt", b"Caf\xe9 opens\n\nThe caf\xe9 opened today.")
    dated = _write(tmp_path / "d.json", b'{"body": "text", "date": "not a date"}')
    feed = _write(tmp_path / "f.jsonl", b'{"body": "one"}\n{bad\n{"body": "three"}\n')
    articles, _ = split(load_paths([latin, dated, feed]))
    assert articles[0].title == "Café opens" and articles[0].body == "The café opened today."
    assert articles[1].body == "text" and articles[1].published is None
    assert [a.origin for a in articles[2:]] == [f"{feed.name}:1", f"{feed.name}:3"]


def test_utf8_bom_and_utf16_decode(tmp_path: Path):
    bom = _write(tmp_path / "bom.txt", "\ufeffTitle\n\nBody é".encode())
    utf16 = _write(tmp_path / "u16.txt", "Title16\n\nBody16".encode("utf-16"))
    articles, problems = split(load_paths([bom, utf16]))
    assert [a.title for a in articles] == ["Title", "Title16"]
    assert articles[0].body == "Body é"
    [problem] = problems
    assert problem.path == str(utf16) and not problem.fatal and "UTF-16" in problem.reason


# --- directories -----------------------------------------------------------------------------


def test_directory_walk_is_recursive_sorted_and_skips_hidden_and_unsupported(tmp_path: Path):
    root = tmp_path / "news"
    (root / "b_dir" / "deeper").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "a.txt").write_text("A\n\nalpha")
    (root / "c.md").write_text("# C\n\ngamma")
    (root / "b_dir" / "b.json").write_text(
        json.dumps([{"title": "B1", "body": "x"}, {"title": "B2", "body": "y"}])
    )
    (root / "b_dir" / "deeper" / "d.jsonl").write_text('{"title": "D", "body": "delta"}\n')
    (root / "b_dir" / "notes.odt").write_bytes(b"PK")  # unsupported: skipped, and said so
    (root / ".hidden.txt").write_text("H\n\nhidden")
    (root / ".git" / "x.txt").write_text("G\n\ngit")

    first = list(load_paths([root]))
    assert first == list(load_paths([str(root)]))  # deterministic
    articles, problems = split(first)
    [skipped] = problems
    assert not skipped.fatal and "skipped 1 file of unsupported types (1 .odt)" in skipped.reason
    assert [a.title for a in articles] == ["A", "B1", "B2", "D", "C"]


def test_empty_directory_is_a_warning(tmp_path: Path):
    [problem] = load_paths([tmp_path])
    assert isinstance(problem, LoadProblem) and not problem.fatal
    assert problem.path == str(tmp_path) and "contains no files" in problem.reason


def test_supported_suffixes_cover_the_documented_formats():
    assert {".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".pdf"} <= SUPPORTED_SUFFIXES


@pytest.mark.parametrize("given", ["file:///etc/passwd", Path("file:///etc/passwd"), "ftp://x/a"])
def test_a_url_of_another_scheme_is_refused_as_such(given: str | Path) -> None:
    """ "file:///etc/passwd" was reported as "no such file or directory": nothing was read,
    but the reason named the wrong thing (only http(s) URLs are fetched)."""
    (problem,) = list(load_paths([given]))
    assert isinstance(problem, LoadProblem) and "only http(s) URLs" in problem.reason
