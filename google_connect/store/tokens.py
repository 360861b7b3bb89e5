"""The token lifecycle: fresh access tokens and broken grants (ending a grant,
revoking it at Google, is disconnection.py).

Refreshes are single-flight across threads and processes: the refresh runs
while holding the account's row lock (``SELECT ... FOR UPDATE``), and the row
is read again once the lock is taken, so a caller that waited finds the token
another caller just stored and does not call Google again. Every write of the
token columns happens under that lock, so an older token can never be saved
over a newer one. On PostgreSQL, callers that find the lock taken wait for the
refresh in flight together (``FOR SHARE``) instead of being let in one by one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import connections, router, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import GoogleAPIError, ReconnectRequired
from google_connect.google import clients, telemetry
from google_connect.google.answers import TokenResponse
from google_connect.google.oauth import GoogleOAuthClient
from google_connect.google.retry import with_retries
from google_connect.signals import (
    google_account_reconnect_required,
    google_token_refreshed,
)
from google_connect.store import activity, scope_changes
from google_connect.store.lifetimes import grant_ends_at, grant_has_ended, store_lifetimes
from google_connect.store.reasons import ReconnectReason, reason_for_invalid_grant

if TYPE_CHECKING:
    from google_connect.store.models import GoogleAccount

logger = logging.getLogger("google_connect")

# A token handed out must stay valid long enough for the caller to use it.
MIN_VALIDITY = timedelta(seconds=60)
DEAD_GRANT_ERRORS = frozenset({"invalid_grant"})
# Columns a refresh may change; copied back onto the caller's instance.
TOKEN_FIELDS = (
    "access_token",
    "refresh_token",
    "token_type",
    "expires_at",
    "scopes",
    "status",
    # The grant's state (see lifetimes.py); guarded like the tokens, so a
    # stale instance cannot write an old date or a cleared warning back.
    "reconnect_reason",
    "refresh_token_expires_at",
    "authorization_expires_at",
    "last_refreshed_at",
    "expiry_warned_at",
)


def get_access_token(account: GoogleAccount, *, min_validity: timedelta = MIN_VALIDITY) -> str:
    """An access token valid for at least ``min_validity``, refreshed first if needed."""
    if account.status == account.Status.RECONNECT_REQUIRED:
        raise ReconnectRequired(account=account)
    if not _needs_refresh(account, min_validity):
        return account.access_token
    refresh(account, min_validity=min_validity)
    return account.access_token


def _needs_refresh(account: GoogleAccount, min_validity: timedelta) -> bool:
    return account.expires_at - timezone.now() < min_validity


@activity.observed("refresh")
@sensitive_variables()
def refresh(
    account: GoogleAccount,
    *,
    min_validity: timedelta = MIN_VALIDITY,
    stale_token: str | None = None,
) -> None:
    """Refresh the account's access token unless another caller already did.

    Without ``stale_token``, the stored token is kept when it is valid for
    ``min_validity``. With it (a token an API just rejected with 401), the
    stored token is kept only when it differs from the rejected one.
    The instance is updated in place with what the database holds afterwards.
    """
    db = database_of(account)
    wait_alongside = _can_wait_alongside(db)
    lease_polls = _lease_polls()
    while True:
        with transaction.atomic(using=db):
            locked = _lock(account, db, skip_locked=wait_alongside)
            leased = locked is not None and _leased_elsewhere(locked, min_validity, stale_token)
            if locked is not None and not leased:
                grant_is_dead = _refresh_or_keep(locked, account, min_validity, stale_token)
                break
        if leased:
            # An async caller is refreshing it without a row lock (see
            # lease.py): wait with no lock held, then look again.
            time.sleep(next(lease_polls))
            continue
        # Another caller holds the lock, so it is refreshing this token now.
        if _await_other_refresh(account, db, min_validity, stale_token):
            return
        # Its refresh did not give a token good enough: queue for the lock.
        wait_alongside = False
    if grant_is_dead:
        raise ReconnectRequired(account=account)


def _leased_elsewhere(
    locked: GoogleAccount, min_validity: timedelta, stale_token: str | None
) -> bool:
    """Under the row lock: another caller's live lease covers a refresh this one needs."""
    until = locked.refresh_lease_until
    if until is None or until <= timezone.now():
        return False
    try:
        return not _still_good(locked, min_validity, stale_token)
    except ReconnectRequired:
        return False  # _refresh_or_keep raises it


def _lease_polls() -> Iterator[float]:
    delay = 0.02
    while True:
        yield delay
        delay = min(delay * 2, 0.25)


def _refresh_or_keep(
    locked: GoogleAccount, account: GoogleAccount, min_validity: timedelta, stale_token: str | None
) -> bool:
    """Under the row lock: refresh unless the stored token will do.

    Returns True when the grant turned out dead.
    """
    try:
        if _still_good(locked, min_validity, stale_token):
            return False
        _refresh_locked(locked)
    except _GrantIsDead:
        return True
    finally:
        _copy_token_fields(locked, account)
    return False


def database_of(account: GoogleAccount) -> str:
    """The one alias every lock, read-for-update and write of ``account`` uses.

    The account's own database unless a router sends its writes elsewhere
    (a primary/replica setup reads from the replica, but locks and writes
    on the primary). Never implicitly ``default``.
    """
    return router.db_for_write(type(account), instance=account)


def _can_wait_alongside(db: str) -> bool:
    """Whether waiters can share their wait for a refresh in flight (see ``_await_other_refresh``).

    Needs PostgreSQL's ``FOR SHARE``, and no transaction of the caller's: a
    share lock kept until the caller commits could deadlock with another
    caller upgrading its own to take the row lock.
    """
    connection = connections[db]
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _lock(account: GoogleAccount, db: str, *, skip_locked: bool) -> GoogleAccount | None:
    """The account's row, locked; None with ``skip_locked`` when another caller holds it."""
    rows = list(
        type(account)
        .objects.using(db)
        .select_for_update(skip_locked=skip_locked)
        .filter(pk=account.pk)
        .order_by()
    )
    if rows:
        return rows[0]
    if skip_locked:
        return None
    raise type(account).DoesNotExist()


def _await_other_refresh(
    account: GoogleAccount, db: str, min_validity: timedelta, stale_token: str | None
) -> bool:
    """Wait for the caller holding the lock to commit; True if the token it left will do.

    Callers queueing for the row lock (``FOR UPDATE``) are let in one at a
    time, each after the previous one committed, so the last of many waits
    for all the others. ``FOR SHARE`` waiters are let in together the moment
    the refresh commits.
    """
    model = type(account)
    connection = connections[db]
    quote = connection.ops.quote_name
    # Django's ORM has no FOR SHARE. The identifiers are the model's own,
    # quoted; the id is a parameter.
    table, pk = quote(model._meta.db_table), quote(str(model._meta.pk.column))
    sql = f"SELECT * FROM {table} WHERE {pk} = %s FOR SHARE"  # noqa: S608
    with transaction.atomic(using=db):
        rows = list(model.objects.using(db).raw(sql, [account.pk]))
        if not rows:
            raise model.DoesNotExist()
        _copy_token_fields(rows[0], account)
        return _still_good(rows[0], min_validity, stale_token)


def _still_good(locked: GoogleAccount, min_validity: timedelta, stale_token: str | None) -> bool:
    if locked.status == locked.Status.RECONNECT_REQUIRED:
        raise ReconnectRequired(account=locked)
    if stale_token is not None:
        return locked.access_token != stale_token
    return locked.expires_at - timezone.now() >= min_validity


class _GrantIsDead(Exception):
    pass


@sensitive_variables()
def _refresh_locked(locked: GoogleAccount) -> None:
    now = timezone.now()
    if grant_has_ended(locked, now):
        # The time-limited grant ran out: Google would only say invalid_grant.
        _mark_reconnect_required(locked, ReconnectReason.REFRESH_TOKEN_EXPIRED, None)
        raise _GrantIsDead()
    oauth_client = clients.with_id(locked.client_id)
    if oauth_client is None or not oauth_client.is_web:
        # Only the client that issued a grant can refresh it, and it is no
        # longer configured: Google would refuse any other (invalid_client).
        _mark_reconnect_required(locked, ReconnectReason.CLIENT_REMOVED, None)
        raise _GrantIsDead()
    client = GoogleOAuthClient(client=oauth_client)
    telemetry.annotate(client=oauth_client.name)
    try:
        tokens = with_retries(lambda: client.refresh(locked.refresh_token), what="refresh a token")
    except GoogleAPIError as exc:
        if exc.error_code in DEAD_GRANT_ERRORS:
            reason = reason_for_invalid_grant(exc.error_subtype, grant_ends_at(locked), now)
            _mark_reconnect_required(locked, reason, exc.error_code)
            raise _GrantIsDead() from exc
        activity.refresh_failed(locked._state.db or database_of(locked), error=exc.reason)
        raise
    _store_refreshed(locked, tokens)
    _announce_refreshed(locked)


def _announce_refreshed(locked: GoogleAccount) -> None:
    activity.refreshed(locked._state.db or database_of(locked))
    logger.info("Google token refreshed: account_id=%s sub=%s", locked.pk, locked.sub)
    transaction.on_commit(
        lambda: google_token_refreshed.send(sender=type(locked), account=locked),
        using=locked._state.db,
    )


@sensitive_variables()
def _store_refreshed(locked: GoogleAccount, tokens: TokenResponse) -> None:
    locked.access_token = tokens.access_token
    # RFC 6749 §6: a new refresh token replaces the old one, which the server
    # may have invalidated; without one the old one stays valid.
    if tokens.refresh_token:
        locked.refresh_token = tokens.refresh_token
    locked.token_type = tokens.token_type
    locked.expires_at = timezone.now() + timedelta(seconds=tokens.expires_in)
    previous_scopes = locked.scopes
    if tokens.scopes is not None:
        locked.scopes = " ".join(tokens.scopes)
    store_lifetimes(locked, tokens, now=timezone.now(), connect=False)
    locked.tokens_undecryptable = False
    locked.save()
    scope_changes.announce(locked, previous_scopes)


def _mark_reconnect_required(
    locked: GoogleAccount, reason: ReconnectReason, error_code: str | None
) -> None:
    locked.status = locked.Status.RECONNECT_REQUIRED
    locked.reconnect_reason = reason
    locked.save()
    telemetry.annotate(reason=reason.value)
    activity.reconnect_required(reason.value)
    activity.refresh_failed(locked._state.db or database_of(locked), reason=reason.value)
    logger.info(
        "Google grant is dead (%s), reconnect required: account_id=%s sub=%s",
        reason,
        locked.pk,
        locked.sub,
    )
    transaction.on_commit(
        lambda: google_account_reconnect_required.send(
            sender=type(locked), account=locked, reason=reason, error=error_code
        ),
        using=locked._state.db,
    )


def _copy_token_fields(source: GoogleAccount, target: GoogleAccount) -> None:
    # Through __dict__: an undecryptable token is copied as the marker it is.
    for name in TOKEN_FIELDS:
        target.__dict__[name] = source.__dict__[name]
    target.mark_token_state_loaded()
