"""The pages a browser sees: Google's consent screen, the permissions page and the avatars."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from google_connect.scopes.names import describe

from . import authorization, risc
from .authorization import AuthorizationError, AuthorizationRequest
from .conf import client_with_id, end_now_hook, registered_client
from .forms import ConsentForm
from .identities import IDENTITIES
from .models import AuthorizationCode, Grant


class ConsentView(View):
    """``/o/oauth2/v2/auth``: GET shows the consent screen, POST is the visitor's answer.

    The form posts back to the same URL, query string included, so the
    authorization request is validated afresh on the answer too.
    """

    http_method_names = ["get", "post"]
    template_name = "fake_google/consent.html"
    error_template_name = "fake_google/error.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            auth = authorization.parse(request.GET, requested_client(request))
        except AuthorizationError as exc:
            return self.refuse(request, exc)
        hinted, scopes = to_ask(auth)
        form = ConsentForm(requested_scopes=scopes)
        if hinted:
            form.initial["identity"] = hinted
        return self.consent_page(request, auth, form)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            auth = authorization.parse(request.GET, requested_client(request))
        except AuthorizationError as exc:
            return self.refuse(request, exc)
        if request.POST.get("decision") == "cancel":
            return HttpResponseRedirect(auth.redirect(error="access_denied"))
        if request.POST.get("decision") != "allow":
            return self.refuse(
                request, AuthorizationError("invalid_request", "Press Allow or Cancel.")
            )
        # Every requested scope is a valid answer, not only those the page
        # showed: a page answered again after Back (its scopes granted since)
        # is a consent like any other, not "Select a valid choice".
        form = ConsentForm(request.POST, requested_scopes=auth.scopes)
        if not form.is_valid():
            return self.consent_page(request, auth, form, status=400)
        ticked = set(form.cleaned_data["scopes"])
        identity = form.cleaned_data["identity"]
        granted = [scope for scope in auth.scopes if scope in ticked]
        if auth.include_granted_scopes:
            granted = Grant.objects.union_with_earlier(auth.client.client_id, identity, granted)
        grant = Grant.objects.consent(
            auth.client.client_id, identity, granted, expires_at=form.access_until()
        )
        code = AuthorizationCode.objects.issue(
            grant,
            scopes=granted,
            redirect_uri=auth.redirect_uri,
            code_challenge=auth.code_challenge,
        )
        return HttpResponseRedirect(auth.redirect(code=code, scope=" ".join(granted)))

    def consent_page(
        self,
        request: HttpRequest,
        auth: AuthorizationRequest,
        form: ConsentForm,
        status: int = 200,
    ) -> HttpResponse:
        context = {"client_name": auth.client.name, "form": form}
        return render(request, self.template_name, context, status=status)

    def refuse(self, request: HttpRequest, error: AuthorizationError) -> HttpResponse:
        context = {"error": error.error, "description": error.description, "status": error.status}
        return render(request, self.error_template_name, context, status=error.status)


def to_ask(auth: AuthorizationRequest) -> tuple[str | None, tuple[str, ...]]:
    """The identity a ``login_hint`` names (Google preselects it) and the scopes to show.

    With ``include_granted_scopes``, Google asks only for what that account has
    not granted yet; the rest joins the new grant anyway (incremental auth).
    """
    hinted = next((i.key for i in IDENTITIES.values() if i.email == auth.login_hint), None)
    if hinted is None or not auth.include_granted_scopes:
        return hinted, auth.scopes
    held = set(Grant.objects.union_with_earlier(auth.client.client_id, hinted, []))
    return hinted, tuple(scope for scope in auth.scopes if scope not in held)


class PermissionsView(View):
    """``/permissions``: like myaccount.google.com/permissions, the demo grants and "Remove access".

    In demo mode it is the error page's guide (``HELP_URL``), so its advice
    works offline. Removing a grant revokes it, as the revoke endpoint does:
    the site's stored tokens stop working. "End now" ends a time-limited
    grant as if its days had passed: the demo's clock, which Google has not
    (see ``end_now_hook``).
    """

    http_method_names = ["get", "post"]
    template_name = "fake_google/permissions.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        grants = [
            {
                "grant": grant,
                "client_name": client_name(grant.client_id),
                "identity": IDENTITIES.get(grant.identity),
                "scopes": [describe(scope) for scope in grant.scope_list],
            }
            for grant in Grant.objects.live().order_by("-created_at")
        ]
        context = {
            "grants": grants,
            "removed": "removed" in request.GET,
            "ended": "ended" in request.GET,
        }
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest) -> HttpResponse:
        grant_id = request.POST.get("grant", "")
        if not (grant_id.isascii() and grant_id.isdigit() and len(grant_id) < 19):
            raise Http404("No such grant.")
        grant = get_object_or_404(Grant.objects.live(), pk=grant_id)
        if request.POST.get("action") == "end":
            if grant.expires_at is None:
                raise Http404("Only a time-limited grant can be ended now.")
            grant.end_now()
            # Google tells no one when a time limit runs out: a site sees it
            # from the end date it stored, which the days passing would have
            # made past. The demo makes them pass at the site too, if it asks.
            hook, identity = end_now_hook(), IDENTITIES.get(grant.identity)
            if hook is not None and identity is not None:
                hook(client_id=grant.client_id, sub=identity.sub, ended_at=grant.expires_at)
            return HttpResponseRedirect(reverse("fake_google:permissions") + "?ended=1")
        grant.revoke()
        # As Google does for sites with Cross-Account Protection: the site
        # hears of it at once, through a signed security event.
        risc.push_tokens_revoked(grant)
        return HttpResponseRedirect(reverse("fake_google:permissions") + "?removed=1")


def avatar(request: HttpRequest, key: str) -> HttpResponse:
    identity = IDENTITIES.get(key)
    if identity is None:
        raise Http404("No such demo account.")
    return HttpResponse(identity.avatar_svg(), content_type="image/svg+xml")


def client_name(client_id: str) -> str:
    """The name a grant's client registered under (each of the demo's two has its own)."""
    client = client_with_id(client_id)
    return client.name if client is not None else client_id


def requested_client(request: HttpRequest):
    """The client the authorization request names (``parse`` refuses an unknown one)."""
    return client_with_id(request.GET.get("client_id")) or registered_client()
