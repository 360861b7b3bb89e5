"""What the connect error page says for each failure reason: a heading and plain sentences.

One entry per ``reason`` (see exceptions.py), keyed by the reason string; an
entry says what happened and what to do now. The spec's sentence and its
guide ("disconnect Google completely then retry") are shown only where that
is the fix: where Google holds a grant that keeps this site from getting
what it needs (``needs_disconnect``). Elsewhere it would send the user to
remove access for nothing, or (another user's account) break a working
connection. An empty text leaves the spec's sentence as the main message.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from google_connect.exceptions import GoogleConnectError

# The spec's text for a failed connection, on the pages where it is the fix.
SPEC_TEXT = _("Something went wrong; to fix this please disconnect Google completely then retry.")

ERROR_TEXTS: dict[str, tuple[Promise, Promise | str]] = {
    "access_denied": (
        _("You cancelled the connection"),
        _("Nothing was stored. Connect again whenever you like."),
    ),
    "scope_not_granted": (
        _("Some permissions were not granted"),
        _(
            "This site needs every permission it asked for, and Google's screen lets you "
            "untick some. Connect again and leave these ticked:"
        ),
    ),
    # The spec's own case: its sentence is the whole advice.
    "missing_refresh_token": (_("Google did not grant lasting access"), ""),
    "invalid_state": (
        _("This link has expired"),
        _(
            "The connection link expired or was already used, so nothing was stored. "
            "Start again from this site."
        ),
    ),
    "invalid_request": (
        _("Google's answer was incomplete"),
        _(
            "Google sent you back without an authorization code, so nothing was stored. "
            "Try again from this site's page."
        ),
    ),
    "account_linked_to_another_user": (
        _("This Google account belongs to someone else here"),
        _(
            "This Google account is connected to another user of this site. Sign in as that "
            "user to use it, connect a different Google account, or ask this site's support. "
            "Leave its access in your Google Account as it is: removing it would break that "
            "user's connection."
        ),
    ),
    "invalid_issuer": (
        _("The answer did not come from Google"),
        _(
            "The sign-in answer was not issued by Google, so nothing was stored. Try again "
            "from this site's page; if it happens again, tell this site's administrators."
        ),
    ),
    "token_exchange_failed": (
        _("Google did not confirm the connection"),
        _(
            "Google did not accept our request to finish connecting, so nothing was stored. "
            "Try again in a few minutes."
        ),
    ),
    "userinfo_failed": (
        _("Google did not send your account details"),
        _(
            "Google did not send the account details this site needs, so nothing was stored. "
            "Try again in a few minutes."
        ),
    ),
    "google_unavailable": (
        _("Google could not be reached"),
        _("Google did not answer, so nothing was stored. Try again in a few minutes."),
    ),
    "invalid_id_token": (
        _("Google's answer could not be checked"),
        _(
            "Google sent an identity for your account that was not issued for this site or has "
            "expired, so nothing was connected. Try again; if it keeps happening, tell this "
            "site's administrators."
        ),
    ),
    "unknown_scope_set": (
        _("This page asked for an unknown permission"),
        _(
            "The link that brought you here asked for a set of permissions this site does not "
            "define, so Google was not contacted and nothing changed. Go back and try again; if "
            "it keeps happening, tell this site's administrators."
        ),
    ),
    "unknown_client": (
        _("This site cannot connect Google right now"),
        _(
            "The connection was started for a Google sign-in this site no longer offers, so "
            "Google was not asked and nothing changed. Start again from this site; if it keeps "
            "happening, tell this site's administrators."
        ),
    ),
    "client_removed": (
        _("This connection is no longer supported"),
        _(
            "The connection was made through a Google sign-in this site no longer offers, so it "
            "cannot be renewed. Connect your Google account again."
        ),
    ),
}

# token_exchange_failed when Google answered invalid_grant: the code was
# refused, which a grant left over from an earlier attempt can cause.
INVALID_GRANT_TEXT: tuple[Promise, Promise | str] = (
    _("Google did not confirm the connection"),
    _("Google refused to finish connecting, so nothing was stored."),
)

# Where disconnecting at Google and retrying is the fix.
DISCONNECT_REASONS = frozenset({"missing_refresh_token", "scope_not_granted"})

# For a reason without an entry of its own.
DEFAULT_TEXT: tuple[Promise, Promise | str] = (
    _("Connecting Google failed"),
    _("Nothing was stored. Try again."),
)


def needs_disconnect(error: GoogleConnectError) -> bool:
    """Whether the page shows the spec's sentence and its guide for ``error``."""
    if error.reason == "token_exchange_failed":
        return getattr(error, "error_code", None) == "invalid_grant"
    return error.reason in DISCONNECT_REASONS


def texts_for(error: GoogleConnectError) -> tuple[Promise, Promise | str]:
    """The (heading, text) the error page shows for ``error``."""
    if error.reason == "token_exchange_failed" and needs_disconnect(error):
        return INVALID_GRANT_TEXT
    return ERROR_TEXTS.get(error.reason, DEFAULT_TEXT)
