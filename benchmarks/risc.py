"""Security events the receiver accepts per second, from one process.

Tokens are signed beforehand (Google signs them, not us); each is POSTed
through Django's test client, so the figure covers the whole request: the
middleware, the RS256 check, the duplicate check, the account lock and
update, the event row, the commit and the signals. Google's discovery
document and key set come from ``responses`` and are fetched once, as the
cache would have them in a running site.

Two kinds of event: ``tokens-revoked`` naming one stored account each (a
locked update of that account: the heavy case) and ``sessions-revoked``
(recorded and signalled only). Besides the wall-clock rate, the rate per
second of this process's CPU time, which a loaded machine stretches less.

Run as ``python -m benchmarks.risc '{"events": 2000}'``.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks import harness, seed


def main(options: dict[str, Any]) -> dict[str, Any]:
    import responses
    from django.db import connection
    from django.test import Client

    from google_connect.models import GoogleAccount, GoogleSecurityEvent
    from tests.risc_support import SESSIONS_REVOKED, TOKENS_REVOKED, FakeRisc, claims, iss_sub
    from tests.risc_support import sign as sign_token

    count = options["events"]
    ids = seed.create_accounts(count, label="risc")
    subs = list(
        GoogleAccount.objects.filter(pk__in=ids).order_by("pk").values_list("sub", flat=True)
    )
    runs: dict[str, Any] = {}
    client = Client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        risc = FakeRisc(mock)
        for name, event_type in (
            ("tokens_revoked", TOKENS_REVOKED),
            ("sessions_revoked", SESSIONS_REVOKED),
        ):
            bodies = [sign_token(claims(event_type, {"subject": iss_sub(sub)})) for sub in subs]
            # One request first: the key cache is warm in a running site.
            risc.post(client, sign_token(claims(event_type, {"subject": iss_sub("warm-up")})))
            statuses: dict[int, int] = {}
            started, cpu_started = time.perf_counter(), time.process_time()
            for body in bodies:
                status = risc.post(client, body).status_code
                statuses[status] = statuses.get(status, 0) + 1
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            runs[name] = {
                "events": count,
                "accepted": statuses.get(202, 0),
                "wall_s": wall,
                "events_per_s": count / wall,
                # This process's CPU alone: what a shared machine's load does not stretch.
                "cpu_s": cpu,
                "events_per_cpu_s": count / cpu,
                "statuses": {str(k): v for k, v in statuses.items()},
            }
        key_fetches = len(mock.calls)
    revoked = GoogleAccount.objects.filter(
        pk__in=ids, status=GoogleAccount.Status.RECONNECT_REQUIRED, reconnect_reason="revoked"
    ).count()
    return {
        **runs,
        "accounts_revoked": revoked,
        "rows": GoogleSecurityEvent.objects.count(),
        "key_fetches": key_fetches,
        "vendor": connection.vendor,
    }


if __name__ == "__main__":
    harness.run(main)
