"""The API's errors: ``{"error": reason, "message": ..., "help_url"?: ...}`` with a status.

A failed connect answers with the connect error page's reason code and
text (the permissions to leave ticked and the spec's sentence included), and
the guide's address where the page shows it. The API's own
refusals (bad input, not signed in, CSRF) have codes and sentences of
their own below.
"""

from __future__ import annotations

import math
from typing import Any

from django.http import JsonResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from google_connect.exceptions import (
    AccountLinkedToAnotherUser,
    GoogleAPIError,
    GoogleConnectError,
    ScopeNotGranted,
)
from google_connect.web.error_page import error_context

# Seconds a client waits before trying again when Google did not say.
DEFAULT_RETRY_AFTER = 30

API_TEXTS: dict[str, Promise] = {
    "invalid_body": _("The request body is not valid."),
    "not_authenticated": _("Sign in to this site first."),
    "csrf_failed": _("The request did not come from this site's own page (CSRF check failed)."),
    "custom_header_required": _(
        "A popup's code must be sent with the header X-Requested-With: XmlHttpRequest."
    ),
    "session_required": _(
        "Connecting by redirect needs a signed-in browser session: the callback checks it."
    ),
    "not_found": _("No such Google account."),
    "method_not_allowed": _("This method is not allowed here."),
    "body_too_large": _("The request body is larger than 16 KiB."),
    "unsupported_media_type": _("The request body must be JSON (Content-Type: application/json)."),
}
# not_found for a path under api/v1/ that is no endpoint (urls.py's last API route).
UNKNOWN_ENDPOINT_TEXT = _("No such endpoint in this API.")


class ApiError(Exception):
    """An API refusal: raised by the views' helpers, answered by ``response``."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message if message is not None else str(API_TEXTS[reason])
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(f"{status} {reason}")

    def response(self) -> JsonResponse:
        body = {"error": self.reason, "message": self.message, **self.extra}
        response = JsonResponse(body, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def status_for(error: GoogleConnectError) -> int:
    if isinstance(error, AccountLinkedToAnotherUser):
        return 409
    if isinstance(error, GoogleAPIError) and error.temporary:
        return 503
    return 400


def retry_after(error: GoogleConnectError) -> dict[str, str]:
    seconds = getattr(error, "retry_after", None) or DEFAULT_RETRY_AFTER
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def from_connect_error(error: GoogleConnectError) -> ApiError:
    """The API's answer to a failed connect: the error page's reason, text and guide."""
    # The page's own context, so that the API cannot say less than the page does.
    page = error_context(error, next_url=None)
    status = status_for(error)
    extra: dict[str, Any] = {}
    # The guide only where the page shows it: with the spec's sentence.
    if page["spec_text"]:
        extra["help_url"] = page["help_url"]
    if isinstance(error, ScopeNotGranted):
        extra["missing_scopes"] = list(error.missing_scopes)
        extra["missing_permissions"] = page["missing_permissions"]
    return ApiError(
        status,
        error.reason,
        page_text(page),
        headers=retry_after(error) if status == 503 else None,
        extra=extra,
    )


def page_text(page: dict[str, Any]) -> str:
    """The error page's words in one string: heading, sentences, the permissions
    to leave ticked (in Google's consent-screen wording) and the spec's sentence."""
    parts = [f"{page['heading']}."]
    if page["text"]:
        parts.append(str(page["text"]))
    permissions = [str(permission["description"]) for permission in page["missing_permissions"]]
    if permissions:
        # "... leave these ticked:" introduces them, as the page's list does.
        parts.append("; ".join(permissions) + ".")
    if page["spec_text"]:
        parts.append(str(page["spec_text"]))
    return " ".join(parts)
