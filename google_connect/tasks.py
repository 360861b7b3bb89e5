"""The bulk jobs as Celery tasks: proactive refresh, keep-alive, expiry warnings,
bulk revocation and key rotation, spread over a site's Celery workers.

Needs the ``celery`` extra (``pip install 'google_connect[celery]'``). The
tasks are ``shared_task``s with stable names (``google_connect.<name>``), so a
site's Celery app finds them with ``autodiscover_tasks()``.

A fan-out task pages over the accounts by primary key (keyset pagination: flat
memory, rows may come and go meanwhile) and queues one chunk task per page.
Every task returns its counts as a JSON-serialisable dict. The jobs
themselves live in ``google_connect.store.jobs``, shared with the
``django.tasks`` tasks and the commands; this module adds Celery's delivery
and retries.

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

import inspect
from collections.abc import Callable, Iterable
from typing import Any

try:
    from celery import Task, shared_task
except ImportError as exc:  # pragma: no cover - exercised by a test that hides celery
    raise ImportError(
        "google_connect.tasks needs Celery, which the 'celery' extra installs: "
        "pip install 'google_connect[celery]'"
    ) from exc

from google_connect.store import jobs
from google_connect.store.jobs import (
    CHUNK_SIZE,
    MAX_RETRIES,
    MAX_WITHIN_SECONDS,
    RETRY_BACKOFF,
    RETRY_BACKOFF_MAX,
    REVOKE_WORKERS,
    SELECTIONS,
    WITHIN_SECONDS,
    ChunkOutcome,
    id_chunks,
)

# The constants and id_chunks stay importable from here, where sites found them.
__all__ = [
    "CHUNK_SIZE",
    "MAX_RETRIES",
    "MAX_WITHIN_SECONDS",
    "REVOKE_WORKERS",
    "SELECTIONS",
    "WITHIN_SECONDS",
    "ChunkTask",
    "StaleAccounts",
    "id_chunks",
    "keep_alive",
    "refresh_accounts",
    "refresh_expiring",
    "retry_pending_revocations",
    "revoke_accounts",
    "revoke_matching",
    "rotate_accounts",
    "rotate_pending_revocations",
    "rotate_token_keys",
    "send_expiry_warnings",
]


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


def _settle(task: Task, outcome: ChunkOutcome) -> dict[str, int]:
    """The counts, or ``StaleAccounts`` for Celery to retry while retries are left."""
    if outcome.stale and task.request.retries < task.max_retries:
        raise StaleAccounts(
            f"{len(outcome.stale)} account(s) failed temporarily; retrying them later",
            ids=outcome.stale,
            counts=outcome.counts,
            retry_after=outcome.longest_retry_after,
        )
    return outcome.given_up()


@_shared_task(name="google_connect.refresh_expiring", acks_late=True)
def refresh_expiring(within_seconds: int = WITHIN_SECONDS, chunk_size: int = CHUNK_SIZE) -> Any:
    """Queue ``refresh_accounts`` for every active account whose token expires within the window."""
    return jobs.refresh_expiring(
        within_seconds,
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
    return _settle(self, jobs.refresh_accounts(ids, within_seconds, counted))


@_shared_task(name="google_connect.keep_alive", acks_late=True)
def keep_alive(chunk_size: int = CHUNK_SIZE) -> Any:
    """``check_google_accounts --keep-alive``: refresh the accounts idle too long."""
    return jobs.keep_alive(chunk_size)


@_shared_task(name="google_connect.send_expiry_warnings", acks_late=True)
def send_expiry_warnings() -> Any:
    """``check_google_accounts --send-warnings``: warn about grants about to end."""
    return jobs.send_expiry_warnings()


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
    return jobs.revoke_matching(
        selection,
        chunk_size,
        lambda ids: revoke_accounts.delay(
            ids, keep_local=keep_local, include_undecryptable=include_undecryptable
        ),
    )


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
    return _settle(self, jobs.revoke_accounts(ids, keep_local, include_undecryptable, counted))


@_shared_task(name="google_connect.retry_pending_revocations", acks_late=True)
def retry_pending_revocations() -> Any:
    """Try again the pending revocations whose ``next_attempt_at`` has passed.

    Each failure pushes the row's next attempt back (5 minutes, doubling, at
    most a day); after 20 attempts the row is left for an operator. Schedule
    it every few minutes: a run with nothing due costs one query.
    """
    return jobs.retry_pending_revocations()


@_shared_task(name="google_connect.rotate_token_keys", acks_late=True)
def rotate_token_keys(chunk_size: int = CHUNK_SIZE) -> Any:
    """Queue ``rotate_accounts`` over every account and ``rotate_pending_revocations``
    over every pending revocation, to re-encrypt with the first key."""
    return jobs.rotate_token_keys(
        chunk_size, rotate_accounts.delay, rotate_pending_revocations.delay
    )


@_shared_task(name="google_connect.rotate_accounts", acks_late=True)
def rotate_accounts(ids: list[int]) -> dict[str, int]:
    """Re-encrypt these accounts' tokens with the first key of ``FERNET_KEYS``.

    Rows already under the first key are left alone, so a second run writes nothing.
    """
    return jobs.rotate_accounts(ids)


@_shared_task(name="google_connect.rotate_pending_revocations", acks_late=True)
def rotate_pending_revocations(ids: list[int]) -> dict[str, int]:
    """Re-encrypt these pending revocations' tokens with the first key of ``FERNET_KEYS``.

    Without it, dropping the old key would leave their grants live at Google
    for good: ``revoke_google_accounts --pending`` could no longer read them.
    """
    return jobs.rotate_pending_revocations(ids)
