"""Progress bars for long runs, kept off the hot path.

Requests only bump an integer; rich's own refresh thread reads it ten times a second. So a run at thousands of
requests per second pays nothing for its progress display.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any


class Progress:
    """One bar per load level; does nothing when disabled (tests, JSON output, Prefect tasks)."""

    def __init__(self, *, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._bar: Any = None
        self._task: Any = None
        self._count: Callable[[], int] = lambda: 0
        self._base = 0

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            owner = self

            class _Live(RichProgress):
                def get_renderables(self) -> Any:
                    if owner._task is not None:
                        self.update(owner._task, completed=owner._count() - owner._base)
                    yield from super().get_renderables()

            self._bar = _Live(
                TextColumn("{task.description:<22}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
                refresh_per_second=8,
            )
            self._bar.__enter__()
        return self

    def level(self, label: str, count: Callable[[], int], total: int) -> None:
        if self._bar is None:
            return
        previous, self._task = self._task, None  # the refresh thread must not see a half-switched state
        if previous is not None:
            self._bar.update(previous, completed=self._count() - self._base)
        self._count, self._base = count, count()
        self._task = self._bar.add_task(label, total=total)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            if self._task is not None:
                self._bar.update(self._task, completed=self._count() - self._base)
            self._bar.__exit__(exc_type, exc, tb)
            self._bar = None
