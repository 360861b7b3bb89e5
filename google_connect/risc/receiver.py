"""The receiver of Google's security events (Cross-Account Protection, RFC 8935 push).

Google POSTs one Security Event Token per request. The answer is 202 when
the token is accepted (a token already received included: it is ignored),
and 400 with RFC 8935's ``{"err": ..., "description": ...}`` for anything
else, whatever the body holds. The only other answer is 503, when Google's
signing keys could not be fetched and none are cached: the token may be
good, and Google delivers it again later.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from google_connect.google.risc_keys import RiscKeysUnavailable
from google_connect.risc import actions as risc_actions
from google_connect.risc import token as security_event_token
from google_connect.risc.token import InvalidSecurityEvent

logger = logging.getLogger("google_connect")

RETRY_AFTER_SECONDS = 60


def error(err: str, description: str, status: int = 400) -> JsonResponse:
    response = JsonResponse({"err": err, "description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class RiscReceiverView(View):
    """``google_connect:risc``: POST only, no login, no CSRF token, any content type."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            token = security_event_token.decode(_body(request))
        except InvalidSecurityEvent as exc:
            logger.warning("Google security event refused: %s (%s)", exc.err, exc.description)
            return error(exc.err, exc.description)
        except RiscKeysUnavailable:
            response = error(
                "temporarily_unavailable", "Google's signing keys could not be fetched.", 503
            )
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        risc_actions.receive(token)
        return HttpResponse(status=202)


def _body(request: HttpRequest) -> bytes:
    # Refused before it is read when the length announced is too large.
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidSecurityEvent(
            "invalid_request", "The Content-Length is not a number."
        ) from None
    if length > security_event_token.MAX_TOKEN_BYTES:
        raise InvalidSecurityEvent("invalid_request", "The body is too large.")
    try:
        return request.body
    except (RequestDataTooBig, RawPostDataException):
        raise InvalidSecurityEvent("invalid_request", "The body cannot be read.") from None
