"""The `qa` command line: a thin layer over `index.service` and `qa.assistant`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from index.offline import apply_offline_defaults

app = typer.Typer(
    help="Ask questions over news articles; every claim cites its passage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
articles_app = typer.Typer(help="List, show and delete stored articles.", no_args_is_help=True)
app.add_typer(articles_app, name="articles")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CollectionOpt = Annotated[
    str | None, typer.Option("--collection", help="Chroma collection (default: QA_COLLECTION).")
]


def _settings():
    apply_offline_defaults()
    from index.settings import Settings

    return Settings()


def _index_service(collection: str | None = None):
    from index.service import IndexService
    from index.store import StoreError

    try:
        return IndexService(_settings(), collection=collection)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of articles.")],
    as_json: JsonFlag = False,
    collection: CollectionOpt = None,
) -> None:
    """Load, chunk, embed and store articles (.txt seed format, .md, .html, .json, .jsonl)."""
    from qa.progress import IngestProgressBar

    service = _index_service(collection)
    with IngestProgressBar(enabled=not as_json and sys.stderr.isatty()) as bar:
        report = service.ingest_paths(paths, progress=bar.update)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
    else:
        for problem in report.warnings:
            typer.echo(f"warning: {problem}", err=True)
        for problem in report.errors:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.failed} failed; {report.chunks} chunks written, {report.embedded} embedded "
            f"in {report.seconds:.1f} s"
        )
    raise typer.Exit(0 if report.ok else 1)


@articles_app.command("list")
def articles_list(as_json: JsonFlag = False, collection: CollectionOpt = None) -> None:
    """List stored articles, newest first."""
    records = _index_service(collection).store.list_articles()
    if as_json:
        typer.echo(json.dumps([r.summary() for r in records]))
        return
    for r in records:
        dup = f"  (near-duplicate of {len(r.near_duplicates)})" if r.near_duplicates else ""
        typer.echo(
            f"{r.published[:10] or '----------'}  {r.source or '-':<20.20}  "
            f"{r.title[:70]}  [{r.article_id}]{dup}"
        )
    typer.echo(f"{len(records)} articles", err=True)


@articles_app.command("show")
def articles_show(
    article_id: str, as_json: JsonFlag = False, collection: CollectionOpt = None
) -> None:
    """Print one article with its metadata."""
    record = _index_service(collection).store.get_article(article_id)
    if record is None:
        typer.echo(f"error: no article with id {article_id!r}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps({**record.summary(), "body": record.body}))
        return
    typer.echo(f"{record.title}\n{record.source}  {record.published}  {record.url}\n")
    typer.echo(record.body or "")


@articles_app.command("delete")
def articles_delete(article_ids: list[str], collection: CollectionOpt = None) -> None:
    """Delete articles (and all their chunks) by id."""
    store = _index_service(collection).store
    missing = [a for a in article_ids if not store.delete_article(a)]
    for article_id in missing:
        typer.echo(f"error: no article with id {article_id!r}", err=True)
    typer.echo(f"deleted {len(article_ids) - len(missing)} article(s)")
    raise typer.Exit(1 if missing else 0)


def _assistant(collection: str | None = None):
    from index.store import StoreError
    from qa.assistant import Assistant

    try:
        return Assistant(_settings(), collection=collection)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


SinceOpt = Annotated[str | None, typer.Option(help="Only articles published on/after YYYY-MM-DD.")]
UntilOpt = Annotated[str | None, typer.Option(help="Only articles published on/before YYYY-MM-DD.")]
SourceOpt = Annotated[
    list[str] | None, typer.Option("--source", help="Only these outlets (repeatable).")
]
KOpt = Annotated[int | None, typer.Option("--k", help="Passages to retrieve.")]


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
    result = _assistant(collection).search(question, k=k, since=since, until=until, sources=source)
    if as_json:
        typer.echo(result.model_dump_json())
        return
    if result.filters.reason:
        typer.echo(f"filters: {result.filters.reason}")
    for rank, p in enumerate(result.passages, 1):
        scores = " ".join(f"{name}={value:.3f}" for name, value in p.scores.items())
        typer.echo(f"[{rank}] {_byline(p.title, p.source, p.published)}  ({scores})")
        typer.echo("    " + p.text[:300].replace("\n", " ") + ("…" if len(p.text) > 300 else ""))


@app.command()
def ask(
    question: str,
    k: KOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    mode: Annotated[
        str | None, typer.Option(help="extractive or llm (default: llm when configured).")
    ] = None,
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
    """Answer a question with cited passages."""
    from qa.assistant import AssistantError
    from qa.client import ApiError
    from qa.types import Answer

    options = {"k": k, "since": since, "until": until, "sources": source, "mode": mode}
    try:
        events = _answerer(url, collection).ask_stream(question, **options)
        final: Answer | None = None
        streamed = False
        for event in events:
            if isinstance(event, Answer):
                final = event
            elif not as_json:
                typer.echo(event, nl=False)
                streamed = True
    except (AssistantError, ApiError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    assert final is not None
    if as_json:
        typer.echo(final.model_dump_json())
        return
    _print_answer(final, streamed)


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
) -> None:
    """Serve the chat UI at / and the HTTP API at /api/v1 and /v1 (docs at /docs)."""
    from index.store import StoreError
    from qa.server import serve as run_server

    try:
        run_server(host=host, port=port, settings=_settings())
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _print_answer(answer, streamed: bool) -> None:
    """The answer (unless its text was already streamed), then its citations."""
    typer.echo("" if streamed else answer.answer)
    if answer.notice:
        typer.echo(f"\nnote: {answer.notice}")
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


eval_app = typer.Typer(
    help="Evaluate on MultiHop-RAG (shipped in qa/eval/data; --data-dir for another copy).",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")
SplitOpt = Annotated[str, typer.Option(help="dev, test or all.")]
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

    report = run_retrieval_eval(_settings(), split, k=k, limit=limit, data_dir=data_dir)
    typer.echo(json.dumps(report) if as_json else format_retrieval_report(report))


@eval_app.command("answers")
def eval_answers(
    split: SplitOpt = "dev",
    limit: Annotated[int | None, typer.Option(help="First N queries only.")] = None,
    as_json: JsonFlag = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Answer accuracy (loose and strict), abstention and citation precision."""
    from qa.eval.answers import format_answer_report, run_answer_eval

    report = run_answer_eval(_settings(), split, limit=limit, data_dir=data_dir)
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
