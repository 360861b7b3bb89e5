"""Ending one account's grant: revoke it at Google, then forget the row.

``disconnect()`` deletes the row only once Google has been told (or there is
nothing Google would accept), so no grant stays live at Google after we
forget it. Deletions made inside ``revoked_before_delete()`` leave nothing
pending (see pending_revocation.py); any other deletion of an account does.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import GoogleConnectError, UndecryptableToken
from google_connect.google import telemetry
from google_connect.google.oauth import GoogleOAuthClient
from google_connect.google.retry import with_retries
from google_connect.signals import google_account_disconnected
from google_connect.store import activity
from google_connect.store.tokens import database_of

if TYPE_CHECKING:
    from google_connect.store.models import GoogleAccount

logger = logging.getLogger("google_connect")


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


@sensitive_variables()
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


@sensitive_variables()
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
        # a security event saying Google revoked the grant (risc/actions.py).
        logger.info(
            "Google grant was already revoked: account_id=%s sub=%s", account.pk, account.sub
        )
        return False
    client = GoogleOAuthClient()
    with telemetry.operation("revoke"):
        try:
            revoked = with_retries(lambda: client.revoke(token), what="revoke a grant")
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


def retire_replaced(account: GoogleAccount, replaced_ids: Collection[str]) -> int:
    """Disconnect the rows of ``account``'s user and ``sub`` held by the client
    ``account``'s replaces (``REPLACES``); how many went.

    Called after a connect through the new client, so that moving from an
    old client to a new one leaves no stale grant. A revocation that fails
    keeps that row (and logs it): the next connect tries again.
    """
    model = type(account)
    old = (
        model.objects.using(database_of(account))
        .filter(user_id=account.user_id, sub=account.sub, client_id__in=list(replaced_ids))
        .exclude(pk=account.pk)
        .order_by("pk")
    )
    retired = 0
    for row in old:
        try:
            disconnect(row)
        except GoogleConnectError as exc:
            logger.warning(
                "Disconnecting the replaced client's account_id=%s failed: %s", row.pk, exc
            )
        else:
            retired += 1
    return retired
