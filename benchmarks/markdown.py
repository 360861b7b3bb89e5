"""``benchmarks/results.md``: the machine, every figure with its target, the peers."""

from __future__ import annotations

from typing import Any

from benchmarks.report import FLOOR, OWN_TIME_TARGET_MS, ROTATION_BEFORE_ROWS_PER_S, Check, ms


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def render(
    machine: dict[str, Any],
    results: dict[str, dict[str, Any]],
    checks: list[Check],
    sizes: dict[str, Any],
) -> str:
    versions = machine["versions"]
    pg_version = next(
        (
            r["_database"]["version"]
            for r in results.get("flows", {}).values()
            if r["_database"]["vendor"] == "postgresql"
        ),
        "not measured",
    )
    out = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {machine['when']} at commit `{machine['commit']}`; "
        "rerun it to refresh this file. Figures are measured, never asserted in tests.",
        "",
        *(
            [
                "This pass ran only "
                + ", ".join(f"`{name}`" for name in machine["only"])
                + " (`python -m benchmarks --only ...`); the other sections' figures are "
                "those of the previous full run, kept in `results.json`.",
                "",
            ]
            if machine.get("only")
            else []
        ),
        "## Machine",
        "",
        *_table(
            ["", ""],
            [
                ["CPU", f"{machine['cores']} cores, {machine['cpu']}"],
                ["memory", f"{machine['memory_gib']} GiB"],
                [
                    "load average (1, 5, 15 min), before → after",
                    f"{machine['load_before']} → {machine['load_after']}",
                ],
                ["OS", machine["os"]],
                ["Python", machine["python"]],
                ["Django", versions["Django"]],
                ["SQLite", machine["sqlite"]],
                ["PostgreSQL", pg_version],
                ["google_connect", versions["google-connect"]],
                ["django-allauth", versions["django-allauth"]],
                [
                    "social-app-django",
                    f"{versions['social-auth-app-django']} "
                    f"(social-auth-core {versions['social-auth-core']})",
                ],
                [
                    "requests / responses / cryptography",
                    " / ".join(
                        versions[name] for name in ("requests", "responses", "cryptography")
                    ),
                ],
            ],
        ),
        "The machine is shared: other jobs may have run during the benchmarks (see the load "
        "average). Timings are CPU-bound and stretch with the load; the peers ran interleaved "
        "with google_connect in the same processes, so ratios hold better than absolute times.",
        "",
        *_passes(results),
        "## Targets",
        "",
        *_table(
            ["figure", "measured", "target", "result"],
            [[c.name, c.measured, c.target, c.verdict] for c in checks],
        ),
        "`miss` is a timing or memory target not met; `FAIL` would be a correctness check.",
        "",
    ]
    out += _latency(results.get("latency", {}).get("sqlite", {}), sizes["latency"]["flows"])
    out += _flows(results.get("flows", {}), sizes["flows"]["flows"])
    out += _connections(results.get("connections", {}).get("https", {}))
    out += _refresh(results.get("refresh", {}).get("postgresql", {}))
    out += _revoke(results.get("revoke", {}).get("postgresql", {}))
    out += _admin_and_rotation(results.get("changelist", {}), results.get("rotation", {}))
    out += _risc(results.get("risc", {}))
    return "\n".join(out).rstrip() + "\n"


def _passes(results: dict[str, dict[str, Any]]) -> list[str]:
    """When each benchmark ran, and the 1-minute load average around it."""
    rows = []
    for module, by_database in results.items():
        for database, result in by_database.items():
            ran = result.get("_ran")
            rows.append(
                [
                    f"{module} ({database})",
                    ran["when"] if ran else "an earlier run",
                    f"{ran['load']:.1f} → {ran['load_after']:.1f}" if ran else "—",
                ]
            )
    return _table(["benchmark", "ran", "load average (1 min), before → after"], rows)


def _latency(latency: dict[str, Any], count: int) -> list[str]:
    out = ["## 1. One connect flow at Google's latency (SQLite)", ""]
    if not latency:
        return out + ["Not run.", ""]
    delay = latency["_delay_ms"]
    out += [
        f"The flow of section 2, with every faked answer from Google delayed by {delay:.0f} ms, "
        f"a round trip to Google (`--rtt`; Google's own answers take 100–300 ms). {count} flows "
        "per library, taking turns. *Round trips* are the calls made to Google per flow; the "
        "time *beyond them* is the median less round trips × RTT. The *Django floor* rows are "
        "two bare views of the benchmark's own, which do only what every library must (a "
        "logged-in user, a state written to the session and taken back), their callback "
        "waiting out 0, 1 or 2 round trips. A library's *own* time is its time beyond the "
        "round trips less that of the floor that waits as many: what the test client, the "
        "middleware, the session and the login cost, and what a wait costs beyond its length, "
        "is every library's alike (the floor's two views take longer after waits than without). "
        "Until 2026-11-30 the report subtracted the floor that waits none; that figure is the "
        "column *above the no-wait floor*. Each wait keeps the CPU busy, as a server's is with "
        "other requests during a round trip (`benchmarks.harness.round_trip`): with sleeping "
        "waits this machine's idle CPU slowed down, and every row, the floor that never waits "
        "included, swung by up to half from run to run. "
        "google_connect calls the token endpoint, then userinfo, as the spec asks; with "
        "`USE_ID_TOKEN` it reads the identity from the token answer's `id_token`, as "
        "django-allauth does.",
        "",
        "![ms per connect flow at Google's latency](connect-latency.svg)",
        "",
        *_table(
            [
                "library",
                "median ms per flow",
                "p95 ms",
                "round trips to Google",
                "ms beyond the round trips",
                "own ms",
                "ms above the no-wait floor",
                "CPU ms",
                "SQL queries (+transaction control)",
            ],
            [
                [
                    name,
                    f"{r['median_ms']:.1f}",
                    f"{r['p95_ms']:.1f}",
                    f"{r['round_trips']:g}",
                    f"{r['beyond_ms']:.1f}",
                    ms(r.get("own_ms"), unit=""),
                    ms(r.get("above_floor_ms"), unit=""),
                    f"{r['cpu_ms']:.1f}",
                    f"{r['queries'] - r['transaction_control']:g} (+{r['transaction_control']:g})",
                ]
                for name, r in latency.items()
                if not name.startswith("_")
            ],
        ),
        "*CPU ms* is the CPU time of the thread that ran the flow (`time.thread_time()`), "
        "less the waits: the library's own work, without the wait for a CPU that a loaded "
        "machine adds. The target is google_connect's own time ≤ "
        f"{OWN_TIME_TARGET_MS:g} ms per flow; judge every row against the load average above, "
        "which stretches them all.",
        "",
    ]
    return out


def _connections(connections: dict[str, Any]) -> list[str]:
    out = ["## 3. Connections to Google, per endpoint", ""]
    if not connections:
        return out + ["Not run.", ""]
    out += [
        "The stand-in Google (`tests/stub_google.py`) serves HTTPS with a certificate from a "
        "throwaway CA (`trustme`, trusted through `REQUESTS_CA_BUNDLE`) and counts the TCP "
        "connections it accepts. Each kind of call runs on a new thread (so with a new pooled "
        "session) through `GoogleOAuthClient`, against a stand-in of its own. Each connection "
        "is a TLS handshake with Google.",
        "",
        *_table(
            ["calls", "made", "connections opened"],
            [
                [kind, r["calls"], r["connections"]]
                for kind, r in connections.items()
                if not kind.startswith("_")
            ],
        ),
    ]
    return out


def _flows(flows: dict[str, Any], count: int) -> list[str]:
    out = [
        "## 2. In-process CPU cost of one connect flow, with Google answering instantly",
        "",
        "What a flow costs the server when Google answers at once and in-process: the "
        "library's own CPU time, not what a user waits (section 1 adds the round trips). "
        f"{count} flows per library and database, each a new user (logged in beforehand) and a "
        "new Google `sub`: the start request (google_connect's authorize view, allauth's "
        "`/accounts/google/login/?process=connect`, social-app-django's "
        "`/login/google-oauth2/`), then the callback with the `state` it was given, which "
        "redirects to `next`. Google is faked in-process with `responses` (every library gets "
        "the same token answer, with an `id_token`, and the same userinfo). One settings "
        "module serves all three: the same middleware (allauth's included), database-backed "
        "sessions, password hasher and test client; the libraries take turns flow by flow. "
        "SQL queries are counted with Django's `CaptureQueriesContext`; `BEGIN`/`COMMIT` "
        "(which Django also logs) are shown apart. Encryption is read from the stored row: "
        '"no" means the tokens are in it as Google sent them. The *Django floor* row is '
        "two views of the benchmark's own that do only what every library must: a logged-in "
        "user, a state written to the session, then taken back; no HTTP call, nothing stored.",
        "",
    ]
    for database, result in flows.items():
        rows = [
            [
                name,
                f"{r['median_ms']:.2f}",
                f"{r['p95_ms']:.2f}",
                f"{r['queries'] - r['transaction_control']:g} (+{r['transaction_control']:g})",
                f"{r['http_calls']:g}",
                {True: "yes", False: "no", None: "—"}[r["encrypted"]],
            ]
            for name, r in result.items()
            if not name.startswith("_")
        ]
        out += [f"### {database} {result['_database']['version']}", ""]
        out += _table(
            [
                "library",
                "median ms",
                "p95 ms",
                "SQL queries (+BEGIN/COMMIT)",
                "HTTP calls",
                "tokens encrypted",
            ],
            rows,
        )
        floor = result.get(FLOOR)
        if floor:
            above = ", ".join(
                f"{name} {r['median_ms'] - floor['median_ms']:.2f} ms"
                for name, r in result.items()
                if not name.startswith("_") and name != FLOOR
            )
            out += [f"Median above the Django floor: {above}.", ""]
        out += [f"Fernet key derivations in that process: {result['_key_derivations']}.", ""]
    return out


def _refresh(refresh: dict[str, Any]) -> list[str]:
    out = ["## 4. Refresh under load (PostgreSQL)", ""]
    if "hot" not in refresh:
        return out + [f"Skipped: {refresh.get('skipped', 'not run')}.", ""]
    hot, many = refresh["hot"], refresh["many"]
    out += [
        "A stand-in token endpoint on 127.0.0.1 (`tests/stub_google.py`, a threaded HTTP "
        "server with Nagle's algorithm off) answers each "
        "refresh after a delay and counts the calls. Worker processes start together; each "
        "thread has its own database connection.",
        "",
        *_table(
            ["", "hot account", "many accounts"],
            [
                [
                    "callers",
                    f"{hot['callers']} ({hot['processes']} processes × {hot['threads']} threads, "
                    "one expired account)",
                    f"{many['processes']} processes × {many['threads']} threads; each process asks "
                    f"for all {many['accounts']} expired accounts in its own random order "
                    f"({many['calls']} calls)",
                ],
                ["stand-in delay", f"{hot['delay_ms']:.0f} ms", f"{many['delay_ms']:.0f} ms"],
                ["token endpoint calls", hot["token_calls"], many["token_calls"]],
                [
                    "tokens handed out",
                    "all the same, the new one" if hot["same_token"] else "DIFFERENT",
                    f"{many['callers_given_another_token']} callers given a token "
                    "other than the stored one",
                ],
                [
                    "rows ending with the newest token",
                    "yes" if hot["stored_is_new"] else "NO",
                    f"{many['rows_with_newest_token']} of {many['accounts']}",
                ],
                [
                    "caller latency",
                    f"p50 {hot['p50_ms']:.0f} ms, p99 {hot['p99_ms']:.0f} ms, "
                    f"max {hot['max_ms']:.0f} ms",
                    "—",
                ],
                [
                    "throughput",
                    "—",
                    f"{many['refreshes_per_s']:.1f} refreshes/s ({many['wall_s']:.1f} s)",
                ],
            ],
        ),
    ]
    return out


def _revoke(revoke: dict[str, Any]) -> list[str]:
    out = ["## 5. Bulk revoke (PostgreSQL)", ""]
    if "skipped" in revoke:
        return out + [f"Skipped: {revoke['skipped']}.", ""]
    runs = [r for k, r in revoke.items() if not k.startswith("_") and isinstance(r, dict)]
    if not runs:
        return out + ["Not run.", ""]
    out += [
        "`revoke_google_accounts --all --workers N` runs in its own process, which reports "
        "its wall time, CPU time and its own peak RSS (`VmHWM` from `/proc/self/status`, read "
        "in that process). The stand-in revoke endpoint (plain HTTP on 127.0.0.1) answers "
        f"after {runs[0]['delay_ms']:.0f} ms and counts the revocations it got. The floor is "
        "accounts × delay ÷ workers: the time the stand-in's delay alone takes.",
        "",
        *_table(
            [
                "accounts",
                "workers",
                "stand-in delay",
                "floor s",
                "wall s",
                "× floor",
                "accounts/s",
                "CPU s",
                "own peak RSS MB",
                "revoked / failed",
                "stand-in calls",
            ],
            [
                [
                    r["accounts"],
                    r["workers"],
                    f"{r['delay_ms']:.0f} ms",
                    f"{r['floor_s']:.1f}",
                    f"{r['wall_s']:.1f}",
                    f"{r['of_floor']:.2f}",
                    f"{r['accounts_per_s']:.0f}",
                    f"{r['cpu_s']:.1f}",
                    f"{r['peak_rss_mb']:.0f}",
                    f"{r['revoked']} / {r['failed']}",
                    r["revoke_calls"],
                ]
                for r in runs
            ],
        ),
    ]
    if len(runs) == 2:
        ratio = runs[0]["accounts_per_s"] / runs[1]["accounts_per_s"]
        out += [
            f"{runs[0]['workers']} workers revoke {ratio:.1f}× as many accounts per second as 1.",
            "",
        ]
    return out


def _admin_and_rotation(changelist: dict[str, Any], rotation: dict[str, Any]) -> list[str]:
    out = ["## 6. Admin changelist and key rotation", ""]
    for database, result in changelist.items():
        out += [f"Changelist on {database} (a page shows at most 100 rows):", ""]
        out += _table(
            ["accounts", "SQL queries", "render median ms"],
            [[rows, r["queries"], f"{r['median_ms']:.1f}"] for rows, r in result["sizes"].items()],
        )
    rotated = rotation.get("postgresql", {})
    if "skipped" in rotated:
        out += [f"Key rotation: skipped: {rotated['skipped']}.", ""]
    elif rotated:
        out += [
            f"Key rotation: `rotate_google_token_keys` re-encrypted {rotated['rows']} rows in "
            f"{rotated['wall_s']:.1f} s ({rotated['rows_per_s']:.0f} rows/s; before the "
            f"batched UPDATE, {ROTATION_BEFORE_ROWS_PER_S} rows/s), own peak RSS "
            f"{rotated['peak_rss_mb']:.0f} MB; {rotated['rows_under_new_key']} rows decrypt "
            "under the new key alone.",
            "",
        ]
        if "fernet_share" in rotated:
            out += [
                f"Fernet's part: {rotated['fernet_us_per_row']:.0f} µs of CPU per row (a failed "
                "decrypt with the new key, a decrypt with the old, an encrypt, for each of the "
                f"two tokens), {rotated['fernet_share']:.0%} of the run's wall time; the rest is "
                "reading the rows, building the statement and PostgreSQL writing it.",
                "",
            ]
    return out


def _risc(risc: dict[str, Any]) -> list[str]:
    if not risc:
        return []
    out = [
        "## 7. Security events (Cross-Account Protection)",
        "",
        "Signed tokens POSTed to the receiver one after another from one process, with "
        "persistent database connections (`CONN_MAX_AGE`), through "
        "Django's WSGI handler: the middleware, the RS256 check, the account's update, "
        "the event row, the day's count (in a savepoint), the commit. `tokens-revoked` names "
        "one stored account each, changed by two UPDATEs (the accounts that needed a "
        "reconnect already, then the others); with a receiver of "
        "`google_account_reconnect_required` connected, "
        "each account is locked, saved and announced instead (no target: a site's receivers "
        "cost what they cost). `sessions-revoked` is recorded only. Per CPU second: this "
        "process's CPU time alone.",
        "",
    ]
    rows = [
        [database, name.replace("_", "-"), f"{r['accepted']}/{r['events']}",
         f"{r['events_per_s']:.0f}", f"{r['events_per_cpu_s']:.0f}"]
        for database, result in risc.items()
        for name, r in result.items()
        if isinstance(r, dict) and "events_per_s" in r
    ]  # fmt: skip
    return out + _table(
        ["database", "event", "accepted", "events/s", "events per CPU second"], rows
    )


def after_celery(results: dict[str, dict[str, Any]]) -> str:
    """Sections 9 and 10, which follow the Celery section (spliced in as 8)."""
    out = _telemetry(
        results.get("telemetry", {}).get("sqlite", {}),
        results.get("telemetry_hooks", {}).get("in-process", {}),
    )
    out += _overview(results.get("overview", {}).get("postgresql", {}))
    out += _bulk_refresh(results.get("bulk_refresh", {}).get("postgresql", {}))
    return "\n".join(out).rstrip() + "\n"


def _bulk_refresh(result: dict[str, Any]) -> list[str]:
    out = ["## 11. Bulk refresh from one process: async engine and thread pool (PostgreSQL)", ""]
    if not result:
        return out + ["Not run.", ""]
    if "skipped" in result:
        return out + [f"Skipped: {result['skipped']}.", ""]
    runs = result["runs"]
    out += [
        f"`check_google_accounts --refresh-expiring` over {runs[0]['accounts']} expiring "
        "accounts, in its own process, against an HTTPS stand-in in another process "
        f"(benchmarks/async_stand_in.py) that answers every call after "
        f"{result.get('delay_ms', 200):.0f} ms. The floor is accounts x delay / calls in flight. "
        "CPU is the command's own (user + system), startup included; the stand-in's is apart.",
        "",
    ]
    out += _table(
        [
            "engine",
            "in flight",
            "wall s",
            "floor s",
            "x floor",
            "calls",
            "CPU ms / account",
            "stand-in CPU s",
            "peak RSS MB",
        ],
        [
            [
                "async" if "concurrency" in r else "threads",
                r.get("concurrency", r.get("workers")),
                f"{r['wall_s']:.1f}",
                f"{r['floor_s']:.1f}",
                f"{r['over_floor']:.2f}",
                r["token_calls"],
                f"{r['cpu_ms_per_account']:.2f}",
                f"{r['stand_in_cpu_s']:.1f}",
                f"{r['peak_rss_mb']:.0f}",
            ]
            for r in runs
        ],
    )
    return out


TELEMETRY_MODES = {
    "absent": "no opentelemetry-api (the baseline)",
    "api": "opentelemetry-api, no SDK configured",
    "sdk": "opentelemetry-sdk, in-memory exporter and reader",
}


def _telemetry(result: dict[str, Any], hooks: dict[str, Any]) -> list[str]:
    out = ["## 9. OpenTelemetry cost per refresh", ""]
    if not result:
        return out + ["Not run.", ""] + _telemetry_hooks(hooks)
    names = TELEMETRY_MODES
    modes = result["modes"]
    out += [
        "`refresh_access_token()` on one account, again and again, against the stand-in "
        "token endpoint on 127.0.0.1 answering at once, in-memory SQLite: what a refresh "
        "costs the library when Google and the database cost next to nothing. Each "
        "configuration runs in a process of its own (a provider once set stays set); "
        f"{result['rounds']} rounds of {result['refreshes']} refreshes each, the "
        "configurations taking turns in a new order each round; a figure is the median "
        "over the rounds of each process's median. With the SDK, spans go through a "
        "`SimpleSpanProcessor` to an in-memory exporter (exported in the calling thread: "
        "a `BatchSpanProcessor` would move the export to its own thread) and metrics to an "
        "in-memory reader. CPU is the calling thread's. No target: the figures are reported.",
        "",
        *_table(
            ["configuration", "median µs", "p90 µs", "CPU median µs", "highest load (1 min)"],
            [
                [
                    names.get(mode, mode),
                    f"{r['median_us']:.0f}",
                    f"{r['p90_us']:.0f}",
                    f"{r['cpu_median_us']:.0f}",
                    f"{r['max_load']:.1f}",
                ]
                for mode, r in modes.items()
            ],
        ),
        f"The SDK adds **{result['sdk_added_us']:.0f} µs** per refresh "
        f"({result['sdk_added_cpu_us']:.0f} µs CPU) over the API alone, "
        f"{result['sdk_over_absent_us']:.0f} µs over no API. The SDK recorded "
        f"{result['spans_per_refresh']:g} spans per refresh (the "
        "`google_connect.refresh` operation and its HTTP client span). What the API alone "
        "adds is smaller than these figures' noise between runs (a refresh here is some "
        "5 ms, and its spread is hundreds of microseconds): it is measured below, without "
        "the refresh around the hooks.",
        "",
    ]
    return out + _telemetry_hooks(hooks)


def _telemetry_hooks(result: dict[str, Any]) -> list[str]:
    out = ["### The hooks alone", ""]
    if not result:
        return out + ["Not run.", ""]
    return out + [
        "`benchmarks/telemetry_hooks.py` runs only the telemetry calls of one successful "
        "refresh, in its order: the `google_connect.refresh` operation, the client's name "
        "annotated on it, the retry attempt, the CLIENT span of the POST to the token "
        "endpoint and its status, the `google_connect.refreshes` counter; no database, no "
        "socket. Each configuration runs in a process of its own; a process times "
        f"{result['batches']} batches of {result['calls']} refreshes' hooks with the "
        "thread's CPU clock (`time.thread_time()`) after a warm-up, and its figure is the "
        f"median batch's time per refresh; {result['rounds']} rounds, the configurations "
        "taking turns in a new order each round, and a configuration's figure is the "
        "median over its processes (the least is the fastest batch of any). With the SDK, "
        "spans go to an in-memory exporter through a `SimpleSpanProcessor`, as above. No "
        "target: the figures are reported.",
        "",
        *_table(
            ["configuration", "CPU µs per refresh (median)", "least", "highest load (1 min)"],
            [
                [
                    TELEMETRY_MODES.get(mode, mode),
                    f"{r['cpu_median_us']:.1f}",
                    f"{r['cpu_min_us']:.1f}",
                    f"{r['max_load']:.1f}",
                ]
                for mode, r in result["modes"].items()
            ],
        ),
        f"The API alone adds **{result['api_added_us']:.1f} µs** of CPU per refresh over no "
        "API: with no tracer provider set no span is started at all, and what remains is "
        "the API's proxy counter and histogram, which drop their figures until a meter "
        "provider is set, and the URL's host and port that the histogram would carry. "
        f"The SDK adds {result['sdk_added_us']:.0f} µs over the API alone, and recorded "
        f"{result['spans_per_refresh']:g} spans per refresh's hooks.",
        "",
    ]


def _overview(result: dict[str, Any]) -> list[str]:
    from benchmarks.report import OVERVIEW_TARGET_MS

    out = ["## 10. Admin overview of the Google accounts (PostgreSQL)", ""]
    if not result:
        return out + ["Not run.", ""]
    if "skipped" in result:
        return out + [f"Skipped: {result['skipped']}.", ""]
    out += [
        "`/admin/google_connect/googleaccount/overview/` rendered by Django's test client "
        f"logged in as a superuser, on PostgreSQL {result['version']}. The accounts are "
        "written by PostgreSQL itself (`generate_series`): one in 20 needs reconnecting (the "
        "reasons in turn), one in 10 has a time-limited grant (half ending within the next "
        "8 weeks on either grant-end column, a quarter later, a quarter already past); "
        "daily counts fill the last 30 days, 20,000 security events the last year, 200 "
        "revocations are pending. *Warm*: the aggregates over the accounts table (by status, "
        "by reason, grants ending by week) come from the snapshots of the last minute; "
        f"*cold*: new snapshots on every render. Target: warm median < {OVERVIEW_TARGET_MS:g} "
        "ms at 1,000,000 accounts, and the same number of queries at every size.",
        "",
        *_table(
            [
                "accounts",
                "SQL queries (cold)",
                "warm median ms",
                "warm p90 ms",
                "cold median ms",
                "renders",
                "load (1 min)",
            ],
            [
                [
                    f"{r['accounts']:,}",
                    f"{r['queries']} ({r['cold_queries']})",
                    f"{r['median_ms']:.1f}",
                    f"{r['p90_ms']:.1f}",
                    f"{r['cold_median_ms']:.1f}",
                    r["renders"],
                    f"{r['load']:.1f}",
                ]
                for r in result["sizes"].values()
            ],
        ),
    ]
    return out
