"""PDF articles, on PDFs the tests write themselves: text, title, date and author; encrypted,
text-less and broken files reported by name while the rest is ingested; PDFs in folders, in
the CLI, in the HTTP upload, and `.pdf` in every upload type list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from index.loaders import SUPPORTED_SUFFIXES, load_paths
from index.models import Article, LoadProblem
from tests.pdf_fixtures import broken_pdf, image_only_pdf, text_pdf, wrapped
from tests.test_cli_ingest import cli_env, run

__all__ = ["cli_env"]  # the CLI fixture, shared with test_cli_ingest

LEAD = (
    "The Pellworth harbour lighthouse reopened on Thursday after a two-year restoration that "
    "cost 3.4 million euros, the town council said."
)
# A paragraph laid out in full lines, one name hyphenated at a line end.
SECOND_LINES = [
    "The keeper of the restored tower since 1998, Ilse Mar-",
    "wede, said the new lens is visible for 22 nautical miles and",
    "that visitors can climb the 131 steps on weekends from June.",
]
FOOTER = "Coastal Gazette - https://gazette.test/lighthouse"


def article_pdf(**options: object) -> bytes:
    """Two pages as a browser prints an article: heading, dateline, wrapped paragraphs (one
    running onto page 2, one word hyphenated at a line end), a footer and page numbers."""
    lead = wrapped(LEAD, 60)
    page_one = ["Harbour lighthouse reopens", "By Anna Berg, March 2, 2024", *lead[:2], FOOTER]
    page_two = [*lead[2:], *SECOND_LINES, FOOTER, "Page 2 of 2"]
    page_one.append("Page 1 of 2")
    return text_pdf([page_one, page_two], **options)  # type: ignore[arg-type]


def split(items: list[Article | LoadProblem]) -> tuple[list[Article], list[LoadProblem]]:
    return (
        [i for i in items if isinstance(i, Article)],
        [i for i in items if isinstance(i, LoadProblem)],
    )


def write(path: Path, raw: bytes) -> Path:
    path.write_bytes(raw)
    return path


# --- what a PDF gives -------------------------------------------------------------------------


def test_text_title_date_and_author_from_a_two_page_article(tmp_path: Path) -> None:
    path = write(tmp_path / "lighthouse.pdf", article_pdf(author="Anna Berg"))
    articles, problems = split(list(load_paths([path])))
    assert problems == []
    [article] = articles
    assert article.title == "Harbour lighthouse reopens"
    assert article.published == datetime(2024, 3, 2, tzinfo=UTC)
    assert article.author == "Anna Berg"
    paragraphs = article.body.split("\n\n")
    assert paragraphs[0] == "By Anna Berg, March 2, 2024"
    assert LEAD in paragraphs  # wrapped lines joined, across the page break
    assert paragraphs[2] == (
        "The keeper of the restored tower since 1998, Ilse Marwede, said the new lens is "
        "visible for 22 nautical miles and that visitors can climb the 131 steps on weekends "
        "from June."
    )  # full lines joined, the hyphenated name whole again
    assert len(paragraphs) == 3
    assert FOOTER not in article.body and "Page" not in article.body
    assert article.origin == path.name  # the file name: never the server path


def test_a_footer_line_the_article_itself_repeats_is_kept_in_the_text(tmp_path: Path) -> None:
    lead = wrapped(LEAD, 60)
    pages = [
        ["Harbour lighthouse reopens", *lead, "Quoted:", FOOTER, *SECOND_LINES, FOOTER],
        [*lead, *SECOND_LINES, *lead, FOOTER],  # the keeper's paragraph again, mid-page
    ]
    [article] = load_paths([write(tmp_path / "footer.pdf", text_pdf(pages))])
    assert isinstance(article, Article)
    assert article.body.count(FOOTER) == 1  # mid-page on page 1: text; page ends: a footer
    assert article.body.count("Ilse Marwede") == 2  # the repeated paragraph is kept twice


def test_every_word_but_the_running_footer_is_kept(tmp_path: Path) -> None:
    """Pages of the same layout, whose third lines are the same words on every page: only
    the footer is a running line, not body lines near the page tops."""
    paragraphs = [[f"({n}.{i}) {LEAD} (part {n}.{i})" for i in range(3)] for n in range(4)]
    pages = [
        [f"Part {n}", *[line for text in texts for line in wrapped(text, 60)], FOOTER]
        for n, texts in enumerate(paragraphs)
    ]
    assert all(page[2] == pages[0][2] for page in pages)  # the same line near every page top
    [article] = load_paths([write(tmp_path / "parts.pdf", text_pdf(pages))])
    assert isinstance(article, Article)
    words = [w for page in pages for line in page if line != FOOTER for w in line.split()]
    assert article.body.split() == words[2:]  # "Part 0" is the title
    assert article.title == "Part 0"


def test_document_title_wins_and_creation_date_is_the_fallback(tmp_path: Path) -> None:
    raw = text_pdf(
        [["Lighthouse reopens after two years", "", *wrapped(LEAD)]],
        title="Harbour lighthouse reopens | Coastal Gazette",
        created="D:20240305093000Z",
    )
    [article] = load_paths([write(tmp_path / "a.pdf", raw)])
    assert isinstance(article, Article)
    assert article.title == "Harbour lighthouse reopens | Coastal Gazette"
    assert article.body.startswith("Lighthouse reopens after two years\n\n")  # kept: body text
    assert article.published == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)


def test_a_file_name_as_document_title_is_not_the_title(tmp_path: Path) -> None:
    raw = text_pdf([["Bridge closed for repairs", "", *wrapped(LEAD)]], title="draft-3.docx")
    [article] = load_paths([write(tmp_path / "b.pdf", raw)])
    assert isinstance(article, Article) and article.title == "Bridge closed for repairs"
    assert article.published is None  # no dateline, no creation date


def test_a_pdf_restricted_by_an_owner_password_only_still_opens(tmp_path: Path) -> None:
    raw = text_pdf([["Bridge closed", "", *wrapped(LEAD)]], owner_password="owner")
    [article] = load_paths([write(tmp_path / "restricted.pdf", raw)])
    assert isinstance(article, Article) and LEAD in article.body


# --- bad PDFs: named, with the reason; the rest goes on ------------------------------------

BAD_PDFS = {
    "encrypted": (lambda: text_pdf([["Secret", "", LEAD]], password="s3cret"), "password"),
    "scanned, no text layer": (lambda: image_only_pdf(3), "no text layer in its 3 pages"),
    "broken": (broken_pdf, "not a readable PDF"),
    "truncated": (lambda: text_pdf([["Cut", "", LEAD]])[:300], "not a readable PDF"),
    "a text file named .pdf": (lambda: b"just some words, not a PDF", "not a readable PDF"),
}


@pytest.mark.parametrize("case", list(BAD_PDFS), ids=list(BAD_PDFS))
def test_a_bad_pdf_is_reported_by_name_and_the_rest_loads(case: str, tmp_path: Path) -> None:
    make, reason = BAD_PDFS[case]
    bad = write(tmp_path / "bad.pdf", make())
    before = write(tmp_path / "before.txt", b"Before\n\nA text article.")
    after = write(tmp_path / "after.pdf", text_pdf([["After", "", LEAD]]))
    articles, problems = split(list(load_paths([before, bad, after])))
    [problem] = problems
    assert problem.path == str(bad) and problem.fatal
    assert reason in problem.reason, problem.reason
    assert str(bad) in str(problem)
    assert [a.title for a in articles] == ["Before", "After"]


# --- folders ------------------------------------------------------------------------------------


def test_a_pdf_in_a_mixed_folder_is_ingested_and_other_types_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    write(folder / "lighthouse.pdf", article_pdf())
    write(folder / "bridge.md", b"# Bridge closed\n\nThe bridge is closed.")
    write(folder / "photo.png", b"\x89PNG\r\n\x1a\n")
    write(folder / "notes.docx", b"PK\x03\x04")
    articles, problems = split(list(load_paths([folder])))
    assert sorted(a.title for a in articles) == ["Bridge closed", "Harbour lighthouse reopens"]
    [warning] = problems
    assert not warning.fatal and warning.path == str(folder)
    assert "skipped 2 files of unsupported types (1 .docx, 1 .png)" in warning.reason


def test_a_folder_of_only_unsupported_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "photo.png", b"\x89PNG\r\n\x1a\n")
    [problem] = load_paths([tmp_path])
    assert isinstance(problem, LoadProblem) and problem.fatal
    assert "no supported files: 1 file of other types (1 .png)" in problem.reason
    assert ".pdf" in problem.reason  # what would have been read


# --- every entry point ------------------------------------------------------------------------


def test_cli_ingests_a_folder_of_pdfs_and_fails_on_one_of_only_unsupported_files(
    cli_env: object, tmp_path: Path
) -> None:
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    write(pdfs / "lighthouse.pdf", article_pdf())
    write(pdfs / "locked.pdf", text_pdf([["Locked", "", LEAD]], password="pw"))
    result = run("ingest", str(pdfs), "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and (report["added"], report["failed"]) == (1, 1)
    [error] = report["errors"]
    assert error["path"].endswith("locked.pdf") and "password" in error["reason"]

    others = tmp_path / "others"
    others.mkdir()
    write(others / "scan.tiff", b"II*\x00")
    result = run("ingest", str(others))
    assert result.exit_code == 1
    assert "no supported files: 1 file of other types (1 .tiff)" in result.stderr
    assert "0 added" in result.stdout


def test_upload_type_lists_agree_on_pdf() -> None:
    import ui
    from qa.api.routes import check_upload_name
    from qa.cli import ingest

    assert ".pdf" in SUPPORTED_SUFFIXES
    assert sorted(SUPPORTED_SUFFIXES) == ui.UPLOAD_TYPES
    assert check_upload_name("Article.PDF") == "Article.PDF"
    assert all(suffix in (ingest.__doc__ or "") for suffix in SUPPORTED_SUFFIXES)


def test_http_upload_ingests_a_pdf_and_reports_a_broken_one(tmp_path: Path) -> None:
    import httpx

    from qa.api import create_app
    from tests.api_fixtures import make_assistant, serve_in_thread

    assistant = make_assistant(tmp_path / "data", ingest=False)
    files = [
        ("files", ("lighthouse.pdf", article_pdf(), "application/pdf")),
        ("files", ("broken.pdf", broken_pdf(), "application/pdf")),
    ]
    with serve_in_thread(create_app(assistant, assistant.settings)) as url:
        reply = httpx.post(f"{url}/api/v1/articles", files=files, timeout=120)
        listed = httpx.get(f"{url}/api/v1/articles", timeout=30).json()
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["added"] == 1 and body["failed"] == 1
    [error] = body["errors"]
    assert error["path"] == "broken.pdf" and "not a readable PDF" in error["reason"]
    assert [a["title"] for a in listed["articles"]] == ["Harbour lighthouse reopens"]
    assert listed["articles"][0]["published"].startswith("2024-03-02")
