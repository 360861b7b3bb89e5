"""The connected Google account and its persistence."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import AccountLinkedToAnotherUser, MissingRefreshToken
from google_connect.fields import UNDECRYPTABLE, EncryptedTextField, undecryptable_passthrough
from google_connect.google import clients
from google_connect.scopes import sets as scope_sets
from google_connect.store import connect_lock, disconnection, scope_changes, tokens
from google_connect.store.lifetimes import grant_ends_at, store_lifetimes
from google_connect.store.lifetimes import grant_has_ended as grant_ended_by
from google_connect.store.reasons import ReconnectReason
from google_connect.token_digests import DOUBLE_SHA512, PREFIX, RefreshTokenDigestField

if TYPE_CHECKING:
    from google_connect.google.answers import TokenResponse, UserInfo
    from google_connect.store.async_session import AsyncAuthorizedSession
    from google_connect.store.authorized_session import AuthorizedSession

TOKEN_STATE_FIELDS = tokens.TOKEN_FIELDS
# Written whenever, and only when, the refresh token is (see token_digests.py).
REFRESH_TOKEN_DIGEST_FIELDS = ("refresh_token_prefix_digest", "refresh_token_digest")
LEASE_FIELDS = ("refresh_lease_until", "refresh_lease_owner")


class GoogleAccountQuerySet(models.QuerySet["GoogleAccount"]):
    def active(self) -> GoogleAccountQuerySet:
        return self.filter(status=GoogleAccount.Status.ACTIVE)

    def reconnect_required(self) -> GoogleAccountQuerySet:
        return self.filter(status=GoogleAccount.Status.RECONNECT_REQUIRED)

    def expiring_within(self, delta: timedelta) -> GoogleAccountQuerySet:
        return self.filter(expires_at__lte=timezone.now() + delta)

    def grant_ending_between(self, start: datetime, end: datetime) -> GoogleAccountQuerySet:
        """Time-limited grants that end after ``start`` and by ``end``."""
        ends = models.Q(refresh_token_expires_at__lte=end) | models.Q(
            authorization_expires_at__lte=end
        )
        ended = models.Q(refresh_token_expires_at__lte=start) | models.Q(
            authorization_expires_at__lte=start
        )
        return self.filter(ends).exclude(ended)

    def idle_since(self, cutoff: datetime) -> GoogleAccountQuerySet:
        """Accounts whose grant was last used (refreshed or connected) before ``cutoff``."""
        return self.filter(
            models.Q(last_refreshed_at__lt=cutoff)
            | models.Q(last_refreshed_at__isnull=True, created_at__lt=cutoff)
        )

    @sensitive_variables()
    def connect(
        self,
        *,
        user: Any,
        tokens: TokenResponse,
        userinfo: UserInfo,
        requested_scopes: tuple[str, ...],
        client_id: str | None = None,
        same_client_ids: Collection[str] | None = None,
    ) -> tuple[GoogleAccount, bool]:
        """Create the account for ``userinfo.sub`` and the OAuth client
        ``client_id`` (the ``default`` client's unless given), or update it on
        reconnect.

        ``same_client_ids``: the stored ``client_id`` values that are this
        client's too (``""`` for the default client's older rows).

        Returns ``(account, created)``. Raises ``AccountLinkedToAnotherUser``
        when the Google account belongs to someone else, through any client,
        and ``MissingRefreshToken`` when Google sent no refresh token and
        none is stored; in both cases nothing is written.
        """
        if client_id is None:
            default = clients.default()
            client_id, same_client_ids = default.client_id, clients.stored_ids(default)
        same = tuple(dict.fromkeys([client_id, *(same_client_ids or ())]))
        # Everything here writes, or reads what was just written: the write
        # database, whatever a router does with reads (``self.db`` would be
        # the read database).
        # (``_db``: a database chosen with ``.using()``.)
        db = getattr(self, "_db", None) or router.db_for_write(self.model)
        # Every connect of the ``sub``, through any client, takes its lock
        # first (see connect_lock.py): the takeover check is site-wide, the
        # unique constraint per client. Then it decides on the rows that the
        # connect before it committed. A transaction even in autocommit mode:
        # the lock lasts until the row is written, and what receivers of the
        # save do (post_save) stands or falls with the row.
        with transaction.atomic(using=db):
            connect_lock.lock(userinfo.sub, using=db)
            return self._connect_locked(
                db, user, tokens, userinfo, requested_scopes, client_id, same
            )

    @sensitive_variables()
    def _connect_locked(
        self,
        db: str,
        user: Any,
        tokens: TokenResponse,
        userinfo: UserInfo,
        requested_scopes: tuple[str, ...],
        client_id: str,
        same: tuple[str, ...],
    ) -> tuple[GoogleAccount, bool]:
        # Every client's row of the ``sub``, locked in one order. A locking
        # read also sees the latest committed rows under MariaDB's REPEATABLE
        # READ (Django's MySQL default, READ COMMITTED, takes no gap lock here
        # when there is no row).
        rows = list(self.using(db).select_for_update().filter(sub=userinfo.sub).order_by("pk"))
        if any(row.user_id != user.pk for row in rows):
            raise AccountLinkedToAnotherUser()
        # This client's row: its exact id first, then an older row of the
        # default client stored without one.
        ours = sorted(
            (row for row in rows if row.client_id in same), key=lambda r: same.index(r.client_id)
        )
        account = ours[0] if ours else None
        # Google sends a refresh token only when it showed the consent screen;
        # on a reconnect without one the stored token stays valid.
        refresh_token = tokens.refresh_token or _stored_refresh_token(account)
        if not refresh_token:
            raise MissingRefreshToken()
        created = account is None
        if account is None:
            account = self.model(user=user, sub=userinfo.sub)
        account.client_id = client_id
        previous_scopes = account.scopes
        _fill(account, tokens, userinfo, requested_scopes, refresh_token)
        account.save(force_insert=created, using=db)
        scope_changes.announce(account, previous_scopes)
        return account, created


def _stored_refresh_token(account: GoogleAccount | None) -> str:
    # A refresh token no configured key can decrypt is as good as none: the
    # user gets the missing_refresh_token page, and the grant is revoked so
    # that the next attempt brings a new one.
    if account is None or account.__dict__.get("refresh_token") is UNDECRYPTABLE:
        return ""
    return account.refresh_token


@sensitive_variables()
def _fill(
    account: GoogleAccount,
    tokens: TokenResponse,
    userinfo: UserInfo,
    requested_scopes: tuple[str, ...],
    refresh_token: str,
) -> None:
    account.email = userinfo.email
    account.email_verified = userinfo.email_verified
    account.name = userinfo.name
    account.given_name = userinfo.given_name
    account.family_name = userinfo.family_name
    account.picture = userinfo.picture
    account.locale = userinfo.locale
    account.access_token = tokens.access_token
    account.refresh_token = refresh_token
    account.token_type = tokens.token_type
    account.expires_at = timezone.now() + timedelta(seconds=tokens.expires_in)
    account.scopes = " ".join(tokens.scopes if tokens.scopes is not None else requested_scopes)
    account.status = GoogleAccount.Status.ACTIVE
    account.reconnect_reason = ""
    account.tokens_undecryptable = False
    store_lifetimes(account, tokens, now=timezone.now(), connect=True)


class GoogleAccount(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        RECONNECT_REQUIRED = "reconnect_required", _("Reconnect required")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="google_accounts",
        verbose_name=_("user"),
    )
    sub = models.CharField(_("Google account id"), max_length=255)
    # The id of the OAuth client that issued the grant (see google/clients.py):
    # it alone can refresh it. Empty: the ``default`` client's (a row stored
    # before clients were recorded).
    client_id = models.CharField(_("OAuth client id"), max_length=255, blank=True, default="")
    email = models.EmailField(_("email"), max_length=254, blank=True)
    email_verified = models.BooleanField(_("email verified"), default=False)
    name = models.CharField(_("name"), max_length=255, blank=True)
    given_name = models.CharField(_("given name"), max_length=255, blank=True)
    family_name = models.CharField(_("family name"), max_length=255, blank=True)
    picture = models.URLField(_("picture"), max_length=2048, blank=True)
    locale = models.CharField(_("locale"), max_length=35, blank=True)
    access_token = EncryptedTextField(_("access token"))
    refresh_token = EncryptedTextField(_("refresh token"), blank=True, default="")
    # Lookup digests of refresh_token, for Google's token-revoked events.
    refresh_token_prefix_digest = RefreshTokenDigestField(
        _("refresh token prefix digest"), kind=PREFIX
    )
    refresh_token_digest = RefreshTokenDigestField(_("refresh token digest"), kind=DOUBLE_SHA512)
    token_type = models.CharField(_("token type"), max_length=20, default="Bearer")
    expires_at = models.DateTimeField(_("access token expires at"))
    # Space-delimited, as Google sent them (RFC 6749 §3.3).
    scopes = models.TextField(_("granted scopes"), blank=True)
    status = models.CharField(
        _("status"), max_length=32, choices=Status.choices, default=Status.ACTIVE
    )
    # Blank while the account is active.
    reconnect_reason = models.CharField(
        _("reconnect reason"),
        max_length=32,
        choices=ReconnectReason.choices,
        blank=True,
        default="",
    )
    # A time-limited grant's end (see lifetimes.py); null for ongoing access.
    refresh_token_expires_at = models.DateTimeField(
        _("refresh token expires at"), null=True, blank=True
    )
    authorization_expires_at = models.DateTimeField(_("grant expires at"), null=True, blank=True)
    # Google ends refresh tokens left unused for six months.
    last_refreshed_at = models.DateTimeField(_("last refreshed at"), null=True, blank=True)
    # When google_account_expiring was sent for this grant; a new grant clears it.
    expiry_warned_at = models.DateTimeField(_("expiry warning sent at"), null=True, blank=True)
    # Set by rotate_google_token_keys and check_google_accounts when no key
    # decrypts the stored tokens, cleared when new tokens are stored: the
    # admin filters on it without decrypting a row.
    tokens_undecryptable = models.BooleanField(_("tokens undecryptable"), default=False)
    # The refresh lease (see lease.py): who is refreshing the token without a
    # row lock (an async caller), and until when the others wait for it.
    refresh_lease_until = models.DateTimeField(_("refresh lease until"), null=True, blank=True)
    refresh_lease_owner = models.CharField(
        _("refresh lease owner"), max_length=32, blank=True, default=""
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = GoogleAccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("Google account")
        verbose_name_plural = _("Google accounts")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One grant per Google account and client; the takeover check
            # (one user per ``sub``, across clients) is connect()'s.
            models.UniqueConstraint(
                fields=["client_id", "sub"], name="google_connect_googleaccount_unique_client_sub"
            ),
        ]
        indexes = [
            # The look-ups by ``sub`` alone (connect, security events); the
            # unique constraint's index serves those by client.
            models.Index(fields=["sub"], name="google_connect_sub_idx"),
            models.Index(fields=["status"], name="google_connect_status_idx"),
            # Serves ``ordering``: the admin changelist reads its first page
            # from this index instead of sorting the whole table.
            models.Index(fields=["created_at", "id"], name="google_connect_created_idx"),
            models.Index(
                fields=["refresh_token_prefix_digest"], name="google_connect_rt_prefix_idx"
            ),
            models.Index(fields=["refresh_token_digest"], name="google_connect_rt_digest_idx"),
            # Time-limited grants are few: partial indexes keep the overview's
            # "ending in the next weeks" cheap (PostgreSQL and SQLite; Django
            # creates no partial index on MariaDB, which has none).
            models.Index(
                fields=["refresh_token_expires_at"],
                name="google_connect_rt_ends_idx",
                condition=models.Q(refresh_token_expires_at__isnull=False),
            ),
            models.Index(
                fields=["authorization_expires_at"],
                name="google_connect_grant_ends_idx",
                condition=models.Q(authorization_expires_at__isnull=False),
            ),
            models.Index(
                fields=["id"],
                name="google_connect_undecrypt_idx",
                condition=models.Q(tokens_undecryptable=True),
            ),
        ]

    def __str__(self) -> str:
        return self.email or f"Google account {self.sub}"

    def __repr__(self) -> str:
        return f"<GoogleAccount id={self.pk} sub={self.sub!r} email={self.email!r}>"

    # -- guarding the token columns ---------------------------------------------
    #
    # Token columns are written only when this instance changed them. Code that
    # loaded an account, then saved it after someone else refreshed its token
    # (``account.name = ...; account.save()``), would otherwise write the old
    # token back over the new one. It also spares re-encrypting on every save.

    # ``loaded`` holds the tokens as read: hidden from error reports.
    @sensitive_variables()
    def save(self, *args: Any, **kwargs: Any) -> None:
        loaded = getattr(self, "_loaded_token_state", None)
        if loaded and not self._state.adding and kwargs.get("update_fields") is None:
            # __dict__, not getattr: an undecryptable token must not raise here.
            unchanged = {f for f, value in loaded.items() if self.__dict__.get(f) is value}
            if "refresh_token" in unchanged:
                unchanged.update(REFRESH_TOKEN_DIGEST_FIELDS)
            # Claimed and released by conditional UPDATEs only: an instance
            # read before a claim must not write the lease away.
            unchanged.update(LEASE_FIELDS)
            if unchanged:
                kwargs["update_fields"] = [
                    f.name
                    for f in self._meta.concrete_fields
                    if not f.primary_key and f.name not in unchanged
                ]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "refresh_token" in update_fields:
            kwargs["update_fields"] = {*update_fields, *REFRESH_TOKEN_DIGEST_FIELDS}
        super().save(*args, **kwargs)
        self.mark_token_state_loaded()

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> GoogleAccount:
        # **kwargs: newer Django versions pass more (fetch_mode in 6.1).
        instance = super().from_db(db, field_names, values, **kwargs)
        instance.mark_token_state_loaded()
        return instance

    def refresh_from_db(
        self, using: str | None = None, fields: Any = None, from_queryset: Any = None
    ) -> None:
        with undecryptable_passthrough():
            super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        self.mark_token_state_loaded(only=fields)

    def mark_token_state_loaded(self, only: Any = None) -> None:
        """Record the token columns' values (or just those named) as what the database holds."""
        current = self.__dict__
        names = [f for f in TOKEN_STATE_FIELDS if f in current and (only is None or f in only)]
        state = {} if only is None else dict(getattr(self, "_loaded_token_state", {}))
        state.update((name, current[name]) for name in names)
        self._loaded_token_state = state

    @property
    def grant_expires_at(self) -> datetime | None:
        """When a time-limited grant ends (a datetime), None for ongoing access."""
        return grant_ends_at(self)

    # -- what the pages and the admin show ------------------------------------------
    #
    # A time-limited grant ends at its stored date whether or not a refresh has
    # failed since: every page reads the state from here, not from ``status``.

    @property
    def grant_has_ended(self) -> bool:
        """True once a time-limited grant's stored end date has passed."""
        return grant_ended_by(self, timezone.now())

    @property
    def effective_status(self) -> str:
        """``status`` as the user should see it: an ended grant needs a reconnect."""
        if self.status == self.Status.ACTIVE and self.grant_has_ended:
            return self.Status.RECONNECT_REQUIRED
        return self.status

    @property
    def effective_reconnect_reason(self) -> str:
        """Why a reconnect is needed (blank while none is), an ended grant included."""
        if self.status == self.Status.ACTIVE and self.grant_has_ended:
            return ReconnectReason.REFRESH_TOKEN_EXPIRED
        return self.reconnect_reason

    def get_effective_status_display(self) -> str:
        return str(self.Status(self.effective_status).label)

    def get_effective_reconnect_reason_display(self) -> str:
        reason = self.effective_reconnect_reason
        return str(ReconnectReason(reason).label) if reason else ""

    @property
    def granted_scopes(self) -> list[str]:
        return self.scopes.split()

    def has_scope_set(self, name: str) -> bool:
        """Whether every scope of the ``SCOPE_SETS`` entry ``name`` is granted."""
        return not self.missing_scope_sets(name)

    def missing_scope_sets(self, *names: str) -> list[str]:
        """The names among ``names`` whose scopes are not all granted, in the order given.

        Raises ``UnknownScopeSet`` for a name ``SCOPE_SETS`` does not define.
        """
        return scope_sets.missing(self.granted_scopes, names)

    @property
    def tokens_decryptable(self) -> bool:
        """False when a stored token cannot be decrypted with the configured keys."""
        return not any(
            self.__dict__.get(name) is UNDECRYPTABLE for name in ("access_token", "refresh_token")
        )

    # -- the token lifecycle (see tokens.py) ---------------------------------------

    def get_access_token(self, *, min_validity: timedelta = tokens.MIN_VALIDITY) -> str:
        """An access token valid for at least another ``min_validity`` (60 s).

        Refreshes it first when needed, with one call to Google however many
        threads and processes ask at once. Raises ``ReconnectRequired`` when
        the grant is dead and ``GoogleUnavailable`` when Google kept failing.
        """
        return tokens.get_access_token(self, min_validity=min_validity)

    def refresh_access_token(self) -> None:
        """Get a new access token from Google now, whatever the stored one's expiry."""
        tokens.refresh(self, stale_token=self.access_token)

    def authorized_session(self) -> AuthorizedSession:
        """A ``requests.Session`` that sends this account's fresh token as a Bearer token."""
        from google_connect.store.authorized_session import AuthorizedSession

        return AuthorizedSession(self)

    def credentials(self) -> Any:
        """``google.oauth2.credentials.Credentials`` for google-api-python-client.

        Needs the ``google`` extra (``pip install google_connect[google]``).
        Refreshes go through google_connect, so they stay single-flight and
        the new token is stored.
        """
        from google_connect.store.google_auth import credentials_for

        return credentials_for(self)

    # -- the async twins (see aio.py; need the ``async`` extra) ---------------------

    async def aget_access_token(self, *, min_validity: timedelta = tokens.MIN_VALIDITY) -> str:
        """``get_access_token``, awaited: one call to Google between every caller,
        sync or async, in any process (see lease.py)."""
        from google_connect.store import aio

        return await aio.aget_access_token(self, min_validity=min_validity)

    async def arefresh_access_token(self) -> None:
        """``refresh_access_token``, awaited."""
        from google_connect.store import aio

        await aio.arefresh_access_token(self)

    async def aauthorized_session(self) -> AsyncAuthorizedSession:
        """An aiohttp session sending this account's fresh token (see async_session.py)."""
        from google_connect.store.async_session import AsyncAuthorizedSession

        return AsyncAuthorizedSession(self)

    async def arevoke(self) -> bool:
        """``revoke``, awaited."""
        from google_connect.store import aio

        return await aio.arevoke(self)

    async def adisconnect(self, *, request: Any = None) -> bool:
        """``disconnect``, awaited, with no transaction held across the call to Google."""
        from google_connect.store import aio

        return await aio.adisconnect(self, request=request)

    # -- ending the grant (see disconnection.py) -----------------------------------

    def revoke(self) -> bool:
        """Revoke the grant at Google, keeping the row. True if revoked now,
        False if it was already dead."""
        return disconnection.revoke(self)

    def disconnect(self, *, request: Any = None) -> bool:
        """Revoke the grant at Google, delete the row, send ``google_account_disconnected``."""
        return disconnection.disconnect(self, request=request)
