"""The health endpoint: the fleet's figures as JSON, 200 or 503, for uptime monitors.

Not for load-balancer membership: its 503 says that Google, the keys or the
grants need an operator, which taking instances out of service would not fix
(a Google outage would take every instance out at once).

It answers 404, as if it did not exist, unless the request comes from a staff
user or carries ``Authorization: Bearer <HEALTH_TOKEN>``. Nothing is
decrypted: the undecryptable figures are the stored flags that
``check_google_accounts`` and ``rotate_google_token_keys`` set.

The figures come from a snapshot at most ``SNAPSHOT_MAX_AGE`` (60) seconds
old, per process, as the admin overview's and the gauge's do: taking them
runs 13 counting queries, which took 1.4 to 1.9 s on PostgreSQL at a million
accounts, and a monitor polling every few seconds (or several, or one per
region) must not run them on every request.
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime
from typing import Any

from django.db import router
from django.http import Http404, HttpRequest, JsonResponse
from django.utils import timezone
from django.views import View

from google_connect.conf import get_settings
from google_connect.store import activity
from google_connect.store.activity import DailyCount
from google_connect.store.health import SNAPSHOT_MAX_AGE, summary
from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation, pending_summary

TOKEN_ENDPOINT_KINDS = (DailyCount.Kind.CONNECTS, DailyCount.Kind.REFRESHES)
# The most undecryptable account ids a reply lists (the lowest), beside
# their total: a key lost for every row must not make a reply of every id.
LISTED_IDS = 100
# By (accounts', pending revocations', counts') database: when taken
# (monotonic), and the figures.
_snapshots: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}


def allowed(request: HttpRequest, token: str | None) -> bool:
    if getattr(request.user, "is_staff", False) and request.user.is_active:
        return True
    if not token:
        return False
    scheme, _space, sent = request.headers.get("Authorization", "").partition(" ")
    # Constant time: the comparison must not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


def _age(when: datetime | None, now: datetime) -> int | None:
    return None if when is None else int((now - when).total_seconds())


def figures(now: datetime | None = None, *, max_age: float = SNAPSHOT_MAX_AGE) -> dict[str, Any]:
    """``check_google_accounts --json``'s figures, from stored flags and counts,
    with the last successful token-endpoint call and the RISC stream's last
    event, from a snapshot at most ``max_age`` seconds old (``taken_at``: when,
    the ``now`` its ages are counted from)."""
    databases = (
        router.db_for_write(GoogleAccount),
        router.db_for_write(PendingRevocation),
        router.db_for_write(DailyCount),
    )
    taken = _snapshots.get(databases)
    if taken is not None and time.monotonic() - taken[0] < max_age:
        return taken[1]
    report = _take(now or timezone.now(), *databases)
    _snapshots[databases] = (time.monotonic(), report)
    return report


def _take(now: datetime, accounts_db: str, pending_db: str, counts_db: str) -> dict[str, Any]:
    last_token_call = activity.last_at(TOKEN_ENDPOINT_KINDS, counts_db)
    last_event = activity.last_at((DailyCount.Kind.SECURITY_EVENTS,), counts_db)
    return {
        "taken_at": now.isoformat(),
        **summary(now=now, using=accounts_db, decrypt=False, listed=LISTED_IDS),
        "pending_revocations": pending_summary(now=now, using=pending_db, decrypt=False),
        "token_endpoint": {
            "last_success": last_token_call.isoformat() if last_token_call else None,
            "age_seconds": _age(last_token_call, now),
        },
        "risc": {
            "last_event": last_event.isoformat() if last_event else None,
            "age_seconds": _age(last_event, now),
        },
    }


def failures(report: dict[str, Any], thresholds: dict[str, int | None]) -> list[str]:
    """The thresholds ``report`` is over, by name; a figure never seen (None) fails an age limit."""
    found = {
        "reconnect_required": report["by_status"].get("reconnect_required", 0),
        "undecryptable": report["undecryptable"]["count"],
        "pending_overdue": report["pending_revocations"]["overdue"],
        "token_endpoint_age": report["token_endpoint"]["age_seconds"],
        "risc_event_age": report["risc"]["age_seconds"],
    }
    over = []
    for name, limit in thresholds.items():
        if limit is None:
            continue
        value = found[name]
        if value is None or value > limit:
            over.append(name)
    return over


class HealthView(View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest) -> JsonResponse:
        config = get_settings()
        if not allowed(request, config.HEALTH_TOKEN):
            raise Http404()
        report = figures()
        over = failures(report, config.HEALTH_THRESHOLDS)
        body = {"status": "fail" if over else "ok", "failing": over, **report}
        response = JsonResponse(body, status=503 if over else 200)
        response["Cache-Control"] = "no-store"
        return response
