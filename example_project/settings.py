"""Settings of the example site. Everything comes from the environment (or an
optional ``.env`` file at the repository root) through django-environ."""

import os
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from . import demo

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEV_SECRET_KEY = "example-project-insecure-development-key"
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
# Said once per run: not again by runserver's reloaded child (it inherits the
# environment), nor by the commands `make demo` runs after the first.
SECRET_KEY_WARNED = "EXAMPLE_SECRET_KEY_WARNED"
if SECRET_KEY == DEV_SECRET_KEY and not env.bool(SECRET_KEY_WARNED, default=False):
    warnings.warn(
        "SECRET_KEY is not set: the example project uses an insecure development key.",
        stacklevel=1,
    )
    os.environ[SECRET_KEY_WARNED] = "1"

# Off unless asked for: `make demo` and `make run` ask (DEBUG=1), for a local server.
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# Demo mode: the site runs against a local stand-in for Google
# (example_project/fake_google) and needs no internet. Only when asked for:
# the stand-in lets anyone pick any identity and its client secret is public.
DEMO_MODE = env.bool("DEMO_MODE", default=False)
if DEMO_MODE and not DEBUG:
    raise ImproperlyConfigured(
        "DEMO_MODE=1 with DEBUG=False: demo mode serves a stand-in for Google that lets "
        "anyone sign in as any demo identity, so it runs only with DEBUG on. Unset DEMO_MODE "
        "and set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET for a real site, or set DEBUG=1 "
        "for the demo (make demo does)."
    )
# A real client beside demo mode is a mistake either way round: the site would
# silently serve the stand-in while its operator believes Google is used. The
# message names the variables, never their values.
if DEMO_MODE and (
    env.str("GOOGLE_CLIENT_ID", default="") or env.str("GOOGLE_CLIENT_SECRET", default="")
):
    raise ImproperlyConfigured(
        "DEMO_MODE=1 with GOOGLE_CLIENT_ID or GOOGLE_CLIENT_SECRET set (in the environment or "
        ".env): demo mode never runs beside a real Google client. Unset DEMO_MODE to use that "
        "client, or unset GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET for the demo."
    )
# The server calls the stand-in's token and userinfo endpoints over HTTP, so
# it must know its own address: DEMO_BASE_URL, else the one `make demo`
# recorded in .demo/base-url (so commands run by hand find it too). Its host
# must be in ALLOWED_HOSTS; check example_project.E002 says so when it is not.
DEMO_BASE_URL = demo.base_url(env.str("DEMO_BASE_URL", default=""))

USE_TZ = True
TIME_ZONE = "UTC"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        **demo.SQLITE_OPTIONS,
        **DATABASES["default"].get("OPTIONS", {}),
    }
if DEMO_MODE:
    # The stand-in plays a separate service: its own database, never the site's.
    demo.STATE_DIR.mkdir(exist_ok=True)
    DATABASES["fake_google"] = demo.stand_in_database()
    DATABASE_ROUTERS = ["example_project.fake_google.routers.FakeGoogleRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "google_connect",
    "example_project",
]
if DEMO_MODE:
    INSTALLED_APPS.append("example_project.fake_google")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A dead grant met by a view becomes a reconnect of that account.
    "google_connect.middleware.ReconnectRequiredMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "example_project.context_processors.demo_mode",
            ]
        },
    }
]

STATIC_URL = "static/"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# The first key encrypts stored tokens, every key decrypts (see the key
# rotation procedure in docs/howto/rotate-keys.md). The default is for local development only.
FERNET_KEYS = env.list("FERNET_KEYS", default=["example-project-development-fernet-key"])

if DEMO_MODE:
    GOOGLE_CONNECT = demo.google_connect_settings(DEMO_BASE_URL)
    FAKE_GOOGLE = demo.fake_google_settings(DEMO_BASE_URL)
else:
    # Without a client id the site refuses to start: check example_project.E001.
    GOOGLE_CONNECT = {
        "CLIENT_ID": env.str("GOOGLE_CLIENT_ID", default=""),
        "CLIENT_SECRET": env.str("GOOGLE_CLIENT_SECRET", default=""),
        "SCOPE_SETS": demo.SCOPE_SETS,
    }
# google_connect's pages (connected, error) in the site's own layout.
GOOGLE_CONNECT["BASE_TEMPLATE"] = "base.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_codes": {"()": "example_project.log_filters.RedactAuthorizationCodes"},
    },
    "formatters": {
        # Django's own format for runserver's request lines.
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_codes"],
        },
    },
    "loggers": {
        "google_connect": {"handlers": ["console"], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
