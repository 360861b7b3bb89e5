"""Security events the receiver accepts per second, from one process.

Tokens are signed beforehand (Google signs them, not us); each is POSTed to
Django's WSGI handler as a WSGI server hands a request over, so the figure
covers the whole request in the process: the middleware, the RS256 check,
the account's update, the event row, the commit and the signals. (The
test client would add its own bookkeeping to every request.) Google's discovery
document and key set come from ``responses`` and are fetched once, as the
cache would have them in a running site.

Two kinds of event: ``tokens-revoked`` naming one stored account each (two
UPDATEs, those already needing a reconnect and the others; with a receiver
of ``google_account_reconnect_required`` connected, the heavy case, the
account is locked, saved and announced) and
``sessions-revoked`` (recorded and signalled only). Besides the wall-clock rate, the rate per
second of this process's CPU time, which a loaded machine stretches less.

Run as ``python -m benchmarks.risc '{"events": 2000}'``.
"""

from __future__ import annotations

import time
from io import BytesIO
from typing import Any

from benchmarks import harness, seed

RECEIVER = "/google/risc/events"
HEARD = "tokens_revoked (a reconnect receiver connected)"


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
    from google_connect.signals import google_account_reconnect_required
    from tests.risc_support import SESSIONS_REVOKED, TOKENS_REVOKED, FakeRisc, claims, iss_sub
    from tests.risc_support import sign as sign_token

    count = options["events"]

    def new_subs(label: str) -> list[str]:
        ids = seed.create_accounts(count, label=label)
        return list(
            GoogleAccount.objects.filter(pk__in=ids).order_by("pk").values_list("sub", flat=True)
        )

    subs, heard_subs = new_subs("risc"), new_subs("risc-heard")
    runs: dict[str, Any] = {}
    # Persistent database connections, as production sites run (CONN_MAX_AGE
    # or a pool): with Django's default of 0, every request would pay a new
    # PostgreSQL connection (about 10 ms), which is no cost of the receiver's.
    connection.settings_dict["CONN_MAX_AGE"] = None
    handler = WSGIHandler()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeRisc(mock)
        for name, event_type, named, receiver in (
            ("tokens_revoked", TOKENS_REVOKED, subs, None),
            ("sessions_revoked", SESSIONS_REVOKED, subs, None),
            # A site listening for reconnects: each account is locked, saved
            # and announced, not changed in place by UPDATE.
            (HEARD, TOKENS_REVOKED, heard_subs, lambda **kwargs: None),
        ):
            if receiver is not None:
                google_account_reconnect_required.connect(receiver, weak=False)
            bodies = [sign_token(claims(event_type, {"subject": iss_sub(sub)})) for sub in named]
            # One request first: the key cache is warm in a running site.
            post(handler, sign_token(claims(event_type, {"subject": iss_sub("warm-up")})))
            statuses: dict[int, int] = {}
            started, cpu_started = time.perf_counter(), time.process_time()
            for body in bodies:
                status = post(handler, body)
                statuses[status] = statuses.get(status, 0) + 1
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            if receiver is not None:
                google_account_reconnect_required.disconnect(receiver)
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
    named = subs + heard_subs
    revoked = GoogleAccount.objects.filter(
        sub__in=named, status=GoogleAccount.Status.RECONNECT_REQUIRED, reconnect_reason="revoked"
    ).count()
    return {
        **runs,
        "accounts_named": len(named),
        "accounts_revoked": revoked,
        "rows": GoogleSecurityEvent.objects.count(),
        "key_fetches": key_fetches,
        "vendor": connection.vendor,
    }


if __name__ == "__main__":
    harness.run(main)
