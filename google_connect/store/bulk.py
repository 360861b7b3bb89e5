"""The async bulk engine: hundreds of calls to Google in flight from one process.

Needs the ``async`` extra. Plain functions, for the management commands
(``--concurrency``) and for the shared job layer that the task queues call:

- ``run_concurrently(items, work, concurrency)``: ``work(item)`` awaited for
  every item, ``concurrency`` at a time, results as they come;
- ``refresh_accounts(queryset, concurrency=...)``: refresh every account of
  a selection (expiring, idle for keep-alive, ...);
- ``revoke_accounts(queryset, concurrency=...)``: ``revocation.revoke_accounts``
  on an event loop.

Each run is one OpenTelemetry span (``google_connect.bulk.refresh``,
``.keep_alive``, ``.revoke``) with the per-account spans below it: the
workers are tasks created inside it, and inherit it.

Each is a coroutine; ``run(coroutine)`` runs one from sync code (a command, a
Celery task) on a fresh event loop and closes its connections after.

The database work is chunked as in the thread-pool path: accounts are read
in keyset pages of ``PAGE_SIZE``, and for refreshes a page is *claimed* with
one conditional ``UPDATE`` of its refresh leases (see lease.py), so a run in
another process, a sync caller or an async one never refreshes the same
account at the same time, and a run that is killed holds nothing for longer
than a lease. Results are written in batches of ``WRITE_BATCH`` with one
``UPDATE`` each (``bulk_update``), guarded by the lease: a row whose lease
another caller took over is not overwritten.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections, router, transaction
from django.db.models import Field, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import GoogleAPIError, GoogleConnectError, ReconnectRequired
from google_connect.google import aio as google_aio
from google_connect.google import clients, telemetry
from google_connect.google.answers import TokenResponse
from google_connect.google.retry import awith_retries
from google_connect.store import (
    activity,
    aio,
    disconnection,
    lease,
    revocation,
    scope_changes,
    tokens,
)
from google_connect.store.case_update import case_update
from google_connect.store.lifetimes import store_lifetimes
from google_connect.store.reasons import ReconnectReason

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from google_connect.store.models import GoogleAccount

logger = logging.getLogger("google_connect")

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 64
MAX_CONCURRENCY = 1024
PAGE_SIZE = 500
WRITE_BATCH = 100
REFRESHED, RECONNECT_REQUIRED, FAILED = "refreshed", "reconnect_required", "failed"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a bulk coroutine to the end on a new event loop (from sync code).

    Raises ``RuntimeError`` in a thread whose event loop is running (an async
    view, an async test): there, await the coroutine instead.
    """
    if loop_running():
        coroutine.close()  # never started: no "was never awaited" warning
        raise RuntimeError(
            "google_connect.store.bulk.run() was called from a thread whose event loop is "
            "running; await the bulk coroutine there instead (or call run() from sync code)."
        )

    async def and_close() -> T:
        try:
            return await coroutine
        finally:
            await google_aio.close_shared_session()
            # The connections of asgiref's thread, which outlives the loop.
            await sync_to_async(connections.close_all)()

    return asyncio.run(and_close())


def loop_running() -> bool:
    """Whether this thread runs an event loop (where ``run`` cannot start one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def run_concurrently(
    items: Iterable[T] | AsyncIterable[T],
    work: Callable[[T], Awaitable[R]],
    concurrency: int = DEFAULT_CONCURRENCY,
) -> AsyncIterator[tuple[T, R]]:
    """``(item, await work(item))`` for every item, ``concurrency`` awaited at once.

    Results come in the order they finish. Items are taken only as workers
    free up, so a generator of pages is read no faster than it is worked
    through. An exception from ``work`` stops everything and is raised here.
    """
    concurrency = max(1, min(concurrency, MAX_CONCURRENCY))
    source = _aiter(items)
    take = asyncio.Lock()
    done: asyncio.Queue[tuple[T, R] | None] = asyncio.Queue()

    async def worker() -> None:
        try:
            while True:
                async with take:
                    try:
                        item = await anext(source)
                    except StopAsyncIteration:
                        return
                await done.put((item, await work(item)))
        finally:
            await done.put(None)

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    running = len(workers)
    try:
        while running:
            result = await done.get()
            if result is None:
                running -= 1
                continue
            yield result
        for task in workers:
            task.result()  # raises what a worker raised
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for task in workers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


async def _aiter(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


# -- refreshing many accounts ------------------------------------------------------


@dataclass(frozen=True, repr=False)
class RefreshResult:
    """What one account's call came to (never its tokens in a repr)."""

    outcome: str
    response: TokenResponse | None = None
    reason: ReconnectReason | None = None
    error_code: str | None = None
    message: str = ""
    # A failure's error: its ``temporary`` and ``retry_after`` tell a task
    # queue whether and when to try the account again.
    error: GoogleConnectError | None = None


async def refresh_accounts(
    queryset: QuerySet[GoogleAccount],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_outcome: Callable[[GoogleAccount, str], None] | None = None,
    on_failure: Callable[[GoogleAccount, GoogleConnectError], None] | None = None,
    job: str = "refresh",
) -> dict[str, int]:
    """Refresh every active account of ``queryset``, ``concurrency`` calls at once.

    Returns ``{"refreshed": n, "reconnect_required": n, "failed": n}``. An
    account another caller is refreshing (a live lease or row lock) or has
    refreshed so that it no longer matches ``queryset`` is counted in none.
    ``on_outcome(account, outcome)`` is called for each counted account, and
    ``on_failure(account, error)`` for each ``failed`` one first, with the
    error that failed it (temporary or not, with Google's Retry-After).
    The run is one span, ``google_connect.bulk.<job>`` (``keep_alive`` for
    a keep-alive run), with the counts as attributes.
    """
    concurrency = max(1, min(concurrency, MAX_CONCURRENCY))
    # The workers are tasks created inside the span: they inherit it.
    with telemetry.bulk(job, engine="async", concurrency=concurrency) as span:
        counts = Counter({REFRESHED: 0, RECONNECT_REQUIRED: 0, FAILED: 0})
        try:
            await _refresh_all(queryset, concurrency, on_outcome, on_failure, counts)
        finally:
            span.set_counts({"accounts": sum(counts.values()), **counts})
    return dict(counts)


async def _refresh_all(
    queryset: QuerySet[GoogleAccount],
    concurrency: int,
    on_outcome: Callable[[GoogleAccount, str], None] | None,
    on_failure: Callable[[GoogleAccount, GoogleConnectError], None] | None,
    counts: Counter[str],
) -> None:
    model = queryset.model
    db = router.db_for_write(model)
    owner = lease.new_owner()
    selection = queryset.filter(status=model.Status.ACTIVE)
    batch: list[tuple[GoogleAccount, RefreshResult]] = []

    async def flush() -> None:
        errors = {account.pk: result.error for account, result in batch}
        settled, locked = await sync_to_async(_settle)(list(batch), db, owner)
        for account, outcome in settled:
            counts[outcome] += 1
            error = errors[account.pk]
            if outcome == FAILED and on_failure is not None and error is not None:
                on_failure(account, error)
            if on_outcome is not None:
                on_outcome(account, outcome)
        # Rows another transaction holds locked wait for the next write.
        batch[:] = locked

    claimed = _claimed_pages(selection, db, owner)
    try:
        async for account, result in run_concurrently(claimed, _refresh_one, concurrency):
            batch.append((account, result))
            if len(batch) >= WRITE_BATCH:
                await flush()
        await flush()
        # The last rows locked elsewhere (a sync disconnect() revoking at
        # Google holds its row across the call): tried again with the
        # database thread free between tries, for as long as a lease lasts.
        waits, deadline = lease.polls(), time.monotonic() + lease.lease_seconds()
        while batch and time.monotonic() < deadline:
            await asyncio.sleep(next(waits))
            await flush()
        if batch:
            logger.warning(
                "%d refreshed account(s) stayed locked by another transaction: "
                "their results were not written, their leases run out",
                len(batch),
            )
    finally:
        # Whatever was claimed and not settled (a crash, a cancellation).
        await asyncio.shield(sync_to_async(_release_all)(model, db, owner))


async def _claimed_pages(
    selection: QuerySet[GoogleAccount], db: str, owner: str
) -> AsyncIterator[GoogleAccount]:
    claim = sync_to_async(_claim_page)
    upcoming = asyncio.ensure_future(claim(selection, db, owner, 0))
    try:
        while True:
            last_pk, claimed = await upcoming
            if last_pk is None:
                return
            # The next page is claimed while this one is worked through:
            # otherwise every worker that frees up meanwhile waits for it.
            upcoming = asyncio.ensure_future(claim(selection, db, owner, last_pk))
            for account in claimed:
                yield account
    finally:
        # Stopped early: its leases go with the run's others (_release_all,
        # which the database thread runs after this claim).
        upcoming.cancel()


@sensitive_variables()
def _claim_page(
    selection: QuerySet[GoogleAccount], db: str, owner: str, after: Any
) -> tuple[Any, list[GoogleAccount]]:
    """Claim the leases of the next page of ``selection``; (last pk read, claimed rows)."""
    ids = list(
        selection.using(db)
        .filter(pk__gt=after)
        .order_by("pk")
        .values_list("pk", flat=True)[:PAGE_SIZE]
    )
    if not ids:
        return None, []
    now = timezone.now()
    free = Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lte=now)
    with transaction.atomic(using=db):
        candidates = selection.using(db).filter(free, pk__in=ids)
        # Rows a sync refresh holds locked are in flight already: skipped,
        # not waited for. (SQLite has no row locks: the lease alone decides.)
        lockable = _lock_unlocked(candidates, db)
        if lockable is not None:
            candidates = candidates.filter(pk__in=lockable)
        candidates.update(
            refresh_lease_until=now + timedelta(seconds=_page_lease_seconds()),
            refresh_lease_owner=owner,
        )
    claimed = list(
        selection.model.objects.using(db)
        .filter(pk__in=ids, refresh_lease_owner=owner)
        .order_by("pk")
    )
    return ids[-1], claimed


def _lock_unlocked(rows: QuerySet[GoogleAccount], db: str) -> list[Any] | None:
    """Lock those of ``rows`` no other transaction holds (``SKIP LOCKED``), in
    the caller's transaction; their pks. None where the database has no row
    locks (SQLite)."""
    features = connections[db].features
    if not features.has_select_for_update_skip_locked or connections[db].vendor == "sqlite":
        return None
    # MariaDB's FOR UPDATE has no OF (and the query joins nothing).
    of = ("self",) if features.has_select_for_update_of else ()
    return list(
        rows.select_for_update(skip_locked=True, of=of).order_by().values_list("pk", flat=True)
    )


def _page_lease_seconds() -> float:
    # A page waits its turn while the one before is worked through: its leases
    # last as long as every one of its refreshes could take one after another,
    # however slowly, within reason.
    return lease.lease_seconds() * 4


@sensitive_variables()
async def _refresh_one(row: GoogleAccount) -> RefreshResult:
    reason = lease.reason_not_to_call(row)
    if reason is not None:
        return RefreshResult(RECONNECT_REQUIRED, reason=reason)
    oauth_client = clients.with_id(row.client_id)
    assert oauth_client is not None
    client = google_aio.AsyncGoogleOAuthClient(client=oauth_client)
    # The sync refresh's span (the results are written later, a batch at a time).
    with telemetry.operation("refresh", client=oauth_client.name) as operation:
        try:
            refresh_token = row.refresh_token
            response = await awith_retries(
                lambda: client.refresh(refresh_token), what="refresh a token"
            )
        except GoogleAPIError as exc:
            if exc.error_code in tokens.DEAD_GRANT_ERRORS:
                reason = lease.invalid_grant_reason(row, exc.error_subtype)
                operation.set("reason", reason.value)
                operation.set_error(ReconnectRequired.__name__)
                return RefreshResult(RECONNECT_REQUIRED, reason=reason, error_code=exc.error_code)
            logger.warning("Refresh failed (%s): account_id=%s", exc.reason, row.pk)
            operation.set_error(type(exc).__name__)
            return RefreshResult(FAILED, message=str(exc), error=exc)
        except GoogleConnectError as exc:  # undecryptable tokens: a key fault
            logger.warning("Refresh failed (%s): account_id=%s", exc.reason, row.pk)
            operation.set_error(type(exc).__name__)
            return RefreshResult(FAILED, message=str(exc), error=exc)
    return RefreshResult(REFRESHED, response=response)


REFRESH_WRITES = (
    *tokens.TOKEN_FIELDS,
    "refresh_token_prefix_digest",
    "refresh_token_digest",
    "refresh_lease_until",
    "refresh_lease_owner",
    "updated_at",
)
KEPT_REFRESH_TOKEN_WRITES = tuple(
    name
    for name in REFRESH_WRITES
    if name not in ("refresh_token", "refresh_token_prefix_digest", "refresh_token_digest")
)


@sensitive_variables()
def _settle(
    batch: list[tuple[GoogleAccount, RefreshResult]], db: str, owner: str
) -> tuple[list[tuple[GoogleAccount, str]], list[tuple[GoogleAccount, RefreshResult]]]:
    """Write a batch of results: one UPDATE for the refreshed rows, guarded by the lease.

    Returns (the accounts settled with their outcomes, the results left for
    later: rows still leased to this run that another transaction holds
    locked). The rows are locked with ``SKIP LOCKED`` first: a write would
    otherwise wait for that lock on asgiref's one database thread. A row
    whose lease another caller took over is neither written nor counted.
    """
    if not batch:
        return [], []
    model = type(batch[0][0])
    now = timezone.now()
    settled: list[tuple[GoogleAccount, str]] = []
    refreshed: list[tuple[GoogleAccount, str]] = []
    renewed_token: dict[Any, bool] = {}
    # One count per batch for the overview's chart, not one per account.
    with activity.counted(), transaction.atomic(using=db):
        owned = model.objects.using(db).filter(refresh_lease_owner=owner)
        pks = [row.pk for row, _ in batch]
        mine = owned.filter(pk__in=pks)
        lockable = _lock_unlocked(mine, db)
        writable = set(mine.values_list("pk", flat=True) if lockable is None else lockable)
        # Still this run's, but locked by another transaction: for later.
        held = (
            set(mine.exclude(pk__in=writable).values_list("pk", flat=True))
            if len(writable) < len(pks)
            else set()
        )
        left = [(row, result) for row, result in batch if row.pk in held]
        for row, result in batch:
            if row.pk in held:
                continue
            if result.outcome == REFRESHED:
                if row.pk not in writable:
                    continue  # another caller's lease now
                assert result.response is not None
                refreshed.append((row, _apply_refresh(row, result.response, now)))
                renewed_token[row.pk] = bool(result.response.refresh_token)
            elif result.outcome == RECONNECT_REQUIRED:
                assert result.reason is not None
                if lease.mark_dead(row, db, owner, result.reason, result.error_code) is not None:
                    settled.append((row, RECONNECT_REQUIRED))
            else:
                if isinstance(result.error, GoogleAPIError):
                    # As the sync refresh counts a temporary failure (an
                    # undecryptable token is a key fault, not a refresh's).
                    activity.refresh_failed(db, error=result.error.reason)
                settled.append((row, FAILED))
        # A refresh answer rarely brings a new refresh token: the rows that
        # got none keep theirs, and are written without it (no encryption,
        # no digest, no ciphertext sent for nothing).
        for renewed in (True, False):
            names = REFRESH_WRITES if renewed else KEPT_REFRESH_TOKEN_WRITES
            group = {
                row.pk: {name: row.__dict__[name] for name in names}
                for row, _ in refreshed
                if renewed_token[row.pk] is renewed
            }
            case_update(owned, group)
        for row, previous_scopes in refreshed:
            row.mark_token_state_loaded()
            scope_changes.announce(row, previous_scopes)
            tokens._announce_refreshed(row)
            settled.append((row, REFRESHED))
        failed = [
            row.pk for row, result in batch if result.outcome == FAILED and row.pk in writable
        ]
        if failed:
            owned.filter(pk__in=failed).update(refresh_lease_until=None, refresh_lease_owner="")
    return settled, left


@sensitive_variables()
def _apply_refresh(row: GoogleAccount, response: TokenResponse, now: datetime) -> str:
    """Set what ``tokens._store_refreshed`` stores, without saving; the scopes before."""
    row.access_token = response.access_token
    if response.refresh_token:
        row.refresh_token = response.refresh_token
    row.token_type = response.token_type
    row.expires_at = now + timedelta(seconds=response.expires_in)
    previous_scopes = row.scopes
    if response.scopes is not None:
        row.scopes = " ".join(response.scopes)
    store_lifetimes(row, response, now=now, connect=False)
    if response.refresh_token:
        for name in ("refresh_token_prefix_digest", "refresh_token_digest"):
            digest = row._meta.get_field(name)
            assert isinstance(digest, Field)
            digest.pre_save(row, False)
    row.refresh_lease_until = None
    row.refresh_lease_owner = ""
    row.updated_at = now
    return previous_scopes


def _release_all(model: type[GoogleAccount], db: str, owner: str) -> None:
    rows = model.objects.using(db).filter(refresh_lease_owner=owner)
    with transaction.atomic(using=db):
        # A row another transaction holds locked keeps its lease until it
        # runs out, rather than hold the database thread until it is free.
        lockable = _lock_unlocked(rows, db)
        if lockable is not None:
            rows = rows.filter(pk__in=lockable)
        rows.update(refresh_lease_until=None, refresh_lease_owner="")


def expiring(
    model: type[GoogleAccount], within: timedelta, using: str | None = None
) -> QuerySet[GoogleAccount]:
    """Active accounts whose access token expires within ``within`` (proactive refresh)."""
    return model.objects.using(using or router.db_for_write(model)).active().expiring_within(within)


# -- revoking many accounts --------------------------------------------------------


async def revoke_accounts(
    queryset: QuerySet[GoogleAccount],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    keep_local: bool = False,
    include_undecryptable: bool = False,
    on_outcome: Callable[[revocation.Outcome], None] | None = None,
) -> revocation.Report:
    """``revocation.revoke_accounts`` with ``concurrency`` calls in flight on an event loop.

    The same pages, the same guard (a row changed since it was read is kept
    and reported), the same report; each page is settled with
    ``revocation._apply`` once its last call has come back. The run is one
    span, ``google_connect.bulk.revoke``.
    """
    concurrency = max(1, min(concurrency, MAX_CONCURRENCY))
    with telemetry.bulk("revoke", engine="async", concurrency=concurrency) as span:
        report = revocation.Report()
        try:
            await _revoke_all(
                queryset, concurrency, keep_local, include_undecryptable, on_outcome, report
            )
        finally:
            span.set_counts(report.as_counts())
    return report


async def _revoke_all(
    queryset: QuerySet[GoogleAccount],
    concurrency: int,
    keep_local: bool,
    include_undecryptable: bool,
    on_outcome: Callable[[revocation.Outcome], None] | None,
    report: revocation.Report,
) -> None:
    waiting: dict[int, list[Any]] = {}

    async def each() -> AsyncIterator[tuple[int, GoogleAccount]]:
        number = 0
        pages = revocation.pages(queryset)
        while True:
            page = await sync_to_async(lambda: next(pages, None))()
            if page is None:
                return
            read_at, accounts = page
            waiting[number] = [read_at, accounts, {}]
            for account in accounts:
                yield number, account
            number += 1

    async def work(item: tuple[int, GoogleAccount]) -> revocation.Outcome:
        return await _revoke_one(item[1])

    async for (number, account), outcome in run_concurrently(each(), work, concurrency):
        read_at, accounts, outcomes = waiting[number]
        outcomes[account.pk] = outcome
        if len(outcomes) < len(accounts):
            continue
        del waiting[number]
        ordered = [outcomes[a.pk] for a in accounts]
        for final in await sync_to_async(revocation._apply)(
            accounts, ordered, read_at, keep_local, include_undecryptable
        ):
            report.add(final, cleared=include_undecryptable)
            if on_outcome is not None:
                on_outcome(final)


async def _revoke_one(account: GoogleAccount) -> revocation.Outcome:
    if not account.tokens_decryptable and disconnection.revocable_token(account) is None:
        return revocation.Outcome(account.pk, account.email, revocation.UNDECRYPTABLE)
    try:
        revoked = await aio.arevoke(account)
    except GoogleConnectError as exc:
        return revocation.Outcome(
            account.pk,
            account.email,
            revocation.FAILED,
            str(exc),
            temporary=getattr(exc, "temporary", False),
            retry_after=getattr(exc, "retry_after", None),
        )
    return revocation.Outcome(
        account.pk,
        account.email,
        revocation.REVOKED if revoked else revocation.ALREADY_REVOKED,
    )
