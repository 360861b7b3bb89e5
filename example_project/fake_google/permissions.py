"""The stand-in's "Third-party apps with account access" page: the demo's HELP_URL.

It lists the live grants of the demo client, each with **Remove access**,
which revokes the grant and tells the site at once through a security event
(``risc.push_tokens_revoked``), as Google does for sites with Cross-Account
Protection.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from . import risc
from .conf import registered_client
from .identities import IDENTITIES
from .models import Grant


class PermissionsView(View):
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        client = registered_client()
        grants = Grant.objects.filter(client_id=client.client_id, revoked_at__isnull=True)
        rows = [(grant, IDENTITIES.get(grant.identity)) for grant in grants.order_by("-pk")]
        context = {"client_name": client.name, "rows": rows, "removed": "removed" in request.GET}
        return render(request, "fake_google/permissions.html", context)


class RemoveAccessView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        grant = get_object_or_404(Grant, pk=pk, revoked_at__isnull=True)
        grant.revoke()
        risc.push_tokens_revoked(grant)
        return HttpResponseRedirect(reverse("fake_google:permissions") + "?removed=1")
