"""Which OAuth client a new connection uses (``CLIENT_FOR_REQUEST``): by host name.

The demo opened on the second client's host (the other loopback name) uses
that client; any other host uses ``default``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest

from google_connect.conf import get_settings


def google_client(request: HttpRequest) -> str:
    host = request.get_host()
    for name, client in get_settings().CLIENTS.items():
        if urlsplit(client.get("REDIRECT_URI") or "").netloc == host:
            return name
    return "default"
