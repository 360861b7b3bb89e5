"""System checks for the ``GOOGLE_CONNECT`` setting and the encryption keys."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import connections, router
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import get_template
from django.utils.functional import Promise
from django.utils.module_loading import import_string

from google_connect import scopes
from google_connect.conf import (
    DEFAULTS,
    HEALTH_THRESHOLD_DEFAULTS,
    MAX_BULK_CONCURRENCY,
    SETTING_NAME,
)
from google_connect.fields import build_fernet, use_hkdf
from google_connect.scopes import sets as scope_sets

ID = "google_connect.{}"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    raw = getattr(settings, SETTING_NAME, None)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, not {type(raw).__name__}.",
                hint=f'Set {SETTING_NAME} = {{"CLIENT_ID": "...", "CLIENT_SECRET": "..."}}.',
                id=ID.format("E004"),
            )
        ]
    errors: list[Error | Warning] = []
    named: dict[str, Any] = raw["CLIENTS"] if isinstance(raw.get("CLIENTS"), dict) else {}
    # CLIENTS["default"] stands for the top-level pair; named clients with
    # CLIENT_FOR_REQUEST need no default at all (see _check_clients).
    top_level = "default" not in named and (not named or raw.get("CLIENT_ID"))
    if top_level and not raw.get("CLIENT_ID"):
        errors.append(
            Error(
                f"{SETTING_NAME}['CLIENT_ID'] is not set.",
                hint="Create an OAuth client of type 'Web application' in the Google Cloud "
                "console and put its client id here.",
                id=ID.format("E001"),
            )
        )
    if top_level and not raw.get("CLIENT_SECRET"):
        errors.append(
            Error(
                f"{SETTING_NAME}['CLIENT_SECRET'] is not set.",
                hint="Put the OAuth client's secret here, read from the environment, "
                "never committed.",
                id=ID.format("E002"),
            )
        )
    for key in sorted(set(raw) - set(DEFAULTS)):
        errors.append(
            Error(
                f"{SETTING_NAME} has an unknown key {key!r}.",
                hint="Known keys: " + ", ".join(DEFAULTS) + ".",
                id=ID.format("E003"),
            )
        )
    errors.extend(_check_clients(raw))
    errors.extend(_check_scopes(raw))
    errors.extend(_check_numbers(raw))
    errors.extend(_check_redirect_uri(raw))
    errors.extend(_check_scope_sets(raw))
    errors.extend(_check_days(raw))
    errors.extend(_check_risc(raw))
    errors.extend(_check_issuer(raw))
    errors.extend(_check_require_issuer(raw))
    errors.extend(_check_tls(raw))
    errors.extend(_check_urls(raw))
    errors.extend(_check_base_template(raw))
    errors.extend(_check_observability(raw))
    errors.extend(_check_task_backend(raw))
    errors.extend(_check_bulk_concurrency(raw))
    errors.extend(_check_api_authentication(raw))
    if not isinstance(raw.get("USE_ID_TOKEN", False), bool):
        errors.append(
            Error(
                f"{SETTING_NAME}['USE_ID_TOKEN'] must be True or False.",
                hint="True reads the identity from the token answer's id_token instead of "
                "calling userinfo; the default, False, calls userinfo.",
                id=ID.format("E030"),
            )
        )
    return errors


def _check_bulk_concurrency(raw: dict[str, Any]) -> Iterable[Error]:
    value = raw.get("BULK_CONCURRENCY", DEFAULTS["BULK_CONCURRENCY"])
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_BULK_CONCURRENCY
    ):
        yield Error(
            f"{SETTING_NAME}['BULK_CONCURRENCY'] must be None or a whole number from 1 to "
            f"{MAX_BULK_CONCURRENCY}, not {value!r}.",
            hint=f"The calls to Google in flight at once within one bulk task's chunk on the "
            f"async engine; the default is {DEFAULTS['BULK_CONCURRENCY']}. None runs the "
            "chunks on their thread pool instead.",
            id=ID.format("E140"),
        )


def _check_task_backend(raw: dict[str, Any]) -> Iterable[Error]:
    alias = raw.get("TASK_BACKEND")
    if alias is None:
        return
    if not isinstance(alias, str) or not alias:
        yield Error(
            f"{SETTING_NAME}['TASK_BACKEND'] must be None or the name of a TASKS backend.",
            hint="None enqueues google_connect.background_tasks on the site's default "
            "task backend.",
            id=ID.format("E120"),
        )
        return
    if importlib.util.find_spec("django.tasks") is None and (
        importlib.util.find_spec("django_tasks") is None
    ):
        yield Error(
            f"{SETTING_NAME}['TASK_BACKEND'] is set, but Django's Tasks framework is not "
            "installed.",
            hint="Use Django 6.0 or later, or on Django 5.2 install the backport: "
            "pip install 'google-connect[tasks]'.",
            id=ID.format("E121"),
        )
        return
    # Both the framework and its backport read TASKS; unset, it is one "default".
    backends = getattr(settings, "TASKS", None) or {"default": {}}
    if alias not in backends:
        yield Error(
            f"{SETTING_NAME}['TASK_BACKEND'] is {alias!r}, which TASKS does not define.",
            hint="Name one of the site's TASKS backends: " + ", ".join(sorted(backends)) + ".",
            id=ID.format("E122"),
        )


CLIENT_KEYS = ("CLIENT_ID", "CLIENT_SECRET", "TYPE", "REDIRECT_URI", "SCOPES", "REPLACES")
CLIENT_TYPES = ("web", "ios", "android")


def _check_clients(raw: dict[str, Any]) -> Iterable[Error]:
    named = raw.get("CLIENTS", {})
    if not isinstance(named, dict) or not all(
        isinstance(name, str) and name and isinstance(entry, dict) for name, entry in named.items()
    ):
        yield Error(
            f"{SETTING_NAME}['CLIENTS'] must be a dict of client names to dicts.",
            hint='For example {"default": {"CLIENT_ID": "...", "CLIENT_SECRET": "..."}, '
            '"ios": {"CLIENT_ID": "...", "TYPE": "ios"}}.',
            id=ID.format("E080"),
        )
        return
    if "default" in named and (raw.get("CLIENT_ID") or raw.get("CLIENT_SECRET")):
        yield Error(
            f"{SETTING_NAME} sets the default client twice: CLIENT_ID/CLIENT_SECRET and "
            "CLIENTS['default'].",
            hint="Keep one: the top-level pair, or CLIENTS['default'].",
            id=ID.format("E081"),
        )
    if (
        named
        and "default" not in named
        and not raw.get("CLIENT_ID")
        and not raw.get("CLIENT_FOR_REQUEST")
    ):
        yield Error(
            f"{SETTING_NAME}['CLIENTS'] has no client named 'default', and "
            "CLIENT_FOR_REQUEST is not set to choose another.",
            hint="Name one web client 'default', or set CLIENT_FOR_REQUEST to a function "
            "of the request returning the name of the web client to use.",
            id=ID.format("E082"),
        )
    seen: dict[str, str] = {}
    if raw.get("CLIENT_ID") and "default" not in named:
        seen[str(raw["CLIENT_ID"])] = "default"
    for name, entry in named.items():
        where = f"{SETTING_NAME}['CLIENTS'][{name!r}]"
        for key in sorted(set(entry) - set(CLIENT_KEYS)):
            yield Error(
                f"{where} has an unknown key {key!r}.",
                hint="Known keys: " + ", ".join(CLIENT_KEYS) + "; every other setting is "
                "site-wide.",
                id=ID.format("E080"),
            )
        client_id = entry.get("CLIENT_ID")
        if not isinstance(client_id, str) or not client_id:
            yield Error(
                f"{where}['CLIENT_ID'] is not set.",
                hint="The id of an OAuth client of this site, from the Google Cloud console.",
                id=ID.format("E080"),
            )
        elif client_id in seen:
            yield Error(
                f"{where} has the client id of {seen[client_id]!r}.",
                hint="Each client id once: a grant is recorded with its client's id.",
                id=ID.format("E083"),
            )
        else:
            seen[client_id] = name
        kind = entry.get("TYPE", "web")
        if kind not in CLIENT_TYPES:
            yield Error(
                f"{where}['TYPE'] is {kind!r}, which is no client type.",
                hint="'web' (the default), 'ios' or 'android'.",
                id=ID.format("E085"),
            )
        elif kind == "web" and not entry.get("CLIENT_SECRET"):
            yield Error(
                f"{where} is a web client without a CLIENT_SECRET.",
                hint="Put the client's secret here, read from the environment; a client of "
                "an iOS or Android app has none: give it its TYPE.",
                id=ID.format("E084"),
            )
        replaces = entry.get("REPLACES")
        if replaces is not None and (replaces == name or replaces not in _client_names(raw)):
            yield Error(
                f"{where}['REPLACES'] names {replaces!r}, which is no other configured client.",
                hint="Name the client this one replaces, and keep it configured while its "
                "accounts move: its grants are refreshed and revoked with it.",
                id=ID.format("E087"),
            )
        if "SCOPES" in entry and not _is_list_of_strings(entry["SCOPES"]):
            yield Error(
                f"{where}['SCOPES'] must be a non-empty list of scope strings.",
                hint="Leave it out to use SCOPES.",
                id=ID.format("E005"),
            )
        yield from _check_redirect_uri(entry, where=f"{where}['REDIRECT_URI']")
    path = raw.get("CLIENT_FOR_REQUEST")
    if path is not None:
        try:
            chooser = import_string(path) if isinstance(path, str) else None
        except ImportError:
            chooser = None
        if not callable(chooser):
            yield Error(
                f"{SETTING_NAME}['CLIENT_FOR_REQUEST'] must be the dotted path of a function.",
                hint="A function of the request returning the name of a web client in CLIENTS, "
                'for example "myproject.tenancy.google_client".',
                id=ID.format("E086"),
            )


def _client_names(raw: dict[str, Any]) -> set[str]:
    names = set(raw.get("CLIENTS") or {})
    if raw.get("CLIENT_ID"):
        names.add("default")
    return names


def _is_list_of_strings(value: Any, *, allow_empty: bool = False) -> bool:
    return (
        isinstance(value, list | tuple)
        and (allow_empty or len(value) > 0)
        and all(isinstance(item, str) and item for item in value)
    )


def _check_scopes(raw: dict[str, Any]) -> Iterable[Error]:
    requested = raw.get("SCOPES", DEFAULTS["SCOPES"])
    if not _is_list_of_strings(requested):
        yield Error(
            f"{SETTING_NAME}['SCOPES'] must be a non-empty list of scope strings.",
            hint='For example ["openid", "email", "https://www.googleapis.com/auth/calendar"].',
            id=ID.format("E005"),
        )
        return
    required = raw.get("REQUIRED_SCOPES")
    if required is None:
        return
    if not _is_list_of_strings(required, allow_empty=True):
        yield Error(
            f"{SETTING_NAME}['REQUIRED_SCOPES'] must be None or a list of scope strings.",
            hint="Leave it unset to require every scope in SCOPES.",
            id=ID.format("E006"),
        )
        return
    not_requested = scopes.missing(required, requested)
    if not_requested:
        yield Error(
            f"{SETTING_NAME}['REQUIRED_SCOPES'] lists scopes that SCOPES does not request: "
            + ", ".join(not_requested)
            + ".",
            hint="A scope that is never asked for can never be granted; add it to SCOPES.",
            id=ID.format("E006"),
        )
    # REQUIRED_SCOPES is site-wide, a client's SCOPES replace SCOPES for its
    # flows: each web client must ask for all of them. (iOS and Android
    # clients start no flow, so ask for nothing; _check_clients reports a
    # malformed CLIENTS or SCOPES.)
    named = raw.get("CLIENTS")
    for name, entry in named.items() if isinstance(named, dict) else ():
        if not isinstance(entry, dict) or entry.get("TYPE", "web") != "web":
            continue
        own = entry.get("SCOPES")
        if own is None or not _is_list_of_strings(own):
            continue
        not_requested = scopes.missing(required, own)
        if not_requested:
            yield Error(
                f"{SETTING_NAME}['REQUIRED_SCOPES'] lists scopes that "
                f"{SETTING_NAME}['CLIENTS'][{name!r}]['SCOPES'] does not request: "
                + ", ".join(not_requested)
                + ".",
                hint="A scope that is never asked for can never be granted: add it to that "
                "client's SCOPES, or leave its SCOPES out to use SCOPES.",
                id=ID.format("E006"),
            )


def _check_numbers(raw: dict[str, Any]) -> Iterable[Error]:
    for key, code in (("TIMEOUT", "E007"), ("STATE_MAX_AGE", "E008")):
        value = raw.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            yield Error(
                f"{SETTING_NAME}[{key!r}] must be a positive number of seconds.",
                hint=f"The default is {DEFAULTS[key]}.",
                id=ID.format(code),
            )


def _check_redirect_uri(
    raw: dict[str, Any], *, where: str = f"{SETTING_NAME}['REDIRECT_URI']"
) -> Iterable[Error]:
    uri = raw.get("REDIRECT_URI")
    if not uri:
        return
    parts = urlsplit(str(uri))
    if parts.scheme == "https" or settings.DEBUG:
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return
    yield Error(
        f"{where} must use https outside DEBUG.",
        hint="Google accepts plain http redirect URIs only for localhost.",
        id=ID.format("E010"),
    )


def _is_loopback(hostname: str | None) -> bool:
    return hostname in LOCAL_HOSTS


# Google's endpoints: outside DEBUG each must use TLS
# unless it is a local stand-in (the loopback rule of E010).
TLS_URL_KEYS = (
    "AUTHORIZE_URL",
    "TOKEN_URL",
    "USERINFO_URL",
    "REVOKE_URL",
    "RISC_CONFIG_URL",
    "RISC_API_URL",
)


def _check_tls(raw: dict[str, Any]) -> Iterable[Error | Warning]:
    if settings.DEBUG:
        return
    use_id_token = raw.get("USE_ID_TOKEN", False) is True
    for key in TLS_URL_KEYS:
        value = raw.get(key, DEFAULTS[key])
        if not isinstance(value, str):
            continue  # E012, E050 or E052 says what is wrong with it.
        parts = urlsplit(value)
        if parts.scheme != "http" or _is_loopback(parts.hostname):
            continue
        if key in ("RISC_CONFIG_URL", "RISC_API_URL"):
            yield Error(
                f"{SETTING_NAME}[{key!r}] must use https outside DEBUG.",
                hint="Security events are trusted because their signing keys come from "
                "Google over TLS; plain http is accepted only for localhost.",
                id=ID.format("E053"),
            )
        elif key == "TOKEN_URL" and use_id_token:
            yield Error(
                f"{SETTING_NAME}['TOKEN_URL'] must use https outside DEBUG when "
                "USE_ID_TOKEN is True.",
                hint="The id_token is trusted without checking its signature because it "
                "comes straight from the token endpoint over TLS; plain http is accepted "
                "only for localhost.",
                id=ID.format("E031"),
            )
        else:
            yield Warning(
                f"{SETTING_NAME}[{key!r}] does not use https outside DEBUG.",
                hint="Codes, tokens and the client secret would cross the network in the "
                "clear; plain http is meant for a local stand-in on localhost.",
                id=ID.format("W010"),
            )


def _check_scope_sets(raw: dict[str, Any]) -> Iterable[Error]:
    sets = raw.get("SCOPE_SETS", {})
    if not isinstance(sets, dict):
        yield Error(
            f"{SETTING_NAME}['SCOPE_SETS'] must be a dict of scope set names to scope lists.",
            hint='For example {"calendar": ["https://www.googleapis.com/auth/calendar.readonly"]}.',
            id=ID.format("E070"),
        )
        return
    for name, value in sets.items():
        if not isinstance(name, str) or not scope_sets.NAME_RE.match(name):
            yield Error(
                f"{SETTING_NAME}['SCOPE_SETS'] has a name that is not slug-like: {name!r}.",
                hint="Use lowercase letters, digits, '-' and '_', like 'calendar' or "
                "'drive-files': the name goes into URLs.",
                id=ID.format("E071"),
            )
        members = value.get("scopes") if isinstance(value, dict) else value
        label = value.get("label", "") if isinstance(value, dict) else ""
        if not _is_list_of_strings(members) or not isinstance(label, str | Promise):
            yield Error(
                f"{SETTING_NAME}['SCOPE_SETS'][{name!r}] must be a non-empty list of scope "
                'strings, or a dict {"scopes": [...], "label": "..."}.',
                hint='For example ["https://www.googleapis.com/auth/calendar.readonly"].',
                id=ID.format("E072"),
            )
            continue
        odd = [scope for scope in members or () if not _looks_like_a_scope(scope)]
        if odd:
            yield Error(
                f"{SETTING_NAME}['SCOPE_SETS'][{name!r}] holds strings that are not Google "
                "scopes: " + ", ".join(repr(scope) for scope in odd) + ".",
                hint="A scope is 'openid', 'email', 'profile' or an https URL without spaces, "
                "like 'https://www.googleapis.com/auth/drive.file'.",
                id=ID.format("E073"),
            )


def _looks_like_a_scope(scope: str) -> bool:
    if scope in ("openid", "email", "profile"):
        return True
    parts = urlsplit(scope)
    return (
        parts.scheme == "https"
        and bool(parts.netloc)
        and scope.isprintable()
        and not any(char.isspace() for char in scope)
    )


# Google ends a refresh token left unused for six months.
GOOGLE_IDLE_EXPIRY_DAYS = 180


def _check_days(raw: dict[str, Any]) -> Iterable[Error | Warning]:
    for key, code in (("EXPIRY_WARNING_DAYS", "E040"), ("KEEP_ALIVE_DAYS", "E041")):
        value = raw.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            yield Error(
                f"{SETTING_NAME}[{key!r}] must be a positive whole number of days.",
                hint=f"The default is {DEFAULTS[key]}.",
                id=ID.format(code),
            )
        elif key == "KEEP_ALIVE_DAYS" and value >= GOOGLE_IDLE_EXPIRY_DAYS:
            yield Warning(
                f"{SETTING_NAME}['KEEP_ALIVE_DAYS'] is {value}: Google ends refresh tokens "
                f"unused for six months, so check_google_accounts --keep-alive would come "
                f"too late.",
                hint="Keep it well under 180 days; the default is 150.",
                id=ID.format("W040"),
            )


# Google's endpoints and the error page's guide: absolute http(s) URLs.
URL_KEYS = ("AUTHORIZE_URL", "TOKEN_URL", "USERINFO_URL", "REVOKE_URL", "HELP_URL")


def _check_urls(raw: dict[str, Any]) -> Iterable[Error]:
    for key in URL_KEYS:
        value = raw.get(key, DEFAULTS[key])
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
            yield Error(
                f"{SETTING_NAME}[{key!r}] must be an absolute http(s) URL.",
                hint=f"Leave it unset for Google's ({DEFAULTS[key]}).",
                id=ID.format("E012"),
            )
    success = raw.get("SUCCESS_URL")
    if success is not None and (not isinstance(success, str) or not success):
        yield Error(
            f"{SETTING_NAME}['SUCCESS_URL'] must be None, a URL or a URL name.",
            hint='For example "/" or "home"; None redirects to "/".',
            id=ID.format("E013"),
        )


def _check_risc(raw: dict[str, Any]) -> Iterable[Error]:
    for key, code in (("RISC_CONFIG_URL", "E050"), ("RISC_API_URL", "E052")):
        value = raw.get(key, DEFAULTS[key])
        if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
            yield Error(
                f"{SETTING_NAME}[{key!r}] must be an http(s) URL.",
                hint=f"The default is {DEFAULTS[key]}.",
                id=ID.format(code),
            )
    audiences = raw.get("RISC_AUDIENCES")
    if audiences is not None and not _is_list_of_strings(audiences):
        yield Error(
            f"{SETTING_NAME}['RISC_AUDIENCES'] must be None or a non-empty list of strings.",
            hint="Leave it unset to accept security events addressed to any configured "
            "client (CLIENT_ID and CLIENTS); list ids here only to narrow or widen that.",
            id=ID.format("E051"),
        )


def _check_issuer(raw: dict[str, Any]) -> Iterable[Error]:
    issuer = raw.get("ISSUER", DEFAULTS["ISSUER"])
    if not isinstance(issuer, str) or urlsplit(issuer).scheme != "https":
        yield Error(
            f"{SETTING_NAME}['ISSUER'] must be an https URL string.",
            hint=f"Leave it unset for Google ({DEFAULTS['ISSUER']}).",
            id=ID.format("E011"),
        )


def _check_require_issuer(raw: dict[str, Any]) -> Iterable[Error]:
    if not isinstance(raw.get("REQUIRE_ISSUER", False), bool):
        yield Error(
            f"{SETTING_NAME}['REQUIRE_ISSUER'] must be True or False.",
            hint="True refuses a redirect callback without iss (RFC 9207); the default, "
            "False, accepts one.",
            id=ID.format("E014"),
        )


def _check_api_authentication(raw: dict[str, Any]) -> Iterable[Error]:
    if "API_AUTHENTICATION" not in raw:
        return
    value = raw["API_AUTHENTICATION"]
    if not _is_list_of_strings(value):
        yield Error(
            f"{SETTING_NAME}['API_AUTHENTICATION'] must be a non-empty list of dotted paths.",
            hint="Each names a callable(request) -> user | None, tried in order; the default is "
            "['google_connect.web.api.authentication.session_user'].",
            id=ID.format("E100"),
        )
        return
    for path in value:
        try:
            authenticator = import_string(path)
        except ImportError:
            yield Error(
                f"{SETTING_NAME}['API_AUTHENTICATION'] names {path!r}, which cannot be imported.",
                hint="Give the dotted path of a callable(request) -> user | None.",
                id=ID.format("E101"),
            )
            continue
        if not callable(authenticator):
            yield Error(
                f"{SETTING_NAME}['API_AUTHENTICATION'] names {path!r}, which is not callable.",
                hint="Give the dotted path of a callable(request) -> user | None.",
                id=ID.format("E102"),
            )


def _check_base_template(raw: dict[str, Any]) -> Iterable[Error]:
    name = raw.get("BASE_TEMPLATE")
    if name is None:
        return
    if not isinstance(name, str) or not name:
        yield Error(
            f"{SETTING_NAME}['BASE_TEMPLATE'] must be None or a template name.",
            hint='The site\'s base template, for example "base.html"; None uses a minimal '
            "built-in layout.",
            id=ID.format("E020"),
        )
        return
    try:
        get_template(name)
    except TemplateSyntaxError:
        return  # It exists; rendering a page shows what is wrong with it.
    except TemplateDoesNotExist:
        yield Error(
            f"{SETTING_NAME}['BASE_TEMPLATE'] names {name!r}, which no template loader finds.",
            hint="Name the site's base template as {% extends %} would; it must have the "
            "blocks title and content.",
            id=ID.format("E021"),
        )


# A bearer token guessed by no one: 32 characters at least (secrets.token_urlsafe()).
MIN_HEALTH_TOKEN_LENGTH = 32
# The opt-in gauges: the setting, what it reports, and its two checks' ids.
GAUGES = (
    ("ACCOUNTS_GAUGE", "accounts by status", "E134", "W130"),
    ("GRANTS_ENDING_GAUGE", "time-limited grants ending soon", "E135", "W131"),
)


def _check_observability(raw: dict[str, Any]) -> Iterable[Error | Warning]:
    token = raw.get("HEALTH_TOKEN")
    if token is not None and (not isinstance(token, str) or len(token) < MIN_HEALTH_TOKEN_LENGTH):
        yield Error(
            f"{SETTING_NAME}['HEALTH_TOKEN'] must be None or a string of at least "
            f"{MIN_HEALTH_TOKEN_LENGTH} characters.",
            hint="Generate one with python -c 'import secrets; print(secrets.token_urlsafe())' "
            "and read it from the environment; None lets only staff users see the endpoint.",
            id=ID.format("E130"),
        )
    thresholds = raw.get("HEALTH_THRESHOLDS", {})
    if not isinstance(thresholds, dict):
        yield Error(
            f"{SETTING_NAME}['HEALTH_THRESHOLDS'] must be a dict.",
            hint="Keys: " + ", ".join(HEALTH_THRESHOLD_DEFAULTS) + ".",
            id=ID.format("E131"),
        )
        thresholds = {}
    for key in sorted(set(thresholds) - set(HEALTH_THRESHOLD_DEFAULTS), key=str):
        yield Error(
            f"{SETTING_NAME}['HEALTH_THRESHOLDS'] has an unknown key {key!r}.",
            hint="Known keys: " + ", ".join(HEALTH_THRESHOLD_DEFAULTS) + ".",
            id=ID.format("E132"),
        )
    for key, value in thresholds.items():
        if (
            key in HEALTH_THRESHOLD_DEFAULTS
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int) or value < 0)
        ):
            yield Error(
                f"{SETTING_NAME}['HEALTH_THRESHOLDS'][{key!r}] must be None or a whole "
                "number, 0 or more.",
                hint="The most the endpoint tolerates before it answers 503; None: no limit.",
                id=ID.format("E133"),
            )
    for key, reports, not_bool, no_api in GAUGES:
        gauge = raw.get(key, False)
        if not isinstance(gauge, bool):
            yield Error(
                f"{SETTING_NAME}['{key}'] must be True or False.",
                hint=f"True reports an OpenTelemetry gauge of {reports}.",
                id=ID.format(not_bool),
            )
        elif gauge and importlib.util.find_spec("opentelemetry") is None:
            yield Warning(
                f"{SETTING_NAME}['{key}'] is True, but opentelemetry-api is not installed.",
                hint=f"pip install 'google-connect[otel]', or leave {key} unset.",
                id=ID.format(no_api),
            )


@register()
def check_fernet_keys(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    keys = getattr(settings, "FERNET_KEYS", None)
    if keys is None:
        return [
            Warning(
                "FERNET_KEYS is not set, so tokens are encrypted with a key derived from "
                "SECRET_KEY.",
                hint="Rotating SECRET_KEY would then make every stored token unreadable. Set "
                "FERNET_KEYS to a list holding one long random string, kept apart from "
                "SECRET_KEY.",
                id=ID.format("W001"),
            )
        ]
    if not _is_list_of_strings(keys):
        return [
            Error(
                "FERNET_KEYS must be a non-empty list of strings.",
                hint="The first key encrypts; every key in the list decrypts. "
                'For example FERNET_KEYS = [env("FERNET_KEY")].',
                id=ID.format("E009"),
            )
        ]
    return list(_check_fernet_key_values(keys))


def _check_fernet_key_values(keys: list[str]) -> Iterable[Error]:
    hkdf = use_hkdf()
    for position, key in enumerate(keys):
        try:
            build_fernet(key, hkdf)
        except (ValueError, TypeError):
            # By position only: the message reaches logs and CI output.
            yield Error(
                f"FERNET_KEYS[{position}] is not a valid Fernet key: without FERNET_USE_HKDF, "
                "each key must be 32 url-safe base64-encoded bytes.",
                hint='Generate one with python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())", or leave FERNET_USE_HKDF at its '
                "default (True), which derives a key from any string.",
                id=ID.format("E060"),
            )


@register(Tags.database)
def check_sqlite_transaction_mode(
    app_configs: Any = None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[Warning]:
    """SQLite databases google_connect writes to should begin writes IMMEDIATE.

    A database check (``migrate`` and ``check --database`` run it), as
    Django's own MySQL strict-mode warning is: it is about a connection.
    """
    from google_connect.store.models import (
        GoogleAccount,  # checks.py is imported before the models are ready
    )

    found = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "sqlite" or not router.allow_migrate_model(alias, GoogleAccount):
            continue
        if connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") == "IMMEDIATE":
            continue
        found.append(
            Warning(
                f"The SQLite database {alias!r} begins transactions DEFERRED: concurrent "
                "token refreshes fail with 'database is locked'.",
                hint='Add "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20} to '
                f"DATABASES[{alias!r}]: a write then waits its turn for up to 20 s "
                "instead of failing when another connection writes.",
                id=ID.format("W090"),
            )
        )
    return found
