"""An account as the API shows it: who, its status, what it can do, never a token."""

from __future__ import annotations

from typing import Any

from google_connect.google import clients
from google_connect.scopes import sets as scope_sets
from google_connect.store.models import GoogleAccount


def account(row: GoogleAccount) -> dict[str, Any]:
    # The state the pages and the admin show: a time-limited grant whose stored
    # end has passed reads as ended before any refresh fails.
    status = row.effective_status
    reason = row.effective_reconnect_reason
    needs_reconnect = status == GoogleAccount.Status.RECONNECT_REQUIRED
    configured = list(scope_sets.configured())
    missing = row.missing_scope_sets(*configured)
    client = clients.with_id(row.client_id)
    expires = row.grant_expires_at
    return {
        "id": row.pk,
        "email": row.email,
        "name": row.name,
        "picture": row.picture,
        "status": status,
        "reconnect_reason": (
            {"code": reason, "message": row.get_effective_reconnect_reason_display()}
            if needs_reconnect and reason
            else None
        ),
        "scope_sets": {
            "granted": [name for name in configured if name not in missing],
            "missing": missing,
        },
        "grant_expires_at": expires.isoformat() if expires is not None else None,
        # The site's name for the OAuth client that holds the grant; None when removed.
        "client": client.name if client is not None else None,
    }
