"""A first connect's write: one new row in one prepared INSERT.

``Model.save(force_insert=True)`` compiles its INSERT through the ORM every
time: on SQLite that is more than half the cost of the write, and a first
connect makes exactly this one write. Here the statement is built once per
model, database alias and vendor; every value still goes through its field's
own ``pre_save()`` and ``get_db_prep_save()`` (so ``auto_now`` stamps and
token encryption work as in ``save()``), and ``pre_save`` / ``post_save`` are
sent as ``save()`` sends them.

Where the database can say "already there" without an error (PostgreSQL and
SQLite: ``ON CONFLICT (...) DO NOTHING RETURNING``), a row whose unique key
is stored already is one statement that writes nothing: no look-up first, no
unique violation for PostgreSQL to log with its values, no savepoint.
Elsewhere (MariaDB, MySQL) the caller looks up first and a lost race is the
unique constraint's ``IntegrityError``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.db import connections, models, transaction
from django.db.models import signals


class _Statement(NamedTuple):
    sql: str
    fields: list[Any]  # in the order of the statement's columns
    returns_pk: bool


_statements: dict[tuple[type[models.Model], str, str, str | None], _Statement] = {}


def skips_conflicts(using: str) -> bool:
    """Whether ``insert_row(..., unless_stored=...)`` can skip a stored key in one statement."""
    connection = connections[using]
    return connection.vendor in ("postgresql", "sqlite") and bool(
        connection.features.can_return_columns_from_insert
    )


def insert_row(instance: models.Model, using: str, *, unless_stored: str | None = None) -> bool:
    """INSERT ``instance`` as a new row, as ``instance.save(force_insert=True)`` would.

    With ``unless_stored`` (the name of a field with a unique constraint, on a
    database where ``skips_conflicts()``), a row with the same value there
    already means nothing is written and False is returned. Otherwise a
    duplicate raises ``IntegrityError`` as ``save()`` does. Either way
    ``pre_save`` has been sent, as ``save()`` sends it before a refused
    INSERT; ``post_save`` is sent only for a row written.

    For models whose only database-generated column is an auto-incremented
    primary key, with no parent model (no multi-table inheritance).
    """
    model = type(instance)
    meta = model._meta
    connection = connections[using]
    if unless_stored is not None and not skips_conflicts(using):
        raise ValueError(f"{connection.vendor} cannot skip a stored row in one INSERT")
    statement = _statement(model, using, unless_stored)

    signals.pre_save.send(
        sender=model, instance=instance, raw=False, using=using, update_fields=None
    )
    params = [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in statement.fields
    ]
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        if statement.returns_pk:
            row = cursor.fetchone()
            if row is None:  # ON CONFLICT DO NOTHING: the key is stored already
                return False
            pk = row[0]
        else:
            pk = connection.ops.last_insert_id(cursor, meta.db_table, _column(meta.pk))
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using
    signals.post_save.send(
        sender=model, instance=instance, created=True, update_fields=None, raw=False, using=using
    )
    return True


def _statement(model: type[models.Model], using: str, unless_stored: str | None) -> _Statement:
    connection = connections[using]
    key = (model, using, connection.vendor, unless_stored)
    cached = _statements.get(key)
    if cached is not None:
        return cached
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(_column(field)) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    if unless_stored is not None:
        sql += f" ON CONFLICT ({quote(_column(meta.get_field(unless_stored)))}) DO NOTHING"
    returns_pk = bool(connection.features.can_return_columns_from_insert)
    if returns_pk:
        sql += f" RETURNING {quote(_column(meta.pk))}"
    statement = _Statement(sql, fields, returns_pk)
    _statements[key] = statement
    return statement


def _column(field: Any) -> str:
    return str(field.column)
