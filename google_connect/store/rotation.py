"""Re-encrypting stored tokens with the first key of ``FERNET_KEYS``.

The procedure: put a new key first in ``FERNET_KEYS`` and keep the old ones
after it, deploy, run ``rotate_google_token_keys``, then remove the old keys.
Each row is rotated in its own short transaction under its row lock, so the
command is safe on a live site and safe to run again after an interruption:
rows already under the first key are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import InvalidToken
from django.db import router, transaction
from django.db.models import BinaryField, ExpressionWrapper, F
from django.utils.encoding import force_str

from google_connect.fields import current_fernet, primary_fernet
from google_connect.store.models import GoogleAccount

CURRENT, STALE, UNDECRYPTABLE, GONE = "current", "stale", "undecryptable", "gone"
TOKEN_COLUMNS = ("access_token", "refresh_token")
CHUNK_SIZE = 500


@dataclass
class RotationReport:
    rotated: int = 0
    current: int = 0
    undecryptable: list[tuple[int, str]] = field(default_factory=list)

    def add(self, account_id: int, email: str, state: str) -> None:
        if state == STALE:
            self.rotated += 1
        elif state == CURRENT:
            self.current += 1
        elif state == UNDECRYPTABLE:
            self.undecryptable.append((account_id, email))


def _ciphertexts(db: str) -> Any:
    """Rows as (pk, email, access ciphertext, refresh ciphertext), never decrypted.

    The columns are read through a BinaryField expression, so the encrypted
    field's decryption (and the plaintext) never enters this process unless a
    row needs rotating.
    """
    raw = {
        f"raw_{name}": ExpressionWrapper(F(name), output_field=BinaryField())
        for name in TOKEN_COLUMNS
    }
    return (
        GoogleAccount.objects.using(db)
        .annotate(**raw)
        .order_by("pk")
        .values_list("pk", "email", *raw)
    )


def classify(ciphertexts: tuple[Any, ...]) -> str:
    primary, every_key = primary_fernet(), current_fernet()
    state = CURRENT
    for value in ciphertexts:
        if value is None:
            continue
        token = bytes(value)
        try:
            primary.decrypt(token)
        except InvalidToken:
            try:
                every_key.decrypt(token)
            except InvalidToken:
                return UNDECRYPTABLE
            state = STALE
    return state


def rotate_keys(
    *,
    dry_run: bool = False,
    on_row: Callable[[int, str, str], None] | None = None,
    using: str | None = None,
    ids: Collection[int] | None = None,
) -> RotationReport:
    """Re-encrypt every account's tokens (or only those of ``ids``) with the first key;
    report what was found.

    Works on one database: ``using``, or where the router writes accounts.
    Reads, locks and writes all go there, so a replica is never read for a
    row about to be locked on the primary.
    """
    db = using or router.db_for_write(GoogleAccount)
    report = RotationReport()
    rows = _ciphertexts(db) if ids is None else _ciphertexts(db).filter(pk__in=list(ids))
    for pk, email, *ciphertexts in rows.iterator(chunk_size=CHUNK_SIZE):
        state = classify(tuple(ciphertexts))
        if state == STALE and not dry_run:
            state = _rotate_row(pk, db)
        report.add(pk, email, state)
        if on_row is not None:
            on_row(pk, email, state)
    return report


def _rotate_row(pk: int, db: str) -> str:
    with transaction.atomic(using=db):
        row = _ciphertexts(db).select_for_update().filter(pk=pk).first()
        if row is None:
            return GONE
        ciphertexts = tuple(row[2:])
        # Read again under the lock: a refresh may have re-encrypted it meanwhile.
        state = classify(ciphertexts)
        if state != STALE:
            return state
        every_key = current_fernet()
        plaintexts = {
            name: None if value is None else force_str(every_key.decrypt(bytes(value)))
            for name, value in zip(TOKEN_COLUMNS, ciphertexts, strict=True)
        }
        # update(), not save(): the field encrypts with the first key, and
        # updated_at stays as it was, since the account itself did not change.
        GoogleAccount.objects.using(db).filter(pk=pk).update(**plaintexts)
    return STALE
