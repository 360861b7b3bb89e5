"""Revoking many accounts at once: concurrent calls to Google, flat memory.

Worker threads only talk to Google; every database read and write happens on
the calling thread, in pages, so no thread needs a database connection of its
own and a page's rows are deleted (or updated) with one query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import connections, router, transaction
from django.utils import timezone

from google_connect.exceptions import GoogleConnectError
from google_connect.google import telemetry
from google_connect.signals import google_account_disconnected
from google_connect.store import disconnection
from google_connect.store.reasons import ReconnectReason

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from google_connect.store.models import GoogleAccount

logger = logging.getLogger("google_connect")

MAX_WORKERS = 64
PAGE_SIZE = 500
REVOKED, ALREADY_REVOKED, FAILED = "revoked", "already_revoked", "failed"
# No key in FERNET_KEYS decrypts the row's tokens: nothing Google would accept.
UNDECRYPTABLE = "undecryptable"


@dataclass(frozen=True)
class Outcome:
    account_id: int
    email: str
    result: str
    reason: str = ""
    # For a failure: whether trying again later may succeed, and Google's Retry-After.
    temporary: bool = False
    retry_after: float | None = None


@dataclass
class Report:
    revoked: int = 0
    already_revoked: int = 0
    failures: list[Outcome] = field(default_factory=list)
    # Undecryptable rows left as they were, and those deleted (or with
    # keep_local marked) under include_undecryptable, without calling Google.
    undecryptable_kept: int = 0
    undecryptable_cleared: int = 0

    def add(self, outcome: Outcome, *, cleared: bool = False) -> None:
        if outcome.result == REVOKED:
            self.revoked += 1
        elif outcome.result == ALREADY_REVOKED:
            self.already_revoked += 1
        elif outcome.result == UNDECRYPTABLE:
            if cleared:
                self.undecryptable_cleared += 1
            else:
                self.undecryptable_kept += 1
        else:
            self.failures.append(outcome)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def as_counts(self) -> dict[str, int]:
        """The counts of outcomes, with ``accounts``, their sum (a bulk span's attributes)."""
        counts = {
            "revoked": self.revoked,
            "already_revoked": self.already_revoked,
            "failed": self.failed,
            "undecryptable_kept": self.undecryptable_kept,
            "undecryptable_cleared": self.undecryptable_cleared,
        }
        return {"accounts": sum(counts.values()), **counts}


def effective_workers(workers: int, db: str) -> int:
    """``workers``, or 1 on SQLite.

    SQLite has one write lock for the whole database, and a refresh holds
    its transaction across the call to Google: more workers only wait for
    each other, and a deferred transaction that must turn into a write while
    another connection writes fails with ``database is locked``.
    """
    return 1 if workers > 1 and connections[db].vendor == "sqlite" else workers


def one_worker_on_sqlite(workers: int, db: str) -> str | None:
    """What to say when SQLite cuts ``workers`` to one, or None."""
    if effective_workers(workers, db) == workers:
        return None
    return (
        f"SQLite has one write lock for the whole database ({db!r}): "
        f"running 1 worker instead of {workers}."
    )


def pages(
    queryset: QuerySet[GoogleAccount], size: int | None = None
) -> Iterator[tuple[datetime, list[GoogleAccount]]]:
    """The queryset in pk order, ``size`` rows at a time, each with the time it was read.

    Keyset pagination rather than one long cursor: rows are deleted while we
    walk, and memory stays flat however many rows there are.
    """
    size = size or PAGE_SIZE
    last_pk = 0
    while True:
        read_at = timezone.now()
        page = list(queryset.filter(pk__gt=last_pk).order_by("pk")[:size])
        if not page:
            return
        yield read_at, page
        last_pk = page[-1].pk


def revoke_accounts(
    queryset: QuerySet[GoogleAccount],
    *,
    workers: int = 8,
    keep_local: bool = False,
    include_undecryptable: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Report:
    """Revoke every account of ``queryset`` at Google.

    Revoked accounts are deleted, or with ``keep_local`` kept with their
    tokens blanked and status ``reconnect_required``. An account whose
    revocation failed is left untouched.

    Accounts whose tokens no configured key decrypts cannot be revoked. They
    are kept and counted (a wrong ``FERNET_KEYS`` makes every row look like
    that, so deleting them is never the default); with
    ``include_undecryptable`` they are deleted without calling Google, or
    with ``keep_local`` marked ``reconnect_required``, their ciphertext kept.

    The run is one span, ``google_connect.bulk.revoke``, with the counts as
    attributes; each account's ``google_connect.revoke`` is its child.
    """
    workers = max(1, min(workers, MAX_WORKERS))
    db = router.db_for_write(queryset.model)
    if message := one_worker_on_sqlite(workers, db):
        logger.info(message)
        workers = 1
    report = Report()

    def settle(read_at: datetime, page: list[GoogleAccount], calls: list[Future[Outcome]]) -> None:
        outcomes = [call.result() for call in calls]
        for outcome in _apply(page, outcomes, read_at, keep_local, include_undecryptable):
            report.add(outcome, cleared=include_undecryptable)
            if on_outcome is not None:
                on_outcome(outcome)

    engine = telemetry.engine_of(workers)
    with (
        telemetry.bulk("revoke", engine=engine, concurrency=workers) as span,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="google-revoke") as pool,
    ):
        # Each revocation's span a child of the run's, on whichever thread.
        revoke_one = telemetry.carried(_revoke_one)
        try:
            previous = None
            for read_at, page in pages(queryset):
                # This page's calls are queued before the previous page is settled,
                # so the workers keep calling Google while this thread reads,
                # deletes and reports; at most two pages are held at a time.
                current = (read_at, page, [pool.submit(revoke_one, account) for account in page])
                if previous is not None:
                    settle(*previous)
                previous = current
            if previous is not None:
                settle(*previous)
        finally:
            span.set_counts(report.as_counts())
    return report


def _revoke_one(account: GoogleAccount) -> Outcome:
    if disconnection.revocable_token(account) is None and not account.tokens_decryptable:
        return Outcome(account.pk, account.email, UNDECRYPTABLE)
    try:
        revoked = disconnection.revoke(account)
    except GoogleConnectError as exc:
        return Outcome(
            account.pk,
            account.email,
            FAILED,
            str(exc),
            temporary=getattr(exc, "temporary", False),
            retry_after=getattr(exc, "retry_after", None),
        )
    return Outcome(account.pk, account.email, REVOKED if revoked else ALREADY_REVOKED)


def _apply(
    page: list[GoogleAccount],
    outcomes: list[Outcome],
    read_at: datetime,
    keep_local: bool,
    include_undecryptable: bool,
) -> list[Outcome]:
    """Delete (or mark) the revoked rows; report rows that changed meanwhile as failed."""
    model = type(page[0])
    acted_on = {REVOKED, ALREADY_REVOKED} | ({UNDECRYPTABLE} if include_undecryptable else set())
    ids = [o.account_id for o in outcomes if o.result in acted_on]
    if not ids:
        return outcomes
    # The page was read from the selection's database; its rows are locked
    # and written where the router writes them (that same database unless
    # a router says otherwise), never implicitly on ``default``.
    db = router.db_for_write(model, instance=page[0])
    with transaction.atomic(using=db):
        # A row updated after we read it may hold a new grant from a
        # reconnect: that grant was not revoked, so the row must stay.
        kept = set(
            model.objects.using(db)
            .select_for_update()
            .filter(pk__in=ids, updated_at__lte=read_at)
            .values_list("pk", flat=True)
        )
        undecryptable = {o.account_id for o in outcomes if o.result == UNDECRYPTABLE} & kept
        rows = model.objects.using(db).filter(pk__in=kept)
        if keep_local:
            # Marked, ciphertext kept: if the key was only missing, putting it
            # back and reconnecting loses nothing.
            model.objects.using(db).filter(pk__in=undecryptable).update(
                status=model.Status.RECONNECT_REQUIRED, updated_at=timezone.now()
            )
            rows.exclude(pk__in=undecryptable).update(
                status=model.Status.RECONNECT_REQUIRED,
                reconnect_reason=ReconnectReason.REVOKED,
                access_token="",
                refresh_token="",
                # update() runs no pre_save: the lookup digests go blank here.
                refresh_token_prefix_digest="",
                refresh_token_digest="",
                updated_at=timezone.now(),
            )
        else:
            with disconnection.revoked_before_delete():
                rows.delete()
            for account in page:
                if account.pk in kept:
                    _signal_disconnected(account, db)
    return [
        o
        if o.result not in acted_on or o.account_id in kept
        else Outcome(
            o.account_id, o.email, FAILED, "changed while being revoked; run again", temporary=True
        )
        for o in outcomes
    ]


def _signal_disconnected(account: GoogleAccount, db: str) -> None:
    transaction.on_commit(
        lambda: google_account_disconnected.send(
            sender=type(account), account=account, request=None
        ),
        using=db,
    )
