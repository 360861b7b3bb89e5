"""The token lifecycle: fresh access tokens, broken grants, and revocation.

Refreshes are single-flight across threads and processes: the refresh runs
while holding the account's row lock (``SELECT ... FOR UPDATE``), and the row
is read again once the lock is taken, so a caller that waited finds the token
another caller just stored and does not call Google again. Every write of the
token columns happens under that lock, so an older token can never be saved
over a newer one. On PostgreSQL, callers that find the lock taken wait for the
refresh in flight together (``FOR SHARE``) instead of being let in one by one.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import connections, router, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from . import scope_changes
from .answers import TokenResponse
from .exceptions import GoogleAPIError, ReconnectRequired, UndecryptableToken
from .lifetimes import grant_ends_at, grant_has_ended, store_lifetimes
from .oauth import GoogleOAuthClient
from .reasons import ReconnectReason, reason_for_invalid_grant
from .retry import with_retries
from .signals import (
    google_account_disconnected,
    google_account_reconnect_required,
    google_token_refreshed,
)

if TYPE_CHECKING:
    from .models import GoogleAccount

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
    if account.expires_at - timezone.now() >= min_validity:
        return account.access_token
    refresh(account, min_validity=min_validity)
    return account.access_token


@sensitive_variables("stale_token")
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
    while True:
        with transaction.atomic(using=db):
            locked = _lock(account, db, skip_locked=wait_alongside)
            if locked is not None:
                grant_is_dead = _refresh_or_keep(locked, account, min_validity, stale_token)
                break
        # Another caller holds the lock, so it is refreshing this token now.
        if _await_other_refresh(account, db, min_validity, stale_token):
            return
        # Its refresh did not give a token good enough: queue for the lock.
        wait_alongside = False
    if grant_is_dead:
        raise ReconnectRequired(account=account)


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


def _refresh_locked(locked: GoogleAccount) -> None:
    now = timezone.now()
    if grant_has_ended(locked, now):
        # The time-limited grant ran out: Google would only say invalid_grant.
        _mark_reconnect_required(locked, ReconnectReason.REFRESH_TOKEN_EXPIRED, None)
        raise _GrantIsDead()
    client = GoogleOAuthClient()
    try:
        tokens = with_retries(lambda: client.refresh(locked.refresh_token), what="refresh a token")
    except GoogleAPIError as exc:
        if exc.error_code in DEAD_GRANT_ERRORS:
            reason = reason_for_invalid_grant(exc.error_subtype, grant_ends_at(locked), now)
            _mark_reconnect_required(locked, reason, exc.error_code)
            raise _GrantIsDead() from exc
        raise
    _store_refreshed(locked, tokens)
    logger.info("Google token refreshed: account_id=%s sub=%s", locked.pk, locked.sub)
    transaction.on_commit(
        lambda: google_token_refreshed.send(sender=type(locked), account=locked),
        using=locked._state.db,
    )


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
    locked.save()
    scope_changes.announce(locked, previous_scopes)


def _mark_reconnect_required(
    locked: GoogleAccount, reason: ReconnectReason, error_code: str | None
) -> None:
    locked.status = locked.Status.RECONNECT_REQUIRED
    locked.reconnect_reason = reason
    locked.save()
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


_revoked_before_delete = contextvars.ContextVar(
    "google_connect_revoked_before_delete", default=False
)


@contextlib.contextmanager
def revoked_before_delete() -> Iterator[None]:
    """Deletions of accounts inside were revoked at Google first (``disconnect()``,
    the revoke command): nothing is left pending for them (see pending_revocation)."""
    token = _revoked_before_delete.set(True)
    try:
        yield
    finally:
        _revoked_before_delete.reset(token)


def deleting_revoked() -> bool:
    return _revoked_before_delete.get()


@sensitive_variables("value")
def revocable_token(account: GoogleAccount) -> str | None:
    """The token to revoke the grant with: the refresh token, else the access
    token; None when neither is stored or decryptable.

    Revoking either ends the whole grant at Google. Read through ``__dict__``:
    an undecryptable token is skipped, not raised.
    """
    for name in ("refresh_token", "access_token"):
        value = account.__dict__.get(name)
        if isinstance(value, str) and value:
            return value
    return None


@sensitive_variables("token")
def revoke(account: GoogleAccount) -> bool:
    """Revoke the account's grant at Google, retrying temporary failures.

    Returns True when Google revoked it now and False when it was already
    dead (or no token is stored: ``revoke_google_accounts --keep-local``
    blanks them). Raises ``GoogleConnectError`` when Google could not be
    told, in which case the caller must keep the account, and
    ``UndecryptableToken`` when no stored token can be decrypted.
    """
    token = revocable_token(account)
    if token is None:
        if not account.tokens_decryptable:
            raise UndecryptableToken()
        # Nothing stored: blanked by revoke_google_accounts --keep-local or by
        # a security event saying Google revoked the grant (risc_actions.py).
        logger.info(
            "Google grant was already revoked: account_id=%s sub=%s", account.pk, account.sub
        )
        return False
    client = GoogleOAuthClient()
    revoked = with_retries(lambda: client.revoke(token), what="revoke a grant")
    logger.info(
        "Google grant %s: account_id=%s sub=%s",
        "revoked" if revoked else "was already revoked",
        account.pk,
        account.sub,
    )
    return revoked


def disconnect(account: GoogleAccount, *, request: Any = None) -> bool:
    """Revoke at Google, then delete the row and send ``google_account_disconnected``.

    Nothing is deleted when the revocation fails: no grant may stay live at
    Google after we forget it. With nothing to revoke (both tokens empty or
    undecryptable), the row is deleted without calling Google. Returns what
    ``revoke`` returned (False too when the row was already gone or there
    was nothing to revoke).
    """
    using = database_of(account)
    with transaction.atomic(using=using):
        # Locked while Google is told, so a concurrent refresh or reconnect
        # cannot store a new grant in a row that is about to be deleted.
        locked = (
            type(account).objects.using(using).select_for_update().filter(pk=account.pk).first()
        )
        if locked is None:
            return False
        if revocable_token(locked) is None:
            # Nothing Google would accept: the grant was revoked already
            # (--keep-local), or no configured key decrypts the tokens.
            # Keeping the row would keep it forever.
            logger.info(
                "Google account removed without revoking: %s; account_id=%s sub=%s",
                "no token is stored"
                if locked.tokens_decryptable
                else "no key in FERNET_KEYS decrypts its tokens",
                locked.pk,
                locked.sub,
            )
            revoked = False
        else:
            revoked = revoke(locked)
        with revoked_before_delete():
            locked.delete()
        # ``account`` keeps its pk: receivers learn which row went away.
        transaction.on_commit(
            lambda: google_account_disconnected.send(
                sender=type(account), account=account, request=request
            ),
            using=using,
        )
    return revoked
