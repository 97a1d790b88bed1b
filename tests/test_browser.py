"""The chat window in a real browser: Debian chromium driven by Playwright.

The app is the real composition (qa.server.build_server: API + UI at "/") under uvicorn on a
free loopback port, over a fresh index holding the seed article and two small documents.
Screenshots go to artifacts/ (gitignored); the answer screenshot is also copied to
docs/screenshot.png.
"""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.api_fixtures import make_assistant

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
COUNTRIES = ["Russia", "China", "Iran", "Syria", "Cuba", "Turkey"]
ANSWER_TIMEOUT_MS = 180_000  # a busy 2-core machine, first question loads lazy state

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
HOSTILE_RECORD = {
    "title": f"Zorblat festival {SCRIPT} {IMG}",
    "source": f"Quenton Herald {IMG}",
    "url": "javascript:window.__pwned=3",
    "published": "2021-06-05",
    "body": (
        f"The Zorblat festival in Quenton drew 41,000 visitors this year {SCRIPT} according "
        f"to its organisers. Organisers said {IMG} the Zorblat festival will return next "
        "summer, see [details](javascript:window.__pwned=4) and **the programme**."
    ),
}


@contextmanager
def serve_with_lifespan(app: Any) -> Iterator[str]:
    """uvicorn in a daemon thread on a free loopback port. Lifespan on: the mounted gradio app
    starts its queue workers at start-up, and without them every chat event waits forever."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from qa.server import build_server

    assistant = make_assistant(tmp_path_factory.mktemp("browser") / "data")
    with serve_with_lifespan(build_server(assistant.settings, assistant)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(app_url + "/", wait_until="domcontentloaded")
    page.wait_for_selector("#qa-question textarea", timeout=60_000)
    yield page
    context.close()


def ask(page: Any, question: str) -> None:
    answers_before = page.locator("#qa-chat .qa-answer, #qa-chat .qa-abstain").count()
    page.fill("#qa-question textarea", question)
    page.click("#qa-ask")
    final = "#qa-chat .qa-answer:not(.qa-streaming), #qa-chat .qa-abstain, #qa-chat .qa-error"
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length > n",
        arg=[final, answers_before],
        timeout=ANSWER_TIMEOUT_MS,
    )


def assert_no_error_toast(page: Any) -> None:
    """gradio shows handler exceptions as toasts; a working UI shows none."""
    toasts = page.locator(".toast-body")
    assert toasts.count() == 0, toasts.all_inner_texts()


def save_screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_seed_question_shows_countries_with_highlighted_citation(page: Any) -> None:
    ask(page, "which countries back Maduro?")
    answer = page.locator("#qa-chat .qa-answer").last
    text = answer.inner_text()
    for country in COUNTRIES:
        assert country in text
    marker = answer.locator("a.qa-cite").first
    assert marker.is_visible()
    target = marker.get_attribute("href")
    assert target and target.startswith("#src-")
    card = page.locator(f"#qa-sources {target}")
    assert card.is_visible()
    highlighted = card.locator("mark")
    assert highlighted.count() == 1 and highlighted.first.is_visible()
    assert "Russia, China, Iran, Syria, Cuba and Turkey" in highlighted.first.inner_text()
    assert "2019-01-26" in card.inner_text()
    # The marker is a link into the panel: following it targets that card.
    marker.click()
    page.wait_for_function("() => location.hash.startsWith('#src-')", timeout=5_000)
    assert page.evaluate("() => document.querySelector(':target')?.id") == target[1:]
    assert_no_error_toast(page)
    shot = save_screenshot(page, "answer-maduro.png")
    (REPO / "docs").mkdir(exist_ok=True)
    shutil.copyfile(shot, REPO / "docs" / "screenshot.png")
    # Scores are there on demand: collapsed until the summary is clicked.
    details = card.locator("details.qa-scores")
    assert not details.locator("table").is_visible()
    details.locator("summary").click()
    assert details.locator("table").is_visible()


def test_who_and_when_answers_lead_in_bold_with_linked_markers(page: Any) -> None:
    ask(page, "Who is Juan Guaido?")
    answer = page.locator("#qa-chat .qa-answer").last
    assert answer.locator("strong").first.inner_text() == "Juan Guaido"
    assert "self-declared interim leader" in answer.inner_text()
    assert "**" not in answer.inner_text()
    assert answer.locator("a.qa-cite").first.is_visible()
    ask(page, "When did Maduro close the embassy in Washington?")
    answer = page.locator("#qa-chat .qa-answer").last
    assert answer.locator("strong").first.inner_text() == "Thursday, January 24, 2019"
    assert_no_error_toast(page)
    save_screenshot(page, "answer-who-when.png")


def test_hostile_article_is_shown_literally_and_never_runs(page: Any, tmp_path: Path) -> None:
    upload = tmp_path / "hostile.json"
    upload.write_text(json.dumps([HOSTILE_RECORD]), encoding="utf-8")
    page.get_by_role("tab", name="Articles").click()
    page.locator("#qa-articles").wait_for()
    page.locator("#qa-upload input[type=file]").set_input_files(str(upload))
    page.click("#qa-ingest")
    page.wait_for_selector("#qa-status .qa-status", timeout=ANSWER_TIMEOUT_MS)
    assert "1 added" in page.inner_text("#qa-status")
    page.wait_for_function(
        "() => document.querySelector('#qa-articles').innerText.includes('Zorblat')"
    )
    assert SCRIPT in page.inner_text("#qa-articles")  # the title, as text

    page.get_by_role("tab", name="Ask").click()
    ask(page, "How many visitors did the Zorblat festival draw?")
    chat, panel = page.inner_text("#qa-chat"), page.inner_text("#qa-sources")
    assert "41,000" in chat
    assert SCRIPT in panel and IMG in panel  # title and passage shown literally
    assert "[details](javascript:window.__pwned=4)" in panel
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    injected = page.evaluate(
        """() => [...document.querySelectorAll('#qa-chat *, #qa-sources *')].filter(
               el => el.tagName === 'SCRIPT' || el.tagName === 'IMG'
                  || [...el.attributes].some(a => a.name.startsWith('on'))
                  || (el.getAttribute('href') || '').toLowerCase().includes('javascript')
           ).map(el => el.outerHTML)"""
    )
    assert injected == []
    for link in page.locator("#qa-sources a").all():
        assert (link.get_attribute("href") or "").startswith(("http://", "https://", "#"))
    assert_no_error_toast(page)
    save_screenshot(page, "hostile-article.png")


def test_example_question_new_chat_and_earlier_sources(page: Any) -> None:
    example = page.locator("#qa-examples button", has_text="Which countries back Maduro?")
    example.first.click()
    page.wait_for_selector("#qa-chat .qa-answer:not(.qa-streaming)", timeout=ANSWER_TIMEOUT_MS)
    assert "Turkey" in page.inner_text("#qa-chat")
    ask(page, "When did the Pellworth lighthouse reopen?")
    assert "Harbour lighthouse" in page.inner_text("#qa-sources")
    # Clicking the first answer brings its own sources back.
    page.locator("#qa-chat .qa-answer").first.click(position={"x": 5, "y": 5})
    page.wait_for_function(
        "() => document.querySelector('#qa-sources').innerText.includes('Maduro')"
    )
    page.click("#qa-new")
    page.wait_for_function("() => !document.querySelector('#qa-chat .qa-answer')")
    assert "Ask a question" in page.inner_text("#qa-sources")
    assert_no_error_toast(page)


# --- issue 17: the cited sentence in view, the caption as a caption, streamed sentences ---------
FERRY_FACT = "The Quillmoor ferry carried 7,420 passengers in its first week of service."
FERRY_FILLER = [
    "Quillmoor is a small harbour town on the northern coast, known for its slate roofs.",
    "Its fishing fleet has shrunk over the decades, but the quay is still busy in summer.",
    "The town council spent two years planning a new crossing to the islands offshore.",
    "Residents argued at length about the timetable, the fares and the colour of the hull.",
    "A local boatyard built the vessel, the first it has launched since the late nineties.",
    "Schoolchildren painted murals along the waiting room walls before the first sailing.",
    "The mayor cut a ribbon on the slipway while a brass band played on the harbour wall.",
    "Shopkeepers on the front street reported their busiest weekend in many years.",
    "The harbour master said the new berth had been dredged twice before the opening day.",
    "Visitors queued along the sea wall to buy tickets at the small wooden kiosk.",
]


def post_article(app_url: str, record: dict[str, Any]) -> None:
    import httpx

    reply = httpx.post(f"{app_url}/api/v1/articles", json={"records": [record]}, timeout=300)
    assert reply.status_code == 200 and reply.json()["failed"] == 0, reply.text


def test_cited_sentence_is_scrolled_into_view_in_its_passage_box(page: Any, app_url: str) -> None:
    post_article(
        app_url,
        {
            "title": "Quillmoor ferry opens",
            "source": "North Coast News",
            "published": "2023-07-01",
            "body": " ".join([*FERRY_FILLER, FERRY_FACT]),
        },
    )
    page.set_viewport_size({"width": 1100, "height": 1000})  # a narrower panel: taller passage
    ask(page, "How many passengers did the Quillmoor ferry carry in its first week?")
    box = page.locator("#qa-sources .qa-passage", has=page.locator("mark")).first
    assert "7,420 passengers" in box.locator("mark").inner_text()
    page.wait_for_timeout(300)  # the panel's script runs on the next animation frame
    geometry = box.evaluate(
        """box => {
            const outer = box.getBoundingClientRect();
            const inner = box.querySelector('mark').getBoundingClientRect();
            return {scrollTop: box.scrollTop, clientHeight: box.clientHeight,
                    markTop: inner.top - outer.top, markBottom: inner.bottom - outer.top,
                    markInContent: inner.bottom - outer.top + box.scrollTop};
        }"""
    )
    # Precondition: unscrolled, the cited sentence would sit below the box's visible part.
    assert geometry["markInContent"] > geometry["clientHeight"], geometry
    assert geometry["scrollTop"] > 0, geometry
    assert geometry["markTop"] >= 0 and geometry["markBottom"] <= geometry["clientHeight"] + 2
    # Only the box scrolled: the page and the panel did not jump.
    assert page.evaluate("() => window.scrollY") == 0
    assert_no_error_toast(page)
    save_screenshot(page, "cited-sentence-in-view.png")


def test_seed_caption_is_a_caption_and_the_body_gives_the_title(page: Any) -> None:
    ask(page, "which countries back Maduro?")
    card = page.locator("#qa-sources .qa-source").first
    title = card.locator(".qa-source-head").inner_text()
    assert "Venezuela's political showdown moves to the United Nations" in title
    assert "Security agents" not in title
    caption = card.locator(".qa-caption")
    assert caption.is_visible()
    assert caption.inner_text().startswith("Photo caption: Security agents with the U.S. Embassy")
    page.get_by_role("tab", name="Articles").click()
    page.wait_for_function(
        "() => document.querySelector('#qa-articles').innerText.includes('political showdown')"
    )
    assert "Security agents" not in page.inner_text("#qa-articles")
    assert_no_error_toast(page)


def test_extractive_answer_appears_sentence_by_sentence(page: Any) -> None:
    page.evaluate(
        """() => {
            window.__partials = [];
            const chat = document.querySelector('#qa-chat');
            new MutationObserver(() => {
                const shown = chat.querySelector('.qa-streaming');
                const text = shown && shown.innerText;
                if (text && window.__partials.at(-1) !== text) window.__partials.push(text);
            }).observe(chat, {subtree: true, childList: true, characterData: true});
        }"""
    )
    ask(page, "Who is Juan Guaido?")
    partials: list[str] = page.evaluate("() => window.__partials")
    final = page.locator("#qa-chat .qa-answer").last.inner_text()
    assert len(partials) >= 2, partials  # more than one sentence shown before the answer
    for shorter, longer in itertools.pairwise(partials):
        assert longer.startswith(shorter.rstrip())
    flat = " ".join(partials[-1].replace("**", "").split())
    assert flat == " ".join(final.split())  # the last partial is the whole answer's text
    assert_no_error_toast(page)


# --- uploads and deletes in the Articles tab -----------------------------------------------------
def test_a_batch_with_bad_files_ingests_the_good_ones_and_names_the_rest(
    page: Any, tmp_path: Path
) -> None:
    """Gradio's client refused a batch holding a file over its `max_file_size`, dropped a
    dropped file of another type unsaid, and our door refused the whole request: now each bad
    file is named in the status with its reason and the good one is stored."""
    from index.limits import MAX_FILE_BYTES

    good = tmp_path / "orchard.json"
    record = {
        "title": "Plum orchard opens in Fenwick",
        "source": "Fenwick Courier",
        "published": "2021-08-02",
        "body": "The Fenwick plum orchard opened to visitors on Monday, its owners said.",
    }
    good.write_text(json.dumps([record]), encoding="utf-8")
    wrong_type = tmp_path / "minutes.docx"
    wrong_type.write_bytes(b"PK\x03\x04 not an article")
    too_big = tmp_path / "dump.txt"
    too_big.write_bytes(b"w" * (MAX_FILE_BYTES + 1))
    page.get_by_role("tab", name="Articles").click()
    page.locator("#qa-articles").wait_for()
    page.locator("#qa-upload input[type=file]").set_input_files(
        [str(good), str(wrong_type), str(too_big)]
    )
    page.wait_for_function(
        "() => document.querySelector('#qa-upload').innerText.includes('dump')",  # dump .txt
        timeout=60_000,
    )
    page.click("#qa-ingest")
    page.wait_for_selector("#qa-status .qa-status", timeout=ANSWER_TIMEOUT_MS)
    status = page.inner_text("#qa-status")
    assert "1 added" in status, status
    assert "unsupported file type '.docx' for 'minutes.docx'" in status, status
    assert "'dump.txt' is too large: 10.0 MB; the limit is 10 MB per file" in status, status
    page.wait_for_function(
        "() => document.querySelector('#qa-articles').innerText.includes('Plum orchard')"
    )
    assert_no_error_toast(page)


def test_delete_asks_for_confirmation_by_keyboard(page: Any, app_url: str) -> None:
    """Delete removed an article at the first click. Now it names the article and offers
    Confirm / Cancel, with the keyboard on Cancel; Enter there keeps the article, and the
    confirm button (reached with Shift+Tab) deletes it."""
    import httpx

    record = {
        "title": "Ferry pier repainted in Arlow",
        "source": "Arlow Times",
        "published": "2021-09-09",
        "body": "The Arlow ferry pier was repainted blue over the weekend, the council said.",
    }
    added = httpx.post(app_url + "/api/v1/articles", json={"records": [record]}).json()
    (article_id,) = added["article_ids"]
    page.get_by_role("tab", name="Articles").click()
    page.get_by_label("Article id to delete (or click a row)").fill(article_id)
    page.focus("#qa-delete")
    page.keyboard.press("Enter")
    confirm = page.locator("#qa-delete-confirm")
    confirm.wait_for(state="visible", timeout=ANSWER_TIMEOUT_MS)
    assert "Confirm delete “Ferry pier repainted in Arlow”" in confirm.inner_text()
    assert "Ferry pier repainted in Arlow" in page.inner_text("#qa-status")
    page.wait_for_function("() => document.activeElement?.id === 'qa-delete-cancel'")
    assert httpx.get(f"{app_url}/api/v1/articles/{article_id}").status_code == 200
    page.keyboard.press("Enter")  # Cancel
    confirm.wait_for(state="hidden")
    assert "nothing was deleted" in page.inner_text("#qa-status")
    assert httpx.get(f"{app_url}/api/v1/articles/{article_id}").status_code == 200

    page.focus("#qa-delete")
    page.keyboard.press("Enter")
    confirm.wait_for(state="visible", timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_function("() => document.activeElement?.id === 'qa-delete-cancel'")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement?.id") == "qa-delete-confirm"
    page.keyboard.press("Enter")
    confirm.wait_for(state="hidden", timeout=ANSWER_TIMEOUT_MS)
    assert f"Deleted {article_id}." in page.inner_text("#qa-status")
    assert httpx.get(f"{app_url}/api/v1/articles/{article_id}").status_code == 404
    assert_no_error_toast(page)
