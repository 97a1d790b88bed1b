"""A small OpenAI-compatible chat server on 127.0.0.1 for tests, with scripted behaviours.

    with FakeLLM() as fake:
        fake.reply = "Russia backs Maduro [1]."
        fake.behaviour = "good"            # or "hang", "error500", "malformed", "empty", "html"
        settings = Settings(llm_base_url=fake.base_url, ...)
        ...
        fake.requests[-1]["messages"]      # what the client sent

`script` holds behaviours for the next requests in order (e.g. ["error500", "good"]);
when it is empty, `behaviour` applies. `usage` is the token count it reports (in a stream only
when asked with stream_options.include_usage, as OpenAI does); None reports none.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# "truncated": the stream ends at the token limit (finish_reason "length"); "unfinished": the
# connection closes mid-reply, with no finish reason and no [DONE].
# "html": status 200 with an HTML page (a proxy's error page), for streamed and plain requests.
BEHAVIOURS = ("good", "hang", "error500", "malformed", "empty", "truncated", "unfinished", "html")
HTML_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
REPORTED_USAGE = {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}


class FakeLLM:
    def __init__(self, reply: str = "", behaviour: str = "good", hang_s: float = 10.0):
        self.reply = reply
        self.behaviour = behaviour
        self.script: list[str] = []
        self.hang_s = hang_s
        self.usage: dict[str, int] | None = dict(REPORTED_USAGE)
        self.requests: list[dict[str, Any]] = []
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def next_behaviour(self) -> str:
        behaviour = self.script.pop(0) if self.script else self.behaviour
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        return behaviour

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let hanging handlers finish
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion(reply: str, model: str, usage: dict[str, int] | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def _chunk(
    delta: dict[str, Any] | None,
    model: str,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> bytes:
    """One stream chunk; with delta None, OpenAI's usage chunk (no choices)."""
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n".encode()


def _pieces(text: str) -> list[str]:
    """Split a reply into small deltas (word by word, whitespace kept) like a real model."""
    pieces, current = [], ""
    for char in text:
        current += char
        if char == " ":
            pieces.append(current)
            current = ""
    return [*pieces, current] if current else pieces


class _FakeHandler(BaseHTTPRequestHandler):
    """The fake server's requests; `fake` (set per server by `_handler_for`) scripts replies."""

    fake: FakeLLM
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        self.fake.requests.append(request)
        behaviour = self.fake.next_behaviour()
        model = request.get("model", "fake")
        # The client may give up first (timeout): expected in the hang tests.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._respond(behaviour, request, model)

    def _respond(self, behaviour: str, request: dict[str, Any], model: str) -> None:
        if behaviour == "hang":
            self.fake._release.wait(self.fake.hang_s)
            behaviour = "good"
        if behaviour == "error500":
            self._send(500, b'{"error": {"message": "boom", "type": "server_error"}}')
            return
        if behaviour == "html":
            self._send(200, HTML_PAGE, "text/html")
            return
        if behaviour == "malformed":
            self._send(200, b"this is not json {{{", "application/json")
            return
        reply = "" if behaviour == "empty" else self.fake.reply
        if request.get("stream"):
            wants_usage = (request.get("stream_options") or {}).get("include_usage")
            self._stream(reply, model, self.fake.usage if wants_usage else None, behaviour)
        else:
            body = json.dumps(_completion(reply, model, self.fake.usage)).encode()
            self._send(200, body, "application/json")

    def _stream(
        self, reply: str, model: str, usage: dict[str, int] | None, behaviour: str = "good"
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(_chunk({"role": "assistant", "content": ""}, model))
        pieces = _pieces(reply)
        if behaviour in ("truncated", "unfinished"):
            pieces = pieces[: max(1, len(pieces) // 2)]
        for piece in pieces:
            self.wfile.write(_chunk({"content": piece}, model))
            self.wfile.flush()
        if behaviour == "unfinished":
            self.close_connection = True
            return
        self.wfile.write(_chunk({}, model, finish="length" if behaviour == "truncated" else "stop"))
        if usage is not None:
            self.wfile.write(_chunk(None, model, usage=usage))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_FakeHandler,), {"fake": fake})
