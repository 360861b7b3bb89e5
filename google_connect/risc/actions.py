"""What google_connect does with each security event Google pushes.

Event types, after ``https://schemas.openid.net/secevent/``:

- ``oauth/event-type/tokens-revoked`` (subject ``iss-sub``): every account
  with that sub *of the client the token is addressed to* (its ``aud``)
  becomes reconnect_required (revoked), its tokens deleted. The grants
  Google revoked are that client's; an account of another client still
  holds a live grant, and blanking its tokens would leave nothing to revoke
  it with.
- ``oauth/event-type/token-revoked`` (subject a refresh token): the same, for
  the account of that client holding that token.
- ``risc/event-type/account-disabled`` with reason ``hijacking``:
  reconnect_required (account_disabled).
- anything else: recorded and signalled (a verification's state is logged).

Account events (``account-disabled`` and the rest) are about the Google
account, so they concern its accounts of every client.

Google is never called from here: the grant is gone already, and Google's
guidance is to delete the tokens. Everything an event changes is written in
one transaction with its ``GoogleSecurityEvent`` row, whose unique ``jti``
makes a second delivery of the same token change nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from django.db import IntegrityError, router, transaction
from django.db.models import Q, signals
from django.dispatch import Signal
from django.utils import timezone

from google_connect.google import clients, telemetry
from google_connect.risc.models import SECEVENT, GoogleSecurityEvent
from google_connect.risc.token import SecurityEventToken
from google_connect.signals import google_account_reconnect_required, google_security_event
from google_connect.store import activity
from google_connect.store.models import GoogleAccount
from google_connect.store.reasons import ReconnectReason
from google_connect.token_digests import lookup

logger = logging.getLogger("google_connect")

TOKENS_REVOKED = SECEVENT + "oauth/event-type/tokens-revoked"
TOKEN_REVOKED = SECEVENT + "oauth/event-type/token-revoked"
ACCOUNT_DISABLED = SECEVENT + "risc/event-type/account-disabled"
ACCOUNT_ENABLED = SECEVENT + "risc/event-type/account-enabled"
SESSIONS_REVOKED = SECEVENT + "risc/event-type/sessions-revoked"
CREDENTIAL_CHANGE_REQUIRED = SECEVENT + "risc/event-type/account-credential-change-required"
VERIFICATION = SECEVENT + "risc/event-type/verification"
# Every type register_google_risc_stream subscribes to.
EVENT_TYPES = (
    TOKENS_REVOKED,
    TOKEN_REVOKED,
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    SESSIONS_REVOKED,
    CREDENTIAL_CHANGE_REQUIRED,
    VERIFICATION,
)
MAX_TEXT = 255
# What an event writes to an account besides its tokens.
CHANGED_FIELDS = ["status", "reconnect_reason", "updated_at"]


def receive(token: SecurityEventToken) -> GoogleSecurityEvent | None:
    """Record the event and act on it; None when its ``jti`` was seen before."""
    accounts_db = router.db_for_write(GoogleAccount)
    events_db = router.db_for_write(GoogleSecurityEvent)
    try:
        with telemetry.operation("risc.event", event_type=_short(token.event_type)):
            with _atomic(accounts_db, events_db):
                event, ended = _act_and_record(token, accounts_db, events_db)
                # After the event's INSERT, in its transaction: a second
                # delivery, whose INSERT is refused, counts nothing.
                activity.security_event_recorded(events_db)
            activity.security_event(event.short_type, _action_kind(event.action))
            if ended is not None:
                activity.reconnect_required(ended[0].value, accounts=ended[1])
            return event
    except IntegrityError:
        # The jti is stored already (a delivery again, or two at once): the
        # row's INSERT, last in the transaction, refused it, and everything
        # done here was rolled back. No look-up first: a query on every
        # event to spare work on the rare duplicate.
        if GoogleSecurityEvent.objects.using(events_db).filter(jti=token.jti).exists():
            return None
        raise


def _short(event_type: str) -> str:
    return event_type.removeprefix(SECEVENT)[:MAX_TEXT]


def _action_kind(action: str) -> str:
    # "reconnect required (revoked), tokens deleted: 3 account(s)" without its
    # count: a metric's attribute must take few values.
    return action.partition(":")[0].partition(",")[0]


@contextlib.contextmanager
def _atomic(*aliases: str) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for alias in dict.fromkeys(aliases):
            stack.enter_context(transaction.atomic(using=alias))
        yield


def _act_and_record(
    token: SecurityEventToken, accounts_db: str, events_db: str
) -> tuple[GoogleSecurityEvent, tuple[ReconnectReason, int] | None]:
    """The event's row, and the grants it ended: (reason, how many newly
    reconnect_required), or None for an event that ends none."""
    event_type, claims = token.event_type, token.event
    subject = claims.get("subject")
    subject = subject if isinstance(subject, dict) else {}
    reason = _text(claims.get("reason"))
    sub = _subject_sub(subject, token.issuer)
    ends_grants: ReconnectReason | None = None
    if event_type in (TOKENS_REVOKED, TOKEN_REVOKED):
        ends_grants = ReconnectReason.REVOKED
    elif event_type == ACCOUNT_DISABLED and reason == "hijacking":
        ends_grants = ReconnectReason.ACCOUNT_DISABLED
    accounts: list[GoogleAccount] = []
    changed = newly = 0
    # Token events concern the grants of one client only (see above).
    of_client = _of_client(token.audience) if event_type in (TOKENS_REVOKED, TOKEN_REVOKED) else Q()
    if ends_grants is not None:
        # Google's guidance on a revoked grant: delete its tokens.
        delete_tokens = ends_grants == ReconnectReason.REVOKED
        if sub is not None and not _anyone_listening():
            changed, newly = _end_grants_in_place(
                sub, of_client, accounts_db, ends_grants, delete_tokens=delete_tokens
            )
        else:
            accounts = _named_accounts(subject, sub, of_client, accounts_db, lock=True)
            changed, newly = _end_grants(accounts, ends_grants, delete_tokens=delete_tokens)
        action = f"reconnect required ({ends_grants.value})"
        action += (
            f", tokens deleted: {changed} account(s)"
            if delete_tokens
            else f": {changed} account(s)"
        )
    else:
        if google_security_event.has_listeners(GoogleSecurityEvent):
            # Only a receiver of the signal needs the accounts.
            accounts = _named_accounts(subject, sub, of_client, accounts_db, lock=False)
        if event_type == VERIFICATION:
            state = _text(claims.get("state"))
            logger.info("Google security event: verification, state=%r", state)
            action = "verification received"
        else:
            action = "recorded only"
    if sub is None and len(accounts) == 1:
        sub = accounts[0].sub
    event = GoogleSecurityEvent.objects.using(events_db).create(
        jti=token.jti,
        event_type=event_type,
        subject_sub=sub,
        audience=token.audience,
        reason=reason,
        issued_at=token.issued_at,
        accounts_affected=changed,
        action=action,
    )
    logger.info(
        "Google security event: %s jti=%r accounts=%d: %s",
        event.short_type,
        token.jti,
        changed,
        action,
    )
    _on_commit_send(
        google_security_event, GoogleSecurityEvent, events_db, event=event, accounts=accounts
    )
    return event, None if ends_grants is None else (ends_grants, newly)


def _text(value: Any) -> str:
    # PostgreSQL cannot store a NUL character in a text column.
    return value[:MAX_TEXT].replace("\x00", "") if isinstance(value, str) else ""


def _subject_sub(subject: dict[str, Any], issuer: str) -> str | None:
    """The ``sub`` of an ``iss-sub`` subject issued by Google, else None."""
    if subject.get("subject_type") != "iss-sub":
        return None
    sub = subject.get("sub")
    if subject.get("iss", issuer) != issuer or not isinstance(sub, str) or not sub:
        return None
    # Longer than a stored sub, or holding what no text column can (NUL): no
    # account of ours.
    if len(sub) > MAX_TEXT or "\x00" in sub:
        return None
    return sub


def _of_client(audience: str) -> Q:
    """The accounts of the client whose id is ``audience`` (the default
    client's older rows, stored without an id, included)."""
    if not audience:
        return Q()
    client = clients.with_id(audience)
    return Q(client_id__in=clients.stored_ids(client) if client is not None else (audience,))


def _named_accounts(
    subject: dict[str, Any], sub: str | None, of_client: Q, db: str, *, lock: bool
) -> list[GoogleAccount]:
    """The accounts the event names, locked when the event changes them."""
    if sub is not None:
        match: dict[str, str] | None = {"sub": sub}
    elif subject.get("subject_type") == "oauth_token" and subject.get("token_type") in (
        "refresh_token",
        None,
    ):
        alg, identifier = subject.get("token_identifier_alg"), subject.get("token")
        match = (
            lookup(alg, identifier)
            if isinstance(alg, str) and isinstance(identifier, str)
            else None
        )
    else:
        match = None
    if match is None:
        return []
    # The tokens are not read (a revoked grant's are overwritten unread), so
    # they are not decrypted either.
    accounts = (
        GoogleAccount.objects.using(db)
        .filter(of_client, **match)
        .defer("access_token", "refresh_token")
        .order_by("pk")
    )
    if lock:
        accounts = accounts.select_for_update()
    return list(accounts)


def _anyone_listening() -> bool:
    """Whether a receiver would hear of the accounts an event changes.

    Without one, the accounts are changed by an UPDATE or two, not fetched, locked
    and saved one by one: as Django deletes rows without fetching them when
    no delete signal has a receiver.
    """
    return (
        google_account_reconnect_required.has_listeners(GoogleAccount)
        or google_security_event.has_listeners(GoogleSecurityEvent)
        or signals.pre_save.has_listeners(GoogleAccount)
        or signals.post_save.has_listeners(GoogleAccount)
    )


def _end_grants_in_place(
    sub: str, of_client: Q, db: str, reason: ReconnectReason, *, delete_tokens: bool
) -> tuple[int, int]:
    """``_end_grants`` for the accounts of ``sub``, without fetching them:
    (how many changed, how many of them newly reconnect_required)."""
    accounts = GoogleAccount.objects.using(db).filter(of_client, sub=sub)
    ended = GoogleAccount.Status.RECONNECT_REQUIRED
    if not delete_tokens:
        newly = accounts.exclude(status=ended).update(
            status=ended, reconnect_reason=reason, updated_at=timezone.now()
        )
        return newly, newly
    blank = {
        "access_token": "",
        "refresh_token": "",
        # update() runs no pre_save: the lookup digests go blank here.
        "refresh_token_prefix_digest": "",
        "refresh_token_digest": "",
        "updated_at": timezone.now(),
    }
    # Two UPDATEs of disjoint rows, so that the second's row count is the
    # grants this event ended (google_connect.reconnect_required). First the
    # accounts that needed a reconnect already: they keep the reason they had.
    already = accounts.filter(status=ended).update(**blank)
    newly = accounts.exclude(status=ended).update(status=ended, reconnect_reason=reason, **blank)
    return already + newly, newly


def _end_grants(
    accounts: list[GoogleAccount], reason: ReconnectReason, *, delete_tokens: bool
) -> tuple[int, int]:
    """Mark the (locked) accounts reconnect_required: (how many changed, how
    many of them newly reconnect_required)."""
    changed = newly_ended = 0
    for account in accounts:
        newly = account.status != GoogleAccount.Status.RECONNECT_REQUIRED
        if newly:
            account.status = GoogleAccount.Status.RECONNECT_REQUIRED
            account.reconnect_reason = reason
        if delete_tokens:
            # Blank, not NULL: the columns are required. The lookup digests
            # go blank with them (GoogleAccount.save() adds them).
            account.access_token = ""
            account.refresh_token = ""
            account.save(update_fields=[*CHANGED_FIELDS, "access_token", "refresh_token"])
        elif newly:
            account.save(update_fields=CHANGED_FIELDS)
        else:
            continue
        changed += 1
        if newly:
            newly_ended += 1
            _on_commit_send(
                google_account_reconnect_required,
                GoogleAccount,
                account._state.db,
                account=account,
                reason=reason,
                error=None,
            )
    return changed, newly_ended


def _on_commit_send(signal: Signal, sender: type, using: str | None, **kwargs: Any) -> None:
    transaction.on_commit(lambda: _send(signal, sender, **kwargs), using=using)


def _send(signal: Signal, sender: type, **kwargs: Any) -> None:
    # A failing receiver is the site's bug to see in its logs; it must not
    # turn Google's delivery into an error (Google would deliver it again).
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "google_connect: a receiver of a security event's signal failed (%s)",
                getattr(receiver, "__qualname__", receiver),
                exc_info=result,
            )
