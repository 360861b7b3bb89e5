"""The bulk jobs as Celery tasks: proactive refresh, keep-alive, expiry warnings,
bulk revocation and key rotation, spread over a site's Celery workers.

Needs the ``celery`` extra (``pip install 'google_connect[celery]'``). The
tasks are ``shared_task``s with stable names (``google_connect.<name>``), so a
site's Celery app finds them with ``autodiscover_tasks()``.

A fan-out task pages over the accounts by primary key (keyset pagination: flat
memory, rows may come and go meanwhile) and queues one chunk task per page.
Every task returns its counts as a JSON-serialisable dict.

Delivery is at least once (``acks_late``): a chunk may run twice, even twice at
the same time. That costs no extra call to Google: a refresh is single-flight
under the account's row lock and is skipped for a token that is fresh by then;
a revoked account is gone (or kept blanked); a rotated row is current.

Failures are counted per account. When some accounts of a chunk failed only
temporarily, the chunk raises ``StaleAccounts`` for Celery's ``autoretry_for``:
it is retried later (exponential backoff, never sooner than Google's
Retry-After, at most ``MAX_RETRIES`` times) with only those accounts; the
retry waits in the broker, not in a transaction. After the last retry the task
returns its counts, with those accounts as failed.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

try:
    from celery import Task, shared_task
except ImportError as exc:  # pragma: no cover - exercised by a test that hides celery
    raise ImportError(
        "google_connect.tasks needs Celery, which the 'celery' extra installs: "
        "pip install 'google_connect[celery]'"
    ) from exc

from django.db import InterfaceError, OperationalError, router
from django.db.models import QuerySet
from django.utils import timezone

from google_connect.exceptions import GoogleConnectError, ReconnectRequired
from google_connect.store import pending_revocation, revocation, rotation, tokens
from google_connect.store.models import GoogleAccount, GoogleAccountQuerySet
from google_connect.store.pending_revocation import PendingRevocation

logger = logging.getLogger("google_connect")

CHUNK_SIZE = 500
WITHIN_SECONDS = 600
# Google's access tokens last an hour: a window longer than half of that
# would refresh a token that was just refreshed again on the next run.
MAX_WITHIN_SECONDS = 1800
MAX_RETRIES = 5
RETRY_BACKOFF = 2  # seconds: retries come after up to 2, 4, 8, 16 and 32 s (full jitter)
RETRY_BACKOFF_MAX = 600
# Concurrent calls to Google within one revocation chunk (as the command's default).
REVOKE_WORKERS = 8
# revoke_google_accounts' selections, as revoke_matching's keyword arguments.
SELECTIONS = frozenset({"user", "email", "reconnect_required", "all"})


class StaleAccounts(Exception):  # noqa: N818 (a state to retry, not a failure)
    """Some accounts of a chunk failed temporarily; the chunk is retried with them only."""

    def __init__(
        self,
        message: str = "some accounts failed temporarily",
        ids: Iterable[int] = (),
        counts: dict[str, int] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.ids = list(ids)
        self.counts = dict(counts or {})
        self.retry_after = retry_after


class ChunkTask(Task):  # type: ignore[misc]  # celery is untyped
    """A chunk of accounts: retried for its temporarily failed accounts only."""

    acks_late = True
    autoretry_for = (StaleAccounts,)
    retry_backoff = RETRY_BACKOFF
    retry_backoff_max = RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = MAX_RETRIES

    def retry(
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: Any = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Any:
        if isinstance(exc, StaleAccounts):
            # The retry gets only the stale accounts, and the counts so far.
            request = self.request
            bound = inspect.signature(self.run).bind(
                *(request.args or ()), **(request.kwargs or {})
            )
            args, kwargs = (), {**bound.arguments, "ids": exc.ids, "counted": exc.counts}
            if exc.retry_after is not None:
                countdown = max(countdown or 0.0, exc.retry_after)
        return super().retry(
            args=args,
            kwargs=kwargs,
            exc=exc,
            throw=throw,
            eta=eta,
            countdown=countdown,
            max_retries=max_retries,
            **options,
        )


def _shared_task(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``celery.shared_task``, typed for the checker (Celery's own is not)."""
    decorator: Callable[[Callable[..., Any]], Any] = shared_task(**options)
    return decorator


def id_chunks(queryset: QuerySet[Any], size: int) -> Iterator[list[int]]:
    """The queryset's primary keys in order, ``size`` at a time (keyset pagination)."""
    if size < 1:
        raise ValueError("chunk_size must be at least 1.")
    last_pk = 0
    while True:
        ids = list(
            queryset.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:size]
        )
        if not ids:
            return
        yield ids
        last_pk = ids[-1]


def _fan_out(queryset: QuerySet[GoogleAccount], chunk_size: int, queue: Any) -> dict[str, int]:
    counts = {"accounts": 0, "chunks": 0}
    for ids in id_chunks(queryset, chunk_size):
        queue(ids)
        counts["accounts"] += len(ids)
        counts["chunks"] += 1
    logger.info("Google accounts queued: %d in %d chunk(s)", counts["accounts"], counts["chunks"])
    return counts


def _start(counted: dict[str, int] | None, *keys: str) -> dict[str, int]:
    return {key: int((counted or {}).get(key, 0)) for key in keys}


def _settle(
    task: Task, counts: dict[str, int], stale: list[int], retry_after: list[float]
) -> dict[str, int]:
    """The counts, or ``StaleAccounts`` for Celery to retry while retries are left."""
    if stale and task.request.retries < task.max_retries:
        raise StaleAccounts(
            f"{len(stale)} account(s) failed temporarily; retrying them later",
            ids=stale,
            counts=counts,
            retry_after=max(retry_after) if retry_after else None,
        )
    counts["failed"] += len(stale)
    return counts


def _validate_window(within_seconds: int) -> timedelta:
    if not 0 < within_seconds <= MAX_WITHIN_SECONDS:
        raise ValueError(f"within_seconds must be between 1 and {MAX_WITHIN_SECONDS}.")
    return timedelta(seconds=within_seconds)


@_shared_task(name="google_connect.refresh_expiring", acks_late=True)
def refresh_expiring(within_seconds: int = WITHIN_SECONDS, chunk_size: int = CHUNK_SIZE) -> Any:
    """Queue ``refresh_accounts`` for every active account whose token expires within the window."""
    window = _validate_window(within_seconds)
    cutoff = timezone.now() + window
    expiring = _written_accounts().active().filter(expires_at__lte=cutoff)
    return _fan_out(
        expiring,
        chunk_size,
        lambda ids: refresh_accounts.delay(ids, within_seconds=within_seconds),
    )


@_shared_task(name="google_connect.refresh_accounts", bind=True, base=ChunkTask)
def refresh_accounts(
    self: Task,
    ids: list[int],
    within_seconds: int = WITHIN_SECONDS,
    counted: dict[str, int] | None = None,
) -> dict[str, int]:
    """Refresh each account whose access token expires within ``within_seconds``.

    ``refreshed`` counts the tokens found expiring and fresh afterwards (a
    concurrent caller's refresh, which the single flight waited for,
    included); ``already_fresh`` those fresh when read. ``counted`` carries
    the counts of earlier attempts into a retry.
    """
    window = _validate_window(within_seconds)
    counts = _start(counted, "refreshed", "already_fresh", "reconnect_required", "failed")
    stale: list[int] = []
    retry_after: list[float] = []
    for account in _written_accounts().filter(pk__in=list(ids)).order_by("pk"):
        try:
            counts[_refresh_one(account, window)] += 1
        except Exception as exc:  # counted per account, never raised one by one
            if _temporary(exc):
                stale.append(account.pk)
                if getattr(exc, "retry_after", None) is not None:
                    retry_after.append(exc.retry_after)  # type: ignore[attr-defined]
            else:
                counts["failed"] += 1
            _log_failure("refresh", account, exc)
    return _settle(self, counts, stale, retry_after)


def _refresh_one(account: GoogleAccount, window: timedelta) -> str:
    if account.status == GoogleAccount.Status.RECONNECT_REQUIRED:
        return "reconnect_required"
    if account.expires_at - timezone.now() >= window:
        return "already_fresh"
    try:
        tokens.get_access_token(account, min_validity=window)
    except ReconnectRequired:
        return "reconnect_required"
    return "refreshed"


def _temporary(exc: Exception) -> bool:
    if isinstance(exc, GoogleConnectError):
        return bool(getattr(exc, "temporary", False))
    # The database went away or a lock wait timed out: worth another try.
    return isinstance(exc, OperationalError | InterfaceError)


def _log_failure(what: str, account: GoogleAccount, exc: Exception) -> None:
    # Our own errors carry no secret in their message; anything else is logged
    # by type only.
    detail = str(exc) if isinstance(exc, GoogleConnectError) else type(exc).__name__
    logger.warning(
        "Google %s failed%s: account_id=%s sub=%s: %s",
        what,
        " temporarily" if _temporary(exc) else "",
        account.pk,
        account.sub,
        detail,
    )


@_shared_task(name="google_connect.keep_alive", acks_late=True)
def keep_alive(chunk_size: int = CHUNK_SIZE) -> Any:
    """``check_google_accounts --keep-alive``: refresh the accounts idle too long."""
    return dict(_grants().keep_alive(chunk_size=chunk_size))


@_shared_task(name="google_connect.send_expiry_warnings", acks_late=True)
def send_expiry_warnings() -> Any:
    """``check_google_accounts --send-warnings``: warn about grants about to end."""
    return dict(_grants().send_expiry_warnings())


def _grants() -> ModuleType:
    # Imported when a task runs: google_connect.grants comes with the grants feature.
    return importlib.import_module("google_connect.grants")


@_shared_task(name="google_connect.revoke_matching", acks_late=True)
def revoke_matching(
    *,
    keep_local: bool = False,
    include_undecryptable: bool = False,
    chunk_size: int = CHUNK_SIZE,
    **selection: Any,
) -> Any:
    """Queue ``revoke_accounts`` for the accounts ``revoke_google_accounts`` would select.

    ``selection``: ``user`` and ``email`` (a value or a list of them),
    ``reconnect_required`` and ``all``, as the command's options.
    """
    accounts = _selection(selection)
    return _fan_out(
        accounts,
        chunk_size,
        lambda ids: revoke_accounts.delay(
            ids, keep_local=keep_local, include_undecryptable=include_undecryptable
        ),
    )


def _written_accounts() -> GoogleAccountQuerySet:
    """Accounts on the database the routers write them to: a chunk acts on the
    ids its fan-out read there, never on a replica that may lag behind."""
    return GoogleAccount.objects.using(router.db_for_write(GoogleAccount))


def _selection(selection: dict[str, Any]) -> QuerySet[GoogleAccount]:
    from django.core.management import CommandError

    from google_connect.management.commands.revoke_google_accounts import Command

    unknown = sorted(set(selection) - SELECTIONS)
    if unknown:
        raise ValueError(
            f"Unknown selection {', '.join(unknown)}; use {', '.join(sorted(SELECTIONS))}."
        )

    def listed(value: Any) -> list[str]:
        return [str(value)] if isinstance(value, str | int) else [str(v) for v in value or ()]

    options = {
        "user": listed(selection.get("user")),
        "email": listed(selection.get("email")),
        "reconnect_required": bool(selection.get("reconnect_required")),
        "all": bool(selection.get("all")),
        # The chunk tasks read and write accounts where the routers write them.
        "database": router.db_for_write(GoogleAccount),
    }
    try:
        return Command().selection(options)
    except CommandError as exc:
        raise ValueError(str(exc)) from None


@_shared_task(name="google_connect.revoke_accounts", bind=True, base=ChunkTask)
def revoke_accounts(
    self: Task,
    ids: list[int],
    keep_local: bool = False,
    include_undecryptable: bool = False,
    counted: dict[str, int] | None = None,
) -> dict[str, int]:
    """Revoke these accounts at Google; delete them, or with ``keep_local`` blank them.

    Accounts already gone count as ``gone``; accounts kept blanked by an
    earlier run as ``already_revoked``: neither is sent to Google again.
    Accounts whose tokens no key decrypts are kept (``undecryptable_kept``),
    or with ``include_undecryptable`` deleted (with ``keep_local`` marked
    ``reconnect_required``) without calling Google (``undecryptable_cleared``).
    """
    counts = _start(
        counted,
        "revoked",
        "already_revoked",
        "gone",
        "failed",
        "undecryptable_kept",
        "undecryptable_cleared",
    )
    rows = list(_written_accounts().filter(pk__in=list(ids)).order_by("pk"))
    counts["gone"] += len(set(ids) - {row.pk for row in rows})
    to_revoke = [row.pk for row in rows if not _revoked_and_kept(row)]
    counts["already_revoked"] += len(rows) - len(to_revoke)
    stale: list[int] = []
    retry_after: list[float] = []
    if to_revoke:
        report = revocation.revoke_accounts(
            _written_accounts().filter(pk__in=to_revoke),
            workers=REVOKE_WORKERS,
            keep_local=keep_local,
            include_undecryptable=include_undecryptable,
        )
        counts["revoked"] += report.revoked
        counts["already_revoked"] += report.already_revoked
        counts["undecryptable_kept"] += report.undecryptable_kept
        counts["undecryptable_cleared"] += report.undecryptable_cleared
        for failure in report.failures:
            logger.warning(
                "Google revoke failed%s: account_id=%s: %s",
                " temporarily" if failure.temporary else "",
                failure.account_id,
                failure.reason,
            )
            if failure.temporary:
                stale.append(failure.account_id)
                if failure.retry_after is not None:
                    retry_after.append(failure.retry_after)
            else:
                counts["failed"] += 1
    return _settle(self, counts, stale, retry_after)


def _revoked_and_kept(account: GoogleAccount) -> bool:
    """A row ``keep_local`` left behind: nothing is left to revoke."""
    # Through __dict__: what was loaded, without raising for an undecryptable token.
    return (
        account.status == GoogleAccount.Status.RECONNECT_REQUIRED
        and account.__dict__.get("access_token") == ""
        and account.__dict__.get("refresh_token") == ""
    )


@_shared_task(name="google_connect.retry_pending_revocations", acks_late=True)
def retry_pending_revocations() -> Any:
    """Try again the pending revocations whose ``next_attempt_at`` has passed.

    Each failure pushes the row's next attempt back (5 minutes, doubling, at
    most a day); after 20 attempts the row is left for an operator. Schedule
    it every few minutes: a run with nothing due costs one query.
    """
    return pending_revocation.retry_pending_revocations().as_dict()


@_shared_task(name="google_connect.rotate_token_keys", acks_late=True)
def rotate_token_keys(chunk_size: int = CHUNK_SIZE) -> Any:
    """Queue ``rotate_accounts`` over every account and ``rotate_pending_revocations``
    over every pending revocation, to re-encrypt with the first key."""
    counts = _fan_out(_written_accounts(), chunk_size, rotate_accounts.delay)
    pending = PendingRevocation.objects.using(router.db_for_write(PendingRevocation))
    counts["pending_revocations"] = 0
    for ids in id_chunks(pending, chunk_size):
        rotate_pending_revocations.delay(ids)
        counts["pending_revocations"] += len(ids)
        counts["chunks"] += 1
    return counts


@_shared_task(name="google_connect.rotate_accounts", acks_late=True)
def rotate_accounts(ids: list[int]) -> dict[str, int]:
    """Re-encrypt these accounts' tokens with the first key of ``FERNET_KEYS``.

    Rows already under the first key are left alone, so a second run writes nothing.
    """
    report = rotation.rotate_keys(ids=ids)
    for account_id, _email in report.undecryptable:
        logger.warning(
            "Google tokens undecryptable with every key in FERNET_KEYS: account_id=%s", account_id
        )
    return {
        "rotated": report.rotated,
        "current": report.current,
        "undecryptable": len(report.undecryptable),
    }


@_shared_task(name="google_connect.rotate_pending_revocations", acks_late=True)
def rotate_pending_revocations(ids: list[int]) -> dict[str, int]:
    """Re-encrypt these pending revocations' tokens with the first key of ``FERNET_KEYS``.

    Without it, dropping the old key would leave their grants live at Google
    for good: ``revoke_google_accounts --pending`` could no longer read them.
    """
    report = rotation.rotate_keys(pending_ids=ids)
    for pending_id in report.pending_undecryptable:
        logger.warning(
            "Pending revocation's token undecryptable with every key in FERNET_KEYS: "
            "pending_revocation_id=%s",
            pending_id,
        )
    return {
        "rotated": report.pending_rotated,
        "current": report.pending_current,
        "undecryptable": len(report.pending_undecryptable),
    }
