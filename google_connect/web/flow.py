"""The server-side half of an authorization flow: ``state`` and the PKCE verifier.

Each flow started by the authorize view is kept in the user's session until
the callback consumes it. A flow is single use, expires after
``STATE_MAX_AGE`` seconds and belongs to the user who started it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables

from google_connect.conf import get_settings
from google_connect.exceptions import InvalidState, UnknownClient
from google_connect.google import clients
from google_connect.google.clients import OAuthClient
from google_connect.web.used_state import claim, prune_now_and_then

SESSION_KEY = "google_connect_flows"
# A user who opens the connect page in a few tabs gets a flow per tab; older
# ones are dropped so the session cannot grow without bound.
MAX_PENDING_FLOWS = 5
logger = logging.getLogger("google_connect")
# Our states are 43 characters; anything much longer is not ours and is not
# worth comparing.
MAX_STATE_LENGTH = 128


@dataclass(frozen=True, repr=False)
class PendingFlow:
    state: str
    code_verifier: str
    redirect_uri: str
    next_url: str | None
    user_id: str
    created_at: float
    # The SCOPE_SETS names asked for; the callback reports those not granted.
    scope_sets: tuple[str, ...] = ()
    # The name and id of the OAuth client that started the flow: the callback
    # exchanges the code with it, whatever CLIENT_FOR_REQUEST would pick now.
    # (Flows stored before clients were recorded are the default client's.)
    client: str = "default"
    client_id: str | None = None

    @property
    def code_challenge(self) -> str:
        return code_challenge_for(self.code_verifier)

    def __repr__(self) -> str:
        return f"<PendingFlow user_id={self.user_id} created_at={self.created_at}>"


def code_challenge_for(code_verifier: str) -> str:
    """The S256 PKCE challenge (RFC 7636 §4.2): BASE64URL(SHA256(verifier)), unpadded."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# Every local holds the state or the PKCE verifier: an error report (say,
# loading request.user fails) must show neither.
@sensitive_variables()
def begin(
    request: HttpRequest,
    *,
    redirect_uri: str,
    next_url: str | None,
    scope_sets: tuple[str, ...] = (),
    client: str = "default",
    client_id: str | None = None,
) -> PendingFlow:
    flow = PendingFlow(
        state=secrets.token_urlsafe(32),  # 256 bits
        code_verifier=secrets.token_urlsafe(64),  # 86 characters, within RFC 7636's 43..128
        redirect_uri=redirect_uri,
        next_url=next_url,
        user_id=str(request.user.pk),
        created_at=time.time(),
        scope_sets=scope_sets,
        client=client,
        client_id=client_id,
    )
    pending = _live_flows(request)
    pending.append(asdict(flow))
    prune_now_and_then()
    request.session[SESSION_KEY] = pending[-MAX_PENDING_FLOWS:]
    return flow


@sensitive_variables()
def consume(request: HttpRequest, state: str | None) -> PendingFlow:
    """Remove the flow named by ``state`` from the session and return it.

    Raises ``InvalidState`` when it is missing, unknown, already used, expired
    or was started by another user.
    """
    # Our states are ASCII; hmac.compare_digest refuses non-ASCII strings.
    if not state or len(state) > MAX_STATE_LENGTH or not state.isascii():
        raise InvalidState()
    stored = request.session.get(SESSION_KEY)
    if not stored:
        raise InvalidState()
    match = None
    remaining = []
    for entry in stored:
        if match is None and hmac.compare_digest(str(entry.get("state", "")), state):
            match = entry
        else:
            remaining.append(entry)
    if match is None:
        raise InvalidState()
    # Popped before anything else is checked: a state never works twice.
    # The last one takes the key with it, leaving the session as it was.
    if remaining:
        request.session[SESSION_KEY] = remaining
    else:
        del request.session[SESSION_KEY]
    # The session alone cannot make it single-use (overlapping callbacks,
    # a replayed signed cookie): the database refuses a state used before.
    claim(state)
    flow = PendingFlow(**match)
    if time.time() - flow.created_at > get_settings().STATE_MAX_AGE:
        raise InvalidState()
    if not request.user.is_authenticated or str(request.user.pk) != flow.user_id:
        raise InvalidState()
    return flow


def client_for_request(request: HttpRequest) -> OAuthClient:
    """The web client a new flow uses: ``CLIENT_FOR_REQUEST``'s choice, else ``default``.

    Raises ``UnknownClient`` when the name chosen is no configured web
    client, and when ``CLIENT_FOR_REQUEST`` raises.
    """
    path = get_settings().CLIENT_FOR_REQUEST
    if path:
        try:
            name = import_string(path)(request)
        except Exception as exc:  # noqa: BLE001 (the site's code: anything, never a 500)
            # The site's function, fed the request (a host, a tenant that
            # does not exist): whatever it raises is a refused connection,
            # not a crash of the view. The log names the exception's type
            # and where it was raised, never its message: that may quote the
            # request, and the code's callers carry an authorization code.
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            logger.error(
                "google_connect: CLIENT_FOR_REQUEST %s raised %s at %s:%s, in %s(); "
                "the connection is refused as unknown_client",
                path,
                type(exc).__name__,
                frame.filename,
                frame.lineno,
                frame.name,
            )
            raise UnknownClient() from None
    else:
        name = clients.DEFAULT
    client = clients.named(name) if isinstance(name, str) else None
    if client is None or not client.is_web:
        # Cut short: the name may come from the request (a host name).
        logger.warning(
            "google_connect: the connection's OAuth client %r is no configured web client",
            name[:100] if isinstance(name, str) else type(name).__name__,
        )
        raise UnknownClient()
    return client


def client_of(pending: PendingFlow) -> OAuthClient:
    """The client that started ``pending``, as configured now.

    Raises ``UnknownClient`` when it was removed, or its id changed, since.
    """
    client = clients.named(pending.client)
    if client is None or not client.is_web:
        raise UnknownClient()
    if pending.client_id is not None and pending.client_id != client.client_id:
        raise UnknownClient()
    return client


def _live_flows(request: HttpRequest) -> list[dict[str, Any]]:
    max_age = get_settings().STATE_MAX_AGE
    now = time.time()
    return [
        entry
        for entry in request.session.get(SESSION_KEY, [])
        if now - entry.get("created_at", 0) <= max_age
    ]
