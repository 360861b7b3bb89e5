"""Many rows, each with values of its own, written with one ``UPDATE``.

``QuerySet.bulk_update`` does this with a ``Case(When(pk=...))`` per field,
and Django resolves every ``When`` as a filter of its own: for a batch of 100
refreshed rows (16 fields) that is 1,600 lookups built, copied and compiled,
about 150 ms of CPU per batch, more than the refreshes themselves. Here:

- on PostgreSQL, the values travel as one array per column and the rows are
  joined to them: ``UPDATE t SET c = v.c FROM unnest(%s, %s...) AS v(...)
  WHERE t.id = v.id``, a handful of placeholders whatever the row count
  (psycopg parses a statement's placeholders in Python: 3,500 of them took
  longer than the re-encryption they carried);
- elsewhere, each column's ``CASE <pk> WHEN %s THEN %s ... END`` is written
  as SQL at once and handed to ``update()``.

Values are prepared as a save prepares them (an encrypted field encrypts with
the first of ``FERNET_KEYS``) unless ``stored``. The queryset's own filter
stays in the ``WHERE``, and ``read`` adds a guard: a row whose columns no
longer hold what was read (a refresh wrote it meanwhile) is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import BinaryField, BooleanField, Field, QuerySet
from django.db.models.expressions import RawSQL
from django.views.decorators.debug import sensitive_variables


@sensitive_variables()
def case_update(
    queryset: QuerySet[Any],
    values: Mapping[Any, Mapping[str, Any]],
    *,
    stored: bool = False,
    read: tuple[tuple[str, ...], Mapping[Any, tuple[Any, ...]]] | None = None,
) -> int:
    """``UPDATE`` each row ``pk`` of ``queryset`` in ``values`` to its own values; rows written.

    Every row gives the same field names. With ``stored``, the values are
    written as they are (ciphertexts already encrypted, by key rotation);
    otherwise each is prepared by its field, as ``save()`` would. With
    ``read=(columns, {pk: values})``, a row is written only if its binary
    ``columns`` still hold those values (None: NULL).
    """
    if not values:
        return 0
    if connections[queryset.db].vendor == "postgresql":
        return _joined_update(queryset, values, stored, read)
    if read is not None:
        queryset = queryset.filter(as_read(queryset, *read))
    names = list(next(iter(values.values())))
    update: dict[str, Any] = {}
    for name in names:
        field = queryset.model._meta.get_field(name)
        by_pk = {pk: row[name] for pk, row in values.items()}
        first = next(iter(by_pk.values()))
        if not stored and all(value == first for value in by_pk.values()):
            # The same for every row (a lease cleared, the time of the batch):
            # one value, not a CASE and its placeholders.
            update[field.attname] = first
        else:
            update[field.attname] = per_row(queryset, name, by_pk, stored=stored)
    return queryset.filter(pk__in=list(values)).update(**update)


@sensitive_variables()
def _joined_update(
    queryset: QuerySet[Any],
    values: Mapping[Any, Mapping[str, Any]],
    stored: bool,
    read: tuple[tuple[str, ...], Mapping[Any, tuple[Any, ...]]] | None,
) -> int:
    connection = connections[queryset.db]
    meta = queryset.model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    binary = BinaryField()
    pks = list(values)
    names = list(next(iter(values.values())))

    def array(field: Field[Any, Any], column: list[Any]) -> tuple[str, Any]:
        return f"%s::{field.cast_db_type(connection)}[]", column

    def prepared(field: Field[Any, Any], value: Any) -> Any:
        if stored:
            return None if value is None else binary.get_db_prep_value(value, connection)
        return field.get_db_prep_save(value, connection)

    def column_of(field: Field[Any, Any]) -> str:
        assert field.column is not None  # a concrete field: it has a column
        return quote(field.column)

    pk_field = meta.pk
    assert pk_field is not None
    arrays = [array(pk_field, [pk_field.get_db_prep_value(pk, connection) for pk in pks])]
    aliases = ["pk"]
    sets = []
    for number, name in enumerate(names):
        field = meta.get_field(name)
        assert isinstance(field, Field)
        arrays.append(array(field, [prepared(field, values[pk][name]) for pk in pks]))
        aliases.append(f"v{number}")
        sets.append(f"{column_of(field)} = v.v{number}")
    where = [f"{table}.{column_of(pk_field)} = v.pk"]
    if read is not None:
        columns, as_read_by_pk = read
        for number, name in enumerate(columns):
            field = meta.get_field(name)
            assert isinstance(field, Field)
            column = [as_read_by_pk[pk][number] for pk in pks]
            arrays.append(
                array(
                    binary,
                    [
                        None if v is None else binary.get_db_prep_value(bytes(v), connection)
                        for v in column
                    ],
                )
            )
            aliases.append(f"r{number}")
            where.append(f"{table}.{column_of(field)} IS NOT DISTINCT FROM v.r{number}")
    params: list[Any] = [column for _, column in arrays]
    query = queryset.query.chain()
    try:
        filter_sql, filter_params = query.get_compiler(queryset.db).compile(query.where)
        where.append(f"({filter_sql})")
        params.extend(filter_params)
    except FullResultSet:
        pass
    except EmptyResultSet:
        return 0
    # Quoted names and placeholders only: every value is a parameter.
    sql = (
        f"UPDATE {table} SET {', '.join(sets)} "  # noqa: S608
        f"FROM unnest({', '.join(sql for sql, _ in arrays)}) AS v({', '.join(aliases)}) "
        f"WHERE {' AND '.join(where)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


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
