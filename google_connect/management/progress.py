"""The progress bar of the bulk jobs, with log lines and messages above it.

A line written to the terminal while the bar is drawn would be glued to the
end of the bar; tqdm clears the bar, writes the line, and draws it again.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

LOGGERS = ("", "google_connect")


@contextlib.contextmanager
def progress_bar(*, enabled: bool, **options: Any) -> Iterator[tqdm[Any]]:
    """A tqdm bar on stderr (``disable`` unless ``enabled``); meanwhile, console
    log handlers of the root and ``google_connect`` loggers write above it."""
    with tqdm(disable=not enabled, **options) as bar:
        if not enabled:
            yield bar
            return
        # Only loggers that print to a console: adding tqdm's handler to one
        # without would print what was not printed before (or print it twice).
        loggers = [
            logger
            for logger in map(logging.getLogger, LOGGERS)
            if any(_is_console(handler) for handler in logger.handlers)
        ]
        with logging_redirect_tqdm(loggers=loggers):
            yield bar


def moved_by(bar: tqdm[Any]) -> Callable[[int, int], None]:
    """An ``on_progress(done, total)`` for the bulk jobs that moves ``bar`` on;
    the first call, with 0 done, gives it its total."""

    def on_progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.update(done - bar.n)

    return on_progress


def write_above(bar: tqdm[Any] | None, write: Any, message: str) -> None:
    """``write(message)``, with ``bar`` (when drawn) cleared first and redrawn after."""
    if bar is None or bar.disable:
        write(message)
        return
    with bar.external_write_mode(file=sys.stderr):
        write(message)


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and handler.stream in (
        sys.stdout,
        sys.stderr,
    )
