"""Revoke connected Google accounts at Google, then delete them (or keep them)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q, QuerySet
from tqdm import tqdm

from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation, revoke_pending
from google_connect.store.revocation import MAX_WORKERS, Outcome, revoke_accounts


class Command(BaseCommand):
    help = (
        "Revoke Google accounts at Google and delete them. Select accounts with --user, "
        "--email, --reconnect-required or --all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user",
            action="append",
            default=[],
            metavar="USERNAME_OR_ID",
            help="Accounts of this user (repeatable).",
        )
        parser.add_argument(
            "--email",
            action="append",
            default=[],
            help="The account with this Google email (repeatable).",
        )
        parser.add_argument(
            "--reconnect-required",
            action="store_true",
            help="Only accounts whose grant is already broken (narrows the other selections).",
        )
        parser.add_argument("--all", action="store_true", help="Every account.")
        parser.add_argument(
            "--pending",
            action="store_true",
            help="Retry the revocations still pending for accounts deleted some other way "
            "(a user deleted, a queryset delete) and whose revoke failed.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be revoked; call nothing."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=8,
            help=f"Concurrent calls to Google (1 to {MAX_WORKERS}, default 8).",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            choices=tuple(connections),
            help='The database whose accounts are revoked (default "default").',
        )
        parser.add_argument(
            "--keep-local",
            action="store_true",
            help="Keep the rows, with tokens blanked and status reconnect_required.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["workers"] <= MAX_WORKERS:
            raise CommandError(f"--workers must be between 1 and {MAX_WORKERS}.")
        if options["pending"]:
            self.revoke_pending(options)
            return
        accounts = self.selection(options)
        total = accounts.count()
        if options["dry_run"]:
            for account in accounts.select_related("user").order_by("pk").iterator():
                self.stdout.write(f"would revoke: {account.pk} {account.email} ({account.user})")
            self.stdout.write(f"{total} would be revoked (dry run, nothing called).")
            return

        progress = tqdm(total=total, unit="account") if self.stderr.isatty() else None

        def on_outcome(outcome: Outcome) -> None:
            if outcome.reason:
                self.stderr.write(
                    f"failed: account {outcome.account_id} {outcome.email}: {outcome.reason}"
                )
            if progress:
                progress.update()

        report = revoke_accounts(
            accounts,
            workers=options["workers"],
            keep_local=options["keep_local"],
            on_outcome=on_outcome,
        )
        if progress:
            progress.close()
        self.stdout.write(
            f"{report.revoked} revoked, {report.already_revoked} already revoked, "
            f"{report.failed} failed"
        )
        if report.failed:
            raise CommandError(f"{report.failed} account(s) could not be revoked.")

    def revoke_pending(self, options: dict[str, Any]) -> None:
        if options["all"] or options["user"] or options["email"] or options["reconnect_required"]:
            raise CommandError("--pending cannot be combined with an account selection.")
        pending = PendingRevocation.objects.using(options["database"]).order_by("pk")
        if options["dry_run"]:
            count = pending.count()
            self.stdout.write(f"{count} pending revocation(s) would be retried (dry run).")
            return
        revoked = already = failed = 0
        for row in pending.iterator():
            result = revoke_pending(row)
            if result is None:
                failed += 1
                self.stderr.write(
                    f"failed: pending revocation {row.pk} {row.email}: {row.last_error}"
                )
            elif result:
                revoked += 1
            else:
                already += 1
        self.stdout.write(f"{revoked} revoked, {already} already revoked, {failed} failed")
        if failed:
            raise CommandError(f"{failed} pending revocation(s) could not be completed.")

    def selection(self, options: dict[str, Any]) -> QuerySet[GoogleAccount]:
        chosen = options["user"] or options["email"]
        if not (chosen or options["all"] or options["reconnect_required"]):
            raise CommandError(
                "Say which accounts to revoke: --user, --email, --reconnect-required, --all "
                "or --pending."
            )
        if options["all"] and chosen:
            raise CommandError("--all cannot be combined with --user or --email.")
        accounts = GoogleAccount.objects.using(options["database"])
        if chosen:
            accounts = accounts.filter(self.user_filter(options["user"], options["email"]))
        if options["reconnect_required"]:
            accounts = accounts.reconnect_required()
        return accounts

    def user_filter(self, users: list[str], emails: list[str]) -> Q:
        username_field = get_user_model().USERNAME_FIELD
        query = Q(pk__in=[])
        for value in users:
            query |= Q(**{f"user__{username_field}": value})
            if value.isdigit():
                query |= Q(user__pk=int(value))
        for email in emails:
            query |= Q(email__iexact=email)
        return query
