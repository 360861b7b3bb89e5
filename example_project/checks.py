"""The example site's own system checks: it starts in a mode the user chose, or not at all."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register
from django.http.request import validate_host

# What Django accepts with DEBUG on and ALLOWED_HOSTS empty.
DEBUG_HOSTS = [".localhost", "127.0.0.1", "[::1]"]


@register()
def check_mode(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if getattr(settings, "DEMO_MODE", False):
        return _check_demo_address()
    if settings.GOOGLE_CONNECT.get("CLIENT_ID"):
        return []
    return [
        Error(
            "Neither a Google OAuth client nor demo mode is configured.",
            hint="Set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET (in the environment or .env) "
            "to use real Google, or DEMO_MODE=1 to use the local stand-in for Google "
            "(make demo sets it).",
            id="example_project.E001",
        )
    ]


def _check_demo_address() -> list[Error]:
    host = urlsplit(settings.DEMO_BASE_URL).hostname or ""
    allowed = settings.ALLOWED_HOSTS or (DEBUG_HOSTS if settings.DEBUG else [])
    if validate_host(host, allowed):
        return []
    return [
        Error(
            f"The demo server calls itself at {settings.DEMO_BASE_URL}, but ALLOWED_HOSTS "
            f"does not allow {host!r}.",
            hint=f"Add {host} to ALLOWED_HOSTS (for example ALLOWED_HOSTS=127.0.0.1,{host}), "
            "or serve the demo at 127.0.0.1.",
            id="example_project.E002",
        )
    ]
