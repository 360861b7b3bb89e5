"""Re-encrypting stored tokens with the first key of ``FERNET_KEYS``.

The procedure: put a new key first in ``FERNET_KEYS`` and keep the old ones
after it, deploy, run ``rotate_google_token_keys``, then remove the old keys.
Every encrypted column is rotated: the accounts' tokens and the tokens kept
in pending revocations (an account deleted while Google could not be told),
which would otherwise become unrevocable once the old key is gone. Each row
is read in chunks, and a chunk's stale rows are re-encrypted with one UPDATE
that writes a row only where its ciphertexts are still the ones read (a row a
refresh wrote meanwhile is read again and rotated on its own, under its row
lock). The command is safe on a live site and safe to run again after an
interruption: rows already under the first key are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.db import models, router, transaction
from django.db.models import BinaryField, ExpressionWrapper, F
from django.utils.encoding import force_str

from google_connect.fields import current_fernet, primary_fernet
from google_connect.google import telemetry
from google_connect.store.case_update import case_update
from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation

CURRENT, STALE, UNDECRYPTABLE, GONE = "current", "stale", "undecryptable", "gone"
TOKEN_COLUMNS = ("access_token", "refresh_token")
# Every model with encrypted columns, and those columns.
ENCRYPTED: dict[type[models.Model], tuple[str, ...]] = {
    GoogleAccount: TOKEN_COLUMNS,
    PendingRevocation: ("token",),
}
CHUNK_SIZE = 500


@dataclass
class RotationReport:
    """Rows found, by state. ``rotated``, ``current`` and ``undecryptable`` are the
    accounts'; the ``pending_`` ones the pending revocations'."""

    rotated: int = 0
    current: int = 0
    undecryptable: list[tuple[int, str]] = field(default_factory=list)
    pending_rotated: int = 0
    pending_current: int = 0
    pending_undecryptable: list[int] = field(default_factory=list)

    def add(self, account_id: int, email: str, state: str) -> None:
        if state == STALE:
            self.rotated += 1
        elif state == CURRENT:
            self.current += 1
        elif state == UNDECRYPTABLE:
            self.undecryptable.append((account_id, email))

    def as_counts(self) -> dict[str, int]:
        """Counts only (never an email): a bulk span's attributes."""
        return {
            "accounts": self.rotated + self.current + len(self.undecryptable),
            "rotated": self.rotated,
            "current": self.current,
            "undecryptable": len(self.undecryptable),
            "pending_revocations": (
                self.pending_rotated + self.pending_current + len(self.pending_undecryptable)
            ),
            "pending_rotated": self.pending_rotated,
            "pending_current": self.pending_current,
            "pending_undecryptable": len(self.pending_undecryptable),
        }

    def add_pending(self, pending_id: int, state: str) -> None:
        if state == STALE:
            self.pending_rotated += 1
        elif state == CURRENT:
            self.pending_current += 1
        elif state == UNDECRYPTABLE:
            self.pending_undecryptable.append(pending_id)


def _ciphertexts(db: str, model: type[models.Model] = GoogleAccount) -> Any:
    """Rows as (pk, email, ciphertext, ...), never decrypted.

    The columns are read through a BinaryField expression, so the encrypted
    field's decryption (and the plaintext) never enters this process unless a
    row needs rotating.
    """
    raw = {
        f"raw_{name}": ExpressionWrapper(F(name), output_field=BinaryField())
        for name in ENCRYPTED[model]
    }
    return (
        model._default_manager.using(db)
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
    on_pending: Callable[[int, str, str], None] | None = None,
    using: str | None = None,
    ids: Collection[int] | None = None,
    pending_ids: Collection[int] | None = None,
) -> RotationReport:
    """Re-encrypt every account's tokens and every pending revocation's token
    with the first key; report what was found.

    With ``ids`` or ``pending_ids``, only those accounts or pending
    revocations (a chunk of a task). ``on_row`` and ``on_pending`` are called
    with (pk, email, state) for each row. Works on one database: ``using``,
    or where the router writes each model. Reads, locks and writes all go
    there, so a replica is never read for a row about to be locked on the
    primary. The run (a task's chunk, with ``ids``) is one span,
    ``google_connect.bulk.rotate_keys``, with the counts as attributes.
    """
    with telemetry.bulk("rotate_keys", engine="serial", concurrency=1) as span:
        span.set("dry_run", dry_run)
        report = RotationReport()
        try:
            _rotate_all(report, dry_run, on_row, on_pending, using, ids, pending_ids)
        finally:
            span.set_counts(report.as_counts())
    return report


def _rotate_all(
    report: RotationReport,
    dry_run: bool,
    on_row: Callable[[int, str, str], None] | None,
    on_pending: Callable[[int, str, str], None] | None,
    using: str | None,
    ids: Collection[int] | None,
    pending_ids: Collection[int] | None,
) -> None:
    everything = ids is None and pending_ids is None
    for model, selected, record, callback in (
        (GoogleAccount, ids, report.add, on_row),
        (PendingRevocation, pending_ids, _pending_recorder(report), on_pending),
    ):
        if selected is None and not everything:
            continue
        db = using or router.db_for_write(model)
        rows = _ciphertexts(db, model)
        if selected is not None:
            rows = rows.filter(pk__in=list(selected))
        seen: list[int] | None = [] if selected is not None else None
        last_pk: Any = None
        while True:
            page = rows if last_pk is None else rows.filter(pk__gt=last_pk)
            chunk = list(page[:CHUNK_SIZE])
            if not chunk:
                break
            last_pk = chunk[-1][0]
            for pk, email, state in _rotate_chunk(model, db, chunk, dry_run):
                record(pk, email, state)
                if seen is not None:
                    seen.append(pk)
                if callback is not None:
                    callback(pk, email, state)
        if model is GoogleAccount and not dry_run:
            record_undecryptable(db, [pk for pk, _email in report.undecryptable], among=seen)


def record_undecryptable(db: str, ids: Collection[int], *, among: Collection[int] | None) -> None:
    """Store ``tokens_undecryptable``: set for ``ids``, cleared for the other
    accounts (of ``among`` when given: the rows just looked at)."""
    accounts = GoogleAccount.objects.using(db)
    # update(): the flag is a finding about the row, not a change of it.
    accounts.filter(pk__in=list(ids), tokens_undecryptable=False).update(tokens_undecryptable=True)
    cleared = accounts.filter(tokens_undecryptable=True).exclude(pk__in=list(ids))
    if among is not None:
        cleared = cleared.filter(pk__in=list(among))
    cleared.update(tokens_undecryptable=False)


def _rotate_chunk(
    model: type[models.Model], db: str, chunk: list[tuple[Any, ...]], dry_run: bool
) -> list[tuple[int, str, str]]:
    """Classify a chunk of rows and re-encrypt its stale ones with one guarded UPDATE.

    The UPDATE writes a row only where every encrypted column still holds
    the ciphertext read: a row a refresh wrote meanwhile is left alone, read
    again and rotated on its own (under its row lock) if it is still stale.
    """
    columns = ENCRYPTED[model]
    states: list[tuple[int, str, str]] = []
    stale: dict[Any, tuple[tuple[Any, ...], dict[str, bytes | None]]] = {}
    primary = primary_fernet()
    keys = (primary, current_fernet())
    for pk, email, *ciphertexts in chunk:
        state, plaintexts = classify_and_decrypt(tuple(ciphertexts), keys)
        states.append((pk, email, state))
        if state == STALE and not dry_run:
            new = {
                name: None if plain is None else primary.encrypt(plain)
                for name, plain in zip(columns, plaintexts, strict=True)
            }
            stale[pk] = (tuple(ciphertexts), new)
    if not stale:
        return states
    written = _write_guarded(model, db, columns, stale)
    if written < len(stale):
        # Some rows changed since they were read: never clobbered; those not
        # holding what this run wrote are read again and rotated one by one.
        now_stored = {
            pk: tuple(cts) for pk, _, *cts in _ciphertexts(db, model).filter(pk__in=list(stale))
        }
        ours = {
            pk
            for pk, (_, new) in stale.items()
            if now_stored.get(pk) is not None
            and tuple(None if v is None else bytes(v) for v in now_stored[pk])
            == tuple(new[name] for name in columns)
        }
        changed = {pk: _rotate_row(model, pk, db) for pk in stale if pk not in ours}
        states = [(pk, email, changed.get(pk, state)) for pk, email, state in states]
    return states


def _write_guarded(
    model: type[models.Model],
    db: str,
    columns: tuple[str, ...],
    stale: dict[Any, tuple[tuple[Any, ...], dict[str, bytes | None]]],
) -> int:
    # update(), not save(): updated_at stays as it was, since the row itself
    # did not change; one statement for the whole chunk, guarded by what was read.
    return case_update(
        model._default_manager.using(db),
        {pk: new for pk, (_, new) in stale.items()},
        stored=True,
        read=(columns, {pk: old for pk, (old, _) in stale.items()}),
    )


def classify_and_decrypt(
    ciphertexts: tuple[Any, ...], keys: tuple[Fernet, MultiFernet] | None = None
) -> tuple[str, list[bytes | None]]:
    """``classify``, with the plaintexts of a stale row (decrypted once).

    ``keys``: (the first key, every key), when the caller has them at hand:
    looking them up reads the settings, a tenth of a row's time.
    """
    primary, every_key = keys or (primary_fernet(), current_fernet())
    state = CURRENT
    plaintexts: list[bytes | None] = []
    for value in ciphertexts:
        if value is None:
            plaintexts.append(None)
            continue
        token = bytes(value)
        try:
            plaintexts.append(primary.decrypt(token))
        except InvalidToken:
            try:
                plaintexts.append(every_key.decrypt(token))
            except InvalidToken:
                return UNDECRYPTABLE, []
            state = STALE
    return state, plaintexts


def _pending_recorder(report: RotationReport) -> Callable[[int, str, str], None]:
    return lambda pk, _email, state: report.add_pending(pk, state)


def _rotate_row(model: type[models.Model], pk: int, db: str) -> str:
    columns = ENCRYPTED[model]
    with transaction.atomic(using=db):
        row = _ciphertexts(db, model).select_for_update().filter(pk=pk).first()
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
            for name, value in zip(columns, ciphertexts, strict=True)
        }
        # update(), not save(): the field encrypts with the first key, and
        # updated_at stays as it was, since the row itself did not change.
        model._default_manager.using(db).filter(pk=pk).update(**plaintexts)
    return STALE
