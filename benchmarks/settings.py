"""Settings for the benchmarks that measure google_connect alone.

``DATABASE_URL`` picks the database (in-memory SQLite when unset). The
benchmarks run in Django's test database, named apart from the test suite's
(``test_<name>_bench``) so both can run at once against the same server.
"""

import environ

env = environ.Env()

SECRET_KEY = "benchmarks-only-secret-key-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///:memory:")}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_bench"}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "google_connect",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

# Database-backed sessions (Django's default, spelled out): every library pays
# for loading and saving them.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
ROOT_URLCONF = "benchmarks.urls"
LOGIN_URL = "/login/"

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

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

FERNET_KEYS = env.list("BENCH_FERNET_KEYS", default=["benchmarks-fernet-key-one"])

GOOGLE_CONNECT = {
    "CLIENT_ID": "bench-client-id.apps.googleusercontent.com",
    "CLIENT_SECRET": "BENCH-CLIENT-SECRET",
    # The stand-in Google of the refresh and revoke benchmarks, when one runs.
    **{
        key: value
        for key, value in {
            "TOKEN_URL": env.str("BENCH_TOKEN_URL", default=""),
            "REVOKE_URL": env.str("BENCH_REVOKE_URL", default=""),
        }.items()
        if value
    },
}

# The bulk tasks' engine inside a task (celery_scale's workers): "none" for
# the thread pool, a number for the async engine with that many calls in
# flight; unset, google_connect's default.
if bulk_concurrency := env.str("BENCH_BULK_CONCURRENCY", default=""):
    GOOGLE_CONNECT["BULK_CONCURRENCY"] = (
        None if bulk_concurrency == "none" else int(bulk_concurrency)
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
