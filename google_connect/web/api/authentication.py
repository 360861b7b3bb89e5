"""Who is calling the JSON API: the ``API_AUTHENTICATION`` callables, tried in order.

Each is ``callable(request) -> user | None``. The default, ``session_user``,
is Django's session (``request.user``). The API views are ``csrf_exempt``
and run Django's CSRF check themselves when ``session_user`` is the one
that matched: a session cookie is sent by the browser on its own, so a
request it authenticates must prove it came from the site's own page. Any
other callable is taken to read no cookie (a bearer token, an API key); a
callable that does read cookies must make its own CSRF check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string

from google_connect.conf import get_settings

SESSION = "google_connect.web.api.authentication.session_user"


def session_user(request: HttpRequest) -> Any:
    """The user of Django's session (``AuthenticationMiddleware``), None when anonymous."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


@dataclass(frozen=True)
class Caller:
    user: Any
    # True when the session authenticated the request: CSRF applies.
    by_session: bool


def authenticate(request: HttpRequest) -> Caller | None:
    """The first ``API_AUTHENTICATION`` callable's user, None when none knows the caller."""
    for path in get_settings().API_AUTHENTICATION:
        authenticator: Callable[[HttpRequest], Any] = import_string(path)
        user = authenticator(request)
        if user is not None and getattr(user, "is_authenticated", False):
            return Caller(user, by_session=authenticator is session_user)
    return None


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> Any:
        # The reason, not the failure page: the API answers JSON.
        return reason


def _no_response(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError("the CSRF check only inspects the request")


def csrf_failure(request: HttpRequest) -> str | None:
    """Why Django's CSRF check refuses ``request``, None when it passes."""
    check = _CsrfCheck(_no_response)
    check.process_request(request)
    # A view of None: the API views are csrf_exempt, and this check must run anyway.
    # Typed as Django's (a response or None); _reject above makes it the reason.
    reason: object = check.process_view(request, None, (), {})  # type: ignore[arg-type]
    return reason if isinstance(reason, str) else None
