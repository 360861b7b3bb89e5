"""The demo's clock at the site: what "End now" on the stand-in's permissions page does here.

Google tells no site when a time-limited grant runs out. A site knows the end
from the date it stored (``GoogleAccount.refresh_token_expires_at``, from the
token answer's ``refresh_token_expires_in``), and google_connect's pages show
the grant as ended once that date has passed. "End now" stands in for the
days passing: at the stand-in it ends the grant, and here it moves the date
the site stored to now, which is what waiting would have made of it. Nothing
of this reaches the site in a real deployment: the stand-in calls it only
because the demo names it in ``FAKE_GOOGLE["ON_END_NOW"]``, and both run in
one process.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from google_connect.google import clients
from google_connect.models import GoogleAccount


def grant_ended(*, client_id: str, sub: str, ended_at: datetime) -> int:
    """Move the stored end of ``sub``'s grant to the OAuth client ``client_id`` to ``ended_at``.

    Returns how many accounts changed: those of that Google account and
    client whose stored end was still to come. The stand-in's grants end by
    ``refresh_token_expires_in`` alone, so that is the one date moved.
    """
    client = clients.with_id(client_id)
    # The default client's older rows store an empty client id.
    stored_ids = clients.stored_ids(client) if client is not None else (client_id,)
    return GoogleAccount.objects.filter(
        sub=sub, client_id__in=stored_ids, refresh_token_expires_at__gt=ended_at
    ).update(refresh_token_expires_at=ended_at, updated_at=timezone.now())
