"""Google scope names and the comparison of granted against required scopes."""

from __future__ import annotations

from collections.abc import Iterable

# Google accepts (and may answer with) either the short or the URL form of the
# two userinfo scopes; a user who granted one has granted the other.
_ALIASES = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}


def normalize(scope: str) -> str:
    return _ALIASES.get(scope, scope)


def parse(scope_string: str) -> list[str]:
    """Split an OAuth ``scope`` value (space-delimited, RFC 6749 §3.3)."""
    return scope_string.split()


def missing(required: Iterable[str], granted: Iterable[str]) -> list[str]:
    """The required scopes that are not among the granted ones, in required order."""
    granted_set = {normalize(s) for s in granted}
    return [s for s in required if normalize(s) not in granted_set]
