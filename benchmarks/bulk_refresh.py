"""Refreshing many expiring accounts from one process, on PostgreSQL, against an
HTTPS stand-in (benchmarks.async_stand_in, its own process) answering after 200 ms.

For each run the accounts are made to expire, then ``check_google_accounts
--refresh-expiring`` runs in its own process (which reports its wall time,
CPU time and peak memory): on the async engine (``--concurrency N``) and on
the thread pool (``--workers N``). The floor, accounts × delay ÷ concurrency,
is what no run can beat; the stand-in counts the calls each refresh token got.

Run as ``python -m benchmarks.bulk_refresh '{"accounts": 20000, "delay": 0.2,
"runs": [["concurrency", 64], ["concurrency", 256], ["workers", 32]]}'``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks import harness, revoke, seed
from tests.processes import database_url

REPO_ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"expiring: (\d+) refreshed, (\d+) reconnect required, (\d+) failed")


def start_stand_in(delay: float, directory: Path) -> tuple[subprocess.Popen[str], str]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = (directory / n for n in ("cert.pem", "key.pem", "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for pem in cert.cert_chain_pems[1:]:
        with open(cert_file, "ab") as out:
            out.write(pem.bytes())
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.async_stand_in",
            str(delay),
            str(cert_file),
            str(key_file),
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = server.stdout.readline().strip()  # type: ignore[union-attr]
    return server, f"https://127.0.0.1:{port}/token", str(ca_file)  # type: ignore[return-value]


def stop_stand_in(server: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = server.communicate("stop\n", timeout=60)
    return json.loads(out.strip().splitlines()[-1])


def one_run(count: int, how: str, n: int, delay: float) -> dict[str, Any]:
    from django.utils import timezone

    from google_connect.models import GoogleAccount

    GoogleAccount.objects.update(expires_at=timezone.now() + timedelta(minutes=2))
    with tempfile.TemporaryDirectory() as directory:
        server, token_url, ca_file = start_stand_in(delay, Path(directory))
        try:
            env = {
                "DATABASE_URL": database_url(),
                "BENCH_TOKEN_URL": token_url,
                "REQUESTS_CA_BUNDLE": ca_file,
            }
            cost, output = revoke.run_command(
                ["check_google_accounts", "--refresh-expiring", f"--{how}", str(n)], env
            )
        finally:
            served = stop_stand_in(server)
    summary = SUMMARY.search(output)
    refreshed = int(summary.group(1)) if summary else -1
    floor = count * delay / n
    return {
        "engine": "async" if how == "concurrency" else "threads",
        how: n,
        "accounts": count,
        "refreshed": refreshed,
        "token_calls": served["calls"],
        "most_calls_for_one_account": served["most_for_one_token"],
        "wall_s": cost["wall_s"],
        "floor_s": floor,
        "over_floor": cost["wall_s"] / floor,
        "cpu_s": cost["cpu_s"],
        "cpu_ms_per_account": cost["cpu_s"] * 1000 / count,
        "stand_in_cpu_s": served["cpu_s"],
        "peak_rss_mb": cost["peak_rss_mb"],
    }


def main(options: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL"}
    count, delay = options["accounts"], options["delay"]
    seed.create_accounts(count, label="bulk")
    return {
        "delay_ms": delay * 1000,
        "runs": [one_run(count, how, n, delay) for how, n in options["runs"]],
    }


if __name__ == "__main__":
    harness.run(main)
