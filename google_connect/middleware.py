"""Opt-in: turn an uncaught ``ReconnectRequired`` into a reconnect of that account."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from google_connect.exceptions import ReconnectRequired
from google_connect.web import consent
from google_connect.web.views import safe_next_url


class ReconnectRequiredMiddleware:
    """Add to ``MIDDLEWARE`` (after ``AuthenticationMiddleware``) to opt in.

    A view that lets ``ReconnectRequired`` escape (``authorized_session()``
    found the grant dead) sends its user to reconnect that account, with
    ``next`` back to the page. Only the account's owner is sent there; any
    other case goes on to Django's usual handling.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ReconnectRequired):
            return None
        account = exception.account
        user = getattr(request, "user", None)
        if account is None or user is None or not user.is_authenticated:
            return None
        if getattr(account, "user_id", None) != user.pk:
            return None
        # After a POST, going back means the page the form was on.
        if request.method in ("GET", "HEAD"):
            back = request.get_full_path()
        else:
            back = safe_next_url(request, request.headers.get("Referer")) or ""
        return HttpResponseRedirect(
            consent.authorize_url(
                account=account, next_url=consent.without_partial_flag(back) or None
            )
        )
