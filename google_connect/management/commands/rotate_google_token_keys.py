"""Re-encrypt stored Google tokens with the first key of FERNET_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import ngettext

from google_connect.management.databases import add_database_argument, resolve_database
from google_connect.management.progress import progress_bar, write_above
from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation
from google_connect.store.rotation import UNDECRYPTABLE, rotate_keys


def accounts_and_pending(accounts: int, pending: int) -> tuple[str, str]:
    return (
        ngettext("%(count)d account", "%(count)d accounts", accounts) % {"count": accounts},
        ngettext("%(count)d pending revocation", "%(count)d pending revocations", pending)
        % {"count": pending},
    )


class Command(BaseCommand):
    help = (
        "Re-encrypt every Google account's tokens, and every pending revocation's token, "
        "with the first key in FERNET_KEYS. Run it after putting a new key first; remove "
        "the old keys afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be re-encrypted; write nothing.",
        )
        add_database_argument(parser, "accounts and pending revocations are re-encrypted")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        database = resolve_database(options["database"])
        total = (
            GoogleAccount.objects.using(database).count()
            + PendingRevocation.objects.using(database).count()
        )
        with progress_bar(enabled=self.stderr.isatty(), total=total, unit="row") as bar:

            def on_row(account_id: int, email: str, state: str) -> None:
                if state == UNDECRYPTABLE:
                    write_above(
                        bar,
                        self.stderr.write,
                        f"undecryptable: account {account_id} {email}: no key in FERNET_KEYS "
                        "decrypts its tokens; left untouched",
                    )
                bar.update()

            def on_pending(pending_id: int, email: str, state: str) -> None:
                if state == UNDECRYPTABLE:
                    write_above(
                        bar,
                        self.stderr.write,
                        f"undecryptable: pending revocation {pending_id} {email}: no key in "
                        "FERNET_KEYS decrypts its token; left untouched",
                    )
                bar.update()

            report = rotate_keys(
                dry_run=dry_run, on_row=on_row, on_pending=on_pending, using=database
            )
        accounts, pending = accounts_and_pending(report.rotated, report.pending_rotated)
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        current = report.current + report.pending_current
        lost = len(report.undecryptable) + len(report.pending_undecryptable)
        self.stdout.write(
            f"{accounts}, {pending} {verb}, {current} already current, {lost} undecryptable"
        )
        if lost:
            accounts, pending = accounts_and_pending(
                len(report.undecryptable), len(report.pending_undecryptable)
            )
            raise CommandError(
                f"{accounts} and {pending} could not be decrypted with any key in FERNET_KEYS."
            )
