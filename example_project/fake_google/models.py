"""What the stand-in remembers between requests: grants, codes and tokens.

Codes and tokens are stored as SHA-256 digests, the way a real authorization
server would, so neither a database dump nor a page of this site can hand one
out. Everything lives in the database (no process memory), so a multi-process
server sees one state.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

CODE_LIFETIME = timedelta(minutes=10)
# Google's access tokens live an hour and say 3599 seconds.
ACCESS_TOKEN_LIFETIME = timedelta(seconds=3599)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class GrantQuerySet(models.QuerySet["Grant"]):
    def live(self) -> GrantQuerySet:
        """Grants whose tokens still work: not revoked, not past a time limit."""
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now())
        )

    def of(self, client_id: str, identity: str) -> Grant | None:
        """The identity's live grant to the client: Google keeps one per account and client."""
        return self.live().filter(client_id=client_id, identity=identity).order_by("-pk").first()

    def union_with_earlier(self, client_id: str, identity: str, scopes: list[str]) -> list[str]:
        """``scopes`` plus those of the identity's live grant to the client (incremental auth)."""
        union = dict.fromkeys(scopes)
        grant = self.of(client_id, identity)
        if grant is not None:
            union.update(dict.fromkeys(grant.scope_list))
        return list(union)

    def consent(
        self, client_id: str, identity: str, scopes: list[str], *, expires_at: datetime | None
    ) -> Grant:
        """Record a consent as Google does: into the live grant, or a new one.

        Consenting again adds the scopes to the grant the account already
        gave the client (the permissions page lists it once); the time limit
        chosen last applies to the whole grant.
        """
        grant = self.of(client_id, identity)
        if grant is None:
            return self.create(
                client_id=client_id,
                identity=identity,
                scopes=" ".join(scopes),
                expires_at=expires_at,
            )
        grant.scopes = " ".join(dict.fromkeys([*grant.scope_list, *scopes]))
        grant.expires_at = expires_at
        grant.save(update_fields=["scopes", "expires_at"])
        return grant


class Grant(models.Model):
    """What one visitor allowed one client, over all its consents."""

    client_id = models.CharField(max_length=255)
    identity = models.CharField(max_length=32)
    # Space-delimited: every scope any consent to this grant allowed. Each
    # token covers its own subset (Token.scopes).
    scopes = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Time-limited access, as the visitor chose on the consent page; null for
    # ongoing access. Once passed, the grant's tokens stop working.
    expires_at = models.DateTimeField(null=True, blank=True)
    # Google Cloud session control: refreshes answer invalid_grant with
    # error_subtype invalid_rapt until the user signs in again (tests set it).
    reauth_required = models.BooleanField(default=False)

    objects = GrantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"grant {self.pk} to {self.client_id} as {self.identity}"

    def has_ended(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def revoke(self) -> None:
        # Revoking any token of a grant revokes the whole grant, as at Google.
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])

    def end_now(self) -> None:
        """End a time-limited grant now, as if its time had run out (the demo's clock)."""
        self.expires_at = timezone.now()
        self.save(update_fields=["expires_at"])


class AuthorizationCodeQuerySet(models.QuerySet["AuthorizationCode"]):
    def issue(
        self, grant: Grant, *, scopes: list[str], redirect_uri: str, code_challenge: str
    ) -> str:
        code = "4/demo-" + secrets.token_urlsafe(32)
        self.create(
            grant=grant,
            scopes=" ".join(scopes),
            digest=digest(code),
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            expires_at=timezone.now() + CODE_LIFETIME,
        )
        return code

    def redeem(self, code: str) -> AuthorizationCode | None:
        """Use up ``code``; None unless it exists, is unexpired and was never used.

        The code is spent by this call whatever the caller finds wrong with the
        rest of the request, so a wrong verifier cannot be retried.
        """
        now = timezone.now()
        claimed = self.filter(digest=digest(code), used_at__isnull=True).update(used_at=now)
        if not claimed:
            return None
        row = self.select_related("grant").get(digest=digest(code))
        return row if row.expires_at > now else None


class AuthorizationCode(models.Model):
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64, unique=True)
    # What the tokens this code brings cover: this consent's scopes.
    scopes = models.TextField(default="")
    redirect_uri = models.TextField()
    code_challenge = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = AuthorizationCodeQuerySet.as_manager()

    def __str__(self) -> str:
        return f"authorization code {self.pk} of grant {self.grant_id}"


# Google keeps up to 100 refresh tokens per account and client; a new one
# beyond that ends the oldest.
REFRESH_TOKEN_LIMIT = 100


class TokenQuerySet(models.QuerySet["Token"]):
    def issue(self, grant: Grant, kind: str, scopes: str) -> str:
        if kind == Token.Kind.ACCESS:
            token = "ya29.demo-" + secrets.token_urlsafe(32)
            expires_at = timezone.now() + ACCESS_TOKEN_LIFETIME
        else:
            token = "1//demo-" + secrets.token_urlsafe(32)
            expires_at = None
        self.create(
            grant=grant, kind=kind, digest=digest(token), scopes=scopes, expires_at=expires_at
        )
        if kind == Token.Kind.REFRESH:
            # Beside the grant's earlier refresh tokens, which keep working.
            kept = self.filter(grant=grant, kind=kind).order_by("-pk")[:REFRESH_TOKEN_LIMIT]
            self.filter(grant=grant, kind=kind).exclude(
                pk__in=list(kept.values_list("pk", flat=True))
            ).delete()
        return token

    def live(self, token: str, kind: str | None = None) -> Token | None:
        """The token row if ``token`` still works: known, unexpired, its grant not revoked."""
        rows = self.select_related("grant").filter(
            digest=digest(token), grant__revoked_at__isnull=True
        )
        if kind is not None:
            rows = rows.filter(kind=kind)
        row = rows.first()
        if row is None or (row.expires_at is not None and row.expires_at <= timezone.now()):
            return None
        if row.grant.has_ended():
            return None
        return row


class Token(models.Model):
    class Kind(models.TextChoices):
        ACCESS = "access", "access token"
        REFRESH = "refresh", "refresh token"

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="tokens")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    digest = models.CharField(max_length=64, unique=True)
    # Space-delimited: what this token may be used for.
    scopes = models.TextField(default="")
    # Refresh tokens live until their grant is revoked.
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} of grant {self.grant_id}"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class SigningKey(models.Model):
    """The RSA key the stand-in signs its security events with (see risc.py).

    Made on first use and kept in the database, so every process of the
    server signs with the key its key set publishes.
    """

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"signing key {self.kid}"
