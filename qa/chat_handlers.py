"""The chat window's event handlers: what each button, box and table of `ui.py` does.

Free of layout, so tests drive them directly and `ui.build_ui` only wires them to components.
Every answer comes from `Assistant.ask_stream`, every piece of HTML from `qa.render` (which
escapes all article text). Conversation state lives in a per-session `gr.State` (`ChatSession`),
never here, so one process serves many users.

Each handler declares what it needs (`qa.access.requires`): the access door reads that to let
a request run it, and the handlers that change articles check it again for their caller.
Inputs are checked by `index.limits`, as at every other entry point: the same limits, the same
messages; the `validate_*` methods are Gradio validators, so bad input is a 422 before any
work is queued. Files are read only from Gradio's upload folder (`qa.uploads.read_received`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from index.ingest import Progress
from index.limits import InputError, check_file_count, check_period, check_question
from index.settings import Settings
from index.store import LexicalDirError, StoreError, VectorIndexDamagedError, is_unavailable
from index.wording import plural
from qa import render
from qa.access.policy import Permission, requires
from qa.assistant import Assistant, AssistantError
from qa.types import Answer, Turn
from qa.uploads import discard_received, load_received

log = logging.getLogger(__name__)

# Turns of history sent with a question: enough for follow-ups, bounded for long sessions.
MAX_HISTORY_TURNS = 12
MAX_PASSAGES = 20
# How often a streamed answer is re-sent to the browser while tokens arrive.
STREAM_INTERVAL_S = 0.05
# Streamed text that ends a sentence or a line (with its markers): shown at once.
SENTENCE_END = re.compile(r"(?:[.!?…]|\[\d{1,3}\])[\"'”’)]*\s*$|\n$")
NOT_ALLOWED = "Adding and deleting articles needs a user the operator named as an editor."


@dataclass
class ChatSession:
    """One browser session's conversation. Lives in gr.State, so it is per user."""

    messages: list[dict[str, str]] = field(default_factory=list)  # what the chat shows (HTML)
    turns: list[Turn] = field(default_factory=list)  # what the assistant is told (text)
    sources: dict[int, str] = field(default_factory=dict)  # message index -> sources HTML
    answers: int = 0  # numbers each answer, so its citation anchors are unique on the page


@dataclass(frozen=True)
class InitialView:
    """What the layout shows before the first event: the stored articles and the options."""

    rows: list[list[str]]
    sources: list[str]
    examples: list[str]
    has_llm: bool
    top_k: int


ChatUpdate = tuple[list[dict[str, str]], Any, ChatSession, str]
ArticlesUpdate = tuple[str, list[list[str]], Any, Any]
# Delete's first step: status, the confirmation's visibility, its button, the pending id.
DeleteAsk = tuple[str, Any, Any, str]
_NO_CONFIRMATION: tuple[Any, Any, str] = (gr.update(visible=False), gr.update(), "")


def _shown(session: ChatSession) -> list[dict[str, str]]:
    """A snapshot of the messages: each yield must keep what it showed at that moment."""
    return [dict(message) for message in session.messages]


def friendly_error(exc: BaseException) -> str:
    """What the user reads when answering fails: the cause, never a traceback or a path."""
    if isinstance(exc, InputError | AssistantError):
        return str(exc)
    if is_unavailable(exc):  # the same test the API's 503 uses
        return (
            "The article index is unreachable right now (is the Chroma server running?). "
            "Please try again in a moment."
        )
    if isinstance(exc, LexicalDirError | VectorIndexDamagedError):
        return exc.public[0].upper() + exc.public[1:] + "."
    if isinstance(exc, StoreError):
        return f"The article index cannot answer this: {exc}"
    return "Something went wrong while answering; the details were logged. Please try again."


def _log_failure(
    exc: BaseException, what: str, *args: object, shown: tuple[type[Exception], ...] = ()
) -> None:
    """Log a handler's failure: the index being unreachable (expected, and said to the user)
    in one line, errors of the `shown` types not at all, anything else with its traceback."""
    if is_unavailable(exc):
        cause = f"{type(exc).__name__}: {exc}"
        log.warning(what + " failed: the article index is unavailable (%s)", *args, cause)
    elif not isinstance(exc, shown):
        log.exception(what + " failed", *args)


def _valid(count: int) -> list[dict[str, Any]]:
    return [gr.validate(True, "") for _ in range(count)]


class ChatController:
    """The UI's event handlers, free of layout so tests can drive them directly.

    `upload_dir` is Gradio's upload folder (the only place files are read from);
    `may_edit(user)` says whether a signed-in user may add and delete articles (everyone, when
    no credential is configured)."""

    def __init__(
        self,
        assistant: Assistant,
        settings: Settings,
        *,
        upload_dir: str | None = None,
        may_edit: Callable[[str | None], bool] = lambda _user: True,
    ) -> None:
        self.assistant = assistant
        self.settings = settings
        self.upload_dir = upload_dir or get_upload_folder()
        self.may_edit = may_edit
        # The feeds panel's handlers, when the assistant follows feeds (test doubles do not).
        self.feeds = FeedsController(self) if hasattr(assistant, "feeds") else None

    def initial_view(self) -> InitialView:
        records = self.assistant.list_articles()
        return InitialView(
            rows=render.article_rows(records),
            sources=render.source_choices(records),
            examples=render.example_questions(records),
            has_llm=self.assistant.llm is not None,
            top_k=min(self.settings.top_k, MAX_PASSAGES),
        )

    # --- chat ----------------------------------------------------------------------------------
    @requires(Permission.ASK)
    def validate_question(self, question: str, *controls: Any) -> list[dict[str, Any]]:
        """Gradio validator of `respond`'s inputs: the shared question limits (a blank
        question is let through: it changes nothing)."""
        checks = _valid(1 + len(controls))
        if question and question.strip():
            try:
                check_question(question)
            except InputError as refused:
                checks[0] = gr.validate(False, str(refused))
        return checks

    @requires(Permission.ASK)
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
        if not (question or "").strip():
            yield _shown(session), gr.skip(), session, ""
            return
        try:
            question = check_question(question)
        except InputError as refused:  # shown, not echoed: it may be megabytes
            yield self._fail(session, str(refused))
            return
        session.messages.append({"role": "user", "content": render.render_user(question)})
        try:
            since_day, until_day = check_period(since, until)
        except InputError as exc:
            yield self._fail(session, str(exc))
            return
        session.messages.append({"role": "assistant", "content": render.render_pending()})
        yield _shown(session), gr.skip(), session, ""
        try:
            final = yield from self._stream(
                session, question, since_day, until_day, sources, mode, k
            )
        except Exception as exc:  # shown as a message; the traceback goes to the log only
            _log_failure(
                exc, "answering %r", question[:200], shown=(AssistantError, StoreError, InputError)
            )
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
    ) -> Generator[ChatUpdate, None, Answer]:
        """Yields partial renders while text streams; returns the final Answer."""
        partial, final, last_sent = "", None, 0.0
        events = self.assistant.ask_stream(
            question,
            history=session.turns[-MAX_HISTORY_TURNS:],
            k=max(1, min(MAX_PASSAGES, int(k))),
            since=since,
            until=until,
            sources=sources or None,  # as given: text instead of a list is refused there
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
    @requires(Permission.ASK)
    def new_conversation() -> tuple[list[dict[str, str]], str, ChatSession, str]:
        return [], render.EMPTY_SOURCES_HTML, ChatSession(), ""

    @staticmethod
    @requires(Permission.ASK)
    def show_sources(session: ChatSession | None, evt: gr.SelectData) -> Any:
        """Clicking an earlier answer brings its sources back into the panel."""
        index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if session is None or not isinstance(index, int) or index not in session.sources:
            return gr.skip()
        return session.sources[index]

    @staticmethod
    @requires(Permission.ASK)
    def pick_example(sample: Sequence[str]) -> str:
        """Clicking an example question puts it into the question box."""
        return sample[0] if sample else ""

    # --- articles ------------------------------------------------------------------------------
    @requires(Permission.ASK)
    def article_table(self, query: str | None = "") -> list[list[str]]:
        return render.article_rows(self.assistant.list_articles(), query)

    @requires(Permission.ASK)
    def refresh(self, query: str | None = "") -> tuple[list[list[str]], Any, Any]:
        """Articles table, sources choices and example questions, from the stored articles."""
        records = self.assistant.list_articles()
        return (
            render.article_rows(records, query),
            gr.Dropdown(choices=render.source_choices(records)),
            gr.Dataset(samples=[[q] for q in render.example_questions(records)]),
        )

    @requires(Permission.ASK)
    def on_load(
        self, query: str | None = "", request: gr.Request | None = None
    ) -> tuple[list[list[str]], Any, Any, Any]:
        """The page opens: fresh articles, and the editing controls only for editors."""
        return (*self.refresh(query), gr.update(visible=self._may_edit(request)))

    def _may_edit(self, request: gr.Request | None) -> bool:
        # No request: called from Python, not through the server (whose door checked already).
        return request is None or self.may_edit(getattr(request, "username", None))

    @requires(Permission.EDIT)
    def validate_files(self, files: Sequence[str] | None, *others: Any) -> list[dict[str, Any]]:
        """Gradio validator of `ingest`: the shared count limit before anything is read."""
        checks = _valid(1 + len(others))
        try:
            check_file_count(len(files or []))
        except InputError as refused:
            checks[0] = gr.validate(False, str(refused))
        return checks

    @requires(Permission.EDIT)
    def ingest(
        self,
        files: Sequence[Any] | None,
        query: str = "",
        progress: Any = gr.Progress(),  # noqa: B008 - Gradio injects the tracker by default
        request: gr.Request | None = None,
    ) -> ArticlesUpdate:
        """Ingest the files Gradio received for this request, then delete Gradio's copies. A
        file refused for its name, type or size is named in the status with its reason, and the
        rest is ingested."""
        if not self._may_edit(request):
            return (render.render_status(NOT_ALLOWED, ok=False), *self.refresh(query))
        paths = [f if isinstance(f, str) else getattr(f, "path", "") for f in files or []]
        if not paths:
            return (
                render.render_status("Choose one or more files first.", ok=False),
                *self.refresh(query),
            )
        try:
            # Each refused file is named in the report with its reason; the others go on.
            items = load_received(paths, self.upload_dir)
            report = self.assistant.ingest_items(items, self._progress(progress))
            status = render.render_ingest_report(report.to_dict())
        except InputError as refused:
            status = render.render_status(str(refused), ok=False)
        except Exception as exc:
            _log_failure(exc, "ingest")
            status = render.render_status(
                friendly_error(exc).replace("answering", "ingesting"), ok=False
            )
        finally:
            for path in paths:
                discard_received(path, self.upload_dir)
        return (status, *self.refresh(query))

    @staticmethod
    def _progress(progress: Any) -> Callable[[Progress], None]:
        def report(state: Progress) -> None:
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

        return report

    @requires(Permission.EDIT)
    def ask_delete(self, article_id: str | None, request: gr.Request | None = None) -> DeleteAsk:
        """The Delete button's first step: nothing is deleted yet. For a stored article, the
        status asks for confirmation, naming it, and the confirm and cancel buttons appear
        (the confirm button named after it); otherwise the status says why not."""
        article_id = (article_id or "").strip()
        if not self._may_edit(request):
            return render.render_status(NOT_ALLOWED, ok=False), *_NO_CONFIRMATION
        if not article_id:
            prompt = "Enter the id of the article to delete (or click a row)."
            return render.render_status(prompt, ok=False), *_NO_CONFIRMATION
        try:
            record = self.assistant.get_article(article_id)
        except Exception as exc:
            _log_failure(exc, "reading %r", article_id[:200])
            return render.render_status(friendly_error(exc), ok=False), *_NO_CONFIRMATION
        if record is None:
            missing = f"No article has the id {article_id}."
            return render.render_status(missing, ok=False), *_NO_CONFIRMATION
        title = render.short_title(record.title)
        question = (
            f"Delete “{title}” ({article_id}) from the index? This cannot be undone: "
            "confirm or cancel."
        )
        return (
            render.render_status(question),
            gr.update(visible=True),
            gr.update(value=f"Confirm delete “{title}”"),
            article_id,
        )

    @requires(Permission.EDIT)
    def confirm_delete(
        self, pending: str | None, query: str = "", request: gr.Request | None = None
    ) -> tuple[str, list[list[str]], Any, Any, Any, str]:
        """The second step: delete the article the first step named (not whatever the box
        holds now), then hide the confirmation."""
        if not pending:
            status = render.render_status("Nothing to confirm: press Delete first.", ok=False)
            return (status, *self.refresh(query), gr.update(visible=False), "")
        return (*self.delete(pending, query, request), gr.update(visible=False), "")

    @staticmethod
    @requires(Permission.ASK)
    def cancel_delete(pending: str | None) -> tuple[str, Any, str]:
        """Cancel: nothing is deleted, and the confirmation goes away."""
        kept = f"Kept {pending}: nothing was deleted." if pending else "Nothing was deleted."
        return render.render_status(kept), gr.update(visible=False), ""

    @staticmethod
    @requires(Permission.ASK)
    def forget_delete() -> tuple[Any, str]:
        """Another id in the box: a confirmation asked for the previous one goes away."""
        return gr.update(visible=False), ""

    @requires(Permission.EDIT)
    def delete(
        self, article_id: str, query: str = "", request: gr.Request | None = None
    ) -> ArticlesUpdate:
        if not self._may_edit(request):
            return (render.render_status(NOT_ALLOWED, ok=False), *self.refresh(query))
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
                _log_failure(exc, "deleting %r", article_id[:200])
                status = render.render_status(friendly_error(exc), ok=False)
        return (status, *self.refresh(query))

    @staticmethod
    @requires(Permission.ASK)
    def pick_article(evt: gr.SelectData) -> Any:
        """Selecting a table row puts its id into the delete box."""
        row = evt.row_value or []
        return row[3] if len(row) > 3 else gr.skip()


# --- feeds and links (Articles tab) -----------------------------------------------------------
FeedUpdate = tuple[str, list[list[str]], list[list[str]], Any, Any]


class FeedsController:
    """Handlers of the feeds panel: add a feed (and poll it), ingest one URL, poll now. Each
    returns (status, feeds table, articles table, sources choices, examples). All but `rows`
    fetch and store articles, so they need EDIT, as uploads do."""

    def __init__(self, chat: ChatController) -> None:
        self.chat = chat
        self.poller = chat.assistant.feeds

    def _refusal(self, url: str, prompt: str, request: gr.Request | None) -> str | None:
        """The status to show instead of fetching: the user may not edit, or gave no URL."""
        if not self.chat._may_edit(request):
            return render.render_status(NOT_ALLOWED, ok=False)
        if not url:
            return render.render_status(prompt, ok=False)
        return None

    @requires(Permission.ASK)
    def rows(self) -> list[list[str]]:
        return render.feed_rows(record.summary() for record in self.poller.feeds())

    @requires(Permission.EDIT)
    def add_feed(
        self, url: str | None, query: str = "", request: gr.Request | None = None
    ) -> FeedUpdate:
        url = (url or "").strip()
        refused = self._refusal(url, "Enter a feed URL first.", request)
        if refused is not None:
            return self._update(refused, query)
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

    @requires(Permission.EDIT)
    def ingest_url(
        self, url: str | None, query: str = "", request: gr.Request | None = None
    ) -> FeedUpdate:
        url = (url or "").strip()
        refused = self._refusal(url, "Enter an article or feed URL first.", request)
        if refused is not None:
            return self._update(refused, query)
        try:
            report = self.poller.ingest_urls([url]).to_dict()
            status = render.render_ingest_report(report)
        except Exception as exc:
            log.exception("ingesting %s failed", url[:200])
            status = render.render_status(_reason(url, exc), ok=False)
        return self._update(status, query)

    @requires(Permission.EDIT)
    def poll_now(self, query: str = "", request: gr.Request | None = None) -> FeedUpdate:
        if not self.chat._may_edit(request):
            return self._update(render.render_status(NOT_ALLOWED, ok=False), query)
        try:
            status = render.render_poll_report(self.poller.poll().to_dict())
        except Exception as exc:
            _log_failure(exc, "feed poll")
            status = render.render_status(friendly_error(exc), ok=False)
        return self._update(status, query)

    def _update(self, status: str, query: str) -> FeedUpdate:
        return (status, self.rows(), *self.chat.refresh(query))


def _reason(url: str, exc: Exception) -> str:
    return f"{url[:200]}: {getattr(exc, 'reason', None) or exc}"
