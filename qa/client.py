"""`Client`: the HTTP API with the Assistant's types, for `qa ask --url` and other programs.

    with Client("http://127.0.0.1:7860", api_key=None) as client:
        answer = client.ask("which countries back Maduro?")           # -> Answer
        for event in client.ask_stream("and who backs Guaido?"):       # str deltas, then Answer
            ...

Errors come back as `ApiError` (status, message, field); 400/422 are also `ValueError`s like the
in-process `AssistantError`, and 503 (index unreachable) is `ServiceUnavailableError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from index.ingest import IngestReport
from index.models import LoadProblem
from index.store import ArticleRecord
from qa.types import Answer, SearchResult, history_turns

API = "/api/v1"
T = TypeVar("T")


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.field = field


class BadRequestError(ApiError, ValueError):
    """400/422: the request was refused as asked (bad field, LLM mode without an LLM, …)."""


class ServiceUnavailableError(ApiError):
    """503: the server's article index (Chroma) cannot be reached right now."""


class ConnectionFailedError(ApiError):
    """The server itself cannot be reached (status 0): wrong URL, not started, network."""


class Client:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- questions ----------------------------------------------------------------------------
    def ask(self, question: str, **options: Any) -> Answer:
        """Same options as Assistant.ask: history, k, since, until, sources, mode."""
        reply = self._request("POST", f"{API}/answer", json=_question_body(question, options))
        return _parsed(reply, Answer.model_validate)

    def ask_stream(self, question: str, **options: Any) -> Iterator[str | Answer]:
        """Text deltas, then the final Answer (as Assistant.ask_stream). A `replace` event from
        the server (final text differs from the deltas) is yielded as the Answer only."""
        body = {**_question_body(question, options), "stream": True}
        try:
            with self._http.stream("POST", f"{API}/answer", json=body) as reply:
                if reply.status_code >= 400:
                    reply.read()
                    _raise_for(reply)
                for event, data in iter_sse(reply.iter_lines()):
                    if event == "delta":
                        yield json.loads(data)["text"]
                    elif event == "answer":
                        yield Answer.model_validate_json(data)
                        return
                    elif event == "error":
                        error = json.loads(data)["error"]
                        raise ApiError(500, error.get("message", "stream failed"))
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        raise ApiError(502, "the answer stream ended without an answer")

    def search(self, question: str, **options: Any) -> SearchResult:
        """Same options as Assistant.search: k, since, until, sources."""
        reply = self._request("POST", f"{API}/search", json=_question_body(question, options))
        return _parsed(reply, SearchResult.model_validate)

    # --- articles -----------------------------------------------------------------------------
    def list_articles(self, q: str | None = None) -> list[ArticleRecord]:
        records: list[ArticleRecord] = []
        page = 1000
        while True:
            params: dict[str, Any] = {"limit": page, "offset": len(records)}
            if q:
                params["q"] = q
            got = _parsed(self._request("GET", f"{API}/articles", params=params), dict)
            records += [_parsed(row, _record) for row in got["articles"]]
            if len(records) >= got["total"] or not got["articles"]:
                return records

    def get_article(self, article_id: str) -> ArticleRecord | None:
        reply = self._send("GET", f"{API}/articles/{quote(article_id, safe='')}")
        if reply.status_code == 404:
            return None
        _raise_for(reply)
        return _parsed(reply, _record)

    def upload(self, paths: Iterable[str | Path]) -> IngestReport:
        """Upload files (names only travel, not their folders) and ingest them."""
        files = [("files", (Path(p).name, Path(p).read_bytes())) for p in paths]
        return _parsed(self._request("POST", f"{API}/articles", files=files), _report)

    def ingest_records(self, records: Sequence[dict], origin: str = "api") -> IngestReport:
        body = {"records": list(records), "origin": origin}
        return _parsed(self._request("POST", f"{API}/articles", json=body), _report)

    def delete(self, article_id: str) -> bool:
        reply = self._send("DELETE", f"{API}/articles/{quote(article_id, safe='')}")
        if reply.status_code == 404:
            return False
        _raise_for(reply)
        return True

    delete_article = delete

    def health(self) -> dict[str, Any]:
        return _parsed(self._request("GET", f"{API}/health"), dict)

    # --- plumbing -----------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        reply = self._send(method, path, **kwargs)
        _raise_for(reply)
        return reply

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: Exception) -> ConnectionFailedError:
        return ConnectionFailedError(0, f"cannot reach {self.url}: {type(exc).__name__}: {exc}")


def _question_body(question: str, options: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question}
    for name, value in options.items():
        if value is None:
            continue
        if name == "history":
            value = [turn.model_dump() for turn in history_turns(value)]
            if not value:
                continue
        elif name == "sources":
            value = list(value)
        body[name] = value
    return body


NOT_NEWSQA = "(is it a newsqa server? check the URL and port)"


def _parsed(reply: httpx.Response | dict, parse: Callable[[Any], T]) -> T:
    """The reply read as `parse` reads it; ApiError naming the server when what answered is not
    newsqa (another service on the port: a raw pydantic or KeyError told the user nothing)."""
    try:
        return parse(reply.json() if isinstance(reply, httpx.Response) else reply)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # ValidationError too
        where = f"{reply.request.url} " if isinstance(reply, httpx.Response) else ""
        kind = reply.headers.get("content-type", "") if isinstance(reply, httpx.Response) else ""
        raise ApiError(
            502, f"{where}answered {kind or 'something'} that is not a newsqa reply {NOT_NEWSQA}"
        ) from exc


def _raise_for(reply: httpx.Response) -> None:
    if reply.status_code < 400:
        return
    error = _error_body(reply)
    if error is None:  # not the API's error shape: something else answered
        message, field = f"{reply.text[:500] or reply.reason_phrase} {NOT_NEWSQA}", None
    else:
        message, field = str(error.get("message", reply.text)), error.get("field")
    if reply.status_code in (400, 422):
        raise BadRequestError(reply.status_code, message, field)
    if reply.status_code == 503:
        raise ServiceUnavailableError(503, message, field)
    raise ApiError(reply.status_code, message, field)


def _error_body(reply: httpx.Response) -> dict[str, Any] | None:
    """The `error` object of the API's error shape, or None when the reply has none."""
    try:
        body = reply.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def iter_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from server-sent-event lines (comments and pings skipped)."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)


def _record(row: dict[str, Any]) -> ArticleRecord:
    fields = set(ArticleRecord.__dataclass_fields__)
    return ArticleRecord(**{name: value for name, value in row.items() if name in fields})


def _report(body: dict[str, Any]) -> IngestReport:
    def problems(rows: list[dict[str, Any]], fatal: bool) -> list[LoadProblem]:
        return [
            LoadProblem(path=r["path"], line=r.get("line"), reason=r["reason"], fatal=fatal)
            for r in rows
        ]

    counts = {
        name: body[name]
        for name in ("added", "updated", "unchanged", "failed", "chunks", "embedded", "seconds")
    }
    return IngestReport(
        **counts,
        errors=problems(body["errors"], True),
        warnings=problems(body["warnings"], False),
        article_ids=list(body.get("article_ids", [])),
    )
