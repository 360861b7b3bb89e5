"""The OAuth clients a site has registered at Google, resolved from ``GOOGLE_CONNECT``.

A site may have several (``CLIENTS``): a web client per brand or tenant, a
new one replacing an old one, and the iOS and Android clients of its apps.
The top-level ``CLIENT_ID``/``CLIENT_SECRET`` are the client named
``default``. Only web clients start flows and exchange codes; every
client's id is an audience of Google's security events.

A grant belongs to the client that issued it: Google refuses to refresh it
with another client's credentials. An account stores its client's *id*
(names are the site's own and may change); an empty id is the ``default``
client's (rows stored before clients were recorded).
"""

from __future__ import annotations

from dataclasses import dataclass

from google_connect.conf import GoogleConnectSettings, get_settings

DEFAULT = "default"
WEB, IOS, ANDROID = "web", "ios", "android"
TYPES = (WEB, IOS, ANDROID)


@dataclass(frozen=True, repr=False)
class OAuthClient:
    """One registered OAuth client; ``secret`` is empty for iOS and Android clients."""

    name: str
    client_id: str
    secret: str
    type: str = WEB
    # The client's own, else the site-wide REDIRECT_URI; None builds it from the request.
    redirect_uri: str | None = None
    scopes: tuple[str, ...] = ()
    # The name of the client this one replaces (see ``replaced``).
    replaces: str | None = None

    @property
    def is_web(self) -> bool:
        return self.type == WEB

    def __repr__(self) -> str:
        # The dataclass repr would print the secret.
        return f"<OAuthClient {self.name!r} client_id={self.client_id!r} type={self.type}>"


def configured(config: GoogleConnectSettings | None = None) -> dict[str, OAuthClient]:
    """Every configured client by name; ``default`` first when there is one."""
    config = config or get_settings()
    result: dict[str, OAuthClient] = {}
    raw = config.CLIENTS
    if config.CLIENT_ID or DEFAULT not in raw:
        # The top-level form, exactly as before CLIENTS existed (also when
        # both forms are given: a check error says so).
        result[DEFAULT] = OAuthClient(
            name=DEFAULT,
            client_id=config.CLIENT_ID,
            secret=config.CLIENT_SECRET,
            redirect_uri=config.REDIRECT_URI,
            scopes=config.SCOPES,
        )
    for name, entry in raw.items():
        if not isinstance(entry, dict) or (name == DEFAULT and DEFAULT in result):
            continue
        scopes = entry.get("SCOPES")
        result[str(name)] = OAuthClient(
            name=str(name),
            client_id=str(entry.get("CLIENT_ID") or ""),
            secret=str(entry.get("CLIENT_SECRET") or ""),
            type=str(entry.get("TYPE") or WEB),
            redirect_uri=entry.get("REDIRECT_URI") or config.REDIRECT_URI,
            scopes=tuple(scopes) if scopes else config.SCOPES,
            replaces=entry.get("REPLACES") or None,
        )
    if DEFAULT in result and not result[DEFAULT].client_id and len(result) > 1:
        # No top-level CLIENT_ID and CLIENTS without "default": a site of named clients.
        del result[DEFAULT]
    return result


def named(name: str, config: GoogleConnectSettings | None = None) -> OAuthClient | None:
    """The client called ``name``, None when none is configured."""
    return configured(config).get(name)


def default(config: GoogleConnectSettings | None = None) -> OAuthClient:
    """The ``default`` client; one with an empty id when none is configured (as before)."""
    config = config or get_settings()
    client = named(DEFAULT, config)
    if client is None:
        return OAuthClient(name=DEFAULT, client_id="", secret="", scopes=config.SCOPES)
    return client


def with_id(client_id: str, config: GoogleConnectSettings | None = None) -> OAuthClient | None:
    """The client an account's ``client_id`` names: empty is ``default``; None when removed."""
    clients = configured(config)
    if not client_id:
        return clients.get(DEFAULT)
    for client in clients.values():
        if client.client_id == client_id:
            return client
    return None


def stored_ids(client: OAuthClient, config: GoogleConnectSettings | None = None) -> tuple[str, ...]:
    """The ``client_id`` values an account of ``client`` may hold (``""`` too for default)."""
    if client.name == DEFAULT and named(DEFAULT, config) is not None:
        return (client.client_id, "")
    return (client.client_id,)


def replaced(
    client: OAuthClient, config: GoogleConnectSettings | None = None
) -> OAuthClient | None:
    """The client ``client`` replaces (``REPLACES``), None when it replaces none configured."""
    if not client.replaces or client.replaces == client.name:
        return None
    return named(client.replaces, config)
