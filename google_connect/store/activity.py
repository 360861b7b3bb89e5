"""What the fleet did, day by day: connects, refreshes and failed refreshes.

The admin overview draws its 30-day chart from ``DailyCount``, a row per
day and kind, so it never scans logs or accounts. Counting happens after the
account's transaction committed (or, for a failure, after it rolled back),
in a transaction of its own, and a failure to count is logged and dropped:
counting never fails a refresh or a connect. A security event is the
exception: it is counted inside the event's own transaction, in a savepoint
(see ``security_event_recorded``).

The same moments feed OpenTelemetry's counters (google/telemetry.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from google_connect.google import telemetry

logger = logging.getLogger("google_connect")

T = TypeVar("T")


class DailyCount(models.Model):
    """How many times ``kind`` happened on ``day`` (the site's time zone)."""

    class Kind(models.TextChoices):
        CONNECTS = "connects", _("connects")
        REFRESHES = "refreshes", _("refreshes")
        REFRESH_FAILURES = "refresh_failures", _("refresh failures")
        SECURITY_EVENTS = "security_events", _("security events")

    day = models.DateField(_("day"))
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    count = models.PositiveBigIntegerField(_("count"), default=0)
    # The latest of them: for connects and refreshes, the last successful
    # call to Google's token endpoint; for security events, the RISC stream's
    # last event (the health endpoint reports both).
    last_at = models.DateTimeField(_("last at"), null=True, blank=True)

    class Meta:
        app_label = "google_connect"
        verbose_name = _("daily count")
        verbose_name_plural = _("daily counts")
        constraints = [
            models.UniqueConstraint(fields=["day", "kind"], name="google_connect_daily_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.count}"


def increment(kind: str, using: str, *, day: date | None = None, by: int = 1) -> bool:
    """Add ``by`` to today's ``kind`` on ``using``; False (logged) when the database refused."""
    now = timezone.now()
    day = day or timezone.localdate(now)
    try:
        with transaction.atomic(using=using):
            rows = DailyCount.objects.using(using).filter(day=day, kind=kind)
            if rows.update(count=F("count") + by, last_at=now):
                return True
            try:
                with transaction.atomic(using=using):
                    DailyCount.objects.using(using).create(
                        day=day, kind=kind, count=by, last_at=now
                    )
            except IntegrityError:
                # Another process created today's row first.
                rows.update(count=F("count") + by, last_at=now)
    except DatabaseError as exc:
        _count_failed(kind, exc)
        return False
    return True


def _count_failed(kind: str, exc: BaseException) -> None:
    logger.warning("Counting a %s for the overview failed (%s)", kind, type(exc).__name__)


# Kinds noted during an observed operation, counted once it is over.
_noted: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar(
    "google_connect_noted", default=None
)


def note(kind: str, using: str) -> None:
    """Count ``kind`` once the observed operation around is over (at once,
    after the commit, outside one)."""
    pending = _noted.get()
    if pending is None:
        _count_after_commit(kind, using)
    else:
        pending.append((kind, using))


def _count_after_commit(kind: str, using: str, by: int = 1) -> None:
    # Outside a transaction, on_commit runs at once; robust: a failure to
    # count is never the caller's.
    def count() -> None:
        increment(kind, using, by=by)

    # A function, not a functools.partial: Django logs a robust callback's
    # failure by its __qualname__, which a partial lacks, and the
    # AttributeError raised instead reached the caller (Django 5.2).
    transaction.on_commit(count, using=using, robust=True)


@contextlib.contextmanager
def counted() -> Iterator[None]:
    """Kinds noted inside are counted when the block is left, whether it raised or not.

    Placed outside the account's transaction: a failed refresh rolls its
    transaction back, and an ``on_commit`` registered inside it would be lost.
    The same kind noted many times (a bulk run's batch of refreshes) is one
    ``UPDATE``, not one per account.
    """
    pending: list[tuple[str, str]] = []
    token = _noted.set(pending)
    try:
        yield
    finally:
        _noted.reset(token)
        for (kind, using), times in Counter(pending).items():
            _count_after_commit(kind, using, times)


def observed(name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: the function as ``telemetry.operation(name)``, counting what it noted."""

    def decorate(function: Callable[..., T]) -> Callable[..., T]:
        # The arguments may be secrets (a refresh's stale_token): hidden from
        # error reports like the wrapped function's own.
        @functools.wraps(function)
        @sensitive_variables()
        def wrapper(*args: Any, **kwargs: Any) -> T:
            with telemetry.operation(name), counted():
                return function(*args, **kwargs)

        return wrapper

    return decorate


# -- the moments counted ----------------------------------------------------------


def refreshed(using: str) -> None:
    telemetry.count("google_connect.refreshes", outcome="success")
    note(DailyCount.Kind.REFRESHES, using)


def refresh_failed(using: str, *, reason: str = "", error: str = "") -> None:
    """A refresh that reached no token: ``reason`` when the grant is dead, else
    ``error`` (the failure's reason code, ``google_unavailable``)."""
    outcome = "reconnect_required" if reason else "failed"
    telemetry.count("google_connect.refreshes", outcome=outcome, **({"reason": reason or error}))
    note(DailyCount.Kind.REFRESH_FAILURES, using)


def reconnect_required(reason: str, *, accounts: int = 1) -> None:
    """``accounts`` grants found dead for ``reason`` (a security event may end several)."""
    if accounts:
        telemetry.count("google_connect.reconnect_required", accounts, reason=reason)


def connected(using: str, *, client: str) -> None:
    telemetry.count("google_connect.connections", outcome="success", reason="", client=client)
    note(DailyCount.Kind.CONNECTS, using)


def connect_failed(reason: str) -> None:
    telemetry.count("google_connect.connections", outcome="failed", reason=reason)


def revocation(outcome: str) -> None:
    telemetry.count("google_connect.revocations", outcome=outcome)


def security_event_recorded(using: str) -> None:
    """Count a security event for the day, now, inside the transaction that
    records it (``increment``'s savepoint): the event and its count share one
    commit, and a rollback takes both back. A second commit per event for the
    count alone cost the receiver about a fifth of its rate on PostgreSQL.
    As anywhere, a failure to count is logged and dropped."""
    kind = DailyCount.Kind.SECURITY_EVENTS
    try:
        increment(kind, using)
    except Exception as exc:  # a bug in counting is never the caller's
        _count_failed(kind, exc)


def security_event(event_type: str, action: str) -> None:
    """A recorded event, for OpenTelemetry (after its commit)."""
    telemetry.count("google_connect.security_events", event_type=event_type, action=action)


def last_at(kinds: tuple[str, ...], using: str) -> Any:
    """When any of ``kinds`` last happened (a datetime), None if never."""
    found = (
        DailyCount.objects.using(using).filter(kind__in=kinds).aggregate(last=models.Max("last_at"))
    )
    return found["last"]
