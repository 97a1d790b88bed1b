"""PDF reading benchmark: index.pdf.read_pdf vs pypdf's text extraction alone, same bytes.

    .venv/bin/python benchmarks/pdf.py [--pages N] [--repeat R]

Builds an N-page article PDF (tests/pdf_fixtures.py: Helvetica text layer, a heading and six
wrapped paragraphs a page, a running footer) and times, R times interleaved (the machine is
shared, so both see similar load): pypdf opening it and extracting every page's text, and our
read_pdf (the same extraction, plus reflow into paragraphs, running header/footer removal,
title and dateline). Prints the medians and our ratio to pypdf alone (goal <= 1.2: reading a
PDF costs what pypdf costs).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.pdf_fixtures

from pypdf import PdfReader

from index.pdf import read_pdf
from tests.pdf_fixtures import text_pdf, wrapped

PARAGRAPH = (
    "The harbour council met on Thursday to discuss the ferry timetable, the new berth and the "
    "cost of dredging, which rose by a third over the winter, the town clerk said on Friday."
)


def article(pages: int) -> bytes:
    body = [
        [
            f"Harbour council, part {n + 1}",
            *[
                line
                for i in range(6)
                for line in wrapped(f"({n}.{i}) {PARAGRAPH} That was item {n}.{i}.", 90)
            ],
            "Coastal Gazette - https://gazette.test/council",
        ]
        for n in range(pages)
    ]
    return text_pdf(body, title="Harbour council meets", created="D:20240302120000Z")


def pypdf_alone(raw: bytes) -> int:
    reader = PdfReader(io.BytesIO(raw))
    return sum(len(page.extract_text() or "") for page in reader.pages)


def ours(raw: bytes) -> int:
    return len(read_pdf(raw).record["body"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    raw = article(args.pages)
    timings: dict[str, list[float]] = {"pypdf": [], "read_pdf": []}
    chars: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, run in (("pypdf", pypdf_alone), ("read_pdf", ours)):
            started = time.perf_counter()
            chars[name] = run(raw)
            timings[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    print(f"{args.pages} pages, {len(raw) / 1024:.0f} KB, {args.repeat} interleaved runs")
    for name, median in medians.items():
        print(f"  {name:9} median {median * 1000:7.1f} ms  ({chars[name]:,} characters)")
    print(f"  ratio read_pdf / pypdf alone: {medians['read_pdf'] / medians['pypdf']:.2f}")


if __name__ == "__main__":
    main()
