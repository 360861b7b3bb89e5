"""The admin overview of Google accounts, at a thousand accounts and at a million.

Renders ``/admin/google_connect/googleaccount/overview/`` with Django's test
client, logged in as a superuser, as the table grows through ``sizes``;
counts its SQL queries and times warm renders (median and p90 of
``renders``). Warm: the aggregates over the accounts table (by status, by
reason, grants ending by week) come from the snapshots of the last minute,
as they do between refreshes of them; the *cold* figures take new snapshots
on every render.

The accounts are written by PostgreSQL itself (``INSERT ... SELECT
generate_series``), copying one account's ciphertexts: a million through the
ORM would take the run's hour. One in 20 needs reconnecting, the reasons in
turn; one in 10 is time-limited, half of those ending in the next 8 weeks
(spread evenly, on either grant-end column), a quarter later, a quarter
already past. Daily counts fill the last 30 days; security events the last
year; a few revocations are pending.

Run as ``python -m benchmarks.overview '{"sizes": [1000, 1000000], "renders": 30}'``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks import harness, seed

OVERVIEW = "/admin/google_connect/googleaccount/overview/"
EVENTS = 20_000
PENDING = 200


def grow_to(size: int, current: int, template_id: int) -> None:
    """Add accounts ``current + 1`` .. ``size``, each with its user, in SQL."""
    from django.db import connection

    from google_connect.store.reasons import ReconnectReason

    if size <= current:
        return
    first, last = current + 1, size
    reasons = list(ReconnectReason.values)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " SELECT '!', false, 'ov-' || n, '', '', '', false, true, now()"
            " FROM generate_series(%s, %s) AS n",
            [first, last],
        )
        # Grant ends: n % 20 == 1 on the refresh token, == 2 on the
        # authorization, both within 8 weeks; == 3 later; == 4 already past.
        cursor.execute(
            """
            INSERT INTO google_connect_googleaccount (
                user_id, sub, client_id, email, email_verified, name, given_name, family_name,
                picture, locale, access_token, refresh_token, refresh_token_prefix_digest,
                refresh_token_digest, token_type, expires_at, scopes, status, reconnect_reason,
                refresh_token_expires_at, authorization_expires_at, last_refreshed_at,
                expiry_warned_at, tokens_undecryptable, refresh_lease_until, refresh_lease_owner,
                created_at, updated_at)
            SELECT u.id, 'ov-sub-' || n, t.client_id, 'ov-' || n || '@example.com', true,
                '', '', '', '', '', t.access_token, t.refresh_token,
                t.refresh_token_prefix_digest, t.refresh_token_digest, t.token_type,
                now() + interval '1 hour', t.scopes,
                CASE WHEN n %% 20 = 0 THEN 'reconnect_required' ELSE 'active' END,
                CASE WHEN n %% 20 = 0 THEN (%s::text[])[1 + (n / 20) %% %s] ELSE '' END,
                CASE n %% 20
                    WHEN 1 THEN now() + make_interval(secs => (n::bigint * 7919) %% (56 * 86400))
                    WHEN 3 THEN now() + make_interval(days => 57 + n %% 300)
                    WHEN 4 THEN now() - make_interval(days => 1 + n %% 300)
                END,
                CASE n %% 20
                    WHEN 2 THEN now() + make_interval(secs => (n::bigint * 7919) %% (56 * 86400))
                END,
                now() - make_interval(secs => n %% 86400), NULL, false, NULL, '',
                now() - make_interval(secs => n), now()
            FROM generate_series(%s, %s) AS n
            JOIN auth_user AS u ON u.username = 'ov-' || n
            CROSS JOIN (SELECT * FROM google_connect_googleaccount WHERE id = %s) AS t
            """,
            [reasons, len(reasons), first, last, template_id],
        )
        cursor.execute("ANALYZE auth_user")
        cursor.execute("ANALYZE google_connect_googleaccount")


def seed_the_rest() -> None:
    """Daily counts over 30 days, security events over a year, pending revocations."""
    from django.db import connection

    from google_connect.store.activity import DailyCount

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO google_connect_dailycount (day, kind, count, last_at)"
            " SELECT current_date - d, k, 100 + (d * 37) %% 900, now() - make_interval(days => d)"
            " FROM generate_series(0, 29) AS d, unnest(%s::text[]) AS k",
            [list(DailyCount.Kind.values)],
        )
        cursor.execute(
            "INSERT INTO google_connect_googlesecurityevent (jti, event_type, subject_sub,"
            " audience, reason, issued_at, received_at, accounts_affected, action)"
            " SELECT 'ov-jti-' || n,"
            " (ARRAY['https://schemas.openid.net/secevent/risc/event-type/tokens-revoked',"
            "  'https://schemas.openid.net/secevent/risc/event-type/sessions-revoked',"
            "  'https://schemas.openid.net/secevent/risc/event-type/account-disabled'])"
            "  [1 + n %% 3],"
            " 'ov-sub-' || n, '', '', now() - make_interval(secs => n * 1500),"
            " now() - make_interval(secs => n * 1500), 1, 'revoked'"
            " FROM generate_series(1, %s) AS n",
            [EVENTS],
        )
        cursor.execute(
            "INSERT INTO google_connect_pendingrevocation (token, sub, email, created_at,"
            " attempts, last_error, next_attempt_at)"
            " SELECT t.refresh_token, 'ov-sub-' || n, '', now() - make_interval(mins => n), 1,"
            " 'google_unavailable', now() + interval '5 minutes'"
            " FROM generate_series(1, %s) AS n"
            " CROSS JOIN (SELECT refresh_token FROM google_connect_googleaccount LIMIT 1) AS t",
            [PENDING],
        )
        for table in ("dailycount", "googlesecurityevent", "pendingrevocation"):
            cursor.execute(f"ANALYZE google_connect_{table}")


def forget_snapshot() -> None:
    """Drop the snapshots of the account counts (by status; reasons and grant weeks)."""
    from google_connect.admin import overview
    from google_connect.store import health

    health._snapshots.clear()
    overview._snapshots.clear()


def render(client: Any) -> float:
    started = time.perf_counter()
    response = client.get(OVERVIEW)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"overview answered {response.status_code}")
    return elapsed


def queries_of(client: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        render(client)
    # Read now: every request start empties the connection's query log.
    return len(captured)


def measure(client: Any, renders: int) -> dict[str, Any]:
    forget_snapshot()  # the snapshot of the smaller table is not this one's
    render(client)  # warm: templates, URL resolvers, the snapshot of the counts
    warm_queries = queries_of(client)
    samples = [render(client) for _ in range(renders)]
    forget_snapshot()
    cold_queries = queries_of(client)
    cold = []
    for _ in range(max(3, renders // 5)):
        forget_snapshot()
        cold.append(render(client))
    return {
        "queries": warm_queries,
        "cold_queries": cold_queries,
        "median_ms": statistics.median(samples),
        "p90_ms": harness.percentile(samples, 0.90),
        "cold_median_ms": statistics.median(cold),
        "renders": renders,
    }


def main(options: dict[str, Any]) -> dict[str, Any]:
    import os

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from google_connect.models import GoogleAccount

    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL (the accounts are written with generate_series)"}
    admin = get_user_model().objects.create_superuser("bench-admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(admin)
    (template_id,) = seed.create_accounts(1, label="overview-template")
    seed_the_rest()
    results: dict[str, Any] = {}
    rows = 1
    for size in options["sizes"]:
        started = time.perf_counter()
        grow_to(size, rows, template_id)
        seeded_s = time.perf_counter() - started
        rows = max(rows, size)
        counted = GoogleAccount.objects.count()
        results[str(size)] = {
            **measure(client, options["renders"]),
            "accounts": counted,
            "seed_s": seeded_s,
            "load": os.getloadavg()[0],
        }
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
    return {"database": connection.vendor, "version": version, "sizes": results}


if __name__ == "__main__":
    harness.run(main)
