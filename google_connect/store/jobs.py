"""The bulk jobs, once: what to select, how to cut it into chunks, and the work
of a chunk, for every task queue and for the commands.

The Celery tasks (``google_connect.tasks``), the ``django.tasks`` tasks
(``google_connect.background_tasks``) and the management commands only adapt
these functions: how a chunk is queued, and what happens to the accounts that
failed temporarily (a Celery retry, a deferred re-enqueue, or a count of
failures). Everything here returns JSON-safe dicts of counts, so results
survive any backend's serialisation.

Every job is idempotent under double delivery: a refresh is single-flight
under the account's row lock and skipped for a token that is fresh by then;
a revoked account is gone (or kept blanked); a rotated row is current.

``async_engine`` is the one place where the engine that runs a job's
per-account work is chosen, for a task's chunk and for a command alike: the
async engine (``store/bulk.py``) with ``BULK_CONCURRENCY`` calls to Google in
flight when aiohttp is installed (a task), or with the calls a command's
``--concurrency`` asked for; else the thread pool (or the calling thread).
Whichever runs it, a chunk comes to the same counts and the same
temporarily failed accounts, for the same retry.

The jobs a command runs in its own process, ``keep_alive``,
``refresh_expiring_here`` and ``revoke_selection``, read the same selection
as the tasks and do the same per-account work; they take the database
(``using``), the threads (``workers``), the engine (``concurrency``) and
``on_progress(done, total)``, called with 0 before the first account and
again after each one.

A chunk is one bulk operation: one OpenTelemetry span
(``google_connect.bulk.refresh``, ``.revoke``, ``.rotate_keys``) per chunk,
with that attempt's counts (a retry's span counts only what the retry did),
whatever engine the chunk hands its accounts to. A fan-out, which only
queues chunks, has no span of its own.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any, Final, Literal, TypeVar

from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError, connections, router
from django.db.models import Q, QuerySet
from django.utils import timezone

from google_connect.conf import get_settings
from google_connect.exceptions import GoogleConnectError, ReconnectRequired
from google_connect.google import telemetry
from google_connect.store import pending_revocation, revocation, rotation, tokens, upkeep
from google_connect.store.health import idle_accounts, written_accounts
from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation

logger = logging.getLogger("google_connect")

T = TypeVar("T")

CHUNK_SIZE = 500
WITHIN_SECONDS = 600
# Google's access tokens last an hour: a window longer than half of that
# would refresh a token that was just refreshed again on the next run.
MAX_WITHIN_SECONDS = 1800
MAX_RETRIES = 5
RETRY_BACKOFF = 2  # seconds: retries come after up to 2, 4, 8, 16 and 32 s
RETRY_BACKOFF_MAX = 600
# Concurrent calls to Google within one revocation chunk (as the command's default).
REVOKE_WORKERS = 8
# Concurrent refreshes within one refresh chunk. One: a task queue spreads
# chunks over its workers already, and each refresh holds a row lock and a
# database connection across its call to Google.
REFRESH_WORKERS = 1
# revoke_google_accounts' selections, as revoke_matching's keyword arguments.
SELECTIONS = frozenset({"user", "email", "reconnect_required", "all"})
# The jobs a site runs every day, in the order enqueue_google_connect_jobs queues them.
DAILY = ("send_expiry_warnings", "keep_alive", "retry_pending_revocations")
REFRESH_OUTCOMES = ("refreshed", "already_fresh", "reconnect_required", "failed")

# (accounts done, accounts in all): a command's progress bar.
Progress = Callable[[int, int], None]


class _Setting(enum.Enum):
    BULK_CONCURRENCY = "BULK_CONCURRENCY"


# The engine a task runs on: BULK_CONCURRENCY's. A command passes None (its
# thread pool) or the calls in flight its --concurrency asked for.
FROM_SETTINGS: Final = _Setting.BULK_CONCURRENCY
Concurrency = int | None | Literal[_Setting.BULK_CONCURRENCY]


@dataclass
class ChunkOutcome:
    """A chunk's counts, and the accounts that failed only temporarily."""

    counts: dict[str, int]
    stale: list[int] = field(default_factory=list)
    retry_after: list[float] = field(default_factory=list)

    def given_up(self) -> dict[str, int]:
        """The counts, with the stale accounts as failed: no retry is left."""
        return {**self.counts, "failed": self.counts["failed"] + len(self.stale)}

    @property
    def longest_retry_after(self) -> float | None:
        return max(self.retry_after) if self.retry_after else None


def backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1, 2, ...): doubling, capped."""
    return float(min(RETRY_BACKOFF * 2 ** (attempt - 1), RETRY_BACKOFF_MAX))


# -- the engine ------------------------------------------------------------------


def async_engine(
    concurrency: Concurrency = FROM_SETTINGS, *, using: str | None = None
) -> tuple[ModuleType, int] | None:
    """The async engine and the calls it keeps in flight, or None for the thread pool.

    ``concurrency`` is ``FROM_SETTINGS`` for a task (``BULK_CONCURRENCY``,
    the thread pool when that is None or aiohttp is not installed), None for
    the thread pool, or a number of calls a command was asked for (then a
    missing aiohttp is a ``ModuleNotFoundError`` naming the extra, from
    ``bulk_engine``). Either way None in a thread whose event loop is running
    (an async caller that ran a task inline), where no second loop can
    start, and inside a transaction on ``using`` (by default where the
    routers write accounts; a task run inline in an atomic request or test):
    the engine's database thread would not see its rows, and on SQLite would
    wait for its lock.
    """
    if concurrency is FROM_SETTINGS:
        concurrency = get_settings().BULK_CONCURRENCY
        if concurrency is None:
            return None
        try:
            bulk = bulk_engine()
        except ImportError:
            return None
    elif concurrency is None:
        return None
    else:
        bulk = bulk_engine()
    if bulk.loop_running():
        logger.info("A bulk job runs on its thread pool: this thread's event loop is running")
        return None
    if connections[using or router.db_for_write(GoogleAccount)].in_atomic_block:
        logger.info("A bulk job runs on its thread pool: it was called inside a transaction")
        return None
    return bulk, concurrency


def bulk_engine() -> ModuleType:
    """``store/bulk.py``; a ``ModuleNotFoundError`` naming the extra without aiohttp."""
    try:
        # Here, not at the top: the async extra is optional.
        from google_connect.store import bulk
    except ImportError as exc:
        raise ModuleNotFoundError(
            "The async engine needs aiohttp, which the 'async' extra installs: "
            "pip install 'google-connect[async]'",
            name="aiohttp",
        ) from exc
    return bulk


def run_per_account(
    work: Callable[[GoogleAccount], T],
    accounts: list[GoogleAccount],
    *,
    workers: int = REFRESH_WORKERS,
) -> list[tuple[GoogleAccount, T | Exception]]:
    """``work`` on each account of a chunk; its result or the exception it raised.

    The thread pool, when ``async_engine`` gives none: ``workers`` threads
    (each with its own database connection, one on SQLite), or the calling
    thread. Results come back in the accounts' order.
    """
    workers = chunk_workers(accounts, workers)

    def attempt(account: GoogleAccount) -> tuple[GoogleAccount, T | Exception]:
        try:
            return account, work(account)
        except Exception as exc:  # counted per account by the caller
            return account, exc

    if workers <= 1 or len(accounts) <= 1:
        return [attempt(account) for account in accounts]
    done: dict[int, tuple[GoogleAccount, T | Exception]] = {}
    lock = threading.Lock()

    def record(account: GoogleAccount) -> None:
        outcome = attempt(account)
        with lock:
            done[account.pk] = outcome

    upkeep.run_in_threads(iter(accounts), record, min(workers, len(accounts)))
    return [done[account.pk] for account in accounts]


def chunk_workers(accounts: list[GoogleAccount], workers: int) -> int:
    """The threads ``run_per_account`` runs these accounts on (one on SQLite)."""
    if not accounts:
        return workers
    db = router.db_for_write(GoogleAccount, instance=accounts[0])
    return min(revocation.effective_workers(workers, db), len(accounts))


# -- selection and fan-out ---------------------------------------------------------


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


def fan_out(
    queryset: QuerySet[Any], chunk_size: int, queue: Callable[[list[int]], Any]
) -> dict[str, int]:
    """``queue`` each chunk of ids; ``{"accounts": n, "chunks": n}``."""
    counts = {"accounts": 0, "chunks": 0}
    for ids in id_chunks(queryset, chunk_size):
        queue(ids)
        counts["accounts"] += len(ids)
        counts["chunks"] += 1
    logger.info("Google accounts queued: %d in %d chunk(s)", counts["accounts"], counts["chunks"])
    return counts


def validate_window(within_seconds: int) -> timedelta:
    if not 0 < within_seconds <= MAX_WITHIN_SECONDS:
        raise ValueError(f"within_seconds must be between 1 and {MAX_WITHIN_SECONDS}.")
    return timedelta(seconds=within_seconds)


def expiring(within_seconds: int, *, using: str | None = None) -> QuerySet[GoogleAccount]:
    """The active accounts whose access token expires within the window, on
    ``using`` (by default where the routers write accounts)."""
    cutoff = timezone.now() + validate_window(within_seconds)
    return written_accounts(using).active().filter(expires_at__lte=cutoff)


def refresh_expiring(
    within_seconds: int, chunk_size: int, queue: Callable[[list[int]], Any]
) -> dict[str, int]:
    return fan_out(expiring(within_seconds), chunk_size, queue)


def revoke_matching(
    selection: dict[str, Any], chunk_size: int, queue: Callable[[list[int]], Any]
) -> dict[str, int]:
    return fan_out(revocation_selection(selection), chunk_size, queue)


def rotate_token_keys(
    chunk_size: int,
    queue_accounts: Callable[[list[int]], Any],
    queue_pending: Callable[[list[int]], Any],
) -> dict[str, int]:
    """Chunks of every account and of every pending revocation, to re-encrypt."""
    counts = fan_out(written_accounts(), chunk_size, queue_accounts)
    pending = PendingRevocation.objects.using(router.db_for_write(PendingRevocation))
    counts["pending_revocations"] = 0
    for ids in id_chunks(pending, chunk_size):
        queue_pending(ids)
        counts["pending_revocations"] += len(ids)
        counts["chunks"] += 1
    return counts


def revocation_selection(
    selection: dict[str, Any], *, using: str | None = None
) -> QuerySet[GoogleAccount]:
    """The accounts ``revoke_google_accounts`` selects with these options.

    ``user`` and ``email`` (a value or a list of them), ``reconnect_required``
    and ``all``. Raises ``ValueError`` for a selection that selects nothing
    on purpose (none given, ``all`` with a user or email, an unknown user).
    """
    unknown = sorted(set(selection) - SELECTIONS)
    if unknown:
        raise ValueError(
            f"Unknown selection {', '.join(unknown)}; use {', '.join(sorted(SELECTIONS))}."
        )

    def listed(value: Any) -> list[str]:
        return [str(value)] if isinstance(value, str | int) else [str(v) for v in value or ()]

    users, emails = listed(selection.get("user")), listed(selection.get("email"))
    everyone, broken = bool(selection.get("all")), bool(selection.get("reconnect_required"))
    chosen = users or emails
    if not (chosen or everyone or broken):
        raise ValueError(
            "Say which accounts to revoke: --user, --email, --reconnect-required, --all "
            "or --pending."
        )
    if everyone and chosen:
        raise ValueError("--all cannot be combined with --user or --email.")
    _check_users_exist(users)
    # Chunks read and write accounts where the routers write them.
    accounts = GoogleAccount.objects.using(using or router.db_for_write(GoogleAccount))
    if chosen:
        accounts = accounts.filter(_user_filter(users, emails))
    if broken:
        accounts = accounts.reconnect_required()
    return accounts


def _check_users_exist(users: list[str]) -> None:
    """A user that matches nobody is a typo, not an empty selection."""
    model = get_user_model()
    for value in users:
        query = Q(**{model.USERNAME_FIELD: value})
        if value.isdigit():
            query |= Q(pk=int(value))
        if not model._default_manager.filter(query).exists():
            raise ValueError(f"No user {value!r} exists (--user takes a username or an id).")


def _user_filter(users: list[str], emails: list[str]) -> Q:
    username_field = get_user_model().USERNAME_FIELD
    query = Q(pk__in=[])
    for value in users:
        query |= Q(**{f"user__{username_field}": value})
        if value.isdigit():
            query |= Q(user__pk=int(value))
    for email in emails:
        query |= Q(email__iexact=email)
    return query


# -- the chunks ------------------------------------------------------------------


def _start(counted: dict[str, int] | None, *keys: str) -> dict[str, int]:
    return {key: int((counted or {}).get(key, 0)) for key in keys}


def refresh_accounts(
    ids: Iterable[int],
    within_seconds: int = WITHIN_SECONDS,
    counted: dict[str, int] | None = None,
    *,
    workers: int = REFRESH_WORKERS,
) -> ChunkOutcome:
    """Refresh each account whose access token expires within ``within_seconds``.

    ``refreshed`` counts the tokens found expiring and fresh afterwards (a
    concurrent caller's refresh, which the single flight waited for,
    included); ``already_fresh`` those fresh when read. ``counted`` carries
    the counts of earlier attempts into a retry.
    """
    window = validate_window(within_seconds)
    outcome = ChunkOutcome(
        _start(counted, "refreshed", "already_fresh", "reconnect_required", "failed")
    )
    accounts = list(written_accounts().filter(pk__in=list(ids)).order_by("pk"))
    engine = async_engine()
    threads = chunk_workers(accounts, workers)
    with _chunk_span("refresh", outcome, len(accounts), engine, threads):
        if engine is None:
            results = run_per_account(
                lambda account: _refresh_one(account, window), accounts, workers=workers
            )
        else:
            results = _refresh_on_engine(*engine, accounts, window, workers)
        for account, result in results:
            if isinstance(result, Exception):
                if temporary(result):
                    outcome.stale.append(account.pk)
                    if getattr(result, "retry_after", None) is not None:
                        outcome.retry_after.append(result.retry_after)  # type: ignore[attr-defined]
                else:
                    outcome.counts["failed"] += 1
                log_failure("refresh", account, result)
            else:
                outcome.counts[result] += 1
    return outcome


def _refresh_on_engine(
    bulk: ModuleType,
    concurrency: int,
    accounts: list[GoogleAccount],
    window: timedelta,
    workers: int,
) -> list[tuple[GoogleAccount, str | Exception]]:
    """``run_per_account(_refresh_one)``'s results, from the async engine.

    The accounts fresh or marked when read are counted as ``_refresh_one``
    counts them; the engine refreshes the others. Those it leaves alone
    (another caller holds their lease or row lock, or refreshed them
    meanwhile) go through ``_refresh_one`` after it, which waits for that
    caller's single flight and counts them as the thread pool would.
    """
    done: dict[int, str | Exception] = {}
    now = timezone.now()
    due = []
    for account in accounts:
        if account.status == GoogleAccount.Status.RECONNECT_REQUIRED:
            done[account.pk] = "reconnect_required"
        elif account.expires_at - now >= window:
            done[account.pk] = "already_fresh"
        else:
            due.append(account)

    def counted(account: GoogleAccount, result: str) -> None:
        done.setdefault(account.pk, result)

    def failed(account: GoogleAccount, error: GoogleConnectError) -> None:
        done[account.pk] = error

    if due:
        selection = written_accounts().filter(
            pk__in=[account.pk for account in due], expires_at__lt=now + window
        )
        try:
            bulk.run(
                bulk.refresh_accounts(
                    selection, concurrency=concurrency, on_outcome=counted, on_failure=failed
                )
            )
        except (OperationalError, InterfaceError) as exc:
            # The database went away mid-run: what it did not settle is
            # worth another try, as on the thread pool.
            for account in due:
                done.setdefault(account.pk, exc)
    left = [account for account in due if account.pk not in done]
    for account, result in run_per_account(
        lambda account: _refresh_one(account, window), left, workers=workers
    ):
        done[account.pk] = result
    return [(account, done[account.pk]) for account in accounts]


@contextlib.contextmanager
def _chunk_span(
    name: str,
    outcome: ChunkOutcome,
    accounts: int,
    engine: tuple[ModuleType, int] | None,
    threads: int,
) -> Iterator[None]:
    """A chunk's bulk span, with this attempt's counts: not those ``counted``
    carried in from earlier attempts, which their own spans reported.

    On the async engine (``engine``), or else on ``threads`` threads."""
    before = dict(outcome.counts)
    kind, concurrency = ("async", engine[1]) if engine else (telemetry.engine_of(threads), threads)
    with telemetry.bulk(name, engine=kind, concurrency=concurrency) as span:
        try:
            yield
        finally:
            span.set_counts(
                {
                    "accounts": accounts,
                    **{key: value - before[key] for key, value in outcome.counts.items()},
                    "failed_temporarily": len(outcome.stale),
                }
            )


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


def temporary(exc: Exception) -> bool:
    if isinstance(exc, GoogleConnectError):
        return bool(getattr(exc, "temporary", False))
    # The database went away or a lock wait timed out: worth another try.
    return isinstance(exc, OperationalError | InterfaceError)


def log_failure(what: str, account: GoogleAccount, exc: Exception) -> None:
    # Our own errors carry no secret in their message; anything else is logged
    # by type only.
    detail = str(exc) if isinstance(exc, GoogleConnectError) else type(exc).__name__
    logger.warning(
        "Google %s failed%s: account_id=%s sub=%s: %s",
        what,
        " temporarily" if temporary(exc) else "",
        account.pk,
        account.sub,
        detail,
    )


def revoke_accounts(
    ids: Iterable[int],
    keep_local: bool = False,
    include_undecryptable: bool = False,
    counted: dict[str, int] | None = None,
) -> ChunkOutcome:
    """Revoke these accounts at Google; delete them, or with ``keep_local`` blank them.

    Accounts already gone count as ``gone``; accounts kept blanked by an
    earlier run as ``already_revoked``: neither is sent to Google again.
    Accounts whose tokens no key decrypts are kept (``undecryptable_kept``),
    or with ``include_undecryptable`` deleted (with ``keep_local`` marked
    ``reconnect_required``) without calling Google (``undecryptable_cleared``).
    """
    ids = list(ids)
    outcome = ChunkOutcome(
        _start(
            counted,
            "revoked",
            "already_revoked",
            "gone",
            "failed",
            "undecryptable_kept",
            "undecryptable_cleared",
        )
    )
    # One span for the chunk: the engine reports into it.
    engine = async_engine()
    threads = revocation.effective_workers(REVOKE_WORKERS, router.db_for_write(GoogleAccount))
    with _chunk_span("revoke", outcome, len(ids), engine, threads):
        _revoke_chunk(ids, keep_local, include_undecryptable, outcome, engine)
    return outcome


def _revoke_chunk(
    ids: list[int],
    keep_local: bool,
    include_undecryptable: bool,
    outcome: ChunkOutcome,
    engine: tuple[ModuleType, int] | None,
) -> None:
    counts = outcome.counts
    rows = list(written_accounts().filter(pk__in=ids).order_by("pk"))
    counts["gone"] += len(set(ids) - {row.pk for row in rows})
    to_revoke = [row.pk for row in rows if not _revoked_and_kept(row)]
    counts["already_revoked"] += len(rows) - len(to_revoke)
    if not to_revoke:
        return
    report = _revoke_on(
        engine,
        written_accounts().filter(pk__in=to_revoke),
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
            outcome.stale.append(failure.account_id)
            if failure.retry_after is not None:
                outcome.retry_after.append(failure.retry_after)
        else:
            counts["failed"] += 1


def _revoke_on(
    engine: tuple[ModuleType, int] | None,
    selection: QuerySet[GoogleAccount],
    *,
    workers: int,
    **options: Any,
) -> revocation.Report:
    """``revocation.revoke_accounts`` on ``workers`` threads, or on the async
    engine: the same pages, guard and report."""
    if engine is None:
        return revocation.revoke_accounts(selection, workers=workers, **options)
    bulk, concurrency = engine
    report: revocation.Report = bulk.run(
        bulk.revoke_accounts(selection, concurrency=concurrency, **options)
    )
    return report


def _revoked_and_kept(account: GoogleAccount) -> bool:
    """A row ``keep_local`` left behind: nothing is left to revoke."""
    # Through __dict__: what was loaded, without raising for an undecryptable token.
    return (
        account.status == GoogleAccount.Status.RECONNECT_REQUIRED
        and account.__dict__.get("access_token") == ""
        and account.__dict__.get("refresh_token") == ""
    )


def rotate_accounts(ids: Iterable[int]) -> dict[str, int]:
    """Re-encrypt these accounts' tokens with the first key of ``FERNET_KEYS``.

    Rows already under the first key are left alone, so a second run writes nothing.
    """
    report = rotation.rotate_keys(ids=list(ids))
    for account_id, _email in report.undecryptable:
        logger.warning(
            "Google tokens undecryptable with every key in FERNET_KEYS: account_id=%s", account_id
        )
    return {
        "rotated": report.rotated,
        "current": report.current,
        "undecryptable": len(report.undecryptable),
    }


def rotate_pending_revocations(ids: Iterable[int]) -> dict[str, int]:
    """Re-encrypt these pending revocations' tokens with the first key of ``FERNET_KEYS``.

    Without it, dropping the old key would leave their grants live at Google
    for good: ``revoke_google_accounts --pending`` could no longer read them.
    """
    report = rotation.rotate_keys(pending_ids=list(ids))
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


# -- the jobs that run whole -------------------------------------------------------


def keep_alive(
    chunk_size: int = CHUNK_SIZE,
    *,
    using: str | None = None,
    workers: int = 1,
    concurrency: Concurrency = FROM_SETTINGS,
    on_progress: Progress | None = None,
) -> dict[str, int]:
    """Refresh the accounts idle too long: the ``keep_alive`` tasks, and
    ``check_google_accounts --keep-alive``.

    On the async engine (pages of ``bulk.PAGE_SIZE``), else on ``workers``
    threads reading pages of ``chunk_size``: ``async_engine(concurrency)``
    chooses. ``{"refreshed", "reconnect_required", "failed"}``.
    """
    engine = async_engine(concurrency, using=using)
    if engine is None:
        return dict(
            upkeep.keep_alive(
                chunk_size=chunk_size, workers=workers, using=using, on_progress=on_progress
            )
        )
    return _on_engine(*engine, idle_accounts(timezone.now(), using), "keep_alive", on_progress)


def refresh_expiring_here(
    within_seconds: int = WITHIN_SECONDS,
    *,
    chunk_size: int = CHUNK_SIZE,
    using: str | None = None,
    workers: int = REFRESH_WORKERS,
    concurrency: Concurrency = FROM_SETTINGS,
    on_progress: Progress | None = None,
) -> dict[str, int]:
    """``check_google_accounts --refresh-expiring``: the accounts ``refresh_expiring``
    selects, refreshed in this process instead of queued in chunks.

    On ``workers`` threads each account is refreshed as in a
    ``refresh_accounts`` chunk, and counted as there, but a temporary failure
    is ``failed``: no retry follows. ``already_fresh`` (fresh when read) is
    rare here, where an account is read just before its turn; one another
    caller refreshed meanwhile is ``refreshed``, as in a chunk. On the async
    engine an account another caller is refreshing is left to it and counted
    in none, as the keep-alive leaves it.
    """
    window = validate_window(within_seconds)
    selection = expiring(within_seconds, using=using)
    engine = async_engine(concurrency, using=using)
    if engine is not None:
        counts = _on_engine(*engine, selection, "refresh", on_progress)
        return {key: counts.get(key, 0) for key in REFRESH_OUTCOMES}
    if message := revocation.one_worker_on_sqlite(workers, selection.db):
        logger.warning(message)
        workers = 1
    return upkeep.counted_in_threads(
        "refresh",
        (account for _, page in revocation.pages(selection, chunk_size) for account in page),
        lambda account: _refresh_counted(account, window),
        count=selection.count,
        workers=workers,
        on_progress=on_progress,
        outcomes=REFRESH_OUTCOMES,
    )


def _refresh_counted(account: GoogleAccount, window: timedelta) -> str:
    """``_refresh_one``'s outcome, or ``failed`` for what it raised, as a chunk
    counts it (``run_per_account``), but with no retry to come."""
    try:
        return _refresh_one(account, window)
    except Exception as exc:  # counted, and logged without a secret
        log_failure("refresh", account, exc)
        return "failed"


def _on_engine(
    bulk: ModuleType,
    concurrency: int,
    selection: QuerySet[GoogleAccount],
    job: str,
    on_progress: Progress | None,
) -> dict[str, int]:
    """``bulk.refresh_accounts`` over the whole selection, in one run: its pages
    are claimed one ahead of the calls, which a run per chunk would stall."""
    total = selection.count() if on_progress is not None else 0
    done = 0

    def counted(_account: GoogleAccount, _outcome: str) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    if on_progress is not None:
        on_progress(0, total)
    return dict(
        bulk.run(
            bulk.refresh_accounts(selection, concurrency=concurrency, on_outcome=counted, job=job)
        )
    )


def revoke_selection(
    accounts: QuerySet[GoogleAccount],
    *,
    workers: int = REVOKE_WORKERS,
    concurrency: Concurrency = FROM_SETTINGS,
    on_outcome: Callable[[revocation.Outcome], None] | None = None,
    **options: Any,
) -> revocation.Report:
    """``revoke_google_accounts``: revoke these accounts in this process, as a
    ``revoke_accounts`` chunk does, on the engine ``async_engine(concurrency)``
    chooses. ``options``: ``keep_local`` and ``include_undecryptable``."""
    engine = async_engine(concurrency, using=accounts.db)
    return _revoke_on(engine, accounts, workers=workers, on_outcome=on_outcome, **options)


def send_expiry_warnings() -> dict[str, int]:
    """``check_google_accounts --send-warnings``: warn about grants about to end."""
    return dict(upkeep.send_expiry_warnings())


def retry_pending_revocations() -> dict[str, int]:
    """Try again the pending revocations whose ``next_attempt_at`` has passed."""
    return pending_revocation.retry_pending_revocations().as_dict()
