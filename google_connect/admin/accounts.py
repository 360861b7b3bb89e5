"""Read-only inspection of connected accounts. Tokens are never rendered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from google_connect.admin.read_only import ReadOnlyAdmin
from google_connect.admin.security_events import GoogleSecurityEventAdmin  # noqa: F401  (registers it)
from google_connect.exceptions import GoogleConnectError, ReconnectRequired
from google_connect.scopes.names import short_name
from google_connect.store.models import GoogleAccount
from google_connect.store.pending_revocation import PendingRevocation

# Fields an operator may see. The token columns are deliberately absent, so
# neither the change form, nor the history, nor a crafted URL can show them.
VISIBLE_FIELDS = (
    "user",
    "sub",
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


if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[GoogleAccount]
else:
    _ModelAdmin = admin.ModelAdmin


@admin.register(GoogleAccount)
class GoogleAccountAdmin(ReadOnlyAdmin, _ModelAdmin):
    # Read-only: a plain delete would forget the account while its grant stays
    # live at Google; "Revoke and remove" is the way to delete.
    list_display = (
        "user",
        "email",
        "shown_status",
        "shown_reason",
        "short_scopes",
        "expires_at",
        "created_at",
        "token_state",
    )
    list_filter = ("status", "reconnect_reason")
    list_select_related = ("user",)
    search_fields = ("email", "user__username")
    fields = (*VISIBLE_FIELDS, "token_state")
    readonly_fields = (*VISIBLE_FIELDS, "token_state")
    show_full_result_count = False
    actions = ["revoke_and_remove", "refresh_access_token"]

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
