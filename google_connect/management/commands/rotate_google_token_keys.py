"""Re-encrypt stored Google tokens with the first key of FERNET_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from tqdm import tqdm

from google_connect.store.models import GoogleAccount
from google_connect.store.rotation import UNDECRYPTABLE, rotate_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt every Google account's tokens with the first key in FERNET_KEYS. "
        "Run it after putting a new key first; remove the old keys afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be re-encrypted; write nothing.",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            choices=tuple(connections),
            help='The database whose accounts are re-encrypted (default "default").',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run, database = options["dry_run"], options["database"]
        progress = (
            tqdm(total=GoogleAccount.objects.using(database).count(), unit="account")
            if self.stderr.isatty()
            else None
        )

        def on_row(account_id: int, email: str, state: str) -> None:
            if state == UNDECRYPTABLE:
                self.stderr.write(
                    f"undecryptable: account {account_id} {email}: no key in FERNET_KEYS "
                    "decrypts its tokens; left untouched"
                )
            if progress:
                progress.update()

        report = rotate_keys(dry_run=dry_run, on_row=on_row, using=database)
        if progress:
            progress.close()
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        self.stdout.write(
            f"{report.rotated} {verb}, {report.current} already current, "
            f"{len(report.undecryptable)} undecryptable"
        )
        if report.undecryptable:
            raise CommandError(
                f"{len(report.undecryptable)} account(s) could not be decrypted with any key in "
                "FERNET_KEYS."
            )
