"""The stand-in's tables live in a database of their own, apart from the site's.

On SQLite the site and the stand-in then never wait for each other's locks:
google_connect keeps the account's row lock (and with it, on SQLite, a lock
on the whole file) while it calls Google, and in demo mode "Google" is the
same server writing its own tables. Sharing one file, the stand-in's write
waited for the site's transaction, which waited for the stand-in.
"""

from __future__ import annotations

from typing import Any

# The alias example_project.demo.stand_in_database() is installed under.
DATABASE = "fake_google"
APP_LABEL = "fake_google"


class FakeGoogleRouter:
    def _is_stand_in(self, model_or_instance: Any) -> bool:
        return bool(model_or_instance._meta.app_label == APP_LABEL)

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        return DATABASE if self._is_stand_in(model) else None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return DATABASE if self._is_stand_in(model) else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # Rows of the two databases never point at each other.
        if self._is_stand_in(obj1) != self._is_stand_in(obj2):
            return False
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == APP_LABEL:
            return db == DATABASE
        if db == DATABASE:
            return False
        return None
