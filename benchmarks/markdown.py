"""``benchmarks/results.md``: the machine, every figure with its target, the peers."""

from __future__ import annotations

from typing import Any

from benchmarks.report import FLOOR, Check


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
        "## Targets",
        "",
        *_table(
            ["figure", "measured", "target", "result"],
            [[c.name, c.measured, c.target, c.verdict] for c in checks],
        ),
        "`miss` is a timing or memory target not met; `FAIL` would be a correctness check.",
        "",
    ]
    out += _flows(results.get("flows", {}), sizes["flows"]["flows"])
    out += _refresh(results.get("refresh", {}).get("postgresql", {}))
    out += _revoke(results.get("revoke", {}).get("postgresql", {}))
    out += _admin_and_rotation(results.get("changelist", {}), results.get("rotation", {}))
    out += _risc(results.get("risc", {}))
    return "\n".join(out).rstrip() + "\n"


def _flows(flows: dict[str, Any], count: int) -> list[str]:
    out = [
        "## 1. One connect flow, side by side with the peers",
        "",
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
    out = ["## 2. Refresh under load (PostgreSQL)", ""]
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
    out = ["## 3. Bulk revoke (PostgreSQL)", ""]
    if "skipped" in revoke:
        return out + [f"Skipped: {revoke['skipped']}.", ""]
    runs = [r for r in revoke.values() if isinstance(r, dict)]
    out += [
        "`revoke_google_accounts --all --workers N` runs in its own process, which reports "
        "its wall time, CPU time and peak RSS (`resource.getrusage`). The stand-in revoke "
        f"endpoint answers after {runs[0]['delay_ms']:.0f} ms.",
        "",
        *_table(
            [
                "accounts",
                "workers",
                "wall s",
                "accounts/s",
                "CPU s",
                "peak RSS MB",
                "revoked",
                "failed",
            ],
            [
                [
                    r["accounts"],
                    r["workers"],
                    f"{r['wall_s']:.1f}",
                    f"{r['accounts_per_s']:.0f}",
                    f"{r['cpu_s']:.1f}",
                    f"{r['peak_rss_mb']:.0f}",
                    r["revoked"],
                    r["failed"],
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
    out = ["## 4. Admin changelist and key rotation", ""]
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
            f"{rotated['wall_s']:.1f} s ({rotated['rows_per_s']:.0f} rows/s), peak RSS "
            f"{rotated['peak_rss_mb']:.0f} MB; {rotated['rows_under_new_key']} rows decrypt "
            "under the new key alone.",
            "",
        ]
    return out


def _risc(risc: dict[str, Any]) -> list[str]:
    if not risc:
        return []
    out = [
        "## 5. Security events (Cross-Account Protection)",
        "",
        "Signed tokens POSTed to the receiver one after another from one process through "
        "Django's WSGI handler: the middleware, the RS256 check, the account lock and update, "
        "the event row, the commit. `tokens-revoked` names one stored account each; "
        "`sessions-revoked` is recorded only. Per CPU second: this process's CPU time alone.",
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
