"""The chat window: its handlers (qa.chat_handlers) driven directly with scripted and real
assistants, the Blocks ui.py lays out from them, and the chat endpoint through gradio_client
against the real composition (qa.server.build_server under uvicorn)."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.offline import apply_offline_defaults

apply_offline_defaults()  # before gradio is imported

import gradio as gr  # noqa: E402
import httpx  # noqa: E402
import pytest  # noqa: E402

import ui  # noqa: E402
from index.settings import Settings  # noqa: E402
from index.store import StoreUnavailableError  # noqa: E402
from qa import chat_handlers as handlers  # noqa: E402
from qa import render  # noqa: E402
from qa.assistant import AssistantError, nothing_found_reason  # noqa: E402
from qa.types import Answer, AnswerItem, Citation, SearchResult, Turn  # noqa: E402
from tests.api_fixtures import make_assistant, serve_in_thread  # noqa: E402

COUNTRIES = ["Russia", "China", "Iran", "Syria", "Cuba", "Turkey"]
SEED_QUESTION = "which countries back Maduro?"


# --- a scripted assistant: fast, and it records what the UI asked --------------------------------
def seed_like_answer(question: str) -> Answer:
    passage = "Russia, China and Cuba have voiced their backing for Maduro's government."
    return Answer(
        question=question,
        answer="- Russia [1]\n- China [1]",
        items=[AnswerItem(text="Russia", citations=[1]), AnswerItem(text="China", citations=[1])],
        citations=[
            Citation(
                n=1,
                article_id="a",
                chunk_id="a:0",
                title="UN showdown",
                quote=passage,
                start=0,
                end=len(passage),
                passage=passage,
            )
        ],
    )


class ScriptedAssistant:
    def __init__(
        self, deltas: tuple[str, ...] = (), error: Exception | None = None, llm: Any = None
    ) -> None:
        self.deltas, self.error, self.llm = deltas, error, llm
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def ask_stream(self, question: str, **options: Any) -> Iterator[str | Answer]:
        self.calls.append((question, {**options, "history": list(options["history"])}))
        if self.error is not None:
            raise self.error
        yield from self.deltas
        yield seed_like_answer(question)

    def list_articles(self) -> list[Any]:
        return []

    def ingest_files(self, uploads: Any, progress: Any = None) -> Any:
        raise AssertionError("the scripted assistant ingests nothing")

    def get_article(self, article_id: str) -> Any:
        return None


def controller(assistant: Any, **options: Any) -> handlers.ChatController:
    return handlers.ChatController(assistant, Settings(), **options)


def last_message(update: handlers.ChatUpdate) -> str:
    return update[0][-1]["content"]


def test_streams_partial_text_then_replaces_it_with_the_rendered_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handlers, "STREAM_INTERVAL_S", 0.0)
    chat = controller(ScriptedAssistant(deltas=("Russia <b>and", " China [1]")))
    updates = list(chat.respond("Who backs Maduro?", None))
    contents = [last_message(u) for u in updates]
    assert "qa-pending" in contents[0]
    assert "qa-streaming" in contents[1] and "Russia &lt;b&gt;and" in contents[1]
    assert "China &#91;1&#93;" in contents[2]  # a marker cannot link before the Answer
    final_messages, sources_html, session, box = updates[-1]
    assert [m["role"] for m in final_messages] == ["user", "assistant"]
    assert 'href="#src-1-1"' in final_messages[-1]["content"]
    assert 'id="src-1-1"' in sources_html and "<mark>" in sources_html
    assert box == "" and session.answers == 1


def test_each_streamed_sentence_is_shown_as_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "STREAM_INTERVAL_S", 3600.0)  # only sentence ends refresh
    deltas = ("Russia backs Maduro [1]. ", "China ", "does too [1]. ", "So does Cuba [2].")
    chat = controller(ScriptedAssistant(deltas=deltas))
    contents = [last_message(u) for u in chat.respond("Who backs Maduro?", None)]
    partials = [c for c in contents if "qa-streaming" in c]
    assert len(partials) == 3  # after each sentence, not after "China "
    assert partials[0].endswith("Russia backs Maduro &#91;1&#93;&#46; </div>")
    assert "does too" in partials[1] and "Cuba" in partials[2]


def test_history_travels_with_each_question_and_sessions_do_not_share_it() -> None:
    assistant = ScriptedAssistant()
    chat = controller(assistant)
    first = list(chat.respond("Who backs Maduro?", None))[-1][2]
    list(chat.respond("And Guaido?", first))
    list(chat.respond("Unrelated question", None))
    histories = [options["history"] for _, options in assistant.calls]
    assert histories[0] == [] and histories[2] == []
    assert histories[1] == [
        Turn(role="user", content="Who backs Maduro?"),
        Turn(role="assistant", content="- Russia [1]\n- China [1]"),
    ]
    assert len(first.messages) == 4 and first.answers == 2
    assert set(first.sources) == {1, 3}  # each answer keeps its own sources panel


def test_controls_reach_the_assistant() -> None:
    assistant = ScriptedAssistant()
    list(
        controller(assistant).respond(
            " q ", None, " 2019-01-01 ", "2019-02-01", ["Wire"], "extractive", 5.0
        )
    )
    question, options = assistant.calls[0]
    assert question == "q"
    assert options["since"] == "2019-01-01" and options["until"] == "2019-02-01"
    assert options["sources"] == ["Wire"] and options["k"] == 5
    assert options["mode"] == "extractive"
    list(controller(assistant).respond("q", None, sources=[], k=99))
    assert assistant.calls[1][1]["sources"] is None and assistant.calls[1][1]["k"] == 20


def test_bad_date_is_explained_without_asking() -> None:
    assistant = ScriptedAssistant()
    updates = list(controller(assistant).respond("q", None, since="26/01/2019"))
    assert assistant.calls == []
    assert "qa-error" in last_message(updates[-1]) and "since must be a date" in last_message(
        updates[-1]
    )


def test_blank_question_changes_nothing() -> None:
    assistant = ScriptedAssistant()
    updates = list(controller(assistant).respond("   ", None))
    assert updates[-1][0] == [] and assistant.calls == []


@pytest.mark.parametrize(
    ("error", "shown", "hidden"),
    [
        (AssistantError("answer mode 'llm' needs an LLM"), "needs an LLM", None),
        (StoreUnavailableError("connection refused to 127.0.0.1:8000"), "unreachable", None),
        (RuntimeError("secret internal detail"), "Something went wrong", "secret internal"),
    ],
)
def test_failures_become_a_friendly_message(
    error: Exception, shown: str, hidden: str | None
) -> None:
    updates = list(controller(ScriptedAssistant(error=error)).respond("q", None))
    messages = updates[-1][0]
    assert [m["role"] for m in messages] == ["user", "assistant"]  # pending message replaced
    text = messages[-1]["content"]
    assert "qa-error" in text and shown in text and "Traceback" not in text
    if hidden:
        assert hidden not in text
    list(controller(ScriptedAssistant()).respond("again", updates[-1][2]))  # still usable


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),  # Chroma down
        httpx.ReadTimeout("timed out"),  # Chroma frozen: the bounded wait ran out
    ],
)
def test_an_unreachable_index_says_so_in_one_log_line(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """chromadb's HttpClient lets httpx's errors through: the chat recognises them as the API
    does (503 index_unavailable), shows its prepared message and logs no traceback."""
    with caplog.at_level("WARNING", logger="qa.chat_handlers"):
        updates = list(controller(ScriptedAssistant(error=error)).respond("q", None))
    text = html.unescape(last_message(updates[-1]))
    assert "article index is unreachable right now" in text
    assert "Something went wrong" not in text
    records = [r for r in caplog.records if r.name == "qa.chat_handlers"]
    assert len(records) == 1 and records[0].exc_info is None
    assert type(error).__name__ in records[0].getMessage()


def test_the_empty_index_message_reads_as_text_in_the_chat() -> None:
    """The reason is shared with the CLI, which prints it as it is: no Markdown in it, so the
    chat window (which shows reasons literally) has no stray backticks either."""
    reason = nothing_found_reason(SearchResult(question="q", passages=[]), 0, None)
    shown = render.render_answer(Answer(question="q", answer=reason, abstained=True), 1)
    assert "&#96;" not in shown and "`" not in reason
    assert '"qa ingest PATH"' in html.unescape(shown)


def test_clicking_an_earlier_answer_shows_its_sources() -> None:
    chat = controller(ScriptedAssistant())
    session = list(chat.respond("first", None))[-1][2]
    session = list(chat.respond("second", session))[-1][2]
    shown = handlers.ChatController.show_sources(
        session, gr.SelectData(None, {"index": 1, "value": ""})
    )
    assert 'id="src-1-1"' in shown and "first" in shown
    user_message = gr.SelectData(None, {"index": 0, "value": ""})
    assert isinstance(handlers.ChatController.show_sources(session, user_message), type(gr.skip()))


def components_of(demo: gr.Blocks, kind: type) -> list[Any]:
    return [block for block in demo.blocks.values() if isinstance(block, kind)]


@pytest.mark.parametrize("llm", [None, object()])
def test_llm_mode_is_only_enabled_with_an_llm(llm: Any) -> None:
    demo = ui.build_ui(controller(ScriptedAssistant(llm=llm)))
    (mode,) = components_of(demo, gr.Radio)
    assert mode.interactive is (llm is not None)
    assert mode.value == ("llm" if llm else "extractive")
    api_names = {fn.api_name for fn in demo.fns.values()}
    assert "chat" in api_names


def test_every_text_box_has_a_label_for_its_errors() -> None:
    """Gradio shows a box's label above its validation error even when the label is hidden:
    with none it showed "Textbox" above "question is 2001 characters; the limit is 2000"."""
    demo = ui.build_ui(controller(ScriptedAssistant()))
    boxes = components_of(demo, gr.Textbox)
    assert boxes and all(box.label for box in boxes), [box.elem_id for box in boxes]
    (question,) = [box for box in boxes if box.elem_id == "qa-question"]
    assert question.label == "Question" and question.show_label is False


def test_the_sources_filter_takes_outlets_that_arrive_after_the_layout_is_built() -> None:
    """The choices are those stored at start-up; an outlet uploaded later must still pass
    Gradio's check of the value (the assistant judges the names, as everywhere else)."""
    demo = ui.build_ui(controller(ScriptedAssistant()))  # no article yet: no choices
    (sources,) = components_of(demo, gr.Dropdown)
    assert sources.preprocess(["Der Spiegel"]) == ["Der Spiegel"]


def test_the_upload_box_leaves_per_file_checks_to_us(tmp_path: Path) -> None:
    """With `file_types` Gradio's client silently dropped a dropped file of another type and
    its server refused a whole batch ("Invalid file type"); our checks name each bad file and
    ingest the rest, so the box takes any file and Gradio passes every one on."""
    from gradio.data_classes import FileData, ListFiles

    demo = ui.build_ui(controller(ScriptedAssistant()))
    (upload,) = [f for f in components_of(demo, gr.File) if f.elem_id == "qa-upload"]
    assert upload.file_types is None
    names = ["good.md", "report.docx", "refused-upload.newsqa"]
    for name in names:
        (tmp_path / name).write_text("x", encoding="utf-8")
    files = ListFiles(root=[FileData(path=str(tmp_path / n), orig_name=n) for n in names])
    assert upload.preprocess(files) == [str(tmp_path / n) for n in names]


def test_the_api_info_lists_no_stale_outlets() -> None:
    """`/gradio_api/info` (built once, at start-up) listed the outlets stored then as an enum
    of `sources`, so API clients saw a stale list; any outlet name is described now."""
    chat = controller(ScriptedAssistant())
    view = chat.initial_view()
    chat.initial_view = lambda: dataclasses.replace(view, sources=["Border Post"])  # type: ignore[method-assign]
    demo = ui.build_ui(chat)
    (sources,) = components_of(demo, gr.Dropdown)
    assert sources.choices == [("Border Post", "Border Post")]  # the page still offers them
    parameters = demo.get_api_info()["named_endpoints"]["/chat"]["parameters"]
    (info,) = [p for p in parameters if p["parameter_name"] == "sources"]
    assert info["type"] == {"type": "array", "items": {"type": "string"}}
    assert info["python_type"]["type"] == "list[str]"


def test_ui_module_holds_no_blocks_or_state() -> None:
    assert not [name for name, value in vars(ui).items() if isinstance(value, gr.Blocks)]


# --- the real assistant over the seed article and two small documents ---------------------------
@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(tmp_path_factory.mktemp("ui") / "data")


def test_seed_question_answers_with_linked_highlighted_citations(seeded: Any) -> None:
    chat = handlers.ChatController(seeded, seeded.settings)
    messages, sources_html, session, _ = list(chat.respond(SEED_QUESTION, None))[-1]
    answer_html = messages[-1]["content"]
    for country in COUNTRIES:
        assert f"<li>{country} " in answer_html
    assert 'href="#src-1-1"' in answer_html and 'id="src-1-1"' in sources_html
    marked = sources_html.split("<mark>")[1].split("</mark>")[0]
    assert "Russia, China, Iran, Syria, Cuba and Turkey" in marked
    assert session.turns[-1].content.startswith("- Russia")


def test_seed_article_is_titled_by_its_body_and_its_caption_shown_as_a_caption(
    seeded: Any,
) -> None:
    chat = handlers.ChatController(seeded, seeded.settings)
    _, sources_html, _, _ = list(chat.respond(SEED_QUESTION, None))[-1]
    shown = html.unescape(sources_html)
    card = shown.split('id="src-1-1"')[1].split("qa-passage")[0]
    assert "Venezuela's political showdown moves to the United Nations" in card  # the title
    caption = card.split('class="qa-caption">')[1]
    assert caption.startswith('<span class="qa-caption-label">Photo caption:</span> <em>Security')
    assert "Security agents" not in card.split('class="qa-caption">')[0]  # not the title


def test_source_filter_keeps_other_articles_out(seeded: Any) -> None:
    chat = handlers.ChatController(seeded, seeded.settings)
    _, sources_html, _, _ = list(
        chat.respond("When did the lighthouse reopen?", None, sources=["Coastal Gazette"])
    )[-1]
    assert "Harbour lighthouse reopens" in sources_html
    assert "Security agents" not in sources_html and "Cider orchard" not in sources_html


@pytest.mark.parametrize(
    ("sources", "shown"),
    [
        (["Der Spiegel"], "no stored article is from Der Spiegel"),
        ("Coastal Gazette", "sources must be a list of publisher names, not text"),
        (["Wire", 7], "sources must be publisher names as text, not int"),
    ],
)
def test_sources_are_judged_by_the_assistant_as_for_the_cli_and_http(
    seeded: Any, sources: Any, shown: str
) -> None:
    chat = handlers.ChatController(seeded, seeded.settings)
    message = html.unescape(last_message(list(chat.respond("Who won?", None, sources=sources))[-1]))
    assert shown in message, message
    assert "Something went wrong" not in message


def test_articles_tab_ingests_lists_and_deletes(tmp_path: Path) -> None:
    assistant = make_assistant(tmp_path / "data", ingest=False)
    received = tmp_path / "uploads"  # stands for Gradio's upload folder
    chat = handlers.ChatController(assistant, assistant.settings, upload_dir=str(received))
    (received / "3f2a").mkdir(parents=True)
    upload = received / "3f2a" / "bridge.md"
    upload.write_text(
        "---\ntitle: Footbridge <b>opens</b> in Kelso\nsource: Border Post\n"
        "published: 2022-03-01\n---\n\nThe new Kelso footbridge opened on "
        "Tuesday after eight months of work.\n",
        encoding="utf-8",
    )
    seen: list[tuple[Any, ...]] = []
    status, rows, sources, examples = chat.ingest(
        [str(upload)], "", lambda *a, **kw: seen.append(a)
    )
    assert "1 added" in status and "qa-status-error" not in status
    assert rows == [["Footbridge <b>opens</b> in Kelso", "Border Post", "2022-03-01", rows[0][3]]]
    assert sources.choices == [("Border Post", "Border Post")]
    assert examples.raw_samples == [["What is reported about Footbridge <b>opens</b> in Kelso?"]]
    assert seen, "ingest reported no progress"
    assert not upload.exists(), "Gradio's copy of the upload was kept after ingesting it"
    assert chat.article_table("kelso") == rows and chat.article_table("nothing") == []

    status, rows, sources, _ = chat.delete(rows[0][3])
    assert "Deleted" in status and rows == [] and sources.choices == []
    assert "No article has the id" in chat.delete("missing-id")[0]
    assert "qa-status-error" in chat.ingest([], "")[0]


def test_delete_asks_first_and_deletes_only_the_article_it_named(tmp_path: Path) -> None:
    """Delete used to remove the article at the first click. Now it names the article and
    shows Confirm / Cancel; Cancel keeps it; Confirm deletes the one that was named, even if
    the box holds another id by then."""
    assistant = make_assistant(tmp_path / "data", ingest=False)
    chat = handlers.ChatController(assistant, assistant.settings)
    report = assistant.ingest_records(
        [
            {"title": "Kelso <b>footbridge</b> opens", "source": "Border Post", "body": "A."},
            {"title": "Kelso market returns", "source": "Border Post", "body": "B."},
        ]
    )
    first, second = sorted(a.article_id for a in assistant.list_articles())
    assert report.added == 2
    status, confirm, button, pending = chat.ask_delete(first)
    assert confirm["visible"] is True and pending == first
    title = assistant.get_article(first).title
    assert button["value"] == f"Confirm delete “{title}”"
    shown = html.unescape(status)
    assert f"Delete “{title}” ({first})" in shown and "cannot be undone" in shown
    assert "<b>" not in status
    assert len(assistant.list_articles()) == 2, "asking deleted something"

    status, confirm, pending = chat.cancel_delete(pending)
    assert (
        f"Kept {first}" in html.unescape(status) and confirm["visible"] is False and pending == ""
    )
    assert len(assistant.list_articles()) == 2

    _, _, _, pending = chat.ask_delete(first)
    status, rows, _, _, confirm, left = chat.confirm_delete(pending, "")
    assert len(rows) == 1
    assert f"Deleted {first}." in html.unescape(status) and confirm["visible"] is False
    assert left == ""
    assert [a.article_id for a in assistant.list_articles()] == [second]
    assert "Nothing to confirm" in chat.confirm_delete("", "")[0]
    for missing in ("", "no-such-id"):
        status, confirm, _, pending = chat.ask_delete(missing)
        assert "qa-status-error" in status and confirm["visible"] is False and pending == ""


def test_llm_mode_streams_and_falls_back_visibly(
    seeded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.assistant import Assistant
    from tests.fake_llm import FakeLLM

    monkeypatch.setattr(handlers, "STREAM_INTERVAL_S", 0.0)
    with FakeLLM(reply="Russia, China, Iran, Syria, Cuba and Turkey back Maduro [1].") as fake:
        settings = seeded.settings.model_copy(
            update={
                "llm_base_url": fake.base_url,
                "llm_model": "fake",
                "llm_timeout_s": 10.0,
                "llm_max_retries": 0,
            }
        )
        assistant = Assistant(settings, service=seeded.service)  # same index, with an LLM
        chat = handlers.ChatController(assistant, assistant.settings)
        updates = list(chat.respond(SEED_QUESTION, None, mode="llm"))
        streamed = [last_message(u) for u in updates if "qa-streaming" in last_message(u)]
        assert len(streamed) >= 2, "the LLM answer did not stream"
        final = last_message(updates[-1])
        assert "qa-mode-llm" in final and 'href="#src-1-1"' in final
        assert "<mark>" in updates[-1][1]

        fake.behaviour = "error500"
        final = last_message(list(chat.respond(SEED_QUESTION, None, mode="llm"))[-1])
        assert "qa-mode-llm-fallback" in final and 'class="qa-notice"' in final
        assert "Russia" in final


# --- the chat endpoint over HTTP, through gradio_client ------------------------------------------
@pytest.fixture(scope="module")
def launched(seeded: Any) -> Iterator[str]:
    from qa.server import build_server

    with serve_in_thread(build_server(seeded.settings, seeded), lifespan="on") as url:
        yield url + "/"


def test_chat_endpoint_through_gradio_client(launched: str) -> None:
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(launched, verbose=False)
    messages, sources_html, box = client.predict(
        SEED_QUESTION, "", "", [], "extractive", 8, api_name="/chat"
    )
    answer = messages[-1]["content"]
    answer_text = answer if isinstance(answer, str) else str(answer)
    for country in COUNTRIES:
        assert country in answer_text
    assert "<mark>" in sources_html and box == ""
    # The same client is one session: its history grows. A new client starts afresh.
    messages, _, _ = client.predict(
        "And who recognised Guaido?", "", "", [], "extractive", 8, api_name="/chat"
    )
    assert len(messages) == 4
    other = gradio_client.Client(launched, verbose=False)
    messages, _, _ = other.predict(SEED_QUESTION, "", "", [], "extractive", 8, api_name="/chat")
    assert len(messages) == 2


def test_chat_endpoint_reports_bad_input_in_the_chat(launched: str) -> None:
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(launched, verbose=False)
    messages, _, _ = client.predict(
        SEED_QUESTION, "yesterday", "", [], "extractive", 8, api_name="/chat"
    )
    assert "since must be a date" in str(messages[-1]["content"])
    messages, _, _ = client.predict(  # an outlet the layout was not built with
        SEED_QUESTION, "", "", ["Der Spiegel"], "extractive", 8, api_name="/chat"
    )
    assert "no stored article is from Der Spiegel" in str(messages[-1]["content"])
