"""Telling receivers that an account's stored scopes changed.

Every place that writes ``GoogleAccount.scopes`` (the callback's connect and
a token refresh) calls ``announce`` after its write, with what was stored
before; the signal goes out once the write commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from google_connect import scopes
from google_connect.signals import google_account_scopes_changed

if TYPE_CHECKING:
    from google_connect.store.models import GoogleAccount


def difference(before: list[str], after: list[str]) -> tuple[list[str], list[str]]:
    """``(added, removed)``, each in stored order; ``email`` and its URL form are one scope."""
    before_set = {scopes.normalize(s) for s in before}
    after_set = {scopes.normalize(s) for s in after}
    added = [s for s in after if scopes.normalize(s) not in before_set]
    removed = [s for s in before if scopes.normalize(s) not in after_set]
    return added, removed


def announce(account: GoogleAccount, previous: str) -> None:
    """Send ``google_account_scopes_changed`` after commit, if the scopes changed."""
    added, removed = difference(previous.split(), account.scopes.split())
    if not added and not removed:
        return
    transaction.on_commit(
        lambda: google_account_scopes_changed.send(
            sender=type(account), account=account, added=added, removed=removed
        ),
        using=account._state.db,
    )
