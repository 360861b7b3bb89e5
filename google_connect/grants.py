"""Keeping grants usable: expiry warnings and keep-alive refreshes.

Plain functions, so that ``check_google_accounts`` and the task queues (the
Celery tasks, the ``django.tasks`` tasks) run the same code. Both read
accounts in keyset pages (memory stays flat however many there are) and are
safe to run in several processes at once: a warning is claimed with a
conditional UPDATE before it is sent, and a keep-alive refresh happens under
the account's row lock, after checking again that the account is still idle.

The work itself lives in ``google_connect.store.upkeep``, where the shared
job layer (``store/jobs.py``) reaches it; this module adds the progress bar.
"""

from __future__ import annotations

from collections.abc import Iterable

from google_connect.management.progress import moved_by, progress_bar
from google_connect.store import upkeep
from google_connect.store.upkeep import send_expiry_warnings

__all__ = ["keep_alive", "send_expiry_warnings"]


def keep_alive(
    *,
    chunk_size: int = 500,
    workers: int = 1,
    ids: Iterable[int] | None = None,
    progress: bool = False,
    using: str | None = None,
) -> dict[str, int]:
    """Refresh every active account idle for more than ``KEEP_ALIVE_DAYS`` (on
    the database ``using``, by default the one the routers write accounts to).

    Google ends a refresh token left unused for six months; a refresh uses
    it. With ``ids``, only those accounts (still only the idle active ones).
    ``workers`` threads refresh at once, each with its own database
    connection (one on SQLite, whose single write lock they would only
    fight over). ``progress`` draws a progress bar on stderr.

    Returns ``{"refreshed": n, "reconnect_required": n, "failed": n}``. An
    account another process refreshed meanwhile is counted in none of them.
    """
    with progress_bar(enabled=progress, unit="account", desc="keep-alive") as bar:
        return upkeep.keep_alive(
            chunk_size=chunk_size,
            workers=workers,
            ids=ids,
            on_progress=moved_by(bar) if progress else None,
            using=using,
        )
