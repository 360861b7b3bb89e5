"""An INSERT the database may refuse, without spoiling the caller's transaction."""

from __future__ import annotations

from django.db import connections, models, transaction


def insert(row: models.Model, using: str) -> None:
    """INSERT ``row``; an ``IntegrityError`` (a unique constraint) reaches the caller.

    Inside a transaction (``ATOMIC_REQUESTS``, a caller's ``atomic()``) the
    INSERT runs in a savepoint, so a refused one leaves that transaction
    usable. In autocommit mode the statement is a transaction of its own, as
    it is for ``Model.objects.create()``: no BEGIN and COMMIT around it.
    """
    if connections[using].in_atomic_block:
        with transaction.atomic(using=using):
            row.save(using=using, force_insert=True)
    else:
        row.save(using=using, force_insert=True)
