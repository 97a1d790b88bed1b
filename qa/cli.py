"""The `qa` command line: a thin layer over `index.service` and `qa.assistant`."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

if TYPE_CHECKING:
    from qa.eval.multihop import Split

from index.offline import apply_offline_defaults
from index.wording import plural

app = typer.Typer(
    help="Ask questions over news articles; every claim cites its passage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
articles_app = typer.Typer(
    help="List, show and delete stored articles; repair the index after a crash.",
    no_args_is_help=True,
)
app.add_typer(articles_app, name="articles")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _collection_name(name: str | None) -> str | None:
    """--collection is checked up front, as QA_COLLECTION is (Chroma's naming rules)."""
    from index.settings import collection_name_problem

    problem = collection_name_problem(name) if name is not None else None
    if problem:
        typer.echo(f"error: --collection={name!r}: {problem}", err=True)
        raise typer.Exit(2)
    return name


CollectionOpt = Annotated[
    str | None,
    typer.Option(
        "--collection",
        help="Chroma collection (default: QA_COLLECTION).",
        callback=_collection_name,
    ),
]


def _settings():
    """The settings of every command; a bad QA_* value is one line naming it, exit 2."""
    apply_offline_defaults()
    from index.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from exc


def _index_service(collection: str | None = None, *, create: bool = True, write: bool = True):
    """The index; `create=False` for commands that only read or delete (they must not create
    collections): a missing index is then an IndexMissingError for the caller. `write=False`
    for commands that only read (no writer lock on an embedded index)."""
    from index.service import IndexService
    from index.store import IndexMissingError, StoreError

    try:
        return IndexService(_settings(), collection=collection, create=create, write=write)
    except IndexMissingError:
        raise
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command(short_help="Load, chunk, embed and store articles (files, folders or URLs).")
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files or folders of articles, article page URLs or feed URLs."),
    ],
    as_json: JsonFlag = False,
    collection: CollectionOpt = None,
) -> None:
    """Load, chunk, embed and store articles: .txt (plain or the seed format), .md, .markdown,
    .html, .htm, .json, .jsonl, .ndjson and .pdf (text layer; no OCR). Folders are read
    recursively; files of other types are named in a warning. An http(s) URL is fetched: a
    page is one article, a feed every item's page (docs/feeds.md)."""
    from index.fetch import is_url
    from index.ingest import IngestReport
    from index.store import store_failure
    from qa.progress import IngestProgressBar

    service = _index_service(collection)
    urls = [p for p in paths if is_url(p)]
    files = [Path(p) for p in paths if not is_url(p)]
    fetched: int | None = None
    report = IngestReport()  # filled as writes complete: kept if Chroma fails part-way
    try:
        if urls:
            from index.loaders import load_paths

            poller = _feed_poller(service)
            loaded = load_paths(files) if files else ()
            fetched = poller.ingest_urls(urls, extra=loaded, report=report).fetched
        else:
            with IngestProgressBar(enabled=not as_json and sys.stderr.isatty()) as bar:
                service.ingest_paths(files, progress=bar.update, report=report)
    except Exception as exc:  # Chroma lost mid-run: say what was stored, not a traceback
        failure = store_failure(exc, service.settings)
        if failure is None:
            raise
        _ingest_stopped(failure, report, as_json)
    if service.repaired is not None:  # before or during this run (index.repair)
        typer.echo(f"note: repaired the damaged vector index: {service.repaired}", err=True)
    if as_json:
        extra = {} if fetched is None else {"fetched": fetched}
        typer.echo(json.dumps({**report.to_dict(), **extra}))
    else:
        for problem in report.warnings:
            typer.echo(f"warning: {problem}", err=True)
        for problem in report.errors:
            typer.echo(f"error: {problem}", err=True)
        pages = "" if fetched is None else f"{fetched} fetched; "
        typer.echo(
            f"{pages}{report.added} added, {report.updated} updated, {report.unchanged} "
            f"unchanged, {report.failed} failed; {plural(report.chunks, 'chunk')} written, "
            f"{report.embedded} embedded in {report.seconds:.1f} s"
        )
    raise typer.Exit(0 if report.ok else 1)


def _ingest_stopped(failure: Exception, report: Any, as_json: bool) -> None:
    """The one-line store error and what was stored before it; exit 2 (not 1: no input
    failed). Articles whose write did not complete are not stored and a re-run redoes them."""
    typer.echo(f"error: {failure}", err=True)
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "error": str(failure)}))
    else:
        typer.echo(
            f"stored before the failure: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged; {plural(report.chunks, 'chunk')} written. "
            "Run the same command again to finish (stored articles are skipped).",
            err=True,
        )
    raise typer.Exit(2) from failure


@contextmanager
def _store_failure_is_one_line(settings: Any, what: str) -> Iterator[None]:
    """Chroma lost or QA_BM25_DIR broken part-way through a command that writes: its one line,
    exit 2, instead of a traceback. What was done before it stays done."""
    from index.store import store_failure

    try:
        yield
    except Exception as exc:
        failure = store_failure(exc, settings)
        if failure is None:
            raise
        typer.echo(f"error: {failure}", err=True)
        typer.echo(f"{what} stopped there; what was stored before stays stored", err=True)
        raise typer.Exit(2) from exc


def _feed_poller(service=None):
    """The feed list and poller of QA_DATA_DIR (the index is opened only when needed)."""
    from index.poller import FeedPoller

    return FeedPoller(service.settings if service else _settings(), service)


@articles_app.command("list")
def articles_list(as_json: JsonFlag = False, collection: CollectionOpt = None) -> None:
    """List stored articles, newest first."""
    from index.store import IndexMissingError

    try:
        records = _index_service(collection, create=False, write=False).store.list_articles()
    except IndexMissingError as exc:
        typer.echo(f"note: {exc}", err=True)
        records = []
    if as_json:
        typer.echo(json.dumps([r.summary() for r in records]))
        return
    for r in records:
        dup = f"  (near-duplicate of {len(r.near_duplicates)})" if r.near_duplicates else ""
        typer.echo(
            f"{r.published[:10] or '----------'}  {r.source or '-':<20.20}  "
            f"{r.title[:70]}  [{r.article_id}]{dup}"
        )
    typer.echo(plural(len(records), "article"), err=True)


@articles_app.command("show")
def articles_show(
    article_id: str, as_json: JsonFlag = False, collection: CollectionOpt = None
) -> None:
    """Print one article with its metadata."""
    from index.store import IndexMissingError

    try:
        store = _index_service(collection, create=False, write=False).store
        record = store.get_article(article_id)
    except IndexMissingError as exc:
        typer.echo(f"note: {exc}", err=True)
        record = None
    if record is None:
        typer.echo(f"error: no article with id {article_id!r}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps({**record.summary(), "body": record.body}))
        return
    typer.echo(f"{record.title}\n{record.source}  {record.published}  {record.url}")
    typer.echo(f"Photo caption: {record.caption}\n" if record.caption else "")
    typer.echo(record.body or "")


@articles_app.command("delete")
def articles_delete(article_ids: list[str], collection: CollectionOpt = None) -> None:
    """Delete articles (and all their chunks) by id."""
    from index.store import IndexMissingError

    try:
        service = _index_service(collection, create=False)
    except IndexMissingError as exc:
        typer.echo(f"note: {exc}", err=True)
        missing = list(article_ids)
    else:
        store = service.store
        with _store_failure_is_one_line(service.settings, "the deletes"):
            missing = [a for a in article_ids if not store.delete_article(a)]
    for article_id in missing:
        typer.echo(f"error: no article with id {article_id!r}", err=True)
    typer.echo(f"deleted {plural(len(article_ids) - len(missing), 'article')}")
    raise typer.Exit(1 if missing else 0)


@articles_app.command("repair")
def articles_repair(collection: CollectionOpt = None) -> None:
    """Rebuild the vector index of an embedded index from the stored text, after a process
    killed while Chroma saved it left it damaged (reads and writes fail). Stored articles
    are kept; chunk vectors are re-embedded. Writers also repair on their own when needed."""
    from index.store import IndexMissingError, StoreError

    settings = _settings()
    if settings.chroma_url:
        typer.echo(
            f"error: QA_CHROMA_URL={settings.chroma_url}: a Chroma server keeps its own "
            "vector index; `qa articles repair` rebuilds an embedded one",
            err=True,
        )
        raise typer.Exit(2)
    try:
        service = _index_service(collection, create=False)
        # Opening repairs an index marked damaged; otherwise the user asks for it now.
        repaired = service.repaired or service.repair_vectors()
    except IndexMissingError as exc:
        typer.echo(f"note: {exc}", err=True)
        return
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"rebuilt the vector index: {repaired}")


def _assistant(collection: str | None = None):
    """An Assistant to ask with (read-only: it may run beside a writer of an embedded index)."""
    from index.store import StoreError
    from qa.assistant import Assistant

    try:
        return Assistant(_settings(), collection=collection, read_only=True)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


SinceOpt = Annotated[str | None, typer.Option(help="Only articles published on/after YYYY-MM-DD.")]
UntilOpt = Annotated[str | None, typer.Option(help="Only articles published on/before YYYY-MM-DD.")]
SourceOpt = Annotated[
    list[str] | None, typer.Option("--source", help="Only these outlets (repeatable).")
]
KOpt = Annotated[int | None, typer.Option("--k", help="Passages to retrieve.")]
ModeOpt = Annotated[
    str | None, typer.Option(help="extractive or llm (default: llm when configured).")
]


@app.command()
def search(
    question: str,
    k: KOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    as_json: JsonFlag = False,
    collection: CollectionOpt = None,
) -> None:
    """Retrieve the passages for a question (no answer), with per-stage scores."""
    from index.limits import InputError
    from index.store import StoreError
    from qa.assistant import nothing_found_reason

    try:
        assistant = _assistant(collection)
        result = assistant.search(question, k=k, since=since, until=until, sources=source)
        stored = assistant.service.store.count_chunks() if not result.passages else 0
    except (InputError, StoreError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(result.model_dump_json())
        return
    if result.filters.reason:
        typer.echo(f"filters: {result.filters.reason}")
    if not result.passages:  # as `qa ask` says it: an empty index, or filters that leave none
        typer.echo(nothing_found_reason(result, stored, source), err=True)
    for rank, p in enumerate(result.passages, 1):
        scores = " ".join(f"{name}={value:.3f}" for name, value in p.scores.items())
        typer.echo(f"[{rank}] {_byline(p.title, p.source, p.published)}  ({scores})")
        typer.echo("    " + p.text[:300].replace("\n", " ") + ("…" if len(p.text) > 300 else ""))


@app.command(short_help="Answer a question with cited passages (loads models each call).")
def ask(
    question: str,
    k: KOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    mode: ModeOpt = None,
    as_json: JsonFlag = False,
    collection: CollectionOpt = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Ask a running `qa serve` (e.g. http://127.0.0.1:7860) "
            "instead of the local index; sends QA_API_KEY as the bearer key.",
        ),
    ] = None,
) -> None:
    """Answer a question with cited passages. Where the time goes: each call starts Python,
    imports the libraries and loads the embedding model and the index, nearly all of its few
    seconds; once loaded, an extractive answer takes about a tenth of a second. For several
    questions keep one warm process: `qa chat` (interactive, with follow-ups), or `qa serve`
    and `qa ask --url`."""
    from index.limits import InputError
    from index.store import StoreError
    from qa.assistant import AssistantError
    from qa.client import ApiError

    options = {"k": k, "since": since, "until": until, "sources": source, "mode": mode}
    try:
        _ask_and_print(_answerer(url, collection), question, options, as_json)
    except (AssistantError, ApiError, InputError, StoreError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


# Turns of history sent with each question of `qa chat` (as the chat window does).
CHAT_HISTORY_TURNS = 12
CHAT_COMMANDS = "/new: new conversation, /help: this line, Ctrl-D: quit"


@app.command(short_help="Ask question after question in one warm process, with follow-ups.")
def chat(
    k: KOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    mode: ModeOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON Answer per line (JSON Lines).")
    ] = False,
    collection: CollectionOpt = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Ask a running `qa serve` instead of the local index."),
    ] = None,
) -> None:
    """An interactive session in one warm process: reads questions from stdin, one per line,
    and prints each cited answer. Models load once, so each answer comes back quickly, and
    follow-ups ("what did he say?") are read with the conversation so far. `/new` starts a
    new conversation; Ctrl-D (end of input) ends the session, with exit code 2 if a question
    failed (its error is printed and the session goes on)."""
    from index.limits import InputError
    from index.store import StoreError
    from qa.assistant import AssistantError
    from qa.client import ApiError
    from qa.types import Turn

    answerer = _answerer(url, collection)
    if url is None:  # load the answerer now, not during the first question
        answerer.warm_up()
    interactive = sys.stdin.isatty()
    if interactive:
        typer.echo(f"Ask about the articles ({CHAT_COMMANDS}).", err=True)
    history: list[Turn] = []
    failed = False
    options = {"k": k, "since": since, "until": until, "sources": source, "mode": mode}
    for question in _questions(interactive):
        if question == "/new":
            history.clear()
            typer.echo("(new conversation)", err=True)
            continue
        if re.fullmatch(r"/\w+", question):  # "/help", "/quit": a command, not a question
            known = "" if question == "/help" else f"unknown command {question}; "
            typer.echo(f"({known}{CHAT_COMMANDS})", err=True)
            continue
        try:
            final = _ask_and_print(
                answerer, question, {**options, "history": history[-CHAT_HISTORY_TURNS:]}, as_json
            )
        except (AssistantError, ApiError, InputError, StoreError) as exc:  # the rest go on
            typer.echo(f"error: {exc}", err=True)
            failed = True
            continue
        history += [
            Turn(role="user", content=question),
            Turn(role="assistant", content=final.answer),
        ]
        if not as_json:
            typer.echo("")
    raise typer.Exit(2 if failed else 0)


def _questions(interactive: bool) -> Iterator[str]:
    """Non-empty lines of stdin until end of input (Ctrl-D) or Ctrl-C; a prompt on a tty."""
    while True:
        if interactive:
            typer.echo("> ", nl=False, err=True)
        try:
            line = sys.stdin.readline()
        except KeyboardInterrupt:
            line = ""
        if not line:
            if interactive:
                typer.echo("", err=True)
            return
        if line.strip():
            yield line.strip()


def _ask_and_print(answerer: Any, question: str, options: dict[str, Any], as_json: bool) -> Any:
    """Stream one answer to stdout (text as it comes, then its citations), or print it as one
    JSON line. Returns the final Answer."""
    from qa.types import Answer

    final: Answer | None = None
    streamed = False
    for event in answerer.ask_stream(question, **options):
        if isinstance(event, Answer):
            final = event
        elif not as_json:
            typer.echo(event, nl=False)
            streamed = True
    assert final is not None, "ask_stream always ends with an Answer"
    if as_json:
        typer.echo(final.model_dump_json())
    else:
        _print_answer(final, streamed)
    return final


def _answerer(url: str | None, collection: str | None):
    """The local Assistant, or with --url a Client of a running server (same ask_stream)."""
    if url is None:
        return _assistant(collection)
    from qa.client import Client

    key = _settings().api_key
    return Client(url, api_key=key.get_secret_value() if key else None)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 7860,
    allow_open: Annotated[
        bool,
        typer.Option(
            "--allow-open",
            help="Serve a non-loopback address with no QA_API_KEY / QA_UI_USERS "
            "(anyone who can reach it may ask, upload and delete).",
        ),
    ] = False,
    poll_interval: Annotated[
        float | None,
        typer.Option(
            "--poll-interval",
            min=0,
            help="Poll the feeds (qa feeds list) every N seconds in the background; "
            "0: never (default: QA_POLL_INTERVAL_S).",
        ),
    ] = None,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help="Ingest the sample article (samples/) first when the index is empty, as "
            "`make serve` does.",
        ),
    ] = False,
) -> None:
    """Serve the chat UI at / and the HTTP API at /api/v1 and /v1 (docs at /docs)."""
    from index.store import StoreError
    from qa.server import ServeRefused
    from qa.server import serve as run_server

    settings = _settings()
    if allow_open:
        settings = settings.model_copy(update={"allow_open": True})
    if poll_interval is not None:
        settings = settings.model_copy(update={"poll_interval_s": poll_interval})
    try:
        run_server(host=host, port=port, settings=settings, sample=sample)
    except (StoreError, ServeRefused) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _print_answer(answer, streamed: bool) -> None:
    """The answer (unless its text was already streamed), what was searched for when a
    follow-up was rewritten, then its citations."""
    from qa.render import notices, text_with_days, understood_as

    typer.echo("" if streamed else text_with_days(answer))
    if understood_as(answer):
        typer.echo(f"\n{understood_as(answer)}")
    for label, notice in notices(answer):
        typer.echo(f"\n{label.lower()}: {notice}")
    for c in answer.citations:
        flag = "" if c.supported else "  (not verified)"
        typer.echo(f"\n[{c.n}] {_byline(c.title, c.source, c.published, c.url)}{flag}")
        typer.echo(f'    "{c.quote}"')
    for passage in answer.nearest:
        typer.echo(
            f"\nnearest: {_byline(passage.title, passage.source, passage.published)}: "
            f"{passage.text[:200]}…"
        )


def _byline(title: str, source: str, published: str, url: str = "") -> str:
    """ "Title — Source 2019-01-26 url", leaving out what an article does not have."""
    meta = " ".join(part for part in (source, published[:10], url) if part)
    return " — ".join(part for part in (title, meta) if part)


feeds_app = typer.Typer(
    help="Follow RSS/Atom/RDF feeds: the feed list (in QA_DATA_DIR, plus QA_FEEDS) and polling.",
    no_args_is_help=True,
)
app.add_typer(feeds_app, name="feeds")
FeedUrlArg = Annotated[str, typer.Argument(help="The feed's http(s) URL.")]


@feeds_app.command("add")
def feeds_add(
    url: FeedUrlArg,
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Fetch it once to check it is a feed.")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Add a feed to the list (its items are ingested by `qa feeds poll`)."""
    from index.feeds import NotAFeedError
    from index.fetch import FetchError

    poller = _feed_poller()
    try:
        record, added = poller.add_feed(url, check=check)
    except (ValueError, FetchError, NotAFeedError) as exc:
        typer.echo(f"error: {url}: {getattr(exc, 'reason', exc)}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps({**record.summary(), "added": added}))
        return
    what = "added" if added else "already in the list"
    title = f" ({record.title})" if record.title else ""
    typer.echo(f"{what}: {record.url}{title}; `qa feeds poll` ingests its items")


@feeds_app.command("list")
def feeds_list(as_json: JsonFlag = False) -> None:
    """The feeds, with their last poll, new items and last error."""
    records = _feed_poller().feeds()
    if as_json:
        typer.echo(json.dumps([r.summary() for r in records]))
        return
    for record in records:
        row = record.summary()
        error = f"  error: {row['last_error']}" if row["last_error"] else ""
        typer.echo(
            f"{record.url}  {record.title or '-'}  last poll {row['last_poll'] or 'never'}"
            f"  {row['last_status'] or ''} ({record.last_new} new)  {record.items_seen} items"
            f"{'  [QA_FEEDS]' if record.origin == 'env' else ''}{error}"
        )
    typer.echo(plural(len(records), "feed"), err=True)


@feeds_app.command("remove")
def feeds_remove(url: FeedUrlArg) -> None:
    """Remove a feed from the list (its articles stay in the index: `qa articles delete`)."""
    try:
        removed = _feed_poller().remove_feed(url)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if not removed:
        typer.echo(f"error: {url} is not in the feed list", err=True)
        raise typer.Exit(1)
    typer.echo(f"removed {url}")


@feeds_app.command("poll")
def feeds_poll(
    urls: Annotated[
        list[str] | None, typer.Argument(help="Only these feeds (default: all that are due).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Also poll feeds that are backing off.")] = False,
    as_json: JsonFlag = False,
    collection: CollectionOpt = None,
) -> None:
    """Fetch the feeds (conditional GET) and ingest their new items' pages."""
    poller = _feed_poller(_index_service(collection))
    try:
        with _store_failure_is_one_line(poller.settings, "the poll"):
            report = poller.poll(urls or None, force=force)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    data = report.to_dict()
    if as_json:
        typer.echo(json.dumps(data))
    else:
        for feed in data["per_feed"]:
            error = f"  {feed['error']}" if feed["error"] else ""
            typer.echo(
                f"{feed['url']}: {feed['status']}, {feed['new']} new, {feed['updated']} updated, "
                f"{feed['unchanged']} unchanged, {feed['failed']} failed{error}"
            )
            for item_error in feed["item_errors"]:
                typer.echo(f"  error: {item_error}", err=True)
        for warning in data["warnings"]:  # as `qa ingest` shows them: "page not fetched: …"
            typer.echo(f"warning: {warning}", err=True)
        waiting = sum(1 for feed in data["per_feed"] if feed["status"] == "backing off")
        typer.echo(
            f"{data['feeds']} feed{'' if data['feeds'] == 1 else 's'} "
            f"({data['not_modified']} not modified, {data['feeds_failed']} failed, {waiting} "
            f"backing off after earlier failures): {data['new']} new, {data['updated']} "
            f"updated, {data['unchanged']} unchanged, {data['failed']} failed; "
            f"{data['fetched']} pages fetched in {data['seconds']:.1f} s"
        )
    raise typer.Exit(0 if report.ok else 1)


eval_app = typer.Typer(
    help="Evaluate on MultiHop-RAG (shipped in qa/eval/data; --data-dir for another copy).",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")
SplitOpt = Annotated[str, typer.Option(help="dev, test or all.")]


def _split(value: str) -> Split:
    """The --split value as the evaluators' type; anything else is a usage error, not a
    KeyError deep in the data."""
    if value not in ("dev", "test", "all"):
        raise typer.BadParameter(f"--split must be dev, test or all, not {value!r}")
    return cast("Split", value)


DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="A MultiHop-RAG copy (corpus.json, MultiHopRAG.json, split.json; plain or .xz). "
        "Default: the vendored copy, or QA_MULTIHOP_DIR.",
    ),
]


@eval_app.command("retrieval")
def eval_retrieval(
    split: SplitOpt = "dev",
    k: Annotated[int, typer.Option("--k")] = 10,
    limit: Annotated[int | None, typer.Option(help="First N queries only.")] = None,
    as_json: JsonFlag = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Paper metrics, multi-hop completeness, latency and an ablation table in one run."""
    from qa.eval.retrieval import format_retrieval_report, run_retrieval_eval

    report = run_retrieval_eval(_settings(), _split(split), k=k, limit=limit, data_dir=data_dir)
    typer.echo(json.dumps(report) if as_json else format_retrieval_report(report))


@eval_app.command("answers")
def eval_answers(
    split: SplitOpt = "dev",
    limit: Annotated[int | None, typer.Option(help="First N queries only.")] = None,
    as_json: JsonFlag = False,
    data_dir: DataDirOpt = None,
    rows: Annotated[
        Path | None,
        typer.Option(
            help="Write each question's row (question, gold, answer) here as JSON. Dev only."
        ),
    ] = None,
) -> None:
    """Answer accuracy (loose and strict), abstention and citation precision."""
    from qa.eval.answers import format_answer_report, run_answer_eval

    if rows is not None and split != "dev":
        raise typer.BadParameter("--rows is for dev only: test rows are not to be read")
    found: list[dict] | None = [] if rows is not None else None
    report = run_answer_eval(
        _settings(), _split(split), limit=limit, data_dir=data_dir, rows_out=found
    )
    if rows is not None:
        rows.write_text(json.dumps(found, indent=1))
    typer.echo(json.dumps(report) if as_json else format_answer_report(report))


@eval_app.command("questions")
def eval_questions(
    split: Annotated[str, typer.Option(help="dev (built against) or test (held out).")] = "dev",
    as_json: JsonFlag = False,
    data_dir: DataDirOpt = None,
) -> None:
    """User-style questions: who, which company, when, how many, lists, unanswerable, and open
    "How did X react / what did X say" questions (describe)."""
    from qa.eval.questions import format_question_report, run_question_eval

    if split not in ("dev", "test"):
        raise typer.BadParameter(f"--split must be dev or test, not {split!r}")
    report = run_question_eval(_settings(), split, data_dir=data_dir)  # type: ignore[arg-type]
    typer.echo(json.dumps(report) if as_json else format_question_report(report))


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # python -m qa.cli (python -m qa runs qa/__main__.py)
    main()
