"""The stored grants' upkeep as plain functions: expiry warnings, keep-alive
refreshes, retrying pending revocations and re-encrypting under a new key.

Plain functions, so that the management commands, the task queues (the
Celery tasks, the ``django.tasks`` tasks) and a site's own scheduler run the
same code. This is their public path: the modules of ``google_connect.store``
that hold the work are internal and may change.

Expiry warnings and keep-alive read accounts in keyset pages (memory stays
flat however many there are) and are safe to run in several processes at
once: a warning is claimed with a conditional UPDATE before it is sent, and a
keep-alive refresh happens under the account's row lock, after checking
again that the account is still idle.

The work itself lives in ``google_connect.store`` (``upkeep``,
``pending_revocation``, ``rotation``), where the shared job layer
(``store/jobs.py``) reaches it; this module adds the progress bar.
"""

from __future__ import annotations

from collections.abc import Iterable

from google_connect.management.progress import moved_by, progress_bar
from google_connect.store import upkeep
from google_connect.store.pending_revocation import PendingReport, retry_pending_revocations
from google_connect.store.rotation import RotationReport, rotate_keys
from google_connect.store.upkeep import send_expiry_warnings

# The reports are public as what the public functions return.
__all__ = [
    "PendingReport",
    "RotationReport",
    "keep_alive",
    "retry_pending_revocations",
    "rotate_keys",
    "send_expiry_warnings",
]


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
