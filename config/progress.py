"""Progress with an ETA for the long loops of a stage (backtest folds, the tuning grid).

On a terminal, one ``rich`` display holds a bar per loop (a loop inside another gets its
own bar, removed when it ends). Elsewhere (CI, a log file) each step logs one line with
the elapsed time and the time left, so a log still says how far a stage got.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
_LIVE: list[Progress] = []  # the display of the enclosing `live_progress`, if any


@contextmanager
def live_progress(console: Console | None = None) -> Iterator[None]:
    """One progress display for the duration of a stage, on a terminal only."""
    from rich import get_console

    console = console or get_console()
    if not console.is_terminal:
        yield
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as display:
        _LIVE.append(display)
        try:
            yield
        finally:
            _LIVE.pop()


def steps(items: Iterable[T], label: str) -> Iterator[T]:
    """Yield ``items``, showing ``label`` with done/total, elapsed time and ETA."""
    todo: Sequence[T] = list(items)
    if _LIVE:
        yield from _bar(_LIVE[-1], todo, label)
    else:
        yield from _lines(todo, label)


def _bar(display: Progress, todo: Sequence[T], label: str) -> Iterator[T]:
    nested = len(display.tasks) > 0 and not all(t.finished for t in display.tasks)
    task = display.add_task(label, total=len(todo))
    for item in todo:
        yield item
        display.advance(task)
    if nested:
        display.remove_task(task)


def _lines(todo: Sequence[T], label: str) -> Iterator[T]:
    start = time.monotonic()
    for i, item in enumerate(todo, start=1):
        yield item
        elapsed = time.monotonic() - start
        left = elapsed / i * (len(todo) - i)
        logger.info("%s: %d/%d, %.0f s elapsed, ETA %.0f s", label, i, len(todo), elapsed, left)
