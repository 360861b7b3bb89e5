"""Turning an authorization code into a stored account: the one implementation
behind the callback (``ConnectView``) and the JSON API's ``api/v1/code``.

It follows the protocol from top to bottom: exchange the code, check the
granted scopes, name the Google account, store it (refusing a missing
refresh token and a Google account linked to another user), then announce
it. Where the code came from (a redirect with a PKCE verifier, a popup's
``postmessage`` code, a mobile app's server auth code) is the caller's.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db import router, transaction
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from google_connect import scopes
from google_connect.conf import GoogleConnectSettings, get_settings
from google_connect.exceptions import (
    GoogleConnectError,
    InvalidIdToken,
    MissingRefreshToken,
    ScopeNotGranted,
)
from google_connect.google import clients, telemetry
from google_connect.google.answers import TokenResponse, UserInfo
from google_connect.google.clients import OAuthClient
from google_connect.google.id_token import userinfo_from_id_token
from google_connect.google.oauth import GoogleOAuthClient
from google_connect.scopes import sets as scope_sets
from google_connect.signals import google_account_connected
from google_connect.store import activity
from google_connect.store.disconnection import retire_replaced
from google_connect.store.models import GoogleAccount

logger = logging.getLogger("google_connect")


@dataclass(frozen=True)
class Connected:
    """What a successful connect stored: the account, and whether it is new."""

    account: GoogleAccount
    created: bool


@sensitive_variables()
def connect_with_code(
    request: HttpRequest,
    *,
    user: Any,
    oauth_client: OAuthClient,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    scope_set_names: tuple[str, ...] = (),
    authorized_parties: Collection[str] = (),
) -> Connected:
    """Exchange ``code`` at Google as ``oauth_client`` and store the account for ``user``.

    ``code_verifier`` is None for codes issued without PKCE (the popup's and
    the mobile apps'). ``authorized_parties``: client ids the id_token's
    ``azp`` may name besides ``oauth_client``'s (a mobile app's iOS or
    Android client, which asked for the code on behalf of the web client).

    Raises a ``GoogleConnectError`` for every refusal; nothing is stored then.
    """
    config = get_settings()
    client = GoogleOAuthClient(config, client=oauth_client)
    tokens = client.exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
    requested = scope_sets.requested_scopes(scope_set_names, base=oauth_client.scopes)
    granted = tokens.scopes if tokens.scopes is not None else requested
    required = oauth_client.scopes if config.REQUIRED_SCOPES is None else config.REQUIRED_SCOPES
    missing_scopes = scopes.missing(required, granted)
    if missing_scopes:
        _end_refused_grant(client, config, tokens, authorized_parties)
        raise ScopeNotGranted(missing_scopes)
    userinfo = _userinfo(client, config, tokens, authorized_parties)
    try:
        account, created = GoogleAccount.objects.connect(
            user=user,
            tokens=tokens,
            userinfo=userinfo,
            requested_scopes=requested,
            client_id=oauth_client.client_id,
            same_client_ids=clients.stored_ids(oauth_client),
        )
    except MissingRefreshToken:
        # Without a refresh token the grant is useless to us, and while it
        # lives Google will not send a new refresh token. Revoking it lets
        # the user's next attempt succeed even if they skip the guide.
        _revoke_quietly(client, tokens.access_token)
        raise

    logger.info(
        "Google account %s: account_id=%s sub=%s user_id=%s client=%s",
        "connected" if created else "reconnected",
        account.pk,
        account.sub,
        user.pk,
        oauth_client.name,
    )
    activity.connected(
        account._state.db or router.db_for_write(GoogleAccount), client=oauth_client.name
    )
    telemetry.annotate(client=oauth_client.name)
    replaced = clients.replaced(oauth_client)
    if replaced is not None:
        retire_replaced(account, clients.stored_ids(replaced))
    transaction.on_commit(
        lambda: google_account_connected.send(
            sender=GoogleAccount, account=account, created=created, request=request
        ),
        using=account._state.db,
    )
    return Connected(account, created)


@sensitive_variables()
def _userinfo(
    client: GoogleOAuthClient,
    config: GoogleConnectSettings,
    tokens: TokenResponse,
    authorized_parties: Collection[str],
) -> UserInfo:
    if config.USE_ID_TOKEN and tokens.id_token is not None:
        # The identity from the token answer itself: one round trip to
        # Google fewer (see id_token.py for what is checked, and why).
        return userinfo_from_id_token(
            tokens.id_token,
            client_id=client.client.client_id,
            authorized_parties=authorized_parties,
        )
    return client.fetch_userinfo(tokens.access_token)


@sensitive_variables()
def _revoke_quietly(
    client: GoogleOAuthClient, token: str, what: str = "without a refresh token"
) -> None:
    try:
        client.revoke(token)
    except GoogleConnectError as exc:
        logger.warning("Revoking the grant %s failed: %s", what, exc)


@sensitive_variables()
def _end_refused_grant(
    client: GoogleOAuthClient,
    config: GoogleConnectSettings,
    tokens: TokenResponse,
    authorized_parties: Collection[str],
) -> None:
    """Revoke the grant of a connect refused for an unticked required scope,
    unless it is the grant of an account already stored.

    Google's revoke ends the whole grant of the Google account and this
    client: on a refused reconnect it would end the user's working
    connection, and on an account linked to another user that user's.
    So the Google account is named first, and an unknown one is left
    alone (a grant left live is the lesser harm). Only this client's rows
    hold this grant: a row of the Google account through another client is
    another grant, and keeping this one alive for it would leave a live
    grant that no row holds and nothing will revoke.
    """
    try:
        sub = _sub_of(client, config, tokens, authorized_parties)
    except GoogleConnectError as exc:
        logger.warning(
            "A connect was refused (%s) and its Google account could not be named: "
            "the refused grant is not revoked",
            exc.reason,
        )
        return
    # Where a connect would write: a replica's lag must not hide the
    # account that was stored a moment ago.
    db = router.db_for_write(GoogleAccount)
    stored = GoogleAccount.objects.using(db).filter(
        sub=sub, client_id__in=clients.stored_ids(client.client)
    )
    if stored.exists():
        return
    _revoke_quietly(
        client, tokens.refresh_token or tokens.access_token, what="of a refused connect"
    )


@sensitive_variables()
def _sub_of(
    client: GoogleOAuthClient,
    config: GoogleConnectSettings,
    tokens: TokenResponse,
    authorized_parties: Collection[str],
) -> str:
    """The Google account id of a token answer: from its id_token when it
    can be trusted (as ``USE_ID_TOKEN`` trusts it: straight from the token
    endpoint, over TLS), else from the one userinfo call."""
    trusted = config.USE_ID_TOKEN or config.TOKEN_URL.startswith("https://")
    if tokens.id_token is not None and trusted:
        try:
            return userinfo_from_id_token(
                tokens.id_token,
                client_id=client.client.client_id,
                authorized_parties=authorized_parties,
            ).sub
        except InvalidIdToken:
            pass  # logged; userinfo still knows
    return client.fetch_userinfo(tokens.access_token).sub
