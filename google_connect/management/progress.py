"""A one-line progress bar for management commands run in a terminal."""

from __future__ import annotations

from typing import Any


class Progress:
    """Redraws ``[####....] done/total`` on one line of ``out``."""

    def __init__(self, total: int, out: Any) -> None:
        self.total, self.done, self.out = total, 0, out

    def step(self) -> None:
        self.done += 1
        width = 30
        filled = width * self.done // max(self.total, 1)
        self.out.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}", ending=""
        )
        self.out.flush()

    def finish(self) -> None:
        self.out.write("")
