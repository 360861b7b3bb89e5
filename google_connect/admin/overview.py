"""The fleet at a glance, above the Google accounts list: a few indexed queries,
whatever the number of accounts (the aggregates over the accounts table from a
snapshot at most a minute old)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import router
from django.db.models import Count, DateTimeField, Min, Q, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from google_connect.admin import charts
from google_connect.risc.models import GoogleSecurityEvent
from google_connect.store.activity import DailyCount
from google_connect.store.health import SNAPSHOT_MAX_AGE, accounts_by_status
from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation

WEEKS = 8
DAYS = 30
# Stands for "no end" when one of the two grant-end columns is empty.
FAR = datetime(9999, 1, 1, tzinfo=UTC)
# By database: when taken (monotonic), and the figures of account_figures().
_snapshots: dict[str, tuple[float, dict[str, Any]]] = {}


def grants_ending_by_week(now: datetime, using: str) -> list[int]:
    """Active time-limited grants ending in each of the next ``WEEKS`` weeks.

    One query, read through the partial indexes on the two grant-end columns."""
    end = now + timedelta(weeks=WEEKS)
    ends = Least(
        Coalesce("refresh_token_expires_at", Value(FAR, output_field=DateTimeField())),
        Coalesce("authorization_expires_at", Value(FAR, output_field=DateTimeField())),
    )
    weeks = {
        f"w{week}": Count(
            "pk",
            filter=Q(
                ends__gte=now + timedelta(weeks=week), ends__lt=now + timedelta(weeks=week + 1)
            ),
        )
        for week in range(WEEKS)
    }
    found = (
        GoogleAccount.objects.using(using)
        .active()
        .filter(
            Q(refresh_token_expires_at__gte=now, refresh_token_expires_at__lt=end)
            | Q(authorization_expires_at__gte=now, authorization_expires_at__lt=end)
        )
        .annotate(ends=ends)
        .order_by()
        .aggregate(**weeks)
    )
    return [found[f"w{week}"] for week in range(WEEKS)]


def account_figures(
    now: datetime, using: str, *, max_age: float = SNAPSHOT_MAX_AGE
) -> dict[str, Any]:
    """Reconnect reasons and grants ending by week, from a snapshot at most
    ``max_age`` seconds old (``now`` is the snapshot's, in ``taken_at``).

    At a million accounts each reads tens of thousands of rows from the
    table (the heap, not only an index: the table's rows change with every
    refresh) and took 130 and 280 ms on PostgreSQL; the counts by status
    come from a snapshot of the same age already."""
    taken = _snapshots.get(using)
    if taken is not None and time.monotonic() - taken[0] < max_age:
        return taken[1]
    reasons = dict(
        GoogleAccount.objects.using(using)
        .reconnect_required()
        .order_by()
        .values_list("reconnect_reason")
        .annotate(Count("pk"))
    )
    figures = {"taken_at": now, "reasons": reasons, "weeks": grants_ending_by_week(now, using)}
    _snapshots[using] = (time.monotonic(), figures)
    return figures


def daily_series(today: Any, using: str) -> tuple[list[Any], dict[str, list[int]]]:
    days = [today - timedelta(days=DAYS - 1 - n) for n in range(DAYS)]
    counts = {kind: [0] * DAYS for kind in DailyCount.Kind.values}
    rows = DailyCount.objects.using(using).filter(day__gte=days[0], day__lte=today)
    for day, kind, count in rows.values_list("day", "kind", "count"):
        if kind in counts:
            counts[kind][(day - days[0]).days] = count
    return days, counts


def overview(now: datetime | None = None) -> dict[str, Any]:
    """The overview's figures and charts."""
    now = now or timezone.now()
    accounts_db = router.db_for_read(GoogleAccount)
    by_status = accounts_by_status(accounts_db)
    figures = account_figures(now, accounts_db)
    reasons, weeks = figures["reasons"], figures["weeks"]
    days, daily = daily_series(timezone.localdate(now), router.db_for_read(DailyCount))
    pending = (
        PendingRevocation.objects.using(router.db_for_read(PendingRevocation))
        .order_by()
        .aggregate(count=Count("pk"), oldest=Min("created_at"))
    )
    events = list(
        GoogleSecurityEvent.objects.using(router.db_for_read(GoogleSecurityEvent))
        .filter(received_at__gte=now - timedelta(days=DAYS))
        .order_by()
        .values_list("event_type")
        .annotate(count=Count("pk"))
        .order_by("-count", "event_type")
    )
    status_labels = dict(GoogleAccount.Status.choices)
    reason_labels = dict(GoogleAccount._meta.get_field("reconnect_reason").choices or [])
    week_labels = [
        (figures["taken_at"] + timedelta(weeks=week)).date().strftime("%d %b")
        for week in range(WEEKS)
    ]
    return {
        "by_status": [(status_labels.get(s, s), s, n) for s, n in by_status.items()],
        "total": sum(by_status.values()),
        "reasons": [
            (reason_labels.get(reason, reason) or _("unknown"), reason, count)
            for reason, count in sorted(reasons.items(), key=lambda item: -item[1])
        ],
        "weeks": list(zip(week_labels, weeks, strict=True)),
        "weeks_chart": charts.bar_chart(
            _("Time-limited grants ending, by week"), week_labels, weeks
        ),
        "daily_chart": charts.line_chart(
            _("Connects, refreshes and refresh failures per day"),
            [day.strftime("%d %b") for day in days],
            [
                (_("connects"), daily[DailyCount.Kind.CONNECTS]),
                (_("refreshes"), daily[DailyCount.Kind.REFRESHES]),
                (_("refresh failures"), daily[DailyCount.Kind.REFRESH_FAILURES]),
            ],
        ),
        "daily_totals": {kind: sum(values) for kind, values in daily.items()},
        "pending_count": pending["count"],
        "pending_oldest": pending["oldest"],
        "pending_age": None if pending["oldest"] is None else now - pending["oldest"],
        "events": [(event_type.rsplit("/", 1)[-1], event_type, n) for event_type, n in events],
        "days": DAYS,
    }
