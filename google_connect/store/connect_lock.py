"""The lock every connect of one Google account takes, whatever its client.

A Google account (``sub``) belongs to one user of the site across every
OAuth client, but the unique constraint is per client (``client_id``,
``sub``): two users connecting one Google account through two clients at
the same moment would both find no row and both insert one. So
``GoogleAccountQuerySet.connect()`` begins its transaction with an upsert
of this table's row for the ``sub``: it creates the row, or waits for
whoever holds it and then holds it (PostgreSQL's ``ON CONFLICT DO UPDATE``,
MariaDB's ``ON DUPLICATE KEY UPDATE`` and SQLite's single writer), in one
statement and without a refused INSERT (which PostgreSQL would log as an
error, and after which MariaDB would hold a shared lock that deadlocks two
waiters wanting it exclusive). The connects of a ``sub`` then run one after
another, and each reads the account rows the one before it committed.

The row decides nothing: the account rows stay the one record of who has a
Google account, so a lock left behind once a Google account's last row is
deleted changes nothing (another user may connect it then). It keeps a
digest of the ``sub``, not the ``sub`` itself: the table outlives the
accounts and has no reason to name anyone.
"""

from __future__ import annotations

import hashlib

from django.db import connections, models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ConnectLock(models.Model):
    """One row per Google account ever connected, locked by each connect of it."""

    # SHA-256 of the ``sub``, hex.
    key = models.CharField(_("key"), max_length=64, primary_key=True)
    # Written by every upsert: the column the upsert updates, which is what
    # makes it take the row's lock when the row exists.
    locked_at = models.DateTimeField(_("last locked at"))

    class Meta:
        app_label = "google_connect"
        verbose_name = _("connect lock")
        verbose_name_plural = _("connect locks")

    def __str__(self) -> str:
        return f"connect lock {self.key[:12]}"


def key_of(sub: str) -> str:
    return hashlib.sha256(sub.encode()).hexdigest()


def lock(sub: str, using: str) -> None:
    """Create or lock the row of ``sub`` on ``using``, until the transaction ends.

    Call it inside ``transaction.atomic(using=using)``: outside one, the
    lock would end with the statement.
    """
    # MariaDB's ON DUPLICATE KEY UPDATE names no conflict target (and
    # refuses one): the primary key is the table's only unique key anyway.
    target = ["key"] if connections[using].features.supports_update_conflicts_with_target else None
    ConnectLock.objects.using(using).bulk_create(
        [ConnectLock(key=key_of(sub), locked_at=timezone.now())],
        update_conflicts=True,
        unique_fields=target,
        update_fields=["locked_at"],
    )
