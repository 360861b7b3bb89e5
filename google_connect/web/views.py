"""The two views of the OAuth dance: start it, and take Google's answer."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.debug import sensitive_variables

from google_connect.conf import get_settings
from google_connect.exceptions import (
    AccessDenied,
    GoogleAPIError,
    GoogleConnectError,
    InvalidCallback,
    UnknownClient,
    UnknownScopeSet,
)
from google_connect.google import telemetry
from google_connect.google.answers import code_of
from google_connect.google.clients import OAuthClient
from google_connect.google.issuer import check_issuer
from google_connect.google.oauth import GoogleOAuthClient
from google_connect.store import activity
from google_connect.store.models import GoogleAccount
from google_connect.web import consent, flow
from google_connect.web.connecting import connect_with_code
from google_connect.web.error_page import error_context
from google_connect.web.pages import render_page

logger = logging.getLogger("google_connect")

MAX_NEXT_LENGTH = 2048
REDACTED = "********************"
# Where WSGI servers also pass the raw request target on, query string
# included: REQUEST_URI (uWSGI, mod_wsgi) and RAW_URI (gunicorn).
RAW_URI_KEYS = ("REQUEST_URI", "RAW_URI")


def safe_next_url(request: HttpRequest, url: str | None) -> str | None:
    """``url`` if it stays on this site (no open redirect), else None."""
    if not url or len(url) > MAX_NEXT_LENGTH:
        return None
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


def no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def start_flow(
    request: HttpRequest,
    *,
    client: OAuthClient,
    wanted: consent.ConsentRequest,
    next_url: str | None,
) -> str:
    """Keep a new flow in the session and return Google's consent URL for it.

    The authorize view redirects there; the JSON API hands it to a
    single-page app that navigates there. Either way the callback finishes it.
    """
    redirect_uri = client.redirect_uri or request.build_absolute_uri(
        reverse("google_connect:connect")
    )
    pending = flow.begin(
        request,
        redirect_uri=redirect_uri,
        next_url=next_url,
        scope_sets=wanted.sets,
        client=client.name,
        client_id=client.client_id,
    )
    return GoogleOAuthClient(get_settings(), client=client).authorization_url(
        redirect_uri=redirect_uri,
        state=pending.state,
        code_challenge=pending.code_challenge,
        scopes=wanted.scopes,
        login_hint=wanted.login_hint,
    )


class AuthorizeView(LoginRequiredMixin, View):
    """Send the user to Google's consent screen with a fresh state and PKCE challenge."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            client = flow.client_for_request(request)
            wanted = consent.consent_request(request, base=client.scopes)
        except (UnknownScopeSet, UnknownClient) as exc:
            return no_store(ConnectView().failure(request, exc))
        url = start_flow(
            request,
            client=client,
            wanted=wanted,
            next_url=safe_next_url(request, request.GET.get("next")),
        )
        return no_store(HttpResponseRedirect(url))


class ConnectView(View):
    """Google's redirect URI: turn an authorization code into a stored account."""

    http_method_names = ["get"]
    template_name = "google_connect/connected.html"
    error_template_name = "google_connect/error.html"
    # The flow's own ``next``, once its state is known: "Try again" keeps it.
    next_url: str | None = None

    def get(self, request: HttpRequest) -> HttpResponse:
        with telemetry.operation("connect"):
            try:
                response = self.connect(request)
            except GoogleConnectError as exc:
                activity.connect_failed(exc.reason)
                telemetry.annotate(reason=exc.reason)
                response = self.failure(request, exc)
        # The URL that led here carried the authorization code: no page
        # reached from this one may see it in a Referer header.
        response["Referrer-Policy"] = "no-referrer"
        return no_store(response)

    @sensitive_variables()
    def connect(self, request: HttpRequest) -> HttpResponse:
        code = self._take_code(request)
        pending = flow.consume(request, _single(request, "state"))
        self.next_url = pending.next_url
        # Before anything else of the answer is trusted, Google's error included.
        check_issuer(request.GET.getlist("iss"))
        if "error" in request.GET:
            raise AccessDenied(code_of({"error": request.GET.get("error")}))
        if code is None:
            raise InvalidCallback()

        # The client that started the flow: the code was issued to it.
        connected = connect_with_code(
            request,
            user=request.user,
            oauth_client=flow.client_of(pending),
            code=code,
            redirect_uri=pending.redirect_uri,
            code_verifier=pending.code_verifier,
            scope_set_names=pending.scope_sets,
        )
        account, created = connected.account, connected.created
        next_url = safe_next_url(request, pending.next_url)
        # A set the user unticked is no failure: the account keeps what was granted.
        missing_sets = account.missing_scope_sets(*pending.scope_sets)
        if missing_sets:
            return consent.partial_grant_redirect(request, next_url, missing_sets)
        if next_url:
            return HttpResponseRedirect(next_url)
        # No ``next``: the page links onward, to the accounts page and the site.
        home_url = resolve_url(get_settings().SUCCESS_URL or "/")
        context = {"account": account, "created": created, "home_url": home_url}
        return render_page(request, self.template_name, context)

    def failure(self, request: HttpRequest, error: GoogleConnectError) -> HttpResponse:
        logger.warning(
            "Google account connection failed: reason=%s user_id=%s",
            error.reason,
            getattr(request.user, "pk", None),
        )
        context = error_context(error, next_url=safe_next_url(request, self.next_url))
        return render_page(request, self.error_template_name, context, status=400)

    @sensitive_variables()
    def _take_code(self, request: HttpRequest) -> str | None:
        """Read the authorization code, then blank it out of the request.

        Whatever looks at this request later (error reports, middleware,
        logging of the site's own) sees no usable code.
        """
        codes = request.GET.getlist("code")
        if not codes:
            return None
        # Built afresh rather than with .copy(), which deep-copies every value.
        cleaned = QueryDict(mutable=True, encoding=request.GET.encoding)
        for name, values in request.GET.lists():
            cleaned.setlist(name, [REDACTED] if name == "code" else values)
        request.GET = cleaned  # type: ignore[assignment]  # stubs want it immutable
        # As UTF-8 whatever charset the request's Content-Type names: a
        # charset that cannot encode the values (ascii) must not be a 500.
        query = urlencode(
            [(name, value) for name, values in cleaned.lists() for value in values],
            safe="*",
            quote_via=quote,
        )
        request.META["QUERY_STRING"] = query
        # Under ASGI the raw query string is in the scope too.
        scope = getattr(request, "scope", None)
        if isinstance(scope, dict) and "query_string" in scope:
            request.scope = {**scope, "query_string": query.encode("ascii")}  # type: ignore[attr-defined]  # ASGIRequest
        # Error reports show all of META, so the raw request target too.
        for key in RAW_URI_KEYS:
            if isinstance(request.META.get(key), str):
                path = request.META[key].partition("?")[0]
                request.META[key] = f"{path}?{request.META['QUERY_STRING']}"
        if len(codes) != 1 or not codes[0] or len(codes[0]) > 2048:
            return None
        return codes[0]


class DisconnectView(LoginRequiredMixin, View):
    """Revoke one of the user's Google accounts at Google and forget it (POST only)."""

    http_method_names = ["post"]
    failure_template_name = "google_connect/disconnect_failed.html"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        # Someone else's account is indistinguishable from a missing one.
        account = get_object_or_404(GoogleAccount, pk=pk, user=request.user)
        destination = safe_next_url(request, request.POST.get("next")) or resolve_url(
            get_settings().SUCCESS_URL or "/"
        )
        label = str(account)
        readable = account.tokens_decryptable
        try:
            revoked = account.disconnect(request=request)
        except GoogleConnectError as exc:
            logger.warning("Disconnecting account_id=%s failed: %s", account.pk, exc)
            text = disconnect_failure_message(exc) % {"account": label}
            if not _messages_enabled(request):
                context = {"message": text, "destination": destination}
                return render_page(request, self.failure_template_name, context, status=503)
            messages.error(request, text)
            return redirect(destination)
        if _messages_enabled(request):
            remaining = GoogleAccount.objects.using(account._state.db).filter(user=account.user_id)
            if google_not_told(readable=readable, revoked=revoked):
                text = google_not_told_message()
            elif not remaining.exists():
                # The page behind the redirect lists no account now: say why.
                text = _("You disconnected %(account)s; no Google account is connected now.")
            else:
                text = _("%(account)s is disconnected.")
            messages.success(request, text % {"account": label})
        return redirect(destination)


def google_not_told(*, readable: bool, revoked: bool) -> bool:
    """Whether a disconnect deleted the account without telling Google.

    ``readable`` is ``tokens_decryptable`` before the disconnect. An
    unreadable refresh token beside a readable access token still revokes
    the grant (either token ends it): then Google was told.
    """
    return not readable and not revoked


def google_not_told_message() -> str:
    """What to tell the user when Google was not told, with an ``%(account)s`` slot."""
    return _(
        "%(account)s is disconnected. Its stored access could not be read, so "
        "Google was not told: remove this site's access in your Google Account too."
    )


def disconnect_failure_message(error: GoogleConnectError) -> str:
    """What to tell the user when a disconnect failed, with an ``%(account)s`` slot.

    "Could not be reached" only when no answer came (a timeout, a refused
    connection); an HTTP error answer is Google answering with an error.
    """
    if isinstance(error, GoogleAPIError) and error.status_code is not None:
        return _(
            "Google answered with an error, so %(account)s is still connected. "
            "Please try again later."
        )
    if isinstance(error, GoogleAPIError):
        return _(
            "Google could not be reached, so %(account)s is still connected. "
            "Please try again in a few minutes."
        )
    return _("%(account)s could not be disconnected, so it is still connected.")


def _messages_enabled(request: HttpRequest) -> bool:
    return hasattr(request, "_messages")


def _single(request: HttpRequest, name: str) -> str | None:
    """The value of a query parameter given exactly once, else None."""
    values = request.GET.getlist(name)
    return values[0] if len(values) == 1 else None
