"""The refresh lease: single-flight without a transaction held across the call.

The sync path refreshes under the account's row lock, held for the whole
round trip to Google (see tokens.py). An event loop cannot do that: Django's
async ORM has no transactions, and a thread held for the round trip is what
async is meant to save. So an async caller claims a *lease* on the row instead
(``refresh_lease_until``, ``refresh_lease_owner``), calls Google with no
transaction open, and writes the result under a compare on its lease.

- The claim is one conditional ``UPDATE`` that only one caller wins: no live
  lease, and the token still the one the caller read (``expires_at``), so a
  caller that read before another's refresh was stored cannot claim again.
- On PostgreSQL and MariaDB the claim first takes ``SELECT ... FOR UPDATE
  NOWAIT``: a row locked by a sync refresh in flight counts as a live lease,
  and the async caller polls instead of queueing behind its round trip.
  SQLite has no row locks: the lease alone decides, and no transaction is
  open while Google is called.
- The sync path, once it holds the row lock, backs off while another's
  lease is live, so sync and async callers of one account make one call.
- A lease ends when its refresh is written or given up, and at the latest
  at its expiry (``lease_seconds()``): a process killed mid-call, or a task
  cancelled, holds no one up for longer.
- Writing the result and ending the lease lock the row with ``NOWAIT`` too:
  a sync caller may hold it across a call to Google (``disconnect()``
  revoking), and a waiting lock would hold asgiref's one database thread,
  every other async caller's database work with it, for that round trip.
  They raise ``RowLocked`` instead, and the coroutine tries again later.

Every function here is short and synchronous, run by the async path through
``sync_to_async``; those that see a token are hidden from error reports with
a bare ``@sensitive_variables()`` (the report filter looks at one thread's
stack: the awaiting coroutine's decorator does not cover this thread).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import DatabaseError, OperationalError, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from google_connect.conf import get_settings
from google_connect.google import clients
from google_connect.google.answers import TokenResponse
from google_connect.google.retry import MAX_DELAY, MAX_RETRIES
from google_connect.store import tokens
from google_connect.store.lifetimes import grant_ends_at, grant_has_ended
from google_connect.store.reasons import ReconnectReason, reason_for_invalid_grant

if TYPE_CHECKING:
    from google_connect.store.models import GoogleAccount

GOOD, CLAIMED, BUSY = "good", "claimed", "busy"
# Waiters poll the row: soon at first (a refresh takes a round trip), then
# less often, never more than every MAX_POLL seconds.
FIRST_POLL, MAX_POLL = 0.02, 0.25


class RowLocked(Exception):
    """Another transaction holds the row locked: try again later, from the
    event loop, rather than wait for it on the database thread."""


def lease_seconds() -> float:
    """How long a lease lasts: the longest a refresh with its retries can take, and a margin."""
    timeout = get_settings().TIMEOUT
    return (MAX_RETRIES + 1) * timeout + MAX_RETRIES * MAX_DELAY + 5


def new_owner() -> str:
    return secrets.token_hex(16)


def is_live(row: GoogleAccount, now: datetime | None = None) -> bool:
    """Whether someone holds a lease on ``row`` that has not expired."""
    until = row.refresh_lease_until
    return until is not None and until > (now or timezone.now())


def polls() -> Iterator[float]:
    """The waits between polls: doubling from FIRST_POLL up to MAX_POLL."""
    delay = FIRST_POLL
    while True:
        yield delay
        delay = min(delay * 2, MAX_POLL)


def _locks_rows(db: str) -> bool:
    features = connections[db].features
    return features.has_select_for_update_nowait and connections[db].vendor != "sqlite"


@sensitive_variables()
def claim(
    account: GoogleAccount,
    db: str,
    owner: str,
    min_validity: timedelta,
    stale_token: str | None,
) -> tuple[str, GoogleAccount]:
    """``(GOOD, row)`` when the stored token will do, ``(CLAIMED, row)`` when
    this caller now holds the lease, ``(BUSY, row)`` when another refresh is
    in flight. Raises ``ReconnectRequired`` for a dead grant."""
    model = type(account)
    rows = model.objects.using(db).filter(pk=account.pk)
    locks = _locks_rows(db)
    with transaction.atomic(using=db) if locks else contextlib.nullcontext():
        if locks:
            try:
                with transaction.atomic(using=db):
                    row = rows.select_for_update(nowait=True).get()
            except DatabaseError:
                # A sync refresh holds the row lock across its call: a live lease.
                return BUSY, account
        else:
            row = rows.get()
        if tokens._still_good(row, min_validity, stale_token):
            return GOOD, row
        now = timezone.now()
        if is_live(row, now):
            return BUSY, row
        won = (
            rows.filter(Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lte=now))
            .filter(expires_at=row.expires_at, status=model.Status.ACTIVE)
            .update(
                refresh_lease_until=now + timedelta(seconds=lease_seconds()),
                refresh_lease_owner=owner,
            )
        )
    return (CLAIMED if won else BUSY), row


@sensitive_variables()
def reason_not_to_call(row: GoogleAccount) -> ReconnectReason | None:
    """Why the claimed grant must not be sent to Google, as ``tokens._refresh_locked`` decides."""
    if grant_has_ended(row, timezone.now()):
        return ReconnectReason.REFRESH_TOKEN_EXPIRED
    client = clients.with_id(row.client_id)
    if client is None or not client.is_web:
        return ReconnectReason.CLIENT_REMOVED
    return None


def invalid_grant_reason(row: GoogleAccount, error_subtype: str | None) -> ReconnectReason:
    return reason_for_invalid_grant(error_subtype, grant_ends_at(row), timezone.now())


@sensitive_variables()
def store(
    account: GoogleAccount, db: str, owner: str, response: TokenResponse
) -> GoogleAccount | None:
    """Write a refresh's tokens if ``owner`` still holds the lease, and end it.

    None when the lease was lost (it expired and another caller claimed it):
    nothing is written, that caller's refresh stands.
    """
    with transaction.atomic(using=db):
        row = _owned(account, db, owner)
        if row is None:
            return None
        tokens._store_refreshed(row, response)
        tokens._announce_refreshed(row)
        _end(account, db, owner)
    return row


@sensitive_variables()
def mark_dead(
    account: GoogleAccount, db: str, owner: str, reason: ReconnectReason, error: str | None
) -> GoogleAccount | None:
    """Mark the grant dead if ``owner`` still holds the lease, and end it."""
    with transaction.atomic(using=db):
        row = _owned(account, db, owner)
        if row is None:
            return None
        tokens._mark_reconnect_required(row, reason, error)
        _end(account, db, owner)
    return row


def release(account: GoogleAccount, db: str, owner: str) -> int:
    """End ``owner``'s lease without writing anything (a failure, a cancellation)."""
    with transaction.atomic(using=db):
        # Locked first (NOWAIT): the UPDATE alone would wait for a lock held elsewhere.
        if _owned(account, db, owner) is None:
            return 0
        return _end(account, db, owner)


def _owned(account: GoogleAccount, db: str, owner: str) -> GoogleAccount | None:
    """The row, locked, while ``owner`` holds its lease; None once it does not.

    Raises ``RowLocked`` when another transaction holds the row lock.
    """
    rows = type(account).objects.using(db).filter(pk=account.pk, refresh_lease_owner=owner)
    if not _locks_rows(db):
        return rows.first()
    try:
        with transaction.atomic(using=db):
            return rows.select_for_update(nowait=True).first()
    except OperationalError as exc:
        # NOWAIT's refusal (PostgreSQL's lock_not_available, MariaDB's 3572).
        raise RowLocked() from exc


def _end(account: GoogleAccount, db: str, owner: str) -> int:
    return (
        type(account)
        .objects.using(db)
        .filter(pk=account.pk, refresh_lease_owner=owner)
        .update(refresh_lease_until=None, refresh_lease_owner="")
    )


def wait_out(row: GoogleAccount) -> None:
    """Sleep (sync path, no lock held) until ``row``'s lease would expire, in polls;
    the caller checks the row between polls."""
    until = row.refresh_lease_until
    left = 0.0 if until is None else (until - timezone.now()).total_seconds()
    time.sleep(max(0.0, min(left, MAX_POLL)))
