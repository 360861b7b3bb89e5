"""The JSON API's views: list and disconnect accounts, start a redirect flow,
exchange a popup's or a mobile app's code.

Every outcome is JSON with ``Cache-Control: no-store``; no view renders a
page or redirects. The checks run in one order: the method (405), who is
calling (401), the body's size and type (413, 415), CSRF for a session
caller (403), the body's fields (400), then the endpoint's own rules.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import GoogleConnectError
from google_connect.google import clients, telemetry
from google_connect.scopes import sets as scope_sets
from google_connect.store import activity
from google_connect.store.models import GoogleAccount
from google_connect.web import consent, flow
from google_connect.web.api import representation, schema
from google_connect.web.api.authentication import Caller, authenticate, csrf_failure
from google_connect.web.api.body import Field, read_json
from google_connect.web.api.errors import (
    UNKNOWN_ENDPOINT_TEXT,
    ApiError,
    from_connect_error,
    retry_after,
)
from google_connect.web.connecting import connect_with_code
from google_connect.web.views import (
    disconnect_failure_message,
    google_not_told,
    google_not_told_message,
    safe_next_url,
    start_flow,
)

logger = logging.getLogger("google_connect")

POPUP, MOBILE = schema.POPUP, schema.MOBILE
# Google's redirect URIs for codes that came back without a redirect.
POPUP_REDIRECT_URI = "postmessage"
MOBILE_REDIRECT_URI = ""
CUSTOM_HEADER = "X-Requested-With"
CUSTOM_HEADER_VALUE = "XmlHttpRequest"


def no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class ApiView(View):
    """JSON for every outcome; ``handle`` does the endpoint's work for a known caller."""

    fields: ClassVar[tuple[Field, ...]] = ()
    # False: anyone may call (the OpenAPI document).
    authenticated = True

    # ``data`` holds the authorization code: no error report may show it.
    @sensitive_variables()
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            if request.method is None or request.method.lower() not in self.http_method_names:
                raise ApiError(
                    405,
                    "method_not_allowed",
                    headers={"Allow": ", ".join(m.upper() for m in self.http_method_names)},
                )
            caller = authenticate(request) if self.authenticated else None
            if self.authenticated and caller is None:
                raise ApiError(401, "not_authenticated")
            data = read_json(request, self.fields) if request.method == "POST" else {}
            if caller is not None and caller.by_session:
                reason = csrf_failure(request)
                if reason is not None:
                    logger.warning("google_connect API: CSRF check failed: %s", reason)
                    raise ApiError(403, "csrf_failed")
            response = self.handle(request, caller, data, **kwargs)
        except ApiError as exc:
            response = exc.response()
        return no_store(response)

    def handle(
        self, request: HttpRequest, caller: Caller | None, data: dict[str, Any], **kwargs: Any
    ) -> HttpResponse:
        raise NotImplementedError


class AccountsView(ApiView):
    http_method_names = ["get"]

    def handle(
        self, request: HttpRequest, caller: Caller | None, data: dict[str, Any], **kwargs: Any
    ) -> HttpResponse:
        assert caller is not None
        accounts = (
            GoogleAccount.objects.filter(user=caller.user)
            .defer("access_token", "refresh_token")
            .order_by("-created_at", "-pk")
        )
        return JsonResponse({"accounts": [representation.account(a) for a in accounts]})


class DisconnectView(ApiView):
    http_method_names = ["post"]

    def handle(
        self, request: HttpRequest, caller: Caller | None, data: dict[str, Any], **kwargs: Any
    ) -> HttpResponse:
        assert caller is not None
        pk = str(kwargs["pk"])
        # Digits only, and short enough for any integer primary key column.
        if not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
            raise ApiError(404, "not_found")
        # Someone else's account is indistinguishable from a missing one.
        account = GoogleAccount.objects.filter(pk=int(pk), user=caller.user).first()
        if account is None:
            raise ApiError(404, "not_found")
        label, pk_value = str(account), account.pk
        # Read before the row goes: the page's "Google was not told" rests on it.
        readable = account.tokens_decryptable
        try:
            revoked = account.disconnect(request=request)
        except GoogleConnectError as exc:
            logger.warning("Disconnecting account_id=%s failed: %s", account.pk, exc)
            message = disconnect_failure_message(exc) % {"account": label}
            raise ApiError(503, exc.reason, message, headers=retry_after(exc)) from None
        # Revoked now or found already revoked (Google's invalid_token, or tokens
        # blanked after an earlier revocation): either way no grant is left live.
        told = not google_not_told(readable=readable, revoked=revoked)
        body: dict[str, Any] = {"id": pk_value, "disconnected": True, "revoked_at_google": told}
        if not told:
            # The grant may still be live at Google: the user must remove it there.
            body["message"] = google_not_told_message() % {"account": label}
        return JsonResponse(body)


class AuthorizeView(ApiView):
    """Start a redirect flow: the state goes into the session, as the page flow's does."""

    http_method_names = ["post"]
    fields = schema.AUTHORIZE_FIELDS

    def handle(
        self, request: HttpRequest, caller: Caller | None, data: dict[str, Any], **kwargs: Any
    ) -> HttpResponse:
        assert caller is not None
        if not caller.by_session:
            # The callback checks the flow against the session's user.
            raise ApiError(400, "session_required")
        try:
            client = flow.client_for_request(request)
            sets = scope_sets.parse(data.get("scope_sets", ()))
            wanted = consent.ConsentRequest(
                sets=sets,
                scopes=scope_sets.requested_scopes(sets, base=client.scopes),
                login_hint=None,
            )
        except GoogleConnectError as exc:
            raise from_connect_error(exc) from None
        url = start_flow(
            request,
            client=client,
            wanted=wanted,
            next_url=safe_next_url(request, data.get("next")),
        )
        return JsonResponse({"authorization_url": url})


class CodeView(ApiView):
    """Exchange a code from Google Identity Services' popup or a mobile app, and connect."""

    http_method_names = ["post"]
    fields = schema.CODE_FIELDS

    @sensitive_variables()
    def handle(
        self, request: HttpRequest, caller: Caller | None, data: dict[str, Any], **kwargs: Any
    ) -> HttpResponse:
        assert caller is not None
        popup = data["flow"] == POPUP
        if popup and request.headers.get(CUSTOM_HEADER, "").lower() != CUSTOM_HEADER_VALUE.lower():
            # Google's guide for the popup: a header a cross-site form cannot send.
            raise ApiError(403, "custom_header_required")
        # The same operation as the page's callback, in traces and the daily counts.
        with telemetry.operation("connect"):
            try:
                oauth_client = flow.client_for_request(request)
                names = scope_sets.parse(data.get("scope_sets", ()))
                connected = connect_with_code(
                    request,
                    user=caller.user,
                    oauth_client=oauth_client,
                    code=data["code"],
                    redirect_uri=POPUP_REDIRECT_URI if popup else MOBILE_REDIRECT_URI,
                    # Codes issued without PKCE: Google refuses a verifier.
                    code_verifier=None,
                    scope_set_names=names,
                    authorized_parties=() if popup else mobile_client_ids(),
                )
            except GoogleConnectError as exc:
                activity.connect_failed(exc.reason)
                telemetry.annotate(reason=exc.reason)
                logger.warning(
                    "Google account connection failed: reason=%s user_id=%s flow=%s",
                    exc.reason,
                    caller.user.pk,
                    data["flow"],
                )
                raise from_connect_error(exc) from None
        body = representation.account(connected.account)
        return JsonResponse(body, status=201 if connected.created else 200)


def mobile_client_ids() -> tuple[str, ...]:
    """The iOS and Android clients' ids: the ``azp`` of a mobile app's id_token."""
    return tuple(
        client.client_id
        for client in clients.configured().values()
        if client.type in (clients.IOS, clients.ANDROID) and client.client_id
    )


class OpenApiView(ApiView):
    http_method_names = ["get"]
    authenticated = False

    def handle(
        self, request: HttpRequest, caller: Caller | None, data: dict[str, Any], **kwargs: Any
    ) -> HttpResponse:
        return JsonResponse(schema.document(request))


@method_decorator(csrf_exempt, name="dispatch")
class NotFoundView(View):
    """Any other path under ``api/v1/``: the API's JSON 404, not Django's HTML page.

    Whatever the method and whoever calls: a client with a wrong path (a
    trailing slash, an old version) must get an answer it can parse. Exempt
    from CSRF so that an unsafe method gets this 404, not Django's HTML 403.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return no_store(ApiError(404, "not_found", str(UNKNOWN_ENDPOINT_TEXT)).response())
