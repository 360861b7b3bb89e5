"""An account as the API shows it: who, its status, what it can do, never a token."""

from __future__ import annotations

from typing import Any

from google_connect.google import clients
from google_connect.scopes import sets as scope_sets
from google_connect.store.models import GoogleAccount


def account(row: GoogleAccount) -> dict[str, Any]:
    needs_reconnect = row.status == GoogleAccount.Status.RECONNECT_REQUIRED
    configured = list(scope_sets.configured())
    missing = row.missing_scope_sets(*configured)
    client = clients.with_id(row.client_id)
    expires = row.grant_expires_at
    return {
        "id": row.pk,
        "email": row.email,
        "name": row.name,
        "picture": row.picture,
        "status": row.status,
        "reconnect_reason": (
            {"code": row.reconnect_reason, "message": str(row.get_reconnect_reason_display())}
            if needs_reconnect and row.reconnect_reason
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
