"""A rich progress bar for ingestion: articles, chunks, embeddings/s and an honest ETA.

The ETA comes from chunks left / measured embeddings per second, the real bottleneck; rich's own
estimate would extrapolate from article counts, which vary 10x in length.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from index.ingest import Progress as IngestState


class IngestProgressBar:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> IngestProgressBar:
        if self.enabled:
            self._bar = Progress(
                TextColumn("[bold]ingest"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(
                    "chunks  {task.fields[articles]}  {task.fields[rate]}  ETA {task.fields[eta]}"
                ),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("ingest", total=None, articles="", rate="", eta="?")
        return self

    def update(self, state: IngestState) -> None:
        if not self._bar or self._task is None:
            return
        rate = state.embeddings_per_s
        left = state.chunks_total - state.chunks_done
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        self._bar.update(
            self._task,
            total=state.chunks_total,
            completed=state.chunks_done,
            articles=f"{state.articles_done}/{state.articles_total} articles",
            rate=f"{rate:.0f} emb/s",
            eta=eta,
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar:
            self._bar.stop()
