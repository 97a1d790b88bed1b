"""Schemathesis (Python API, 4.x) against the live HTTP API: every operation of openapi.json,
positive and negative generated requests, over real HTTP to uvicorn on loopback.

Asserted for every request: no 5xx, and the response conforms to the documented status codes,
content types, headers and body schema; negative (schema-invalid) requests are rejected.
Not checked: positive_data_acceptance (schema-valid requests may still be refused for semantic
reasons, e.g. mode "llm" without an LLM), use_after_free / ensure_resource_availability (they
need stateful links the API does not declare).

Default suite: ~10 requests per operation and mode (~120 in all); the slow run: >= 1,000 in total.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from qa.api import create_app
from tests.api_fixtures import make_assistant, serve_in_thread

EXCLUDED_CHECKS = ("positive_data_acceptance", "use_after_free", "ensure_resource_availability")


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    assistant = make_assistant(tmp_path_factory.mktemp("fuzz-index"))
    with serve_in_thread(create_app(assistant, assistant.settings)) as base:
        yield base


@dataclass
class FuzzTally:
    requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_operation: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    no_negative: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fuzz(base: str, per_operation_and_mode: int) -> FuzzTally:
    """Run every operation in both generation modes; collect failures instead of stopping."""
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi import checks as openapi_checks

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    excluded = [getattr(openapi_checks, name) for name in EXCLUDED_CHECKS]
    tally = FuzzTally()
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_operation(base, operation, mode, per_operation_and_mode, excluded, tally)
    tally.seconds = time.monotonic() - started
    return tally


def run_operation(
    base: str, operation: Any, mode: Any, examples: int, excluded: list, tally: FuzzTally
) -> None:
    from schemathesis import GenerationMode

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one_request(case: Any) -> None:
        response = case.call(base_url=base, timeout=120)
        tally.requests += 1
        tally.by_status[response.status_code] += 1
        tally.by_operation[operation.label] += 1
        if mode == GenerationMode.NEGATIVE and response.status_code == 413:
            return  # refused for its size before anything read it: a rejection, which
            # schemathesis's list of rejecting statuses (400, 422, …) leaves out
        case.validate_response(response, excluded_checks=excluded)

    try:
        one_request()
    except Unsatisfiable:  # no schema-invalid input exists (e.g. GET /health has no parameters)
        tally.no_negative.append(operation.label)
    except Exception as failure:  # every failure is collected and reported together
        tally.failures.append(f"{operation.label} [{mode.value}]: {str(failure)[:1500]}")


def report(tally: FuzzTally) -> str:
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.by_status.items()))
    return (
        f"{tally.requests} requests in {tally.seconds:.0f} s over "
        f"{len(tally.by_operation)} operations; statuses {statuses}; no invalid input "
        f"exists for {sorted(set(tally.no_negative))}"
    )


def assert_clean(tally: FuzzTally, minimum: int) -> None:
    print(report(tally))
    assert not tally.failures, "\n\n".join(tally.failures)
    assert not [code for code in tally.by_status if code >= 500], report(tally)
    assert tally.requests >= minimum, report(tally)


def test_fuzz_every_operation_no_5xx_and_schema_conformant(api_url: str) -> None:
    assert_clean(fuzz(api_url, per_operation_and_mode=10), minimum=100)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fuzz_1000_requests(api_url: str, tmp_path: Path) -> None:
    assert_clean(fuzz(api_url, per_operation_and_mode=110), minimum=1000)


# --- hand-written hostile requests the generators do not reach ------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE_REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "answer body nested 100k deep": (
        "POST",
        "/api/v1/answer",
        {"content": '{"question": ' + DEEP + "}"},
    ),
    "records body nested 100k deep": (
        "POST",
        "/api/v1/articles",
        {"content": '{"records": ' + DEEP + "}"},
    ),
    "record field nested 600 deep": (
        "POST",
        "/api/v1/articles",
        {
            "content": (
                '{"records": [{"body": "Body text.", "author": '
                + "[" * 600
                + '"a"'
                + "]" * 600
                + "}]}"
            )
        },
    ),
    "question with a lone surrogate": (
        "POST",
        "/api/v1/answer",
        {"content": '{"question": "who \\ud800 won?"}'},
    ),
    "record with a lone surrogate": (
        "POST",
        "/api/v1/articles",
        {"content": ('{"records": [{"title": "T", "body": "Bad \\ud800 text. More."}]}')},
    ),
    "record title longer than a chunk": (
        "POST",
        "/api/v1/articles",
        {
            "json": {
                "records": [
                    {"title": "Very long title " * 300, "body": "Short body. Two sentences."}
                ]
            }
        },
    ),
    "history turn with a lone surrogate": (
        "POST",
        "/api/v1/answer",
        {
            "content": (
                '{"question": "and then?", "history": [{"role": "user", "content": "x \\ud800"},'
                ' {"role": "assistant", "content": "y"}]}'
            )
        },
    ),
    "source filter with a lone surrogate": (
        "POST",
        "/api/v1/search",
        {"content": ('{"question": "who won?", "sources": ["Wire \\udc00"]}')},
    ),
    "question with NUL": ("POST", "/api/v1/search", {"json": {"question": "who\x00 won?"}}),
    "invalid UTF-8 body": (
        "POST",
        "/api/v1/answer",
        {"content": b'{"question": "caf\xe9"}', "headers": {"content-type": "application/json"}},
    ),
    "chat with a lone surrogate": (
        "POST",
        "/v1/chat/completions",
        {"content": ('{"model": "x", "messages": [{"role": "user", "content": "hi \\udfff"}]}')},
    ),
    "chat model name with a lone surrogate": (
        "POST",
        "/v1/chat/completions",
        {
            "content": (
                '{"model": "m\\udfff", "messages": [{"role": "user", "content": "who won?"}]}'
            )
        },
    ),
    "chat history with a lone surrogate": (
        "POST",
        "/v1/chat/completions",
        {
            "content": (
                '{"model": "x", "messages": [{"role": "user", "content": "a \\ud800"}, '
                '{"role": "assistant", "content": "b"}, {"role": "user", "content": "and?"}]}'
            )
        },
    ),
    "article id with traversal": ("GET", "/api/v1/articles/..%2F..%2Fetc%2Fpasswd", {}),
    "upload named ../x.txt": (
        "POST",
        "/api/v1/articles",
        {"files": {"files": ("../x.txt", b"Title\n\nBody.")}},
    ),
    "upload with a lone-surrogate JSON": (
        "POST",
        "/api/v1/articles",
        {"files": {"files": ("a.json", b'{"title": "T", "body": "Bad \\ud800 text. More."}')}},
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE_REQUESTS))
def test_hostile_request_is_a_4xx_or_handled_never_a_5xx(api_url: str, name: str) -> None:
    import httpx

    method, path, kwargs = HOSTILE_REQUESTS[name]
    headers = (
        {"content-type": "application/json", **kwargs.pop("headers", {})}
        if "content" in kwargs
        else {}
    )
    with httpx.Client(base_url=api_url, timeout=120) as client:
        reply = client.request(method, path, headers=headers, **kwargs)
        assert reply.status_code < 500, (reply.status_code, reply.text[:500])
        if reply.status_code >= 400:
            assert reply.json()["detail"], reply.text[:500]
        assert client.get("/api/v1/health").status_code == 200
