"""The cost of one connect flow: google_connect, django-allauth, social-app-django.

Each flow is a new user, logged in, who starts the flow (the authorize
request) and comes back from Google with a code and the state Google was
given (the callback). Google is faked in-process with ``responses``, so
what is timed is the library's own cost: its views, session handling, state
checks, HTTP client, parsing and writes. Users are created and logged in
outside the timing; the libraries take turns flow by flow, so drift on
the machine hits all of them alike.

With ``delay`` (seconds), every faked answer from Google waits that long
first, as a round trip to Google would (see ``benchmarks.latency`` and
``harness.round_trip``).

Run as ``python -m benchmarks.flows '{"flows": 300}'`` (settings:
``benchmarks.peer_settings``); it prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from benchmarks import harness
from benchmarks.report import ID_TOKEN, waiting_floor

CLIENT_ID = "bench-client-id.apps.googleusercontent.com"
NEXT = "/done/"
WARMUP = 10
TOKEN_URLS = ("https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token")
USERINFO_URLS = (
    "https://www.googleapis.com/oauth2/v3/userinfo",
    "https://www.googleapis.com/oauth2/v2/userinfo",
)
TRANSACTION_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "COMMIT")


@dataclass
class Google:
    """Canned answers for the flow in progress, built before its timing starts."""

    token_body: str = ""
    userinfo_body: str = ""
    # Seconds each answer waits: Google's round trip, slept (not CPU).
    delay: float = 0.0

    def prepare(self, n: int, library: str) -> tuple[str, str, str]:
        import jwt

        # Token characters only (a Bearer token has no spaces or parentheses).
        sub = f"{re.sub(r'[^A-Za-z0-9_-]', '', library)}-{n:06d}-{time.time_ns()}"
        access, refresh = f"ya29.BENCH-ACCESS-{sub}", f"1//BENCH-REFRESH-{sub}"
        claims = {
            "iss": "https://accounts.google.com",
            "aud": CLIENT_ID,
            "sub": sub,
            "email": f"{sub}@example.com",
            "email_verified": True,
            "name": "Bench User",
            "given_name": "Bench",
            "family_name": "User",
            "picture": "https://lh3.googleusercontent.com/a/bench",
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,
        }
        profile = {k: v for k, v in claims.items() if k not in {"iss", "aud", "iat", "exp"}}
        self.token_body = json.dumps(
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "openid https://www.googleapis.com/auth/userinfo.email "
                "https://www.googleapis.com/auth/userinfo.profile",
                # The id_token comes straight from the token endpoint over TLS,
                # so OpenID Connect lets a client skip its signature check.
                "id_token": jwt.encode(claims, "not-checked-" * 4, algorithm="HS256"),
            }
        )
        self.userinfo_body = json.dumps({**profile, "id": sub, "verified_email": True})
        return sub, access, refresh

    def install(self, mock: Any) -> None:
        for url in TOKEN_URLS:
            mock.add_callback("POST", url, callback=lambda _r: self.answer(self.token_body))
        for url in USERINFO_URLS:
            mock.add_callback("GET", url, callback=lambda _r: self.answer(self.userinfo_body))

    def answer(self, body: str) -> tuple[int, dict[str, str], str]:
        if self.delay:
            harness.round_trip(self.delay)
        return 200, {"Content-Type": "application/json"}, body


@dataclass
class Library:
    name: str
    start: Callable[[Any], Any]
    callback_path: str
    stored_tokens_sql: str
    samples: list[float] = field(default_factory=list)
    # CPU time of the thread running the flow: the library's own work, which
    # neither a round trip's wait nor the wait for a busy CPU counts in.
    cpu_samples: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    control: list[int] = field(default_factory=list)
    http_calls: list[int] = field(default_factory=list)
    encrypted: bool | None = None
    profiler: Any = None
    # google_connect only: run with GOOGLE_CONNECT["USE_ID_TOKEN"] = True.
    use_id_token: bool = False
    # The Django floor only: how many round trips' delay its callback waits out.
    waits: int = 0


def floor(round_trips: int = 0) -> Library:
    start = lambda client: client.get("/floor/start")  # noqa: E731
    return Library(waiting_floor(round_trips), start, "/floor/callback", "", waits=round_trips)


def libraries() -> list[Library]:
    return [
        floor(0),
        floor(1),
        floor(2),
        Library(
            "google_connect",
            lambda client: client.get("/google/accounts/authorize", {"next": NEXT}),
            "/google/accounts/connect",
            "SELECT access_token, refresh_token FROM google_connect_googleaccount WHERE sub = %s",
        ),
        Library(
            ID_TOKEN,
            lambda client: client.get("/google/accounts/authorize", {"next": NEXT}),
            "/google/accounts/connect",
            "SELECT access_token, refresh_token FROM google_connect_googleaccount WHERE sub = %s",
            use_id_token=True,
        ),
        Library(
            "django-allauth",
            lambda client: client.post(
                "/accounts/google/login/", {"process": "connect", "next": NEXT}
            ),
            "/accounts/google/login/callback/",
            "SELECT t.token, t.token_secret FROM socialaccount_socialtoken t JOIN "
            "socialaccount_socialaccount a ON t.account_id = a.id WHERE a.uid = %s",
        ),
        Library(
            "social-app-django",
            lambda client: client.post("/social/login/google-oauth2/", {"next": NEXT}),
            "/social/complete/google-oauth2/",
            "SELECT extra_data FROM social_auth_usersocialauth WHERE uid = %s",
        ),
    ]


def one_flow(
    library: Library, client: Any, google: Google, mock: Any, n: int, record: bool
) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext, override_settings

    sub, access, refresh = google.prepare(n, library.name)
    user = get_user_model().objects.create(username=f"{library.name}-{n}", email="")
    # One client for the whole run (its handler loads the middleware once, as
    # a server process would), with a fresh session for every user.
    client.cookies.clear()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    calls_before = len(mock.calls)

    # Nothing outside a capture empties the query log (no request runs
    # there), and a full log (9,000 entries) would hide this flow's queries.
    reset_queries()
    options = {**settings.GOOGLE_CONNECT, "USE_ID_TOKEN": library.use_id_token}
    with override_settings(GOOGLE_CONNECT=options), CaptureQueriesContext(connection) as captured:
        if library.profiler is not None:
            library.profiler.enable()
        waited_cpu = harness.round_trip_cpu()
        started, cpu_started = time.perf_counter(), time.thread_time()
        begun = library.start(client)
        state = parse_qs(urlsplit(begun["Location"]).query)["state"][0]
        params = {"code": f"4/BENCH-CODE-{n}", "state": state}
        if library.waits:
            params.update(round_trips=str(library.waits), delay=str(google.delay))
        done = client.get(library.callback_path, params)
        elapsed = time.perf_counter() - started
        cpu = time.thread_time() - cpu_started - (harness.round_trip_cpu() - waited_cpu)
        if library.profiler is not None:
            library.profiler.disable()

    if begun.status_code != 302 or done.status_code != 302 or done["Location"] != NEXT:
        raise RuntimeError(f"{library.name}: flow {n} failed: {done.status_code} {done}")
    if record:
        library.samples.append(elapsed * 1000)
        library.cpu_samples.append(cpu * 1000)
        library.queries.append(len(captured))
        library.control.append(
            sum(1 for q in captured.captured_queries if q["sql"].startswith(TRANSACTION_CONTROL))
        )
        library.http_calls.append(len(mock.calls) - calls_before)
    if library.encrypted is None and library.stored_tokens_sql:
        library.encrypted = tokens_look_encrypted(library, sub, access, refresh)


def tokens_look_encrypted(library: Library, sub: str, access: str, refresh: str) -> bool:
    """Read the stored row back: encrypted means neither token appears in it as written."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(library.stored_tokens_sql, [sub])
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError(f"{library.name} stored no tokens for {sub}")
    raw = " ".join(
        bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row
    )
    if not raw.strip():
        raise RuntimeError(f"{library.name} stored empty token columns for {sub}")
    return access not in raw and refresh not in raw


def run(flows: int, delay: float = 0.0, names: list[str] | None = None) -> dict[str, Any]:
    import responses
    from django.test import Client

    # Unless named, the floors that wait out round trips stay out: they are
    # for runs at Google's latency.
    chosen = [
        lib for lib in libraries() if (lib.name in names if names is not None else not lib.waits)
    ]
    client = Client()
    google = Google(delay=delay)
    warmup = WARMUP if not delay else min(WARMUP, 2)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        google.install(mock)
        for n in range(warmup):
            for library in chosen:
                one_flow(library, client, google, mock, n, record=False)
        gc.collect()
        for n in range(warmup, warmup + flows):
            # Rotate who goes first, so no library always runs on a cold cache.
            k = n % len(chosen)
            for library in chosen[k:] + chosen[:k]:
                one_flow(library, client, google, mock, n, record=True)
    return {
        library.name: {
            "flows": len(library.samples),
            "median_ms": statistics.median(library.samples),
            "p95_ms": harness.percentile(library.samples, 0.95),
            "cpu_ms": statistics.median(library.cpu_samples),
            "queries": statistics.median(library.queries),
            "queries_max": max(library.queries),
            "transaction_control": statistics.median(library.control),
            "http_calls": statistics.median(library.http_calls),
            # A floor's waits stand for round trips; a library's are its calls.
            "round_trips": library.waits or statistics.median(library.http_calls),
            "encrypted": library.encrypted,
        }
        for library in chosen
    }


def main(options: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection
    from fernet_fields import hkdf

    # Fernet keys must be derived from FERNET_KEYS once per process, not per
    # row: count the derivations (HKDF) over all the flows.
    derivations = []
    derive = hkdf.derive_fernet_key
    hkdf.derive_fernet_key = lambda key: derivations.append(1) or derive(key)
    try:
        result = run(options["flows"], options.get("delay", 0.0), options.get("libraries"))
    finally:
        hkdf.derive_fernet_key = derive
    result["_key_derivations"] = len(derivations)
    result["_database"] = {"vendor": connection.vendor, "version": database_version()}
    return result


def database_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        return cursor.fetchone()[0]


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.peer_settings")
    harness.run(main)
