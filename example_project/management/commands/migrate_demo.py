"""Migrate the demo's two databases, the site's and the stand-in's, in one command.

Run by ``make demo`` and ``make run`` in demo mode: one process, so one
SECRET_KEY warning, and one migrate report. The stand-in's database gets a
line of its own rather than a second full report.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from example_project.fake_google.routers import DATABASE


class Command(BaseCommand):
    help = "Apply the migrations of the site's database and of the stand-in's."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=options["verbosity"], stdout=self.stdout)
        recorder = MigrationRecorder(connections[DATABASE])
        before = len(recorder.applied_migrations()) if recorder.has_table() else 0
        call_command("migrate", database=DATABASE, verbosity=0, stdout=StringIO())
        applied = len(recorder.applied_migrations()) - before
        if applied:
            self.stdout.write(f"The stand-in's database: {applied} migrations applied.")
        else:
            self.stdout.write("The stand-in's database: no migrations to apply.")
