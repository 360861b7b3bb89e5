"""Single-use states, whatever the session backend.

A flow's state lives in the session until the callback consumes it. Reading,
changing and writing the session is not atomic (two overlapping callbacks
both find the state), and with signed-cookie sessions an old cookie still
holds it. So a consumed state is also recorded, as the hash of the state, in
a unique row: the database refuses a second one. Rows older than
``STATE_MAX_AGE`` are pruned when a flow starts, at most once a minute per
process; a flow that old is refused as expired anyway. The callback costs
one INSERT more.
A cache's ``add()`` would not do: it is atomic only on Redis and Memcached.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from google_connect.conf import get_settings
from google_connect.exceptions import InvalidState


class UsedState(models.Model):
    # SHA-256 of the state, hex: the state itself is a secret while it lives.
    digest = models.CharField(_("state digest"), max_length=64)
    used_at = models.DateTimeField(_("used at"), default=timezone.now)

    class Meta:
        verbose_name = _("used state")
        verbose_name_plural = _("used states")
        constraints = [
            models.UniqueConstraint(fields=["digest"], name="google_connect_usedstate_unique"),
        ]
        indexes = [models.Index(fields=["used_at"], name="google_connect_usedstate_idx")]

    def __str__(self) -> str:
        return f"state used at {self.used_at:%Y-%m-%d %H:%M:%S}"


def claim(state: str) -> None:
    """Record ``state`` as used, or raise ``InvalidState`` if it already was.

    One INSERT, in a savepoint when a transaction is open, so a refused one
    leaves that transaction usable.
    """
    db = router.db_for_write(UsedState)
    connection = connections[db]
    row = UsedState(digest=hashlib.sha256(state.encode("ascii")).hexdigest())
    try:
        # In a transaction (ATOMIC_REQUESTS, or AUTOCOMMIT off), a savepoint:
        # on PostgreSQL a refused INSERT would abort the whole transaction.
        if connection.in_atomic_block or not connection.get_autocommit():
            with transaction.atomic(using=db):
                row.save(using=db, force_insert=True)
        else:
            row.save(using=db, force_insert=True)
    except IntegrityError:
        raise InvalidState() from None


# Pruning is housekeeping: once a minute per process keeps the table small
# without a DELETE on every authorize request (the flow's query budget).
PRUNE_INTERVAL = 60.0
_next_prune = 0.0


def prune_now_and_then() -> None:
    """``prune()``, unless this process pruned less than ``PRUNE_INTERVAL`` ago."""
    global _next_prune
    now = time.monotonic()
    if now < _next_prune:
        return
    _next_prune = now + PRUNE_INTERVAL
    prune()


def prune() -> None:
    """Delete the rows of states used longer than ``STATE_MAX_AGE`` ago.

    Run when a flow starts, not in the callback: the callback may hold its
    transaction open across the calls to Google, and concurrent callbacks
    would then queue on the rows it deletes.
    """
    db = router.db_for_write(UsedState)
    cutoff = timezone.now() - timedelta(seconds=get_settings().STATE_MAX_AGE)
    UsedState.objects.using(db).filter(used_at__lt=cutoff).delete()
