"""Google Identity Services' code model, popup mode, as the stand-in offers it.

``/gsi/client`` is the script a page loads (Google serves it at
``accounts.google.com/gsi/client``): ``google.accounts.oauth2.initCodeClient``
with ``ux_mode: "popup"``. ``requestCode()`` opens the stand-in's consent page
in a popup with ``redirect_uri=postmessage``; after Allow or Cancel the popup
shows ``/gsi/relay``, which posts the answer (``{code, scope, state}`` or
``{error, state}``) back to the opener page with ``postMessage``, at the
origin the request named and the client authorizes, and closes. The page
then sends the code to its backend, which exchanges it with
``redirect_uri=postmessage`` and no PKCE verifier.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from .authorization import javascript_origins
from .conf import registered_clients

# The answer's keys the relay passes on, as Google's callback receives them.
ANSWER_KEYS = ("code", "scope", "state", "error")


@require_GET
def client_script(request: HttpRequest) -> HttpResponse:
    url = request.build_absolute_uri(reverse("fake_google:authorize"))
    # A JSON string is a JavaScript string literal; the URL holds no "</".
    context = {"consent_url": json.dumps(url)}
    return render(request, "fake_google/gsi_client.js", context, content_type="text/javascript")


@require_GET
def popup_relay(request: HttpRequest) -> HttpResponse:
    origin = request.GET.get("origin", "")
    allowed = set().union(*(javascript_origins(c) for c in registered_clients()))
    # Never post a code to an origin no client authorizes.
    answer = (
        {key: request.GET[key] for key in ANSWER_KEYS if key in request.GET}
        if origin in allowed
        else {"error": "origin_mismatch"}
    )
    context = {"answer": answer, "origin": origin if origin in allowed else ""}
    response = render(request, "fake_google/gsi_relay.html", context)
    # The code is in this page's URL: no Referer may carry it on.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response
