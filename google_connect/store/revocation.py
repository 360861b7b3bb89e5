"""Revoking many accounts at once: concurrent calls to Google, flat memory.

Worker threads only talk to Google; every database read and write happens on
the calling thread, in pages, so no thread needs a database connection of its
own and a page's rows are deleted (or updated) with one query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import router, transaction
from django.utils import timezone

from google_connect.exceptions import GoogleConnectError
from google_connect.signals import google_account_disconnected
from google_connect.store import disconnection
from google_connect.store.reasons import ReconnectReason

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from google_connect.store.models import GoogleAccount

MAX_WORKERS = 64
PAGE_SIZE = 500
REVOKED, ALREADY_REVOKED, FAILED = "revoked", "already_revoked", "failed"


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

    def add(self, outcome: Outcome) -> None:
        if outcome.result == REVOKED:
            self.revoked += 1
        elif outcome.result == ALREADY_REVOKED:
            self.already_revoked += 1
        else:
            self.failures.append(outcome)

    @property
    def failed(self) -> int:
        return len(self.failures)


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
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Report:
    """Revoke every account of ``queryset`` at Google.

    Revoked accounts are deleted, or with ``keep_local`` kept with their
    tokens blanked and status ``reconnect_required``. An account whose
    revocation failed is left untouched.
    """
    workers = max(1, min(workers, MAX_WORKERS))
    report = Report()

    def settle(read_at: datetime, page: list[GoogleAccount], calls: list[Future[Outcome]]) -> None:
        outcomes = [call.result() for call in calls]
        for outcome in _apply(page, outcomes, read_at, keep_local):
            report.add(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="google-revoke") as pool:
        previous = None
        for read_at, page in pages(queryset):
            # This page's calls are queued before the previous page is settled,
            # so the workers keep calling Google while this thread reads,
            # deletes and reports; at most two pages are held at a time.
            current = (read_at, page, [pool.submit(_revoke_one, account) for account in page])
            if previous is not None:
                settle(*previous)
            previous = current
        if previous is not None:
            settle(*previous)
    return report


def _revoke_one(account: GoogleAccount) -> Outcome:
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
    page: list[GoogleAccount], outcomes: list[Outcome], read_at: datetime, keep_local: bool
) -> list[Outcome]:
    """Delete (or mark) the revoked rows; report rows that changed meanwhile as failed."""
    model = type(page[0])
    ids = [o.account_id for o in outcomes if o.result != FAILED]
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
        rows = model.objects.using(db).filter(pk__in=kept)
        if keep_local:
            rows.update(
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
        if o.result == FAILED or o.account_id in kept
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
