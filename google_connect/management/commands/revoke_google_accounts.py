"""Revoke connected Google accounts at Google, then delete them (or keep them)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.utils.translation import ngettext

from google_connect.management.concurrency import add_concurrency_argument, check_concurrency
from google_connect.management.databases import add_database_argument, resolve_database
from google_connect.management.progress import progress_bar, write_above
from google_connect.store import jobs
from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import (
    PendingRevocation,
    retry_pending_revocations,
)
from google_connect.store.revocation import MAX_WORKERS, Outcome, one_worker_on_sqlite

DEFAULT_WORKERS = 8


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
        parser.add_argument(
            "--all",
            action="store_true",
            help="Every account (asks for confirmation on a terminal; see --noinput).",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation of --all.",
        )
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
            default=None,
            help=f"Concurrent calls to Google (1 to {MAX_WORKERS}, default 8; 1 on SQLite).",
        )
        add_concurrency_argument(parser)
        add_database_argument(parser, "accounts (or pending revocations) are revoked")
        parser.add_argument(
            "--keep-local",
            action="store_true",
            help="Keep the rows, with tokens blanked and status reconnect_required.",
        )
        parser.add_argument(
            "--include-undecryptable",
            action="store_true",
            help="Also remove the selected rows whose tokens no key in FERNET_KEYS decrypts, "
            "without calling Google (with --keep-local: mark them reconnect_required). "
            "Check FERNET_KEYS first: a wrong key makes every row undecryptable.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        asked_for_workers = options["workers"] is not None
        if not asked_for_workers:
            options["workers"] = DEFAULT_WORKERS
        if not 1 <= options["workers"] <= MAX_WORKERS:
            raise CommandError(f"--workers must be between 1 and {MAX_WORKERS}.")
        if options["pending"]:
            # Pending revocations are retried one after another, with their
            # backoff: saying nothing would let N look as if it were used.
            for option, given in (
                ("--concurrency", options["concurrency"] is not None),
                ("--workers", asked_for_workers),
            ):
                if given:
                    raise CommandError(f"{option} cannot be combined with --pending.")
        check_concurrency(options["concurrency"])
        options["database"] = resolve_database(options["database"])
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
        if options["all"] and options.get("interactive", True) and sys.stdin.isatty():
            self.confirm_all(total, keep_local=options["keep_local"])

        if message := one_worker_on_sqlite(options["workers"], accounts.db):
            # Said only to someone who asked for more; the default just adapts.
            if asked_for_workers:
                self.stderr.write(message)
            options["workers"] = 1
        on_terminal = self.stderr.isatty()
        with progress_bar(enabled=on_terminal, total=total, unit="account") as bar:

            def on_outcome(outcome: Outcome) -> None:
                if outcome.reason:
                    write_above(
                        bar,
                        self.stderr.write,
                        f"failed: account {outcome.account_id} {outcome.email}: {outcome.reason}",
                    )
                bar.update()

            # A revoke_accounts chunk's revocation; here --concurrency, not
            # BULK_CONCURRENCY, picks the engine.
            report = jobs.revoke_selection(
                accounts,
                workers=options["workers"],
                concurrency=options["concurrency"],
                keep_local=options["keep_local"],
                include_undecryptable=options["include_undecryptable"],
                on_outcome=on_outcome,
            )
        self.stdout.write(
            f"{report.revoked} revoked, {report.already_revoked} already revoked, "
            f"{report.failed} failed"
        )
        if report.undecryptable_kept:
            self.stdout.write(
                f"{report.undecryptable_kept} undecryptable: kept, not revoked; "
                "see --include-undecryptable"
            )
        if report.undecryptable_cleared:
            done = "marked reconnect_required" if options["keep_local"] else "removed"
            self.stdout.write(
                f"{report.undecryptable_cleared} undecryptable: {done}, nothing to revoke"
            )
        if report.failed:
            raise CommandError(
                ngettext(
                    "%(count)d Google account could not be revoked.",
                    "%(count)d Google accounts could not be revoked.",
                    report.failed,
                )
                % {"count": report.failed}
            )

    def confirm_all(self, total: int, *, keep_local: bool) -> None:
        # As Django's flush: a terminal is asked, a script (or --noinput) is not.
        if keep_local:
            question = ngettext(
                "This revokes %(count)d Google account at Google and blanks its tokens.",
                "This revokes %(count)d Google accounts at Google and blanks their tokens.",
                total,
            )
        else:
            question = ngettext(
                "This revokes %(count)d Google account at Google and deletes it.",
                "This revokes %(count)d Google accounts at Google and deletes them.",
                total,
            )
        question %= {"count": total}
        answer = input(f"{question}\nType 'yes' to continue, or 'no' to cancel: ")
        if answer.strip().lower() != "yes":
            raise CommandError("Revocation cancelled.")

    def revoke_pending(self, options: dict[str, Any]) -> None:
        if options["all"] or options["user"] or options["email"] or options["reconnect_required"]:
            raise CommandError("--pending cannot be combined with an account selection.")
        pending = PendingRevocation.objects.using(options["database"]).order_by("pk")
        if options["dry_run"]:
            count = pending.count()
            self.stdout.write(
                ngettext(
                    "%(count)d pending revocation would be retried (dry run).",
                    "%(count)d pending revocations would be retried (dry run).",
                    count,
                )
                % {"count": count}
            )
            return

        def on_failure(row: PendingRevocation) -> None:
            self.stderr.write(f"failed: pending revocation {row.pk} {row.email}: {row.last_error}")

        # Every row, those past the automatic retries' cap too: an operator asked.
        report = retry_pending_revocations(
            every=True, using=options["database"], on_failure=on_failure
        )
        self.stdout.write(
            f"{report.revoked} revoked, {report.already_revoked} already revoked, "
            f"{report.failed} failed"
        )
        if report.failed:
            raise CommandError(
                ngettext(
                    "%(count)d pending revocation could not be completed.",
                    "%(count)d pending revocations could not be completed.",
                    report.failed,
                )
                % {"count": report.failed}
            )

    def selection(self, options: dict[str, Any]) -> QuerySet[GoogleAccount]:
        try:
            return jobs.revocation_selection(
                {key: options[key] for key in ("user", "email", "reconnect_required", "all")},
                using=options["database"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
