"""Many rows, each with values of its own, written with one ``UPDATE ... CASE``.

``QuerySet.bulk_update`` does this, but hands each ``CASE`` to the field's
``get_db_prep_save``, and the encrypted fields would encrypt the SQL
expression itself. Here an encrypted value is encrypted first (with the first
of ``FERNET_KEYS``, as a save does) and written as the bytes it is. The
queryset's own filter stays in the ``WHERE``: a guard (a lease owner, a
ciphertext as read) leaves a row that changed meanwhile as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connections
from django.db.models import BinaryField, Case, Field, QuerySet, Value, When
from django.db.models.functions import Cast
from django.utils.encoding import force_bytes
from django.views.decorators.debug import sensitive_variables

from google_connect.fields import EncryptedTextField


@sensitive_variables()
def case_update(queryset: QuerySet[Any], values: Mapping[Any, Mapping[str, Any]]) -> int:
    """``UPDATE`` each row ``pk`` of ``queryset`` in ``values`` to its own values; rows written.

    Every row gives the same field names.
    """
    if not values:
        return 0
    db = queryset.db
    connection = connections[db]
    meta = queryset.model._meta
    names = list(next(iter(values.values())))
    casting = connection.features.requires_casted_case_in_updates
    update: dict[str, Any] = {}
    for name in names:
        field = meta.get_field(name)
        assert isinstance(field, Field)
        output: Field[Any, Any] = field
        whens = []
        for pk, row in values.items():
            value = row[name]
            if isinstance(field, EncryptedTextField):
                value = None if value is None else field.fernet.encrypt(force_bytes(value))
                output = BinaryField()
            whens.append(When(pk=pk, then=Value(value, output_field=output)))
        case: Any = Case(*whens, output_field=output)
        if casting:
            case = Cast(case, output_field=output)
        update[field.attname] = case
    return queryset.filter(pk__in=list(values)).update(**update)
