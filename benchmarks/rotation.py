"""``rotate_google_token_keys`` over many rows: speed and peak memory.

The command re-encrypts every account's tokens with the first of
``FERNET_KEYS``. The rows are written under an old key; the command runs in
its own process with a new key first and the old one second, then every row
must decrypt under the new key alone. Skipped when the command is not
installed.

The rows beyond the first 2,000 are copied in SQL (benchmarks.overview's
``grow_to``), each with its own user: a million rows seed in a minute, not in
an hour of Fernet. The share of the run's time spent in Fernet is measured in
this process, by re-keying a sample of the rows' ciphertexts as the command
does (a failed decrypt with the new key, a decrypt with the old, two
encrypts), times the row count, over the command's wall time.

Run as ``python -m benchmarks.rotation '{"rows": 1000000}'``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks import harness, revoke, seed
from tests.processes import database_url

OLD_KEY = "benchmarks-fernet-key-one"
NEW_KEY = "benchmarks-fernet-key-two"
COMMAND = "rotate_google_token_keys"


def available() -> bool:
    from django.core.management import get_commands

    return COMMAND in get_commands()


def rows_readable_with(key: str) -> int:
    """How many rows' token columns decrypt with ``key`` alone."""
    from cryptography.fernet import Fernet, InvalidToken
    from django.db import connection
    from fernet_fields import hkdf

    from google_connect.models import GoogleAccount

    fernet = Fernet(hkdf.derive_fernet_key(key))
    readable = 0
    table = GoogleAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT access_token, refresh_token FROM {table}")  # noqa: S608
        for row in cursor:
            try:
                for value in row:
                    fernet.decrypt(bytes(value))
            except InvalidToken:
                continue
            readable += 1
    return readable


SEEDED_BY_ORM = 2_000
SAMPLE = 5_000


def fernet_seconds_per_row(sample: int) -> float:
    """Seconds of Fernet work to re-key one stale row, over ``sample`` rows."""
    from cryptography.fernet import Fernet, InvalidToken, MultiFernet
    from django.db import connection
    from fernet_fields import hkdf

    from google_connect.models import GoogleAccount

    new, old = (Fernet(hkdf.derive_fernet_key(key)) for key in (NEW_KEY, OLD_KEY))
    every = MultiFernet([new, old])
    table = GoogleAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT access_token, refresh_token FROM {table} LIMIT %s",  # noqa: S608
            [sample],
        )
        rows = [tuple(bytes(value) for value in row) for row in cursor.fetchall()]
    started = time.process_time()
    for row in rows:
        for token in row:
            try:
                new.decrypt(token)
            except InvalidToken:
                new.encrypt(every.decrypt(token))
    return (time.process_time() - started) / len(rows)


def main(options: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    from benchmarks.overview import grow_to

    if not available():
        return {"skipped": f"{COMMAND} not available"}
    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL"}
    rows = options["rows"]
    ids = seed.create_accounts(min(rows, SEEDED_BY_ORM), label="rotate")
    grow_to(rows, len(ids), ids[0])
    fernet_per_row = fernet_seconds_per_row(min(rows, SAMPLE))
    env = {"DATABASE_URL": database_url(), "BENCH_FERNET_KEYS": f"{NEW_KEY},{OLD_KEY}"}
    cost, output = revoke.run_command([COMMAND], env)
    return {
        "rows": rows,
        "rows_under_new_key": rows_readable_with(NEW_KEY),
        "wall_s": cost["wall_s"],
        "rows_per_s": rows / cost["wall_s"],
        "cpu_s": cost["cpu_s"],
        "peak_rss_mb": cost["peak_rss_mb"],
        "fernet_us_per_row": fernet_per_row * 1e6,
        "fernet_share": fernet_per_row * rows / cost["wall_s"],
        "output": output.strip()[-300:],
    }


if __name__ == "__main__":
    os.environ.setdefault("BENCH_FERNET_KEYS", OLD_KEY)
    harness.run(main)
