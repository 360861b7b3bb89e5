"""The drop-in "Connected Google accounts" page (``google_connect:accounts``).

One query reads the user's accounts, their tokens left out; everything else
on the page (features, status words, initials) is worked out from that row,
so the page costs the same for 3 accounts as for 30. Every action is a
button: Grant and Reconnect are GET forms to the authorize view, Disconnect
first shows a confirm step on this page, then POSTs to the disconnect view,
so nothing needs JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import conditional_escape, format_html
from django.views import View

from google_connect.scopes import sets as scope_sets
from google_connect.store.models import GoogleAccount
from google_connect.web.pages import render_page

# Columns the page never shows: no need to read (or decrypt) them.
SECRET_FIELDS = ("access_token", "refresh_token")


@dataclass(frozen=True)
class Feature:
    name: str
    label: Any
    granted: bool


@dataclass(frozen=True)
class AccountRow:
    """One account as the page shows it."""

    account: GoogleAccount
    features: list[Feature]

    @property
    def heading(self) -> str:
        """The email (or ``sub``) that heads the row, HTML with a line break offered after "@".

        A phone is narrower than most addresses: "ada.lovelace@" / "example.com"
        reads as an address, where a break wherever the line runs out
        ("…@example.co" / "m") does not.
        """
        email = self.account.email
        if "@" not in email:
            return conditional_escape(email or self.account.sub)
        local, _, domain = email.rpartition("@")
        return format_html("{}@<wbr>{}", local, domain)

    @property
    def initials(self) -> str:
        return initials_of(self.account.name or self.account.email or self.account.sub)

    @property
    def status(self) -> str:
        # As the account defines it: an ended time-limited grant reads as ended.
        return self.account.effective_status

    @property
    def status_display(self) -> str:
        return self.account.get_effective_status_display()

    @property
    def needs_reconnect(self) -> bool:
        return self.status == GoogleAccount.Status.RECONNECT_REQUIRED

    @property
    def reason(self) -> str:
        return self.account.get_effective_reconnect_reason_display() if self.needs_reconnect else ""

    @property
    def access_until(self) -> datetime | None:
        # When a time-limited grant ends; None for ongoing access.
        return self.account.grant_expires_at


def initials_of(text: str) -> str:
    """ "Ada Lovelace" -> "AL"; "ada.lovelace@example.com" -> "A"."""
    words = text.split("@")[0].split() if " " in text else [text]
    return "".join(word[0] for word in words[:2] if word).upper()


def rows_for(accounts: list[GoogleAccount]) -> list[AccountRow]:
    sets = list(scope_sets.configured().values())
    return [
        AccountRow(
            account,
            [Feature(s.name, s.label, not account.missing_scope_sets(s.name)) for s in sets],
        )
        for account in accounts
    ]


class AccountsView(LoginRequiredMixin, View):
    """The user's own connected Google accounts, with what each can do."""

    http_method_names = ["get"]
    template_name = "google_connect/accounts.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        owner: Any = request.user  # logged in: LoginRequiredMixin
        accounts = list(
            GoogleAccount.objects.filter(user=owner)
            .defer(*SECRET_FIELDS)
            .order_by("-created_at", "-pk")
        )
        rows = rows_for(accounts)
        confirm = self._to_confirm(request, rows)
        context = {
            "rows": rows,
            "confirm": confirm,
            "page_url": request.path,
        }
        response = render_page(request, self.template_name, context)
        response["Cache-Control"] = "no-store"
        return response

    def _to_confirm(self, request: HttpRequest, rows: list[AccountRow]) -> AccountRow | None:
        """The row whose Disconnect was pressed (``?disconnect=<pk>``), to confirm."""
        wanted = request.GET.get("disconnect")
        if wanted is None:
            return None
        for row in rows:
            if str(row.account.pk) == wanted:
                return row
        # Someone else's account (or none) is indistinguishable from a missing one.
        raise Http404("No such Google account.")
