"""The ``--database`` option every command that reads or writes google_connect's rows takes.

By default a command acts where the database routers write google_connect's
models, as the site itself does: a site that keeps them apart from
``default`` must not see a rotation re-encrypt nothing and report success.
An alias that is not configured, or whose database has no google_connect
tables, is refused in one line before anything runs.
"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError, connections, router

from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation

MODELS = (GoogleAccount, PendingRevocation)


def add_database_argument(parser: CommandParser, acts_on: str) -> None:
    """``--database ALIAS``; ``acts_on`` completes "The database whose ..."."""
    parser.add_argument(
        "--database",
        metavar="ALIAS",
        default=None,
        help=f"The database whose {acts_on} (default: the one the database routers "
        "write google_connect's models to).",
    )


def resolve_database(alias: str | None) -> str:
    """``alias``, or the routers' database for google_connect, once checked to
    be configured and to hold google_connect's tables; ``CommandError`` if not."""
    db = alias or router.db_for_write(GoogleAccount)
    configured = list(connections)
    if db not in configured:
        raise CommandError(
            f"Unknown database {db!r}: DATABASES has {', '.join(map(repr, configured))}."
        )
    connection = connections[db]
    try:
        with connection.cursor() as cursor:
            tables = set(connection.introspection.table_names(cursor))
    except DatabaseError as exc:
        # The driver's first line says why (host, database name); no password.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(f"Database {db!r} cannot be reached: {reason}") from None
    missing = [model._meta.db_table for model in MODELS if model._meta.db_table not in tables]
    if missing:
        raise CommandError(
            f"Database {db!r} has no google_connect tables ({', '.join(missing)} missing): "
            f"pass the --database google_connect is migrated to, or run migrate --database {db}."
        )
    return db
