"""Read-only inspection of connected accounts. Tokens are never rendered."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from google_connect.admin.overview import overview
from google_connect.admin.read_only import ReadOnlyAdmin
from google_connect.admin.security_events import GoogleSecurityEventAdmin  # noqa: F401  (registers it)
from google_connect.exceptions import GoogleConnectError, ReconnectRequired
from google_connect.google import clients
from google_connect.risc.models import GoogleSecurityEvent
from google_connect.scopes.names import short_name
from google_connect.store.health import idle_cutoff
from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation

# Fields an operator may see. The token columns are deliberately absent, so
# neither the change form, nor the history, nor a crafted URL can show them.
VISIBLE_FIELDS = (
    "user",
    "sub",
    "client_id",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "picture",
    "locale",
    "status",
    "reconnect_reason",
    "tokens_undecryptable",
    "scopes",
    "token_type",
    "expires_at",
    "refresh_token_expires_at",
    "authorization_expires_at",
    "last_refreshed_at",
    "expiry_warned_at",
    "created_at",
    "updated_at",
)

# How much of a removed client's id the list shows (see GoogleAccountAdmin.client).
CLIENT_ID_SHOWN = 12
# Searches that are ids, answered by one exact look-up through an index (see
# GoogleAccountAdmin.get_search_results). A Google sub is digits (21 today);
# one of 16 or more is longer than any phone number (E.164 stops at 15), so
# no username or address searched by a number is taken for one.
SUB_SEARCH = re.compile(r"\d{16,255}")
CLIENT_ID_SEARCH = re.compile(r"[\w.-]+\.apps\.googleusercontent\.com")


class SubFilter(admin.SimpleListFilter):
    """The accounts of one ``sub``, exactly and through its index: where a
    security event links. Listed among the filters only while applied."""

    title = _("Google account id")
    parameter_name = "sub"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[GoogleAccount]) -> Any:
        value = self.value()
        return queryset if value is None else queryset.filter(sub=value)


class ClientFilter(admin.SimpleListFilter):
    """The configured clients by name, and the accounts of clients no longer configured."""

    title = _("OAuth client")
    parameter_name = "client"
    REMOVED = "-"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(c.name, c.name) for c in clients.configured().values() if c.is_web] + [
            (self.REMOVED, _("no longer configured"))
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[GoogleAccount]) -> Any:
        value = self.value()
        if value is None:
            return queryset
        if value == self.REMOVED:
            known = [i for c in clients.configured().values() for i in clients.stored_ids(c)]
            return queryset.exclude(client_id__in=known)
        client = clients.named(value)
        if client is None:
            return queryset.none()
        return queryset.filter(client_id__in=clients.stored_ids(client))


class TimeLimitedFilter(admin.SimpleListFilter):
    title = _("time-limited grant")
    parameter_name = "time_limited"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[GoogleAccount]) -> Any:
        limited = Q(refresh_token_expires_at__isnull=False) | Q(
            authorization_expires_at__isnull=False
        )
        if self.value() == "yes":
            return queryset.filter(limited)
        if self.value() == "no":
            return queryset.exclude(limited)
        return queryset


class IdleFilter(admin.SimpleListFilter):
    """Active grants unused for KEEP_ALIVE_DAYS: what ``--keep-alive`` refreshes."""

    title = _("idle for keep-alive")
    parameter_name = "idle"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[GoogleAccount]) -> Any:
        if self.value() == "yes":
            return queryset.filter(status=GoogleAccount.Status.ACTIVE).idle_since(  # type: ignore[attr-defined]
                idle_cutoff(timezone.now())
            )
        return queryset


if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[GoogleAccount]
else:
    _ModelAdmin = admin.ModelAdmin


@admin.register(GoogleAccount)
class GoogleAccountAdmin(ReadOnlyAdmin, _ModelAdmin):
    # Read-only for edits. Deletion is allowed, with the delete permission:
    # deleting a user cascades to their accounts, and the admin refuses the
    # whole cascade when any row in it may not be deleted. A deleted row's
    # grant is revoked after the commit, and waits as a pending revocation
    # when Google cannot be told (store/pending_revocation.py).
    # Five narrow columns fit a 1280 px window; the change page has the rest.
    list_display = ("email", "user", "client", "state", "last_refreshed_at")
    list_filter = (
        "status",
        "reconnect_reason",
        ClientFilter,
        TimeLimitedFilter,
        IdleFilter,
        "tokens_undecryptable",
        SubFilter,
    )
    list_select_related = ("user",)
    # A pasted sub or client id is looked up exactly (get_search_results);
    # any other search goes through these, none of which an index serves.
    search_fields = ("email", "=sub", "user__username", "user__email", "=client_id")
    fields = (*VISIBLE_FIELDS, "token_state", "security_events")
    readonly_fields = (*VISIBLE_FIELDS, "token_state", "security_events")
    show_full_result_count = False
    actions = ["revoke_and_remove", "refresh_access_token"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[GoogleAccount]:
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if match is not None and match.url_name == "google_connect_googleaccount_changelist":
            # The list never decrypts a token: the ⚠ comes from the stored flag.
            queryset = queryset.defer("access_token", "refresh_token")
        return queryset

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[GoogleAccount], search_term: str
    ) -> tuple[QuerySet[GoogleAccount], bool]:
        # Django's "=sub" is UPPER(sub) = UPPER(%s), OR'd with a LIKE on the
        # email and on the user's columns: no index serves it, and at a million
        # accounts on PostgreSQL a search for a sub took 6.4 s. An id alone
        # is matched exactly instead (ids are case-sensitive anyway).
        term = search_term.strip()
        if SUB_SEARCH.fullmatch(term):
            return queryset.filter(sub=term), False
        if CLIENT_ID_SEARCH.fullmatch(term):
            return queryset.filter(client_id=term), False
        return super().get_search_results(request, queryset, search_term)

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "overview/",
                self.admin_site.admin_view(self.overview_view),
                name=f"{info[0]}_{info[1]}_overview",
            ),
            *super().get_urls(),
        ]

    def overview_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Google accounts: overview"),
            **overview(),
        }
        return TemplateResponse(
            request, "admin/google_connect/googleaccount/overview.html", context
        )

    @admin.display(description=_("OAuth client"), ordering="client_id")
    def client(self, account: GoogleAccount) -> str:
        # Its name when configured, its id otherwise (a removed client). A
        # Google client id is 70-odd characters with nothing to break at, and
        # printed whole it made the list scroll sideways; its first 12 (the
        # Cloud project's number) tell clients apart, the title has the rest.
        found = clients.with_id(account.client_id)
        if found is not None:
            return found.name
        if len(account.client_id) <= CLIENT_ID_SHOWN + 1:
            return account.client_id
        return format_html(
            '<span class="gc-client-id" title="{}">{}…</span>',
            account.client_id,
            account.client_id[:CLIENT_ID_SHOWN],
        )

    # The state the user's pages show (see GoogleAccount.effective_status): a
    # time-limited grant whose end date has passed is listed as ended even
    # before a refresh fails. The filters still read the stored columns.
    @admin.display(description=_("status"), ordering="status")
    def state(self, account: GoogleAccount) -> str:
        text = str(account.get_effective_status_display())
        if account.effective_reconnect_reason:
            text += f" ({account.get_effective_reconnect_reason_display()})"
        if account.tokens_undecryptable:
            text += " ⚠ " + gettext("undecryptable")
        return text

    @admin.display(description=_("security events"))
    def security_events(self, account: GoogleAccount) -> str:
        # Linked by sub, not by a foreign key: events are kept whole when
        # accounts go, and deleting a user must not need their permission.
        url = reverse("admin:google_connect_googlesecurityevent_changelist")
        count = GoogleSecurityEvent.objects.filter(subject_sub=account.sub).count()
        return format_html(
            '<a href="{}?{}">{}</a>',
            url,
            urlencode({"q": account.sub}),
            ngettext("%(n)d event", "%(n)d events", count) % {"n": count},
        )

    @admin.display(description=_("granted scopes"))
    def short_scopes(self, account: GoogleAccount) -> str:
        # Full scope URLs made the list scroll sideways; the change page shows them.
        return " ".join(short_name(scope) for scope in account.granted_scopes)

    @admin.display(description=_("tokens"))
    def token_state(self, account: GoogleAccount) -> str:
        # Says what state the tokens are in, in words, never what they are.
        if not account.tokens_decryptable or account.tokens_undecryptable:
            return gettext("⚠ undecryptable: no key in FERNET_KEYS decrypts them")
        stored = account.__dict__.get("refresh_token") or account.__dict__.get("access_token")
        if not stored:
            event = (
                GoogleSecurityEvent.objects.filter(subject_sub=account.sub, accounts_affected__gt=0)
                .order_by("-received_at")
                .first()
            )
            if event is not None:
                return gettext("no token: removed by a security event (%(type)s) on %(when)s") % {
                    "type": event.short_type,
                    "when": date_format(timezone.localtime(event.received_at), "DATETIME_FORMAT"),
                }
            return gettext("no token: removed (the grant was revoked, the row kept)")
        if account.status == GoogleAccount.Status.RECONNECT_REQUIRED:
            return gettext("stored, but the grant is dead: the user must connect again")
        when = date_format(timezone.localtime(account.expires_at), "DATETIME_FORMAT")
        if account.expires_at > timezone.now():
            return gettext("encrypted; the access token is valid until %s") % when
        return gettext("encrypted; the access token expired at %s and is refreshed on next use") % (
            when
        )

    def has_delete_permission(self, request: HttpRequest, obj: GoogleAccount | None = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # One bulk way to remove accounts: "Revoke and remove" tells Google
        # first and keeps, with a message, an account whose revoke failed.
        # Django 6.1 passes where the actions show (and deprecates overrides
        # without the argument); Django 5.2 and 6.0 have no such argument.
        if action_location is None:
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location=action_location)  # type: ignore[call-arg]
        actions.pop("delete_selected", None)
        return actions

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("google_connect.delete_googleaccount")

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("google_connect.change_googleaccount")

    @admin.action(description=_("Revoke and remove"), permissions=["revoke"])
    def revoke_and_remove(self, request: HttpRequest, queryset: QuerySet[GoogleAccount]) -> None:
        removed = []
        for account in queryset.select_related("user"):
            try:
                account.disconnect(request=request)
            except GoogleConnectError as exc:
                self._report_failure(request, account, exc)
            else:
                removed.append(account)
                self.message_user(
                    request, gettext("Revoked and removed %s.") % account, messages.SUCCESS
                )
        if removed:
            # The audit trail: one deletion entry per account (the rows are
            # gone, the instances keep their pk and str()).
            self.log_deletions(request, removed)  # type: ignore[arg-type]  # any iterable

    @admin.action(description=_("Refresh access token"), permissions=["refresh"])
    def refresh_access_token(self, request: HttpRequest, queryset: QuerySet[GoogleAccount]) -> None:
        for account in queryset.select_related("user"):
            try:
                account.refresh_access_token()
            except ReconnectRequired:
                self.message_user(
                    request,
                    gettext("The user of %s must connect again.") % account,
                    messages.WARNING,
                )
            except GoogleConnectError as exc:
                self._report_failure(request, account, exc)
            else:
                self.log_change(request, account, "Refreshed the access token.")
                self.message_user(
                    request, gettext("Access token refreshed for %s.") % account, messages.SUCCESS
                )

    def _report_failure(
        self, request: HttpRequest, account: GoogleAccount, error: GoogleConnectError
    ) -> None:
        # The admin capitalises a message's first letter: an email must not come first.
        text = gettext("Failed for %(account)s: %(error)s") % {"account": account, "error": error}
        self.message_user(request, text, messages.ERROR)


if TYPE_CHECKING:
    _PendingAdmin = admin.ModelAdmin[PendingRevocation]
else:
    _PendingAdmin = admin.ModelAdmin


@admin.register(PendingRevocation)
class PendingRevocationAdmin(ReadOnlyAdmin, _PendingAdmin):
    """Grants of deleted accounts still to be revoked at Google (read-only;
    ``revoke_google_accounts --pending`` retries them). The token is never shown."""

    list_display = ("email", "sub", "created_at", "attempts", "last_error")
    fields = readonly_fields = ("email", "sub", "created_at", "attempts", "last_error")
    search_fields = ("email", "sub")
