"""Many rows, each with values of its own, written with one ``UPDATE ... CASE``.

``QuerySet.bulk_update`` does this with a ``Case(When(pk=...))`` per field,
and Django resolves every ``When`` as a filter of its own: for a batch of 100
refreshed rows (16 fields) that is 1,600 lookups built, copied and compiled,
about 150 ms of CPU per batch, more than the refreshes themselves. Here each
column's ``CASE`` is written as SQL at once, ``CASE <pk> WHEN %s THEN %s ...
END``, with values prepared as a save prepares them (an encrypted field
encrypts with the first of ``FERNET_KEYS``), and handed to ``update()`` as
one expression: the queryset's own filter stays in the ``WHERE``, so a guard
(a lease owner, a ciphertext as read) leaves a row that changed meanwhile as
it is, on every database Django supports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connections
from django.db.models import BinaryField, BooleanField, Field, QuerySet
from django.db.models.expressions import RawSQL
from django.views.decorators.debug import sensitive_variables


@sensitive_variables()
def case_update(
    queryset: QuerySet[Any], values: Mapping[Any, Mapping[str, Any]], *, stored: bool = False
) -> int:
    """``UPDATE`` each row ``pk`` of ``queryset`` in ``values`` to its own values; rows written.

    Every row gives the same field names. With ``stored``, the values are
    written as they are (ciphertexts already encrypted, by key rotation);
    otherwise each is prepared by its field, as ``save()`` would.
    """
    if not values:
        return 0
    names = list(next(iter(values.values())))
    update: dict[str, Any] = {}
    for name in names:
        field = queryset.model._meta.get_field(name)
        by_pk = {pk: row[name] for pk, row in values.items()}
        first = next(iter(by_pk.values()))
        if not stored and all(value == first for value in by_pk.values()):
            # The same for every row (a lease cleared, the time of the batch):
            # one value, not a CASE. Fewer placeholders matter: psycopg parses
            # a long statement's placeholders in Python, row by row.
            update[field.attname] = first
        else:
            update[field.attname] = per_row(queryset, name, by_pk, stored=stored)
    return queryset.filter(pk__in=list(values)).update(**update)


@sensitive_variables()
def per_row(
    queryset: QuerySet[Any], name: str, by_pk: Mapping[Any, Any], *, stored: bool = False
) -> RawSQL:
    """The expression ``CASE <pk> WHEN pk THEN value ... END`` for field ``name``."""
    connection = connections[queryset.db]
    model = queryset.model
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    binary = BinaryField()
    case = ["CASE", _column(queryset, model._meta.pk.column)]
    params: list[Any] = []
    for pk, value in by_pk.items():
        case.append("WHEN %s THEN %s")
        if stored:
            prepared = None if value is None else binary.get_db_prep_value(value, connection)
        else:
            prepared = field.get_db_prep_save(value, connection)
        params.extend((pk, prepared))
    case.append("END")
    sql = " ".join(case)
    if connection.features.requires_casted_case_in_updates:
        # PostgreSQL types a CASE of untyped literals (or of NULLs only) as
        # text, which a timestamp or bytea column refuses.
        sql = f"CAST({sql} AS {field.cast_db_type(connection)})"
    # Only placeholders and quoted names: every value is a parameter.
    return RawSQL(sql, params, output_field=field)  # noqa: S611


@sensitive_variables()
def as_read(
    queryset: QuerySet[Any], columns: tuple[str, ...], by_pk: Mapping[Any, tuple[Any, ...]]
) -> RawSQL:
    """A condition true for each row ``pk`` whose binary ``columns`` still hold
    the values read (None: NULL): a guard for ``filter()``."""
    connection = connections[queryset.db]
    binary = BinaryField()
    pk = _column(queryset, queryset.model._meta.pk.column)
    rows: list[str] = []
    params: list[Any] = []
    for key, read in by_pk.items():
        terms = [f"{pk} = %s"]
        params.append(key)
        for name, value in zip(columns, read, strict=True):
            column = _column(queryset, queryset.model._meta.get_field(name).column)
            if value is None:
                terms.append(f"{column} IS NULL")
            else:
                terms.append(f"{column} = %s")
                params.append(binary.get_db_prep_value(bytes(value), connection))
        rows.append("(" + " AND ".join(terms) + ")")
    return RawSQL("(" + " OR ".join(rows) + ")", params, output_field=BooleanField())  # noqa: S611


def _column(queryset: QuerySet[Any], column: str) -> str:
    quote = connections[queryset.db].ops.quote_name
    return f"{quote(queryset.model._meta.db_table)}.{quote(column)}"
