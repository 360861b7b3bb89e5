from datetime import datetime

import requests
from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie

from google_connect.conf import get_settings
from google_connect.decorators import google_scopes_required
from google_connect.exceptions import GoogleConnectError, ReconnectRequired
from google_connect.google import clients
from google_connect.web.flow import client_for_request

from . import demo


def home(request: HttpRequest) -> HttpResponse:
    accounts = list(request.user.google_accounts.all()) if request.user.is_authenticated else []
    # One Google account connected through two OAuth clients is two rows that
    # look alike (the demo's second client, at the other loopback name): then
    # each row names its client, as the admin does.
    names = [client_name(account.client_id) for account in accounts]
    if len(set(names)) > 1:
        for account, name in zip(accounts, names, strict=True):
            account.client_name = name
    return render(request, "home.html", {"accounts": accounts})


def client_name(client_id: str) -> str:
    """The site's name for an account's OAuth client; its id once no longer configured."""
    found = clients.with_id(client_id)
    return found.name if found is not None else client_id


@google_scopes_required("calendar")
def next_events(request: HttpRequest) -> HttpResponse:
    """The user's next events, read through the Calendar API.

    Back from a consent where Calendar was unticked, ``request.google_account``
    is None: the page says so and offers to grant it, rather than asking again.
    """
    account = request.google_account
    context = {"account": account, "events": [], "unavailable": False}
    if account is not None:
        try:
            context["events"] = upcoming_events(account)
        except ReconnectRequired:
            raise  # ReconnectRequiredMiddleware sends the user to reconnect
        except (requests.RequestException, GoogleConnectError, ValueError):
            context["unavailable"] = True
    return render(request, "events.html", context)


def upcoming_events(account) -> list[dict]:
    url = demo.calendar_api_url(get_settings().TOKEN_URL) + "/calendars/primary/events"
    params = {
        "timeMin": timezone.now().isoformat(),
        "singleEvents": "true",
        "orderBy": "startTime",
        "maxResults": 5,
    }
    response = account.authorized_session().get(url, params=params)
    response.raise_for_status()
    return [
        {
            "summary": item.get("summary", ""),
            "start": datetime.fromisoformat(item["start"]["dateTime"]),
        }
        for item in response.json().get("items", [])
        if "dateTime" in item.get("start", {})
    ]


# Google's script; in demo mode the stand-in serves its own at the same path.
GSI_SCRIPT_URL = "https://accounts.google.com/gsi/client"


@login_required
@ensure_csrf_cookie
def spa(request: HttpRequest) -> HttpResponse:
    """A single-page app on the JSON API: list, connect with the popup, disconnect.

    The page is plain JavaScript with no build step; what it needs from the
    server (the web client's id, the scopes, the API's address) is handed to it
    as JSON. The session authenticates its API calls, so it sends the CSRF token.
    """
    client = client_for_request(request)
    gsi = (
        reverse("fake_google:gsi_client")
        if apps.is_installed("example_project.fake_google")
        else GSI_SCRIPT_URL
    )
    config = {
        "clientId": client.client_id,
        "scope": " ".join(client.scopes),
        "api": reverse("google_connect:api-openapi").rsplit("/", 1)[0],
    }
    return render(request, "spa.html", {"config": config, "gsi_script_url": gsi})
