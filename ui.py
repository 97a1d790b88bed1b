"""The chat window: gradio presentation over `qa.assistant.Assistant`.

    demo = build_ui(assistant, settings)      # a gr.Blocks; qa.server mounts it at "/"
    python ui.py                              # serves API + UI through qa.server.serve

Presentation only: every answer comes from `Assistant.ask_stream`, every piece of HTML from
`qa.render` (which escapes all article text). Conversation state lives in a per-session
`gr.State`, never in this module, so one process serves many users.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from index.offline import apply_offline_defaults

apply_offline_defaults()  # before gradio is imported: it reads its analytics flag at import

import gradio as gr  # noqa: E402

from index.ingest import Progress  # noqa: E402
from index.loaders import SUPPORTED_SUFFIXES  # noqa: E402
from index.models import parse_day  # noqa: E402
from index.settings import Settings  # noqa: E402
from index.store import StoreError, StoreUnavailableError  # noqa: E402
from index.wording import plural  # noqa: E402
from qa import render  # noqa: E402
from qa.assistant import Assistant, AssistantError  # noqa: E402
from qa.types import Answer, Turn  # noqa: E402

log = logging.getLogger(__name__)

# Turns of history sent with a question: enough for follow-ups, bounded for long sessions.
MAX_HISTORY_TURNS = 12
MAX_PASSAGES = 20
UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)  # the loaders' list: CLI, API and UI agree
# How often a streamed answer is re-sent to the browser while tokens arrive.
STREAM_INTERVAL_S = 0.05
# Streamed text that ends a sentence or a line (with its markers): shown at once.
SENTENCE_END = re.compile(r"(?:[.!?…]|\[\d{1,3}\])[\"'”’)]*\s*$|\n$")

# The sources panel: after each update, a passage box whose highlighted (cited) sentence sits
# outside its visible part scrolls to it, leaving a little of the text before it in view. Only
# the box scrolls (never the page, which scrollIntoView would also move).
REVEAL_CITED_JS = """
const reveal = () => requestAnimationFrame(() => {
  for (const box of element.querySelectorAll('.qa-passage')) {
    const mark = box.querySelector('mark');
    if (!mark) continue;
    const outer = box.getBoundingClientRect();
    const inner = mark.getBoundingClientRect();
    if (inner.top >= outer.top && inner.bottom <= outer.bottom) continue;
    box.scrollTop += inner.top - outer.top - Math.min(box.clientHeight / 4, 40);
  }
});
watch('value', reveal);
reveal();
"""

UI_CSS = """
.qa-answer p { margin: 0 0 .5em 0; }
.qa-answer ul.qa-items { margin: .25em 0 .5em 1.2em; padding: 0; }
.qa-cite { font-size: .8em; vertical-align: super; text-decoration: none; margin-left: 1px;
  font-weight: 600; }
.qa-cite-unsupported { color: #b45309 !important; text-decoration: underline dotted; }
.qa-cite-missing { color: #6b7280; }
.qa-notice { background: #fef3c7; border-left: 4px solid #d97706; color: #78350f;
  padding: .4em .6em; margin-bottom: .5em; border-radius: 4px; }
.qa-filters, .qa-standalone { font-size: .85em; color: #4b5563; margin-bottom: .4em; }
.qa-abstain { background: #f3f4f6; border: 1px dashed #6b7280; border-radius: 8px;
  padding: .6em .8em; color: #1f2937; }
.qa-abstain-title { font-weight: 700; margin-bottom: .3em; }
.qa-nearest { margin: .2em 0 0 1.2em; padding: 0; font-size: .92em; }
.qa-nearest-title { font-weight: 600; }
.qa-snippet { color: #4b5563; }
.qa-error { background: #fee2e2; border-left: 4px solid #dc2626; color: #7f1d1d;
  padding: .4em .6em; border-radius: 4px; }
.qa-pending { color: #6b7280; font-style: italic; }
.qa-sources { font-size: .92em; line-height: 1.45; }
.qa-sources h3 { margin: 0 0 .2em 0; font-size: 1.1em; }
.qa-sources-q { color: #4b5563; margin: 0 0 .6em 0; }
.qa-source { border: 1px solid #d1d5db; border-radius: 8px; padding: .6em .8em;
  margin-bottom: .7em; background: #ffffff; color: #111827; scroll-margin-top: 12px; }
.qa-source:target { outline: 3px solid #2563eb; }
.qa-source-unsupported { border-color: #d97706; background: #fffbeb; }
.qa-source-head { font-weight: 600; }
.qa-num { color: #2563eb; margin-right: .2em; }
.qa-meta { color: #6b7280; font-size: .85em; margin: .1em 0 .4em 0; }
.qa-unsupported { color: #92400e; font-weight: 600; font-size: .9em; margin-bottom: .3em; }
.qa-passage { margin: 0; padding: .3em .6em; border-left: 3px solid #9ca3af; color: #374151;
  max-height: 16em; overflow-y: auto; }
.qa-passage mark { background: #fde68a; color: #111827; padding: 0 1px; }
.qa-also { font-size: .85em; color: #4b5563; margin-top: .3em; }
.qa-caption { font-size: .85em; color: #4b5563; margin: 0 0 .4em 0; }
.qa-caption-label { font-weight: 600; font-style: normal; }
.qa-scores summary { cursor: pointer; color: #4b5563; font-size: .85em; margin-top: .3em; }
.qa-scores td { padding: 0 .8em 0 0; font-size: .85em; }
.qa-status-error { color: #991b1b; }
.qa-day { font-size: .8em; color: #4b5563; white-space: nowrap; }
"""


@dataclass
class ChatSession:
    """One browser session's conversation. Lives in gr.State, so it is per user."""

    messages: list[dict[str, str]] = field(default_factory=list)  # what the chat shows (HTML)
    turns: list[Turn] = field(default_factory=list)  # what the assistant is told (text)
    sources: dict[int, str] = field(default_factory=dict)  # message index -> sources HTML
    answers: int = 0  # numbers each answer, so its citation anchors are unique on the page


ChatUpdate = tuple[list[dict[str, str]], Any, ChatSession, str]


def _shown(session: ChatSession) -> list[dict[str, str]]:
    """A snapshot of the messages: each yield must keep what it showed at that moment."""
    return [dict(message) for message in session.messages]


def friendly_error(exc: BaseException) -> str:
    """What the user reads when answering fails: the cause, never a traceback."""
    if isinstance(exc, AssistantError):
        return str(exc)
    if isinstance(exc, StoreUnavailableError):
        return (
            "The article index is unreachable right now (is the Chroma server running?). "
            "Please try again in a moment."
        )
    if isinstance(exc, StoreError):
        return f"The article index cannot answer this: {exc}"
    return "Something went wrong while answering; the details were logged. Please try again."


def check_day(value: str | None, label: str) -> str | None:
    """A YYYY-MM-DD (or ISO datetime) from a text box, None when empty; ValueError if not."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        parse_day(text)
    except ValueError:
        raise ValueError(f"{label} must be a date like 2019-01-26, not {text[:40]!r}.") from None
    return text


class ChatController:
    """The UI's event handlers, free of layout so tests can drive them directly."""

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        self.assistant = assistant
        self.settings = settings

    # --- chat ----------------------------------------------------------------------------------
    def respond(
        self,
        question: str,
        session: ChatSession | None,
        since: str = "",
        until: str = "",
        sources: Sequence[str] | None = None,
        mode: str = "extractive",
        k: float = 8,
    ) -> Iterator[ChatUpdate]:
        """Stream one answer: yields (chat messages, sources panel, session, question box)."""
        session = session if session is not None else ChatSession()
        question = (question or "").strip()
        if not question:
            yield _shown(session), gr.skip(), session, ""
            return
        session.messages.append({"role": "user", "content": render.render_user(question)})
        try:
            since_day, until_day = check_day(since, "Since"), check_day(until, "Until")
        except ValueError as exc:
            yield self._fail(session, str(exc))
            return
        session.messages.append({"role": "assistant", "content": render.render_pending()})
        yield _shown(session), gr.skip(), session, ""
        try:
            final = yield from self._stream(
                session, question, since_day, until_day, sources, mode, k
            )
        except Exception as exc:  # shown as a message; the traceback goes to the log only
            if not isinstance(exc, AssistantError | StoreError):
                log.exception("answering %r failed", question)
            session.messages.pop()
            yield self._fail(session, friendly_error(exc))
            return
        yield self._finish(session, question, final)

    def _stream(
        self,
        session: ChatSession,
        question: str,
        since: str | None,
        until: str | None,
        sources: Sequence[str] | None,
        mode: str,
        k: float,
    ) -> Iterator[ChatUpdate]:
        """Yields partial renders while text streams; returns the final Answer."""
        partial, final, last_sent = "", None, 0.0
        events = self.assistant.ask_stream(
            question,
            history=session.turns[-MAX_HISTORY_TURNS:],
            k=max(1, min(MAX_PASSAGES, int(k))),
            since=since,
            until=until,
            sources=list(sources) if sources else None,
            mode="llm" if mode == "llm" else "extractive",
        )
        for event in events:
            if isinstance(event, Answer):
                final = event
                continue
            partial += event
            # Every sentence is shown as it ends (an extractive answer's deltas are whole
            # sentences); between sentence ends, at most one refresh per interval.
            if SENTENCE_END.search(partial) or time.monotonic() - last_sent >= STREAM_INTERVAL_S:
                last_sent = time.monotonic()
                session.messages[-1]["content"] = render.render_partial(partial)
                yield _shown(session), gr.skip(), session, ""
        if final is None:
            raise RuntimeError("the assistant ended without an answer")
        return final

    def _finish(self, session: ChatSession, question: str, answer: Answer) -> ChatUpdate:
        session.answers += 1
        key = session.answers
        session.messages[-1]["content"] = render.render_answer(answer, key)
        sources_html = render.render_sources(answer, key, self._captions(answer))
        session.sources[len(session.messages) - 1] = sources_html
        session.turns += [
            Turn(role="user", content=question),
            Turn(role="assistant", content=answer.answer),
        ]
        return _shown(session), sources_html, session, ""

    def _captions(self, answer: Answer) -> dict[str, str]:
        """Photo captions of the articles on the sources panel (a caption is not article text,
        so it is not in the passages): shown on their cards, labelled as captions."""
        ids = {c.article_id for c in answer.citations} | {p.article_id for p in answer.nearest}
        try:
            records = [self.assistant.get_article(article_id) for article_id in sorted(ids)]
        except StoreError:  # the answer stands without its captions
            log.warning("captions of the cited articles could not be read", exc_info=True)
            return {}
        return {r.article_id: r.caption for r in records if r is not None and r.caption}

    @staticmethod
    def _fail(session: ChatSession, message: str) -> ChatUpdate:
        session.messages.append({"role": "assistant", "content": render.render_error(message)})
        return _shown(session), gr.skip(), session, ""

    @staticmethod
    def new_conversation() -> tuple[list[dict[str, str]], str, ChatSession, str]:
        return [], render.EMPTY_SOURCES_HTML, ChatSession(), ""

    @staticmethod
    def show_sources(session: ChatSession | None, evt: gr.SelectData) -> Any:
        """Clicking an earlier answer brings its sources back into the panel."""
        index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if session is None or not isinstance(index, int) or index not in session.sources:
            return gr.skip()
        return session.sources[index]

    # --- articles ------------------------------------------------------------------------------
    def article_table(self, query: str | None = "") -> list[list[str]]:
        return render.article_rows(self.assistant.list_articles(), query)

    def refresh(self, query: str | None = "") -> tuple[list[list[str]], Any, Any]:
        """Articles table, sources choices and example questions, from the stored articles."""
        records = self.assistant.list_articles()
        return (
            render.article_rows(records, query),
            gr.Dropdown(choices=render.source_choices(records)),
            gr.Dataset(samples=[[q] for q in render.example_questions(records)]),
        )

    def ingest(
        self, files: Sequence[str] | None, query: str = "", progress: Any = None
    ) -> tuple[str, list[list[str]], Any, Any]:
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in files or []]
        if not paths:
            return (
                render.render_status("Choose one or more files first.", ok=False),
                *self.refresh(query),
            )

        def report_progress(state: Progress) -> None:
            if progress is None:
                return
            if state.chunks_total:
                progress(
                    (state.chunks_done, state.chunks_total),
                    desc="Embedding passages",
                    unit="chunks",
                )
            else:
                progress(0.0, desc=f"Reading {plural(state.articles_total, 'article')}")

        try:
            report = self.assistant.ingest_paths(paths, report_progress)
            status = render.render_ingest_report(report.to_dict())
        except Exception as exc:
            log.exception("ingest failed")
            status = render.render_status(
                friendly_error(exc).replace("answering", "ingesting"), ok=False
            )
        return (status, *self.refresh(query))

    def delete(self, article_id: str, query: str = "") -> tuple[str, list[list[str]], Any, Any]:
        article_id = (article_id or "").strip()
        if not article_id:
            status = render.render_status("Enter the id of the article to delete.", ok=False)
        else:
            try:
                deleted = self.assistant.delete_article(article_id)
                status = render.render_status(
                    f"Deleted {article_id}." if deleted else f"No article has the id {article_id}.",
                    ok=deleted,
                )
            except Exception as exc:
                log.exception("delete failed")
                status = render.render_status(friendly_error(exc), ok=False)
        return (status, *self.refresh(query))

    @staticmethod
    def pick_article(evt: gr.SelectData) -> Any:
        """Selecting a table row puts its id into the delete box."""
        row = evt.row_value or []
        return row[3] if len(row) > 3 else gr.skip()


# --- feeds and links (Articles tab) -----------------------------------------------------------
FEED_REFRESH_S = 30.0  # the feeds table re-reads the poll state this often (the server polls)
FeedUpdate = tuple[str, list[list[str]], list[list[str]], Any, Any]


class FeedsController:
    """Handlers of the feeds panel: add a feed (and poll it), ingest one URL, poll now. Each
    returns (status, feeds table, articles table, sources choices, examples)."""

    def __init__(self, chat: ChatController) -> None:
        self.chat = chat
        self.poller = chat.assistant.feeds

    def rows(self) -> list[list[str]]:
        return render.feed_rows(record.summary() for record in self.poller.feeds())

    def add_feed(self, url: str | None, query: str = "") -> FeedUpdate:
        url = (url or "").strip()
        if not url:
            return self._update(render.render_status("Enter a feed URL first.", ok=False), query)
        try:
            record, added = self.poller.add_feed(url)
        except Exception as exc:  # bad URL, refused address, not a feed: say why
            return self._update(render.render_status(_reason(url, exc), ok=False), query)
        report = self.poller.poll([record.url], force=True).to_dict()
        note = "Added" if added else "Already following"
        return self._update(
            f'<div class="qa-status">{render.escape_text(f"{note} {record.url}.")}</div>'
            + render.render_poll_report(report),
            query,
        )

    def ingest_url(self, url: str | None, query: str = "") -> FeedUpdate:
        url = (url or "").strip()
        if not url:
            status = render.render_status("Enter an article or feed URL first.", ok=False)
            return self._update(status, query)
        try:
            report = self.poller.ingest_urls([url]).to_dict()
            status = render.render_ingest_report(report)
        except Exception as exc:
            log.exception("ingesting %s failed", url)
            status = render.render_status(_reason(url, exc), ok=False)
        return self._update(status, query)

    def poll_now(self, query: str = "") -> FeedUpdate:
        try:
            status = render.render_poll_report(self.poller.poll().to_dict())
        except Exception as exc:
            log.exception("feed poll failed")
            status = render.render_status(friendly_error(exc), ok=False)
        return self._update(status, query)

    def _update(self, status: str, query: str) -> FeedUpdate:
        return (status, self.rows(), *self.chat.refresh(query))


def _reason(url: str, exc: Exception) -> str:
    return f"{url[:200]}: {getattr(exc, 'reason', None) or exc}"


def feeds_panel(chat: ChatController, status: Any, outputs: list[Any], query: Any) -> None:
    """The feeds-and-links block of the Articles tab; `outputs` are the articles table, the
    sources choices and the examples, refreshed after anything is ingested."""
    if not hasattr(chat.assistant, "feeds"):  # an assistant without feeds (test doubles)
        return
    feeds = FeedsController(chat)
    with gr.Accordion("Feeds and links", open=True):
        with gr.Row():
            url = gr.Textbox(
                label="Feed or article URL",
                placeholder="https://example.com/rss.xml or an article link",
                scale=4,
                elem_id="qa-feed-url",
            )
            add_feed = gr.Button("Follow feed", scale=1, elem_id="qa-feed-add")
            ingest_url = gr.Button("Ingest URL", scale=1, elem_id="qa-url-ingest")
            poll = gr.Button("Poll feeds now", scale=1, elem_id="qa-feed-poll")
        table = gr.Dataframe(
            value=feeds.rows(),
            headers=render.FEED_COLUMNS,
            datatype=["str"] * len(render.FEED_COLUMNS),
            interactive=False,
            wrap=True,
            max_height=260,
            elem_id="qa-feeds",
        )
    targets = [status, table, *outputs]
    add_feed.click(feeds.add_feed, [url, query], targets, api_visibility="private")
    ingest_url.click(feeds.ingest_url, [url, query], targets, api_visibility="private")
    poll.click(feeds.poll_now, [query], targets, api_visibility="private")
    gr.Timer(FEED_REFRESH_S).tick(feeds.rows, None, table, api_visibility="private")


def build_ui(assistant: Assistant, settings: Settings) -> gr.Blocks:
    """The whole UI as a gr.Blocks, for qa.server to mount (or for tests to launch)."""
    chat = ChatController(assistant, settings)
    records = assistant.list_articles()
    has_llm = assistant.llm is not None
    with gr.Blocks(title="newsqa: ask the news", fill_width=True) as demo:
        session = gr.State(ChatSession())
        gr.Markdown(
            "## newsqa: ask questions over the news articles. "
            "Every claim cites the passage it came from."
        )
        with gr.Tab("Ask"), gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    label="Answers",
                    height=520,
                    elem_id="qa-chat",
                    render_markdown=True,
                    sanitize_html=True,
                    allow_tags=False,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=[],
                    placeholder="Ask about the stored articles; answers cite their passages.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Ask a question about the articles…",
                        scale=6,
                        elem_id="qa-question",
                        max_lines=4,
                        autofocus=True,
                    )
                    ask = gr.Button(
                        "Ask", variant="primary", scale=1, min_width=90, elem_id="qa-ask"
                    )
                    clear = gr.Button("New chat", scale=1, min_width=90, elem_id="qa-new")
                examples = gr.Dataset(
                    label="Example questions",
                    components=["textbox"],
                    samples=[[q] for q in render.example_questions(records)],
                    elem_id="qa-examples",
                )
                with gr.Accordion("Filters and answer options", open=True), gr.Row():
                    since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", min_width=110)
                    until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", min_width=110)
                    sources = gr.Dropdown(
                        label="Sources (all when empty)",
                        multiselect=True,
                        value=[],
                        choices=render.source_choices(records),
                        min_width=180,
                    )
                    mode = gr.Radio(
                        label="Answer mode",
                        choices=[("Extractive (offline)", "extractive"), ("LLM", "llm")],
                        value="llm" if has_llm else "extractive",
                        interactive=has_llm,
                        info=None if has_llm else "LLM: not configured",
                        min_width=170,
                    )
                    k = gr.Slider(
                        label="Passages to read",
                        minimum=1,
                        maximum=MAX_PASSAGES,
                        step=1,
                        value=min(settings.top_k, MAX_PASSAGES),
                        min_width=160,
                    )
            with gr.Column(scale=2, min_width=320):
                sources_panel = gr.HTML(
                    render.EMPTY_SOURCES_HTML,
                    elem_id="qa-sources",
                    js_on_load=REVEAL_CITED_JS,
                    head=f"<style>{UI_CSS}</style>",
                    max_height=900,
                    padding=True,
                )
        with gr.Tab("Articles"):
            with gr.Row():
                title_query = gr.Textbox(label="Search titles", scale=3)
                search_btn = gr.Button("Search", scale=1)
            table = gr.Dataframe(
                value=render.article_rows(records),
                headers=render.ARTICLE_COLUMNS,
                datatype=["str"] * len(render.ARTICLE_COLUMNS),
                interactive=False,
                wrap=True,
                max_height=420,
                elem_id="qa-articles",
                column_widths=["48%", "16%", "11%", "25%"],
            )
            with gr.Row():
                with gr.Column():
                    files = gr.File(
                        label="Upload articles",
                        file_count="multiple",
                        file_types=UPLOAD_TYPES,
                        type="filepath",
                        elem_id="qa-upload",
                    )
                    ingest_btn = gr.Button("Ingest", variant="primary", elem_id="qa-ingest")
                with gr.Column():
                    delete_id = gr.Textbox(label="Article id to delete (or click a row)")
                    delete_btn = gr.Button("Delete", variant="stop")
            status = gr.HTML("", elem_id="qa-status")
            feeds_panel(chat, status, [table, sources, examples], title_query)

        chat_inputs = [question, session, since, until, sources, mode, k]
        chat_outputs = [chatbot, sources_panel, session, question]
        ask.click(chat.respond, chat_inputs, chat_outputs, api_name="chat")
        question.submit(chat.respond, chat_inputs, chat_outputs, api_visibility="private")
        examples.click(lambda sample: sample[0], examples, question, api_visibility="private").then(
            chat.respond, chat_inputs, chat_outputs, api_visibility="private"
        )
        clear.click(chat.new_conversation, None, chat_outputs, api_visibility="private")
        # The chatbot's own trash icon must forget the conversation too, not just hide it.
        chatbot.clear(chat.new_conversation, None, chat_outputs, api_visibility="private")
        chatbot.select(chat.show_sources, session, sources_panel, api_visibility="private")

        refreshed = [table, sources, examples]
        for trigger in (title_query.change, search_btn.click):
            trigger(chat.article_table, title_query, table, api_visibility="private")

        def ingest_with_progress(
            paths: list[str] | None,
            query: str,
            progress: gr.Progress = gr.Progress(),  # noqa: B008
        ) -> tuple[str, list[list[str]], Any, Any]:
            return chat.ingest(paths, query, progress)

        ingest_btn.click(
            ingest_with_progress,
            [files, title_query],
            [status, *refreshed],
            api_visibility="private",
        )
        delete_btn.click(
            chat.delete, [delete_id, title_query], [status, *refreshed], api_visibility="private"
        )
        table.select(chat.pick_article, None, delete_id, api_visibility="private")
        demo.load(chat.refresh, title_query, refreshed, api_visibility="private")
    return demo


if __name__ == "__main__":
    from qa.server import serve

    serve()
