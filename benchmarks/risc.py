"""Security events the receiver accepts per second, from one process.

Tokens are signed beforehand (Google signs them, not us); each is POSTed to
Django's WSGI handler as a WSGI server hands a request over, so the figure
covers the whole request in the process: the middleware, the RS256 check,
the account lock and update, the event row, the commit and the signals. (The
test client would add its own bookkeeping to every request.) Google's discovery
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
from io import BytesIO
from typing import Any

from benchmarks import harness, seed

RECEIVER = "/google/risc/events"


def post(handler: Any, body: bytes) -> int:
    """POST ``body`` to the receiver through ``handler``; the status code."""
    statuses: list[int] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": RECEIVER,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "CONTENT_TYPE": "application/secevent+jwt",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": BytesIO(body),
        "wsgi.url_scheme": "https",
        "wsgi.errors": BytesIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    result = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(result)
    result.close()
    return int(statuses[0].split()[0])


def main(options: dict[str, Any]) -> dict[str, Any]:
    import responses
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from google_connect.models import GoogleAccount, GoogleSecurityEvent
    from tests.risc_support import SESSIONS_REVOKED, TOKENS_REVOKED, FakeRisc, claims, iss_sub
    from tests.risc_support import sign as sign_token

    count = options["events"]
    ids = seed.create_accounts(count, label="risc")
    subs = list(
        GoogleAccount.objects.filter(pk__in=ids).order_by("pk").values_list("sub", flat=True)
    )
    runs: dict[str, Any] = {}
    # Persistent database connections, as production sites run (CONN_MAX_AGE
    # or a pool): with Django's default of 0, every request would pay a new
    # PostgreSQL connection (about 10 ms), which is no cost of the receiver's.
    connection.settings_dict["CONN_MAX_AGE"] = None
    handler = WSGIHandler()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeRisc(mock)
        for name, event_type in (
            ("tokens_revoked", TOKENS_REVOKED),
            ("sessions_revoked", SESSIONS_REVOKED),
        ):
            bodies = [sign_token(claims(event_type, {"subject": iss_sub(sub)})) for sub in subs]
            # One request first: the key cache is warm in a running site.
            post(handler, sign_token(claims(event_type, {"subject": iss_sub("warm-up")})))
            statuses: dict[int, int] = {}
            started, cpu_started = time.perf_counter(), time.process_time()
            for body in bodies:
                status = post(handler, body)
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
