"""The chat window's layout: which components there are, where, and which handler each event
runs. Presentation only: the handlers (`qa.chat_handlers.ChatController`) are given, and
`qa.server.build_server` mounts the Blocks behind the access door with the API.

    demo = build_ui(ChatController(assistant, settings))

Nothing is kept on this module: conversation state is a per-session `gr.State`.
"""

from __future__ import annotations

from typing import Any

from index.offline import apply_offline_defaults

apply_offline_defaults()  # before gradio is imported: it reads its analytics flag at import

import gradio as gr  # noqa: E402

from index.limits import MAX_FILE_BYTES, MAX_UPLOAD_FILES, SUPPORTED_SUFFIXES  # noqa: E402
from qa import render  # noqa: E402
from qa.chat_handlers import (  # noqa: E402
    MAX_PASSAGES,
    ChatController,
    ChatSession,
    FeedsController,
)

UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)
# No `file_types` on the upload box: Gradio's client would drop a dropped file of another type
# unsaid, and its server would refuse the whole batch; our checks name each refused file in the
# ingest status and ingest the rest. This says what is read.
UPLOAD_HINT = (
    f"Reads {', '.join(UPLOAD_TYPES)}; up to {MAX_FILE_BYTES // 2**20} MB a file and "
    f"{MAX_UPLOAD_FILES} files at once. A file that cannot be read is named in the status "
    "with the reason, and the others are ingested."
)
# Uploaded files Gradio has not been asked to ingest are deleted on this schedule (seconds):
# checked every DELETE_EVERY_S, removed once older than DELETE_AFTER_S.
DELETE_EVERY_S = 600
DELETE_AFTER_S = 1800
FEED_REFRESH_S = 30.0  # the feeds table re-reads the poll state this often (the server polls)

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

# Delete's click: once the confirmation shows (the server's reply), the keyboard lands on
# Cancel, the safe choice. Runs before the handler, so it hands the input on unchanged.
FOCUS_CANCEL_JS = """
(articleId) => {
  const started = Date.now();
  const focusCancel = () => {
    const cancel = document.querySelector('#qa-delete-cancel');
    if (cancel && cancel.offsetParent !== null) cancel.focus();
    else if (Date.now() - started < 15000) setTimeout(focusCancel, 50);
  };
  setTimeout(focusCancel, 50);
  return articleId;
}
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


def any_outlet_in_api_info(sources: gr.Dropdown) -> None:
    """Describe the Sources filter to API clients (`/gradio_api/info`, `gradio_client`) as
    any list of outlet names. Gradio 6.31's Dropdown.api_info lists its choices as an enum even
    with allow_custom_value, and they are those of start-up (the info is built once): clients
    saw a stale list. Each call's names are judged by the assistant, as at every entry point."""
    info = {"type": "array", "items": {"type": "string"}}
    sources.api_info = lambda: info  # type: ignore[method-assign]


def feeds_panel(feeds: FeedsController, status: Any, outputs: list[Any], query: Any) -> None:
    """The feeds-and-links block of the Articles tab; `outputs` are the articles table, the
    sources choices and the examples, refreshed after anything is ingested."""
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


def build_ui(chat: ChatController) -> gr.Blocks:
    """The whole UI as a gr.Blocks over the given handlers, for qa.server to mount."""
    view = chat.initial_view()
    with gr.Blocks(
        title="newsqa: ask the news",
        fill_width=True,
        delete_cache=(DELETE_EVERY_S, DELETE_AFTER_S),
    ) as demo:
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
                    # Labelled though the label is hidden: Gradio shows the label above a
                    # validation error ("Textbox" when there is none) and screen readers read it.
                    question = gr.Textbox(
                        label="Question",
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
                    samples=[[q] for q in view.examples],
                    elem_id="qa-examples",
                )
                with gr.Accordion("Filters and answer options", open=True), gr.Row():
                    since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", min_width=110)
                    until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", min_width=110)
                    # Outlets arrive while the server runs (uploads, feeds); Gradio would
                    # refuse any value not among the choices built here. The assistant checks
                    # the names instead, as for the CLI and HTTP (an unknown one is explained).
                    sources = gr.Dropdown(
                        label="Sources (all when empty)",
                        multiselect=True,
                        value=[],
                        choices=view.sources,
                        allow_custom_value=True,
                        min_width=180,
                    )
                    any_outlet_in_api_info(sources)
                    mode = gr.Radio(
                        label="Answer mode",
                        choices=[("Extractive (offline)", "extractive"), ("LLM", "llm")],
                        value="llm" if view.has_llm else "extractive",
                        interactive=view.has_llm,
                        info=None if view.has_llm else "LLM: not configured",
                        min_width=170,
                    )
                    k = gr.Slider(
                        label="Passages to read",
                        minimum=1,
                        maximum=MAX_PASSAGES,
                        step=1,
                        value=view.top_k,
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
                value=view.rows,
                headers=render.ARTICLE_COLUMNS,
                datatype=["str"] * len(render.ARTICLE_COLUMNS),
                interactive=False,
                wrap=True,
                max_height=420,
                elem_id="qa-articles",
                column_widths=["48%", "16%", "11%", "25%"],
            )
            status = gr.HTML("", elem_id="qa-status")
            # Everything that changes articles: shown only to those who may (see on_load).
            with gr.Column(visible=True) as editing:
                with gr.Row():
                    with gr.Column():
                        files = gr.File(
                            label="Upload articles",
                            file_count="multiple",
                            type="filepath",
                            elem_id="qa-upload",
                        )
                        gr.Markdown(UPLOAD_HINT, elem_id="qa-upload-hint")
                        ingest_btn = gr.Button("Ingest", variant="primary", elem_id="qa-ingest")
                    with gr.Column():
                        delete_id = gr.Textbox(label="Article id to delete (or click a row)")
                        delete_btn = gr.Button("Delete…", variant="stop", elem_id="qa-delete")
                        # Delete asks first: these appear, naming the article, after the
                        # button (next in tab order); focus goes to Cancel, the safe choice.
                        with gr.Row(visible=False, elem_id="qa-delete-confirmation") as confirm:
                            confirm_btn = gr.Button(
                                "Confirm delete", variant="stop", elem_id="qa-delete-confirm"
                            )
                            cancel_btn = gr.Button("Cancel", elem_id="qa-delete-cancel")
                        pending_delete = gr.State("")
                if chat.feeds is not None:
                    feeds_panel(chat.feeds, status, [table, sources, examples], title_query)

        chat_inputs = [question, session, since, until, sources, mode, k]
        chat_outputs = [chatbot, sources_panel, session, question]
        checked = chat.validate_question  # refuses bad input before anything is queued
        ask.click(chat.respond, chat_inputs, chat_outputs, api_name="chat", validator=checked)
        question.submit(
            chat.respond, chat_inputs, chat_outputs, api_visibility="private", validator=checked
        )
        examples.click(chat.pick_example, examples, question, api_visibility="private").then(
            chat.respond, chat_inputs, chat_outputs, api_visibility="private", validator=checked
        )
        clear.click(chat.new_conversation, None, chat_outputs, api_visibility="private")
        # The chatbot's own trash icon must forget the conversation too, not just hide it.
        chatbot.clear(chat.new_conversation, None, chat_outputs, api_visibility="private")
        chatbot.select(chat.show_sources, session, sources_panel, api_visibility="private")

        refreshed = [table, sources, examples]
        for trigger in (title_query.change, search_btn.click):
            trigger(chat.article_table, title_query, table, api_visibility="private")
        ingest_btn.click(
            chat.ingest,
            [files, title_query],
            [status, *refreshed],
            api_visibility="private",
            validator=chat.validate_files,
        )
        delete_btn.click(
            chat.ask_delete,
            delete_id,
            [status, confirm, confirm_btn, pending_delete],
            js=FOCUS_CANCEL_JS,
            api_visibility="private",
        )
        confirm_btn.click(
            chat.confirm_delete,
            [pending_delete, title_query],
            [status, *refreshed, confirm, pending_delete],
            api_visibility="private",
        )
        cancel_btn.click(
            chat.cancel_delete,
            pending_delete,
            [status, confirm, pending_delete],
            api_visibility="private",
        )
        delete_id.change(
            chat.forget_delete, None, [confirm, pending_delete], api_visibility="private"
        )
        table.select(chat.pick_article, None, delete_id, api_visibility="private")
        demo.load(chat.on_load, title_query, [*refreshed, editing], api_visibility="private")
    return demo
