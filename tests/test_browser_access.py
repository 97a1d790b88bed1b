"""The door in a real browser (Debian chromium, Playwright): with QA_API_KEY and QA_UI_USERS set,
the chat window sends a visitor to /login, a user who may ask gets answers but no editing
controls, an editor uploads and ingests, and an over-long question is refused on the page
with the shared message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from index.limits import MAX_QUESTION_CHARS
from tests.access_fixtures import ASKER, EDITOR, KEY, USERS
from tests.api_fixtures import make_assistant
from tests.test_browser import (
    ANSWER_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ask,
    assert_no_error_toast,
    serve_with_lifespan,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from qa.server import build_server

    assistant = make_assistant(tmp_path_factory.mktemp("browser-access") / "data")
    settings = assistant.settings.model_copy(
        update={"api_key": SecretStr(KEY), "ui_users": SecretStr(USERS), "ui_editors": "alice"}
    )
    with serve_with_lifespan(build_server(settings, assistant)) as url:
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


def open_as(browser: Any, url: str, user: str, password: str) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(url + "/", wait_until="domcontentloaded")
    assert "/login" in page.url, page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    return page


def test_a_wrong_password_shows_the_form_again(browser: Any, app_url: str) -> None:
    page = open_as(browser, app_url, ASKER[0], "wrong")
    page.wait_for_selector(".error")
    assert "Wrong user name or password" in page.inner_text(".error") and "/login" in page.url
    page.context.close()


def test_a_user_who_may_ask_gets_answers_and_no_editing_controls(
    browser: Any, app_url: str
) -> None:
    page = open_as(browser, app_url, *ASKER)
    page.wait_for_selector("#qa-question textarea", timeout=60_000)
    ask(page, "which countries back Maduro?")
    assert "Turkey" in page.inner_text("#qa-chat")
    page.get_by_role("tab", name="Articles").click()
    page.locator("#qa-articles").wait_for()
    page.wait_for_timeout(500)
    assert not page.locator("#qa-ingest").is_visible()
    assert not page.locator("#qa-upload").is_visible()
    assert_no_error_toast(page)
    page.context.close()


def test_an_editor_uploads_and_ingests(browser: Any, app_url: str, tmp_path: Path) -> None:
    page = open_as(browser, app_url, *EDITOR)
    page.wait_for_selector("#qa-question textarea", timeout=60_000)
    upload = tmp_path / "kelso.json"
    record = {
        "title": "Kelso footbridge opens",
        "body": "The new Kelso footbridge opened on Tuesday after eight months of work.",
    }
    upload.write_text(json.dumps([record]), encoding="utf-8")
    page.get_by_role("tab", name="Articles").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(upload))
    page.click("#qa-ingest")
    page.wait_for_selector("#qa-status .qa-status", timeout=ANSWER_TIMEOUT_MS)
    assert "1 added" in page.inner_text("#qa-status")
    assert_no_error_toast(page)
    page.context.close()


def test_an_over_long_question_is_refused_on_the_page(browser: Any, app_url: str) -> None:
    page = open_as(browser, app_url, *ASKER)
    page.wait_for_selector("#qa-question textarea", timeout=60_000)
    page.fill("#qa-question textarea", "x" * (MAX_QUESTION_CHARS + 1))
    page.click("#qa-ask")
    expected = f"question is {MAX_QUESTION_CHARS + 1} characters; the limit is {MAX_QUESTION_CHARS}"
    page.wait_for_function(
        "text => document.body.innerText.includes(text)", arg=expected, timeout=60_000
    )
    assert not page.locator("#qa-chat .qa-answer").count()
    page.context.close()
