"""The state of every connected grant, in numbers: what ``check_google_accounts`` prints."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import router
from django.db.models import Count, DateTimeField, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from google_connect.conf import get_settings
from google_connect.google import clients, telemetry
from google_connect.store.models import GoogleAccount, GoogleAccountQuerySet
from google_connect.store.reasons import ReconnectReason
from google_connect.store.rotation import (
    UNDECRYPTABLE,
    _ciphertexts,
    classify,
    record_undecryptable,
)

UNKNOWN_REASON = "unknown"


# -- the accounts the jobs and the figures select --------------------------------


def written_accounts(using: str | None = None) -> GoogleAccountQuerySet:
    """Accounts on ``using``, or where the routers write them: the rows a job
    claims and refreshes there, never a replica's lagging copy."""
    return GoogleAccount.objects.using(using or router.db_for_write(GoogleAccount))


def expiring_accounts(now: datetime, using: str | None = None) -> QuerySet[GoogleAccount]:
    """Active accounts whose time-limited grant ends within ``EXPIRY_WARNING_DAYS``."""
    days = get_settings().EXPIRY_WARNING_DAYS
    return written_accounts(using).active().grant_ending_between(now, now + timedelta(days=days))


def idle_accounts(now: datetime, using: str | None = None) -> QuerySet[GoogleAccount]:
    """Active accounts whose grant was last used more than ``KEEP_ALIVE_DAYS`` ago."""
    return written_accounts(using).active().idle_since(idle_cutoff(now))


def idle_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=get_settings().KEEP_ALIVE_DAYS)


# -- the figures ------------------------------------------------------------------


def summary(
    *,
    now: datetime | None = None,
    using: str | None = None,
    decrypt: bool = True,
    listed: int | None = None,
) -> dict[str, Any]:
    """Counts by status and reason, grants ending soon or already ended, idle
    accounts, and the accounts whose tokens no configured key decrypts, on the
    database ``using`` (by default the one the routers write accounts to).

    ``decrypt``: try every row's ciphertexts and store what was found in
    ``tokens_undecryptable``; False reads that stored flag instead (the health
    endpoint: no decryption on a request). ``listed``: the most undecryptable
    ids listed, the lowest first (``count`` is still their total); None lists
    them all."""
    now = now or timezone.now()
    config = get_settings()
    db = using or router.db_for_write(GoogleAccount)
    accounts = GoogleAccount.objects.using(db).order_by()
    by_status = dict.fromkeys(GoogleAccount.Status.values, 0)
    by_status.update(accounts.values_list("status").annotate(Count("pk")))
    found = dict(
        accounts.reconnect_required().values_list("reconnect_reason").annotate(Count("pk"))
    )
    by_client = _by_client(accounts)
    several = len(clients.configured(config)) > 1 or any(
        not name for name, _count in by_client.values()
    )
    by_reason = {
        reason: found.get(reason, 0)
        for reason in ReconnectReason.values
        # Only where clients come and go: a site of one client reads as before.
        if reason != ReconnectReason.CLIENT_REMOVED or several or found.get(reason)
    }
    # Rows marked before reasons were stored.
    by_reason[UNKNOWN_REASON] = found.get("", 0)
    ended = Q(refresh_token_expires_at__lte=now) | Q(authorization_expires_at__lte=now)
    if decrypt:
        undecryptable = undecryptable_ids(db)
        record_undecryptable(db, undecryptable, among=None)
        undecryptable_count = len(undecryptable)
        undecryptable = undecryptable[:listed]
    else:
        # Both through the partial index on the flag: a key lost for every
        # row must not make a reply of a million ids.
        flagged = accounts.filter(tokens_undecryptable=True)
        undecryptable = list(flagged.order_by("pk").values_list("pk", flat=True)[:listed])
        undecryptable_count = (
            len(undecryptable) if listed is None or len(undecryptable) < listed else flagged.count()
        )
    return {
        "accounts": sum(by_status.values()),
        "by_status": by_status,
        "by_reason": by_reason,
        "expiring": {
            "within_days": config.EXPIRY_WARNING_DAYS,
            "count": expiring_accounts(now, db).count(),
        },
        # Time-limited grants that ran out while nobody asked for a token:
        # still active, marked at the next refresh without calling Google.
        "ended": accounts.active().filter(ended).count(),
        "idle": {"days": config.KEEP_ALIVE_DAYS, "count": idle_accounts(now, db).count()},
        "undecryptable": {"count": undecryptable_count, "ids": undecryptable},
        **(
            {
                "by_client": {
                    client_id: {"name": name, "accounts": count}
                    for client_id, (name, count) in by_client.items()
                }
            }
            if several
            else {}
        ),
    }


def _by_client(accounts: QuerySet[GoogleAccount]) -> dict[str, tuple[str, int]]:
    """Accounts per client id: (the client's name, "" when it is no longer
    configured; how many). Rows stored without an id count as the default
    client's."""
    counts: dict[str, tuple[str, int]] = {}
    for client_id, count in accounts.values_list("client_id").annotate(Count("pk")):
        client = clients.with_id(client_id)
        key = client.client_id if client is not None else client_id
        name = client.name if client is not None else ""
        counts[key] = (name, counts.get(key, ("", 0))[1] + count)
    return dict(sorted(counts.items()))


def undecryptable_ids(using: str | None = None) -> list[int]:
    """Accounts whose tokens no key in ``FERNET_KEYS`` decrypts: a key fault, not a reason.

    The ciphertexts are only tried, never kept decrypted (see rotation.py).
    """
    return [
        pk
        for pk, _email, *ciphertexts in _ciphertexts(
            using or router.db_for_write(GoogleAccount)
        ).iterator(chunk_size=500)
        if classify(tuple(ciphertexts)) == UNDECRYPTABLE
    ]


# -- the opt-in gauges, and the overview's counts ----------------------------------

# Counts by status are read at most once a minute per process and database.
SNAPSHOT_MAX_AGE = 60.0
_snapshots: dict[str, tuple[float, dict[str, int]]] = {}


def accounts_by_status(
    using: str | None = None, *, max_age: float = SNAPSHOT_MAX_AGE
) -> dict[str, int]:
    """Accounts by status, from a snapshot at most ``max_age`` seconds old."""
    db = using or router.db_for_write(GoogleAccount)
    taken = _snapshots.get(db)
    if taken is not None and time.monotonic() - taken[0] < max_age:
        return taken[1]
    counts = dict.fromkeys(GoogleAccount.Status.values, 0)
    counts.update(
        GoogleAccount.objects.using(db).order_by().values_list("status").annotate(Count("pk"))
    )
    _snapshots[db] = (time.monotonic(), counts)
    return counts


# The windows of the grants-ending gauge, in days: tomorrow, this week, this month.
GRANT_END_WINDOWS = (1, 7, 30)
# Stands for "no end" when one of the two grant-end columns is empty.
NO_END = datetime(9999, 1, 1, tzinfo=UTC)
_ending_snapshots: dict[str, tuple[float, dict[int, int]]] = {}


def grants_ending(
    using: str | None = None, *, now: datetime | None = None, max_age: float = SNAPSHOT_MAX_AGE
) -> dict[int, int]:
    """Active time-limited grants ending within each of ``GRANT_END_WINDOWS``
    days (by days), from a snapshot at most ``max_age`` seconds old.

    A grant ends at the earlier of its two grant-end columns, as in
    ``grant_ending_between()``. One query: the rows it reads are found
    through the partial indexes on those columns, and are few (time-limited
    grants, ending within the longest window)."""
    db = using or router.db_for_write(GoogleAccount)
    taken = _ending_snapshots.get(db)
    if taken is not None and time.monotonic() - taken[0] < max_age:
        return taken[1]
    now = now or timezone.now()
    longest = now + timedelta(days=max(GRANT_END_WINDOWS))
    ends = Least(
        Coalesce("refresh_token_expires_at", Value(NO_END, output_field=DateTimeField())),
        Coalesce("authorization_expires_at", Value(NO_END, output_field=DateTimeField())),
    )
    found = (
        GoogleAccount.objects.using(db)
        .active()
        .filter(
            Q(refresh_token_expires_at__gt=now, refresh_token_expires_at__lte=longest)
            | Q(authorization_expires_at__gt=now, authorization_expires_at__lte=longest)
        )
        .annotate(ends=ends)
        .order_by()
        .aggregate(
            **{
                f"d{days}": Count(
                    "pk", filter=Q(ends__gt=now, ends__lte=now + timedelta(days=days))
                )
                for days in GRANT_END_WINDOWS
            }
        )
    )
    counts = {days: found[f"d{days}"] for days in GRANT_END_WINDOWS}
    _ending_snapshots[db] = (time.monotonic(), counts)
    return counts


def register_grants_ending_gauge() -> bool:
    """The ``google_connect.grants_ending`` gauge (by ``google_connect.within_days``:
    1, 7, 30); False without opentelemetry-api or when registered already."""
    return telemetry.observe_gauge(
        "google_connect.grants_ending",
        lambda: [(count, {"within_days": str(days)}) for days, count in grants_ending().items()],
        description="Active time-limited grants ending within 1, 7 and 30 days "
        "(read at most once a minute).",
    )


def register_accounts_gauge() -> bool:
    """The ``google_connect.accounts`` gauge (by ``google_connect.status``); False
    without opentelemetry-api or when registered already."""
    return telemetry.observe_gauge(
        "google_connect.accounts",
        lambda: [(count, {"status": status}) for status, count in accounts_by_status().items()],
        description="Connected Google accounts, by status (read at most once a minute).",
    )
