"""The async token API: ``GoogleAccount.aget_access_token()`` and its siblings.

Needs the ``async`` extra (aiohttp; see google/aio.py). Refreshes are
single-flight with every other caller, sync or async, in any process,
through the refresh lease (see lease.py): the database work runs as short
sync functions through ``sync_to_async``, the call to Google on the event
loop with no transaction open and no thread held.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import (
    GoogleAPIError,
    GoogleConnectError,
    ReconnectRequired,
    UndecryptableToken,
)
from google_connect.google import aio as google_aio
from google_connect.google import clients, telemetry
from google_connect.google.retry import awith_retries
from google_connect.signals import google_account_disconnected
from google_connect.store import activity, disconnection, lease, tokens

if TYPE_CHECKING:
    import aiohttp

    from google_connect.store.models import GoogleAccount

logger = logging.getLogger("google_connect")

T = TypeVar("T")


async def aget_access_token(
    account: GoogleAccount, *, min_validity: timedelta = tokens.MIN_VALIDITY
) -> str:
    """``tokens.get_access_token``, awaited."""
    if account.status == account.Status.RECONNECT_REQUIRED:
        raise ReconnectRequired(account=account)
    if not tokens._needs_refresh(account, min_validity):
        return account.access_token
    await arefresh(account, min_validity=min_validity)
    return account.access_token


async def arefresh(
    account: GoogleAccount,
    *,
    min_validity: timedelta = tokens.MIN_VALIDITY,
    stale_token: str | None = None,
    session: aiohttp.ClientSession | None = None,
) -> None:
    """``tokens.refresh``, awaited: claim the lease, or wait for whoever holds it.

    The instance is updated in place with what the database holds afterwards.
    """
    db = tokens.database_of(account)
    owner = lease.new_owner()
    waits = lease.polls()
    while True:
        state, row = await sync_to_async(lease.claim)(account, db, owner, min_validity, stale_token)
        if state == lease.GOOD:
            tokens._copy_token_fields(row, account)
            return
        if state == lease.CLAIMED:
            if await _refresh_claimed(account, row, db, owner, session):
                return
            continue  # the lease was lost meanwhile: look again
        # Another caller's refresh is in flight: wait without a thread, then look again.
        await asyncio.sleep(next(waits))


@sensitive_variables()
async def _refresh_claimed(
    account: GoogleAccount,
    row: GoogleAccount,
    db: str,
    owner: str,
    session: aiohttp.ClientSession | None,
) -> bool:
    """Call Google for the claimed ``row``; False when the lease was lost meanwhile."""
    settled = False
    try:
        stored = await _call_and_store(row, db, owner, session)
        settled = True
    finally:
        if not settled:
            # A failure, or a cancellation: end the lease now rather than at
            # its expiry. Shielded, so a second cancellation cannot stop it.
            await asyncio.shield(unblocked(lease.release, row, db, owner, gave_up=0))
    if stored is None:
        return False
    tokens._copy_token_fields(stored, account)
    if stored.status == stored.Status.RECONNECT_REQUIRED:
        raise ReconnectRequired(account=account)
    return True


@sensitive_variables()
async def _call_and_store(
    row: GoogleAccount, db: str, owner: str, session: aiohttp.ClientSession | None
) -> GoogleAccount | None:
    reason = lease.reason_not_to_call(row)
    if reason is not None:
        return await unblocked(lease.mark_dead, row, db, owner, reason, None, gave_up=None)
    oauth_client = clients.with_id(row.client_id)
    assert oauth_client is not None  # reason_not_to_call checked it
    client = google_aio.AsyncGoogleOAuthClient(client=oauth_client, session=session)
    refresh_token = row.refresh_token
    # The sync refresh's span: its HTTP attempts are children.
    with telemetry.operation("refresh", client=oauth_client.name) as operation:
        try:
            response = await awith_retries(
                lambda: client.refresh(refresh_token), what="refresh a token"
            )
        except GoogleAPIError as exc:
            if exc.error_code not in tokens.DEAD_GRANT_ERRORS:
                # Counted as the sync refresh counts it; on the database
                # thread, since the day's count is a write.
                await sync_to_async(activity.refresh_failed)(db, error=exc.reason)
                raise
            dead = lease.invalid_grant_reason(row, exc.error_subtype)
            # As the sync refresh's span, which ReconnectRequired leaves.
            operation.set("reason", dead.value)
            operation.set_error(ReconnectRequired.__name__)
            return await unblocked(
                lease.mark_dead, row, db, owner, dead, exc.error_code, gave_up=None
            )
        return await unblocked(lease.store, row, db, owner, response, gave_up=None)


async def unblocked(function: Callable[..., T], *args: Any, gave_up: T) -> T:
    """``function(*args)`` on the database thread, tried again while the row is
    locked elsewhere (``lease.RowLocked``), the thread free between tries.

    Tries stop after ``lease.lease_seconds()``, by when the caller's lease
    has run out and another caller may claim the row: ``gave_up`` is returned
    (for a write, None, as for a lease lost).
    """
    waits = lease.polls()
    deadline = time.monotonic() + lease.lease_seconds()
    while True:
        try:
            return await sync_to_async(function)(*args)
        except lease.RowLocked:
            if time.monotonic() >= deadline:
                return gave_up
        await asyncio.sleep(next(waits))


async def arefresh_access_token(account: GoogleAccount) -> None:
    """``refresh_access_token``, awaited: a new token now, unless another caller just got one."""
    await arefresh(account, stale_token=account.access_token)


@sensitive_variables()
async def arevoke(account: GoogleAccount, *, session: aiohttp.ClientSession | None = None) -> bool:
    """``disconnection.revoke``, awaited: True if revoked now, False if already dead."""
    token = disconnection.revocable_token(account)
    if token is None:
        if not account.tokens_decryptable:
            raise UndecryptableToken()
        logger.info(
            "Google grant was already revoked: account_id=%s sub=%s", account.pk, account.sub
        )
        return False
    client = google_aio.AsyncGoogleOAuthClient(session=session)
    with telemetry.operation("revoke"):
        try:
            revoked = await awith_retries(lambda: client.revoke(token), what="revoke a grant")
        except GoogleConnectError:
            activity.revocation("failed")
            raise
    activity.revocation("revoked" if revoked else "already_revoked")
    logger.info(
        "Google grant %s: account_id=%s sub=%s",
        "revoked" if revoked else "was already revoked",
        account.pk,
        account.sub,
    )
    return revoked


# A row that keeps changing while it is revoked (a reconnect each time) is
# left in place after this many revocations; the caller may try again.
DISCONNECT_ATTEMPTS = 3


async def adisconnect(account: GoogleAccount, *, request: Any = None) -> bool:
    """``disconnection.disconnect``, awaited, with no transaction held across the call.

    The row is read, its grant revoked at Google, and the row deleted only if
    it did not change meanwhile (``updated_at``): a grant stored by a
    concurrent reconnect or refresh is revoked too, on the next attempt,
    before the row goes. Nothing is deleted when a revocation fails.
    """
    db = tokens.database_of(account)
    revoked_any = False
    for _ in range(DISCONNECT_ATTEMPTS):
        row = await sync_to_async(_read)(account, db)
        if row is None:
            return revoked_any
        if disconnection.revocable_token(row) is not None:
            revoked_any = await arevoke(row) or revoked_any
        if await sync_to_async(_delete_unchanged)(account, row, db, request):
            return revoked_any
    raise GoogleAPIError(
        "The account kept changing while it was being disconnected; try again.", temporary=True
    )


@sensitive_variables()
def _read(account: GoogleAccount, db: str) -> GoogleAccount | None:
    return type(account).objects.using(db).filter(pk=account.pk).first()


@sensitive_variables()
def _delete_unchanged(account: GoogleAccount, row: GoogleAccount, db: str, request: Any) -> bool:
    model = type(account)
    with transaction.atomic(using=db):
        unchanged = model.objects.using(db).filter(pk=row.pk, updated_at=row.updated_at)
        with disconnection.revoked_before_delete():
            deleted, _ = unchanged.delete()
        if not deleted:
            return not model.objects.using(db).filter(pk=row.pk).exists()
        transaction.on_commit(
            lambda: google_account_disconnected.send(
                sender=model, account=account, request=request
            ),
            using=db,
        )
    return True
