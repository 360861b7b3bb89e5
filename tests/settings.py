"""Settings for the test suite. DATABASE_URL picks the database (SQLite when unset)."""

import os
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import environ

from example_project import demo

env = environ.Env()

SECRET_KEY = "tests-only-secret-key-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///:memory:")}
# SQLite test databases are files, as `make demo`'s are: an in-memory one is
# shared by every thread of the live server, which hid lock waits between the
# site and the stand-in for Google. Named per process, so runs never collide.
TEST_DATABASE_FILE = str(Path(tempfile.gettempdir()) / f"google_connect-test-{os.getpid()}-{{}}")
# No fsync: a test database need not survive a power cut, and flushing it
# after each transactional test cost about 0.3 s a test.
UNSYNCED = {"init_command": "PRAGMA synchronous = OFF"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": TEST_DATABASE_FILE.format("site.sqlite3")}
    DATABASES["default"]["OPTIONS"] = UNSYNCED
# The stand-in for Google keeps its tables in a database of its own, as in the
# demo (example_project/fake_google/routers.py).
STAND_IN_TEST_DATABASE = TEST_DATABASE_FILE.format("fake_google.sqlite3")
DATABASES["fake_google"] = {
    **demo.stand_in_database(STAND_IN_TEST_DATABASE),
    "TEST": {"NAME": STAND_IN_TEST_DATABASE},
    "OPTIONS": UNSYNCED,
}
DATABASE_ROUTERS = ["example_project.fake_google.routers.FakeGoogleRouter"]


def _second_database(default: dict[str, Any]) -> dict[str, Any]:
    """A second database beside DATABASE_URL's, for the multi-database tests.

    Tests that use it say so (``django_db(databases=...)``); the rest of the
    suite never touches it. On SQLite a second file, as the others are (an
    in-memory one would be shared by the live server's threads); elsewhere
    the same server with the database name suffixed ``_other``.
    """
    if default["ENGINE"].endswith("sqlite3"):
        name = TEST_DATABASE_FILE.format("other.sqlite3")
        return {**default, "NAME": name, "TEST": {"NAME": name}}
    return {**default, "NAME": f"{default['NAME']}_other", "TEST": {}}


DATABASES["other"] = _second_database(DATABASES["default"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Serves the admin's and google_connect's stylesheets, as on a real site:
    # the browser tour judges the pages as they look.
    "django.contrib.staticfiles",
    "google_connect",
    # The example project's stand-in for Google: its tables must exist in the
    # test database for its own tests and the end-to-end test.
    "example_project.fake_google",
]

# Django's Tasks (django.tasks on Django 6.0+, the django-tasks backport on
# 5.2): the eager tests run on the ImmediateBackend; the live test's workers
# use the database backend (django-tasks-db), whose table the test database
# gets. Without either, google_connect.background_tasks' tests skip.
_TASKS_PACKAGE = next((p for p in ("django.tasks", "django_tasks") if find_spec(p)), None)
if _TASKS_PACKAGE:
    TASKS = {"default": {"BACKEND": f"{_TASKS_PACKAGE}.backends.immediate.ImmediateBackend"}}
    if find_spec("django_tasks_db"):
        INSTALLED_APPS.append("django_tasks_db")
        TASKS["database"] = {"BACKEND": "django_tasks_db.DatabaseBackend"}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"
LOGIN_URL = "/login/"
# pytest-django's live server reads it once, at start, to route static files.
STATIC_URL = "/static/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Fast hashing for test users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

FERNET_KEYS = ["tests-fernet-key-one"]

GOOGLE_CONNECT = {
    "CLIENT_ID": "test-client-id.apps.googleusercontent.com",
    "CLIENT_SECRET": "TEST-CLIENT-SECRET-do-not-leak",
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
