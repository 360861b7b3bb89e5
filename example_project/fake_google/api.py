"""The endpoints google_connect calls server to server: token, userinfo, revoke.

Requests and answers follow Google's formats, errors included:
``{"error": ..., "error_description": ...}`` with a 4xx status.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from .conf import client_with_id
from .identities import IDENTITIES
from .models import ACCESS_TOKEN_LIFETIME, AuthorizationCode, Grant, Token

EXPIRED_OR_REVOKED = "Token has been expired or revoked."
# Which userinfo claims each scope unlocks, as in Google's v3 userinfo.
EMAIL_SCOPES = {"email", "https://www.googleapis.com/auth/userinfo.email"}
PROFILE_SCOPES = {"profile", "https://www.googleapis.com/auth/userinfo.profile"}


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return no_store(JsonResponse({"error": error, "error_description": description}, status=status))


def no_store(response: HttpResponse) -> HttpResponse:
    # RFC 6749 §5.1: responses carrying tokens must not be cached.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_body(grant: Grant, scopes: str, *, with_refresh_token: bool) -> dict[str, Any]:
    """A token answer for ``scopes``: what the code or refresh token covers, which
    may be less than the grant holds (no ``include_granted_scopes``)."""
    body: dict[str, Any] = {
        "access_token": Token.objects.issue(grant, Token.Kind.ACCESS, scopes),
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        "scope": scopes,
        "token_type": "Bearer",
    }
    if with_refresh_token:
        # Google sends one only when it showed the consent screen, which the
        # stand-in always does.
        body["refresh_token"] = Token.objects.issue(grant, Token.Kind.REFRESH, scopes)
    if grant.expires_at is not None:
        # Time-limited access: every answer tells the time left, in seconds.
        left = grant.expires_at - timezone.now()
        body["refresh_token_expires_in"] = max(0, int(left.total_seconds()))
    return body


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(
    sensitive_post_parameters("code", "code_verifier", "client_secret", "refresh_token"),
    name="dispatch",
)
class TokenView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        grant_type = request.POST.get("grant_type")
        if not grant_type:
            return oauth_error("invalid_request", "Missing required parameter: grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            return oauth_error("unsupported_grant_type", "Invalid grant_type.")
        client = client_with_id(request.POST.get("client_id"))
        if client is None:
            return oauth_error("invalid_client", "The OAuth client was not found.", 401)
        secret = request.POST.get("client_secret", "")
        if not hmac.compare_digest(secret.encode(), client.client_secret.encode()):
            return oauth_error("invalid_client", "Unauthorized", 401)
        if grant_type == "authorization_code":
            return self.exchange_code(request, client.client_id)
        return self.refresh(request, client.client_id)

    def exchange_code(self, request: HttpRequest, client_id: str) -> HttpResponse:
        code = request.POST.get("code")
        if not code:
            return oauth_error("invalid_request", "Missing required parameter: code")
        issued = AuthorizationCode.objects.redeem(code)
        if issued is None or issued.grant.client_id != client_id or issued.grant.revoked_at:
            return oauth_error("invalid_grant", "Malformed auth code, or already used.")
        if request.POST.get("redirect_uri") != issued.redirect_uri:
            return oauth_error("redirect_uri_mismatch", "Bad Request")
        verifier = request.POST.get("code_verifier")
        if not issued.code_challenge:
            # A popup's or a mobile app's code, issued without PKCE: Google
            # refuses a verifier it did not ask for.
            if verifier:
                return oauth_error("invalid_grant", "code_verifier or verifier is not needed.")
            return no_store(
                JsonResponse(token_body(issued.grant, issued.scopes, with_refresh_token=True))
            )
        if not verifier:
            return oauth_error("invalid_grant", "Missing code verifier.")
        if not hmac.compare_digest(s256(verifier), issued.code_challenge):
            return oauth_error("invalid_grant", "Invalid code verifier.")
        body = token_body(issued.grant, issued.scopes, with_refresh_token=True)
        return no_store(JsonResponse(body))

    def refresh(self, request: HttpRequest, client_id: str) -> HttpResponse:
        refresh_token = request.POST.get("refresh_token")
        if not refresh_token:
            return oauth_error("invalid_request", "Missing required parameter: refresh_token")
        row = Token.objects.live(refresh_token, Token.Kind.REFRESH)
        if row is None or row.grant.client_id != client_id:
            return oauth_error("invalid_grant", EXPIRED_OR_REVOKED)
        if row.grant.reauth_required:
            # What Google answers when session control wants a new sign-in.
            body = {
                "error": "invalid_grant",
                "error_description": "reauth related error (invalid_rapt)",
                "error_subtype": "invalid_rapt",
            }
            return no_store(JsonResponse(body, status=400))
        return no_store(JsonResponse(token_body(row.grant, row.scopes, with_refresh_token=False)))


class UserInfoView(View):
    """``/oauth2/v3/userinfo``: the claims of the account behind a Bearer access token."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        row = bearer_access_token(request)
        if row is None:
            response = oauth_error("invalid_request", "Invalid Credentials", 401)
            response["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
            return response
        return no_store(JsonResponse(claims(request, row)))


def bearer_access_token(request: HttpRequest) -> Token | None:
    """The live access token the ``Authorization: Bearer`` header carries, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return Token.objects.live(token.strip(), Token.Kind.ACCESS)


def claims(request: HttpRequest, token: Token) -> dict[str, Any]:
    identity = IDENTITIES[token.grant.identity]
    granted = set(token.scope_list)
    profile = bool(granted & PROFILE_SCOPES)
    email = bool(granted & EMAIL_SCOPES)
    # The picture is an absolute URL on the stand-in itself, as Google's points
    # at its own servers.
    picture = request.build_absolute_uri(reverse("fake_google:avatar", args=[identity.key]))
    body: dict[str, Any] = {
        "sub": identity.sub,
        "name": identity.name if profile else None,
        "given_name": identity.given_name if profile else None,
        "family_name": identity.family_name if profile else None,
        "picture": picture if profile else None,
        "email": identity.email if email else None,
        "email_verified": True if email else None,
        "locale": identity.locale if profile else None,
    }
    # Only the claims the granted scopes allow, in Google's order.
    return {name: value for name, value in body.items() if value is not None}


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("token"), name="dispatch")
class RevokeView(View):
    """``/revoke`` (RFC 7009): any token of a grant revokes the whole grant."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        token = request.POST.get("token")
        if not token:
            return oauth_error("invalid_request", "Missing required parameter: token")
        row = Token.objects.live(token)
        if row is None:
            return oauth_error("invalid_token", "Token expired or revoked")
        row.grant.revoke()
        return no_store(JsonResponse({}))
