"""Read-only inspection of connected accounts. Tokens are never rendered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from google_connect.admin.read_only import ReadOnlyAdmin
from google_connect.admin.security_events import GoogleSecurityEventAdmin  # noqa: F401  (registers it)
from google_connect.exceptions import GoogleConnectError, ReconnectRequired
from google_connect.google import clients
from google_connect.scopes.names import short_name
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
    list_display = (
        "user",
        "email",
        "client",
        "shown_status",
        "shown_reason",
        "short_scopes",
        "expires_at",
        "created_at",
        "token_state",
    )
    list_filter = ("status", "reconnect_reason", ClientFilter)
    list_select_related = ("user",)
    # An exact client id: a pasted id finds its accounts through the index.
    search_fields = ("email", "user__username", "=client_id")
    fields = (*VISIBLE_FIELDS, "token_state")
    readonly_fields = (*VISIBLE_FIELDS, "token_state")
    show_full_result_count = False
    actions = ["revoke_and_remove", "refresh_access_token"]

    @admin.display(description=_("OAuth client"), ordering="client_id")
    def client(self, account: GoogleAccount) -> str:
        # Its name when configured, its id otherwise (a removed client).
        found = clients.with_id(account.client_id)
        return found.name if found is not None else account.client_id

    # The state the user's pages show (see GoogleAccount.effective_status): a
    # time-limited grant whose end date has passed is listed as ended even
    # before a refresh fails. The filters still read the stored columns.
    @admin.display(description=_("status"), ordering="status")
    def shown_status(self, account: GoogleAccount) -> str:
        return account.get_effective_status_display()

    @admin.display(description=_("reconnect reason"), ordering="reconnect_reason")
    def shown_reason(self, account: GoogleAccount) -> str:
        return account.get_effective_reconnect_reason_display()

    @admin.display(description=_("granted scopes"))
    def short_scopes(self, account: GoogleAccount) -> str:
        # Full scope URLs made the list scroll sideways; the change page shows them.
        return " ".join(short_name(scope) for scope in account.granted_scopes)

    @admin.display(description=_("tokens"))
    def token_state(self, account: GoogleAccount) -> str:
        # Says whether the tokens can be decrypted, never what they are.
        if account.tokens_decryptable:
            return gettext("encrypted")
        return gettext("⚠ undecryptable: no key in FERNET_KEYS decrypts them")

    def has_delete_permission(self, request: HttpRequest, obj: GoogleAccount | None = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # One bulk way to remove accounts: "Revoke and remove" tells Google
        # first and keeps, with a message, an account whose revoke failed.
        actions = super().get_actions(request)
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
