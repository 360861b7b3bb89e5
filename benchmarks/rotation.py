"""``rotate_google_token_keys`` over many rows: speed and peak memory.

The command re-encrypts every account's tokens with the first of
``FERNET_KEYS``. The rows are written under an old key; the command runs in
its own process with a new key first and the old one second, then every row
must decrypt under the new key alone. Skipped when the command is not
installed.

Run as ``python -m benchmarks.rotation '{"rows": 100000}'``.
"""

from __future__ import annotations

import os
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


def main(options: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    if not available():
        return {"skipped": f"{COMMAND} not available"}
    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL"}
    rows = options["rows"]
    seed.create_accounts(rows, label="rotate")
    env = {"DATABASE_URL": database_url(), "BENCH_FERNET_KEYS": f"{NEW_KEY},{OLD_KEY}"}
    cost, output = revoke.run_command([COMMAND], env)
    return {
        "rows": rows,
        "rows_under_new_key": rows_readable_with(NEW_KEY),
        "wall_s": cost["wall_s"],
        "rows_per_s": rows / cost["wall_s"],
        "cpu_s": cost["cpu_s"],
        "peak_rss_mb": cost["peak_rss_mb"],
        "output": output.strip()[-300:],
    }


if __name__ == "__main__":
    os.environ.setdefault("BENCH_FERNET_KEYS", OLD_KEY)
    harness.run(main)
