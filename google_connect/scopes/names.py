"""Scopes in words: Google's own consent-screen descriptions, and short names for lists.

The error page names a permission the user did not grant the way Google's
consent screen named it, so the user recognises the box they unticked. A
scope missing from the table is shown as its URL.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from google_connect import scopes

GOOGLE_APIS_PREFIX = "https://www.googleapis.com/auth/"

# Keyed by the normalized scope (``email`` and ``profile`` are their URL forms).
DESCRIPTIONS = {
    "openid": _("Associate you with your personal info on Google"),
    GOOGLE_APIS_PREFIX + "userinfo.email": _("See your primary Google Account email address"),
    GOOGLE_APIS_PREFIX + "userinfo.profile": _(
        "See your personal info, including any personal info you've made publicly available"
    ),
    GOOGLE_APIS_PREFIX + "calendar": _(
        "See, edit, share, and permanently delete all the calendars you can access using "
        "Google Calendar"
    ),
    GOOGLE_APIS_PREFIX + "calendar.readonly": _(
        "See and download any calendar you can access using your Google Calendar"
    ),
    GOOGLE_APIS_PREFIX + "calendar.events": _("View and edit events on all your calendars"),
    GOOGLE_APIS_PREFIX + "calendar.events.readonly": _("View events on all your calendars"),
    GOOGLE_APIS_PREFIX + "drive": _("See, edit, create, and delete all of your Google Drive files"),
    GOOGLE_APIS_PREFIX + "drive.readonly": _("See and download all your Google Drive files"),
    GOOGLE_APIS_PREFIX + "drive.file": _(
        "See, edit, create, and delete only the specific Google Drive files you use with this app"
    ),
    GOOGLE_APIS_PREFIX + "gmail.readonly": _("View your email messages and settings"),
    GOOGLE_APIS_PREFIX + "gmail.send": _("Send email on your behalf"),
    "https://mail.google.com/": _(
        "Read, compose, send, and permanently delete all your email from Gmail"
    ),
    GOOGLE_APIS_PREFIX + "contacts.readonly": _("See and download your contacts"),
    GOOGLE_APIS_PREFIX + "spreadsheets": _(
        "See, edit, create, and delete all your Google Sheets spreadsheets"
    ),
    GOOGLE_APIS_PREFIX + "spreadsheets.readonly": _("See all your Google Sheets spreadsheets"),
}


def describe(scope: str) -> str:
    """Google's consent-screen wording for ``scope``, else the scope itself."""
    return str(DESCRIPTIONS.get(scopes.normalize(scope), scope))


def short_name(scope: str) -> str:
    """``calendar.readonly`` for ``https://www.googleapis.com/auth/calendar.readonly``."""
    if scope.startswith(GOOGLE_APIS_PREFIX):
        return scope.removeprefix(GOOGLE_APIS_PREFIX)
    return scope.removeprefix("https://").rstrip("/")
