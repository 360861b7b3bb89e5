"""Keeping grants usable: expiry warnings and keep-alive refreshes.

Plain functions, so that ``check_google_accounts`` and the task queues (the
jobs of ``store/jobs.py``) run the same code; ``google_connect.grants`` is
their public face. Both read accounts in keyset pages (memory
stays flat however many there are) and are safe to run in several processes
at once: a warning is claimed with a conditional UPDATE before it is sent,
and a keep-alive refresh happens under the account's row lock, after
checking again that the account is still idle.

Each run is one OpenTelemetry span (``google_connect.bulk.expiry_warnings``,
``.keep_alive``, and ``.refresh`` for the threaded refresh of
``store/jobs.py``, which runs in ``counted_in_threads`` too) with its counts
as attributes; the worker threads run inside it, so each refresh's span is
its child.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from django.db import connections, router, transaction
from django.db.models import QuerySet
from django.utils import timezone

from google_connect.exceptions import GoogleConnectError, ReconnectRequired
from google_connect.google import telemetry
from google_connect.signals import google_account_expiring
from google_connect.store import tokens
from google_connect.store.health import expiring_accounts, idle_accounts, idle_cutoff
from google_connect.store.models import GoogleAccount
from google_connect.store.revocation import one_worker_on_sqlite, pages

logger = logging.getLogger("google_connect")

REFRESHED, RECONNECT_REQUIRED, FAILED, SKIPPED = (
    "refreshed",
    "reconnect_required",
    "failed",
    "skipped",
)


# -- expiry warnings -------------------------------------------------------------


def send_expiry_warnings(
    *, now: datetime | None = None, chunk_size: int = 500, using: str | None = None
) -> dict[str, int]:
    """Send ``google_account_expiring`` once for each grant ending soon (on the
    database ``using``, by default the one the routers write accounts to).

    Returns ``{"warned": n, "failed": m}``: ``failed`` counts warnings whose
    receivers raised; those are logged and sent again on the next run.
    """
    now = now or timezone.now()
    counts = Counter({"warned": 0, "failed": 0})
    unwarned = expiring_accounts(now, using).filter(expiry_warned_at__isnull=True)
    looked_at = 0
    with telemetry.bulk("expiry_warnings", engine="serial", concurrency=1) as span:
        try:
            for _, page in pages(unwarned, chunk_size):
                for account in page:
                    looked_at += 1
                    outcome = _warn(account, unwarned, now)
                    if outcome:
                        counts[outcome] += 1
        finally:
            span.set_counts({"accounts": looked_at, **counts})
    return dict(counts)


def _warn(account: GoogleAccount, unwarned: QuerySet[GoogleAccount], now: datetime) -> str | None:
    model = type(account)
    db = router.db_for_write(model, instance=account)
    # Claimed first, in its own committed UPDATE that checks the selection
    # again: of two processes warning at once, one updates the row and
    # sends, the other updates nothing.
    if not unwarned.using(db).filter(pk=account.pk).update(expiry_warned_at=now):
        return None
    account.expiry_warned_at = now
    account.mark_token_state_loaded(only=["expiry_warned_at"])
    responses = google_account_expiring.send_robust(
        sender=model, account=account, expires_at=account.grant_expires_at
    )
    errors = [result for _, result in responses if isinstance(result, Exception)]
    if not errors:
        return "warned"
    # Given back, so that the next run tries again.
    model.objects.using(db).filter(pk=account.pk, expiry_warned_at=now).update(
        expiry_warned_at=None
    )
    logger.error(
        "Expiry warning failed (%s), will retry: account_id=%s",
        type(errors[0]).__name__,
        account.pk,
        exc_info=errors[0],
    )
    return FAILED


# -- keep-alive ------------------------------------------------------------------


def keep_alive(
    *,
    chunk_size: int = 500,
    workers: int = 1,
    ids: Iterable[int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    using: str | None = None,
) -> dict[str, int]:
    """Refresh every active account idle for more than ``KEEP_ALIVE_DAYS`` (on
    the database ``using``, by default the one the routers write accounts to).

    Google ends a refresh token left unused for six months; a refresh uses
    it. With ``ids``, only those accounts (still only the idle active ones).
    ``workers`` threads refresh at once, each with its own database
    connection (one on SQLite, whose single write lock they would only
    fight over). ``on_progress(done, total)`` is called with 0 done before
    the first account and after each one (the command moves a bar with it).

    Returns ``{"refreshed": n, "reconnect_required": n, "failed": n}``. An
    account another process refreshed meanwhile is counted in none of them.
    """
    now = timezone.now()
    cutoff = idle_cutoff(now)
    accounts = idle_accounts(now, using)
    if ids is not None:
        accounts = accounts.filter(pk__in=list(ids))
    if message := one_worker_on_sqlite(workers, using or router.db_for_write(GoogleAccount)):
        logger.warning(message)
        workers = 1
    return counted_in_threads(
        "keep_alive",
        (account for _, page in pages(accounts, chunk_size) for account in page),
        lambda account: _keep_alive_one(account, cutoff),
        count=accounts.count,
        workers=workers,
        on_progress=on_progress,
        skips=True,
    )


def counted_in_threads(
    job: str,
    accounts: Iterator[GoogleAccount],
    one: Callable[[GoogleAccount], str],
    *,
    count: Callable[[], int],
    workers: int,
    on_progress: Callable[[int, int], None] | None,
    skips: bool = False,
    outcomes: Iterable[str] = (REFRESHED, RECONNECT_REQUIRED, FAILED),
) -> dict[str, int]:
    """``one`` on each account in ``workers`` threads, inside the span
    ``google_connect.bulk.<job>``, its ``outcomes`` counted (SKIPPED apart, on
    the span only when ``skips``) and ``on_progress`` told (``count()`` is
    the total, read only for it)."""
    counts = Counter(dict.fromkeys(outcomes, 0))
    skipped = 0
    lock = threading.Lock()
    total = count() if on_progress is not None else 0
    if on_progress is not None:
        on_progress(0, total)
    with telemetry.bulk(job, engine=telemetry.engine_of(workers), concurrency=workers) as span:

        def work(account: GoogleAccount) -> None:
            nonlocal skipped
            outcome = one(account)
            with lock:
                if outcome == SKIPPED:
                    skipped += 1
                else:
                    counts[outcome] += 1
                if on_progress is not None:
                    on_progress(sum(counts.values()) + skipped, total)

        try:
            run_in_threads(accounts, work, workers)
        finally:
            figures = {"accounts": sum(counts.values()) + skipped, **counts}
            span.set_counts({**figures, "skipped": skipped} if skips else figures)
    return dict(counts)


def _keep_alive_one(account: GoogleAccount, cutoff: datetime) -> str:
    try:
        return _refresh_if_idle(account, cutoff)
    except GoogleConnectError as exc:
        # Google kept failing, or the tokens are undecryptable (a key fault:
        # no status changes, the health command reports it).
        logger.warning("Keep-alive refresh failed (%s): account_id=%s", exc.reason, account.pk)
        return FAILED


def _refresh_if_idle(account: GoogleAccount, cutoff: datetime) -> str:
    model = type(account)
    db = router.db_for_write(model, instance=account)
    with transaction.atomic(using=db):
        # Single-flight like every refresh (see store/tokens.py): under the row
        # lock, read again. A run that got here first has refreshed it, and
        # it is no longer idle.
        locked = model.objects.using(db).select_for_update().filter(pk=account.pk).first()
        if locked is None or locked.status != model.Status.ACTIVE:
            return SKIPPED
        if (locked.last_refreshed_at or locked.created_at) >= cutoff:
            return SKIPPED
        if locked.refresh_lease_until is not None and locked.refresh_lease_until > timezone.now():
            # An async refresh is in flight (see store/lease.py): it keeps the grant alive.
            return SKIPPED
        # A refresh's span, as tokens.refresh opens one (here under the lock
        # taken above, which tokens.refresh would take itself).
        with telemetry.operation("refresh") as operation:
            try:
                tokens._refresh_locked(locked)
            except tokens._GrantIsDead:
                operation.set_error(ReconnectRequired.__name__)
                return RECONNECT_REQUIRED
    return REFRESHED


def run_in_threads(
    items: Iterator[GoogleAccount], work: Callable[[GoogleAccount], None], workers: int
) -> None:
    """``work`` on each item, in ``workers`` threads; the items are read on this one."""
    if workers <= 1:
        for item in items:
            work(item)
        return
    # Bounded: pages are read only as fast as the workers take them.
    todo: queue.Queue[GoogleAccount | None] = queue.Queue(maxsize=workers * 2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while (item := todo.get()) is not None:
                if errors:
                    continue  # keep draining, so the reader never blocks
                try:
                    work(item)
                except BaseException as exc:  # re-raised on the calling thread
                    errors.append(exc)
        finally:
            connections.close_all()

    # Each thread inside the caller's span: the work's spans are its children.
    threads = [
        threading.Thread(
            target=telemetry.carried(worker), name=f"google-keep-alive-{n}", daemon=True
        )
        for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        for item in items:
            todo.put(item)
    finally:
        for _ in threads:
            todo.put(None)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
