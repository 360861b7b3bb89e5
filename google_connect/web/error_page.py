"""The connect error page's context: the reason in words, the advice that fits, a way back."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from google_connect.conf import get_settings
from google_connect.exceptions import GoogleConnectError, ScopeNotGranted
from google_connect.scopes.names import describe
from google_connect.web.error_texts import SPEC_TEXT, needs_disconnect, texts_for


def error_context(error: GoogleConnectError, *, next_url: str | None) -> dict[str, Any]:
    """The error page's context; ``next_url`` (already checked as safe) is kept by "Try again"."""
    heading, text = texts_for(error)
    retry_url = reverse("google_connect:authorize")
    if next_url:
        retry_url += "?" + urlencode({"next": next_url})
    missing = error.missing_scopes if isinstance(error, ScopeNotGranted) else []
    return {
        "reason": error.reason,
        "heading": heading,
        "text": text,
        # Google's consent-screen wording, so the user finds the box to tick.
        "missing_permissions": [
            {"scope": scope, "description": describe(scope)} for scope in missing
        ],
        # Only where removing the grant at Google is the fix (see error_texts.py).
        "spec_text": SPEC_TEXT if needs_disconnect(error) else "",
        "help_url": get_settings().HELP_URL,
        "retry_url": retry_url,
    }
