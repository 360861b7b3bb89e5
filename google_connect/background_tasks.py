"""The bulk jobs as ``django.tasks`` tasks, for a site that runs a task worker
(the database backend's ``db_worker``, RQ, ...) rather than Celery.

Django 6.0 and later ship ``django.tasks``; on Django 5.2 the ``django-tasks``
backport brings the same API (``pip install 'google-connect[tasks]'``). The
tasks have the names and arguments of the Celery tasks in
``google_connect.tasks``, and share their implementation
(``google_connect.store.jobs``): this module only says how a chunk is queued
and what happens to its temporary failures. A queued task stores this
module's import path, so the path never changes.

Tasks go to the backend ``GOOGLE_CONNECT["TASK_BACKEND"]`` names, by default
the site's default one. A fan-out task queues its chunks when the current
transaction commits (at once outside one).

``django.tasks`` has no retries. A chunk whose accounts failed only
temporarily queues a new chunk of just those accounts with ``run_after``
(exponential backoff with full jitter, never sooner than Google's
Retry-After, at most ``MAX_RETRIES`` times) on a backend that supports
deferral, and counts them as ``requeued``; on one that does not
(``ImmediateBackend``), or after the last attempt, it counts them as
``failed``. Each attempt's result counts its own accounts only.
"""

from __future__ import annotations

import random
from datetime import timedelta
from functools import partial
from typing import Any

try:
    from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task, task_backends
except ImportError:
    try:
        from django_tasks import (  # type: ignore[no-redef,assignment,unused-ignore]
            DEFAULT_TASK_BACKEND_ALIAS,
            task,
            task_backends,
        )
    except ImportError as exc:
        # A ModuleNotFoundError (still an ImportError): pytest.importorskip,
        # and any caller that tells a missing package from a broken one,
        # takes it for the missing framework it is.
        raise ModuleNotFoundError(
            "google_connect.background_tasks needs Django's Tasks framework: Django 6.0 "
            "or later, or on Django 5.2 the backport, which the 'tasks' extra installs: "
            "pip install 'google-connect[tasks]'",
            name="django.tasks",
        ) from exc

from django.db import router, transaction
from django.utils import timezone

from google_connect.conf import get_settings
from google_connect.store import jobs
from google_connect.store.jobs import (
    CHUNK_SIZE,
    MAX_RETRIES,
    WITHIN_SECONDS,
    ChunkOutcome,
)
from google_connect.store.models import GoogleAccount

__all__ = [
    "MAX_RETRIES",
    "backend_alias",
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


def backend_alias() -> str:
    """The TASKS alias these tasks are enqueued on."""
    return get_settings().TASK_BACKEND or DEFAULT_TASK_BACKEND_ALIAS


def enqueue(queued: Any, *args: Any, run_after: Any = None, **kwargs: Any) -> Any:
    """Enqueue the task ``queued`` on ``backend_alias()``; its TaskResult."""
    return queued.using(backend=backend_alias(), run_after=run_after).enqueue(*args, **kwargs)


def enqueue_on_commit(queued: Any, *args: Any, **kwargs: Any) -> None:
    """Enqueue when the accounts' database commits: a chunk never acts on ids
    from a transaction that was rolled back, nor runs before they are visible."""
    transaction.on_commit(
        partial(enqueue, queued, *args, **kwargs), using=router.db_for_write(GoogleAccount)
    )


def _settle(
    queued: Any, outcome: ChunkOutcome, attempt: int, arguments: dict[str, Any]
) -> dict[str, int]:
    """The counts; the temporarily failed accounts deferred while attempts are left."""
    stale = outcome.stale
    if stale and attempt < MAX_RETRIES and task_backends[backend_alias()].supports_defer:
        delay = random.uniform(0, jobs.backoff(attempt + 1))  # noqa: S311 (jitter, not a secret)
        delay = max(delay, outcome.longest_retry_after or 0.0)
        enqueue_on_commit(
            queued,
            stale,
            **arguments,
            attempt=attempt + 1,
            run_after=timezone.now() + timedelta(seconds=delay),
        )
        return {**outcome.counts, "requeued": len(stale)}
    return {**outcome.given_up(), "requeued": 0}


@task()
def refresh_expiring(within_seconds: int = WITHIN_SECONDS, chunk_size: int = CHUNK_SIZE) -> Any:
    """Queue ``refresh_accounts`` for every active account whose token expires within the window."""
    return jobs.refresh_expiring(
        within_seconds,
        chunk_size,
        lambda ids: enqueue_on_commit(refresh_accounts, ids, within_seconds=within_seconds),
    )


@task()
def refresh_accounts(
    ids: list[int],
    within_seconds: int = WITHIN_SECONDS,
    counted: dict[str, int] | None = None,
    attempt: int = 0,
) -> dict[str, int]:
    """Refresh each account whose access token expires within ``within_seconds``.

    As the Celery task; ``attempt`` counts the deferred retries so far.
    """
    outcome = jobs.refresh_accounts(ids, within_seconds, counted)
    return _settle(refresh_accounts, outcome, attempt, {"within_seconds": within_seconds})


@task()
def keep_alive(chunk_size: int = CHUNK_SIZE) -> dict[str, int]:
    """``check_google_accounts --keep-alive``: refresh the accounts idle too long."""
    return jobs.keep_alive(chunk_size)


@task()
def send_expiry_warnings() -> dict[str, int]:
    """``check_google_accounts --send-warnings``: warn about grants about to end."""
    return jobs.send_expiry_warnings()


@task()
def revoke_matching(
    *,
    keep_local: bool = False,
    include_undecryptable: bool = False,
    chunk_size: int = CHUNK_SIZE,
    **selection: Any,
) -> dict[str, int]:
    """Queue ``revoke_accounts`` for the accounts ``revoke_google_accounts`` would select."""
    return jobs.revoke_matching(
        selection,
        chunk_size,
        lambda ids: enqueue_on_commit(
            revoke_accounts, ids, keep_local=keep_local, include_undecryptable=include_undecryptable
        ),
    )


@task()
def revoke_accounts(
    ids: list[int],
    keep_local: bool = False,
    include_undecryptable: bool = False,
    counted: dict[str, int] | None = None,
    attempt: int = 0,
) -> dict[str, int]:
    """Revoke these accounts at Google; delete them, or with ``keep_local`` blank them.

    As the Celery task; ``attempt`` counts the deferred retries so far.
    """
    outcome = jobs.revoke_accounts(ids, keep_local, include_undecryptable, counted)
    return _settle(
        revoke_accounts,
        outcome,
        attempt,
        {"keep_local": keep_local, "include_undecryptable": include_undecryptable},
    )


@task()
def retry_pending_revocations() -> dict[str, int]:
    """Try again the pending revocations whose ``next_attempt_at`` has passed."""
    return jobs.retry_pending_revocations()


@task()
def rotate_token_keys(chunk_size: int = CHUNK_SIZE) -> dict[str, int]:
    """Queue ``rotate_accounts`` over every account and ``rotate_pending_revocations``
    over every pending revocation, to re-encrypt with the first key."""
    return jobs.rotate_token_keys(
        chunk_size,
        lambda ids: enqueue_on_commit(rotate_accounts, ids),
        lambda ids: enqueue_on_commit(rotate_pending_revocations, ids),
    )


@task()
def rotate_accounts(ids: list[int]) -> dict[str, int]:
    """Re-encrypt these accounts' tokens with the first key of ``FERNET_KEYS``."""
    return jobs.rotate_accounts(ids)


@task()
def rotate_pending_revocations(ids: list[int]) -> dict[str, int]:
    """Re-encrypt these pending revocations' tokens with the first key of ``FERNET_KEYS``."""
    return jobs.rotate_pending_revocations(ids)
