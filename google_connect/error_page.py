"""What the connect view's error page shows: the reason in words, the guide, a way back."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from .conf import get_settings
from .error_texts import SPEC_TEXT, texts_for
from .exceptions import GoogleConnectError, ScopeNotGranted
from .scope_names import describe


def error_context(error: GoogleConnectError, *, next_url: str | None) -> dict[str, Any]:
    """The error page's context; ``next_url`` (already checked as safe) is kept by "Try again"."""
    heading, text = texts_for(error.reason)
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
        "spec_text": SPEC_TEXT,
        "help_url": get_settings().HELP_URL,
        "retry_url": retry_url,
    }
