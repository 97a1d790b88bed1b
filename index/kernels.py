"""The inner loops of BM25 scoring, compiled (numba).

Why compiled: at a million chunks a question's stems have ~1.5M postings. In numpy every step
(gather the length norms, divide, scale, concatenate, bincount) is a pass that allocates an
array the size of the postings, and the whole took ~50 ms a question; one compiled pass over
the postings takes ~12 ms (docs/performance.md). The arithmetic is the numpy version's, in the
same order and precision (each posting's contribution in float32, summed in float64 term by
term), so the scores are equal bit for bit; tests/test_lexical.py holds a numpy reference.

The compiled code is cached beside this file (or in numba's user cache when that is read-only),
so only the first process after an install pays the compile (~1 s a function); where neither
is writable each process compiles its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np


def _compiled(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """numba's njit, cached on disk when numba finds a writable place for its cache."""

    def decorate(function: Callable[..., Any]) -> Any:
        try:
            return numba.njit(cache=True, nogil=True, **options)(function)
        except RuntimeError:  # "cannot cache function …: no locator available"
            return numba.njit(nogil=True, **options)(function)

    return decorate


@_compiled()
def add_bm25(
    out: np.ndarray,
    docs: np.ndarray,
    tf: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    offset: int,
    norm: np.ndarray,
    idf: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Add to `out[row]` the BM25 contribution of term j at each row of its postings
    `docs[starts[j]:stops[j]]` (one segment's; `offset` is its first row in the view)."""
    for j in range(len(starts)):
        weight = idf[j]
        count = counts[j]
        for i in range(starts[j], stops[j]):
            row = docs[i] + offset
            out[row] += _contribution(weight, tf[i], norm[row], count)


@_compiled()
def add_bm25_at(
    out: np.ndarray,
    rows: np.ndarray,
    docs: np.ndarray,
    tf: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    offset: int,
    norm: np.ndarray,
    idf: np.ndarray,
    counts: np.ndarray,
) -> None:
    """`add_bm25` at some rows only: `out[k]` gets row `rows[k]`'s (`rows` all in this
    segment; `norm` is the segment's own, by row within it). A map from the segment's rows to
    positions in `rows` (a segment's size, not the view's) is read once per posting."""
    position = np.full(len(norm), -1, dtype=np.int32)
    for k in range(len(rows)):
        position[rows[k] - offset] = k
    for j in range(len(starts)):
        weight = idf[j]
        count = counts[j]
        for i in range(starts[j], stops[j]):
            k = position[docs[i]]
            if k >= 0:
                out[k] += _contribution(weight, tf[i], norm[docs[i]], count)


@_compiled(inline="always")
def _contribution(weight: float, tf: int, norm: float, count: float) -> np.float32:
    """One posting's BM25 contribution, in float32 as the numpy formula computed it (both
    loops call this, so their scores stay equal bit for bit)."""
    t = np.float32(tf)
    return (weight * t / (t + norm)) * count


@_compiled()
def top_positions(values: np.ndarray, n: int, floor: float) -> np.ndarray:
    """Positions of the n largest values above `floor`, best first, equal values by position
    (a stable descending sort's first n) in one pass: a min-heap of the n kept so far, whose
    root is the weakest (lowest value, then latest position). Scanning in position order, a
    later value equal to the root is never better, so only a strictly larger one enters."""
    heap_value = np.empty(max(n, 0), dtype=np.float64)
    heap_pos = np.empty(max(n, 0), dtype=np.int64)
    size = 0
    for pos in range(len(values)):
        value = values[pos]
        if value <= floor:
            continue
        if size < n:
            heap_value[size], heap_pos[size] = value, pos
            _sift_up(heap_value, heap_pos, size)
            size += 1
        elif n > 0 and value > heap_value[0]:
            heap_value[0], heap_pos[0] = value, pos
            _sift_down(heap_value, heap_pos, size)
    by_position = np.argsort(heap_pos[:size])
    kept_pos, kept_value = heap_pos[by_position], heap_value[by_position]
    return kept_pos[np.argsort(-kept_value, kind="mergesort")]  # stable: ties by position


@_compiled(inline="always")
def _weaker(value_a: float, pos_a: int, value_b: float, pos_b: int) -> bool:
    return value_a < value_b or (value_a == value_b and pos_a > pos_b)


@_compiled()
def _sift_up(heap_value: np.ndarray, heap_pos: np.ndarray, i: int) -> None:
    while i > 0:
        parent = (i - 1) // 2
        if not _weaker(heap_value[i], heap_pos[i], heap_value[parent], heap_pos[parent]):
            return
        _swap(heap_value, heap_pos, i, parent)
        i = parent


@_compiled()
def _sift_down(heap_value: np.ndarray, heap_pos: np.ndarray, size: int) -> None:
    i = 0
    while True:
        weakest, left, right = i, 2 * i + 1, 2 * i + 2
        for child in (left, right):
            if child < size and _weaker(
                heap_value[child], heap_pos[child], heap_value[weakest], heap_pos[weakest]
            ):
                weakest = child
        if weakest == i:
            return
        _swap(heap_value, heap_pos, i, weakest)
        i = weakest


@_compiled()
def _swap(heap_value: np.ndarray, heap_pos: np.ndarray, i: int, j: int) -> None:
    heap_value[i], heap_value[j] = heap_value[j], heap_value[i]
    heap_pos[i], heap_pos[j] = heap_pos[j], heap_pos[i]
