"""Access tokens: issued by ``/oauth/token`` (or seeded), checked on every ``/api/v2`` call.

Two kinds of token: a client-credentials token of an M2M client for the Management API
(:meth:`TokenIssuer.issue`) or of any client of the tenant for one of its APIs
(:meth:`TokenIssuer.issue_client_token`), and a user's access token for any API of the tenant
(:meth:`TokenIssuer.issue_user_token`), as a login or an On-Behalf-Of exchange issues it. Tokens
are opaque random strings or HS256 JWTs signed with a per-emulator key using the standard library:
``iss``, ``sub`` (``<client_id>@clients`` or the user id), ``aud``, ``azp``, ``iat``, ``exp``,
``scope``, ``jti``, plus ``gty: "client-credentials"`` on M2M tokens and the delegation chain
``act`` on exchanged tokens. Either way the issuer keeps a record of each token, so expiry is exact
to the sub-second (a test can use a 1 s lifetime), :meth:`TokenIssuer.lookup` knows what an opaque
token stands for, and :meth:`TokenIssuer.rotate_signing_key` can invalidate every token issued so
far, as a rotated signing key does on a real tenant. Only tokens whose audience is the Management
API are accepted by ``/api/v2`` (:meth:`TokenIssuer.validate`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import errors, known
from .errors import ApiError


@dataclass(frozen=True)
class M2MClient:
    """A machine-to-machine application allowed to call the Management API."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class TokenInfo:
    """What the emulator knows about an issued token.

    ``client_id`` is the client the token was issued to (``azp``); ``user_id`` is the user it stands
    for (``None`` for a client-credentials token); ``act`` is the delegation chain of an exchanged
    token (``{"sub": <client id>, "act": {...}}``, ``None`` otherwise).
    """

    token_id: str
    client_id: str
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float
    key_generation: int
    audience: str = ""
    user_id: str | None = None
    act: Mapping[str, Any] | None = None

    def claims(self, issuer: str) -> dict[str, Any]:
        """The token's claims, as its JWT form carries them."""
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": self.user_id if self.user_id is not None else f"{self.client_id}@clients",
            "aud": self.audience,
            "iat": int(self.issued_at),
            "exp": math.ceil(self.expires_at),
            "scope": " ".join(self.scopes),
        }
        if self.user_id is None:
            claims["gty"] = "client-credentials"
        claims["azp"] = self.client_id
        claims["jti"] = self.token_id
        if self.act is not None:
            claims["act"] = copy.deepcopy(dict(self.act))
        return claims


def act_depth(act: Mapping[str, Any] | None) -> int:
    """How many nested ``act`` levels a delegation chain has (0 for none)."""
    depth = 0
    while isinstance(act, Mapping):
        depth += 1
        act = act.get("act")
    return depth


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Issues and validates access tokens for one tenant; thread-safe."""

    def __init__(self, *, domain: str, lifetime: float, token_format: str, clock=time.time) -> None:
        if token_format not in ("opaque", "jwt"):
            raise ValueError("token_format must be 'opaque' or 'jwt'")
        if lifetime <= 0:
            raise ValueError("token_lifetime must be positive")
        self.domain = domain
        self.audience = f"https://{domain}/api/v2/"
        self.issuer = f"https://{domain}/"
        self.lifetime = lifetime
        self.token_format = token_format
        self._clock = clock
        self._lock = threading.Lock()
        self._key = secrets.token_bytes(32)
        self._generation = 0
        self._by_id: dict[str, TokenInfo] = {}
        self._opaque: dict[str, str] = {}
        self._issued: list[str] = []  # every token string handed out, for leak scans in tests

    def issue(self, client: M2MClient, scopes: tuple[str, ...]) -> tuple[str, TokenInfo]:
        """A new client-credentials token for ``client`` for the Management API carrying ``scopes``."""
        return self._issue(
            client_id=client.client_id, scopes=scopes, lifetime=self.lifetime, audience=self.audience
        )

    def issue_client_token(
        self, *, client_id: str, audience: str, scopes: tuple[str, ...], lifetime: float | None = None
    ) -> tuple[str, TokenInfo]:
        """A new client-credentials token for ``client_id`` to any API of the tenant (``audience``).

        ``lifetime`` defaults to :attr:`lifetime`, the Management API tokens' lifetime.
        """
        effective = self.lifetime if lifetime is None else lifetime
        if effective <= 0:
            raise ValueError("a token lifetime must be positive")
        return self._issue(client_id=client_id, scopes=scopes, lifetime=effective, audience=audience)

    def issue_user_token(
        self,
        *,
        client_id: str,
        user_id: str,
        audience: str,
        scopes: tuple[str, ...],
        lifetime: float,
        act: Mapping[str, Any] | None = None,
    ) -> tuple[str, TokenInfo]:
        """A new access token for ``user_id`` to ``audience``, issued to ``client_id``."""
        if lifetime <= 0:
            raise ValueError("a token lifetime must be positive")
        return self._issue(
            client_id=client_id,
            scopes=scopes,
            lifetime=lifetime,
            audience=audience,
            user_id=user_id,
            act=copy.deepcopy(dict(act)) if act is not None else None,
        )

    def _issue(
        self,
        *,
        client_id: str,
        scopes: tuple[str, ...],
        lifetime: float,
        audience: str,
        user_id: str | None = None,
        act: Mapping[str, Any] | None = None,
    ) -> tuple[str, TokenInfo]:
        now = self._clock()
        with self._lock:
            info = TokenInfo(
                token_id=secrets.token_hex(16),
                client_id=client_id,
                scopes=scopes,
                issued_at=now,
                expires_at=now + lifetime,
                key_generation=self._generation,
                audience=audience,
                user_id=user_id,
                act=act,
            )
            self._by_id[info.token_id] = info
            if self.token_format == "opaque":
                token = secrets.token_urlsafe(48)
                self._opaque[token] = info.token_id
            else:
                token = self._sign_jwt(info)
            self._issued.append(token)
        known.remember(token)
        return token, info

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    def _sign_jwt(self, info: TokenInfo) -> str:
        header = {"alg": "HS256", "typ": "JWT", "kid": f"emulator-{info.key_generation}"}
        claims = info.claims(self.issuer)
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}"

    def _jwt_token_id(self, token: str) -> str:
        parts = token.split(".")
        if len(parts) != 3:
            raise errors.unauthorized(errors.INVALID_TOKEN)
        try:
            signature = _b64url_decode(parts[2])
            claims = json.loads(_b64url_decode(parts[1]))
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.unauthorized(errors.INVALID_TOKEN) from exc
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            raise errors.unauthorized(errors.INVALID_SIGNATURE)
        if not isinstance(claims, dict):
            raise errors.unauthorized(errors.INVALID_TOKEN)
        return str(claims.get("jti", ""))

    def validate(self, token: str) -> TokenInfo:
        """A Management API token's record, or the 401 :class:`ApiError` Auth0 would answer.

        A valid token for another API (a user's access token, say) is "Invalid token" here.
        """
        info = self.lookup(token)
        if info.audience != self.audience:
            raise errors.unauthorized(errors.INVALID_TOKEN)
        return info

    def lookup(self, token: str) -> TokenInfo:
        """Any token's record if it is genuine, current and unexpired; else the 401 :class:`ApiError`."""
        with self._lock:
            token_id = self._opaque.get(token)
            if token_id is None:
                token_id = self._jwt_token_id(token)
            info = self._by_id.get(token_id)
            if info is None:
                raise errors.unauthorized(errors.INVALID_TOKEN)
            if info.key_generation != self._generation:
                raise errors.unauthorized(errors.INVALID_SIGNATURE)
        if self._clock() >= info.expires_at:
            raise errors.unauthorized(errors.EXPIRED_TOKEN)
        return info

    def rotate_signing_key(self) -> None:
        """Invalidate every token issued so far (401 "Invalid signature ..." from now on)."""
        with self._lock:
            self._key = secrets.token_bytes(32)
            self._generation += 1


def parse_bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header, or the 401 Auth0 answers without one."""
    if not header:
        raise errors.unauthorized(errors.MISSING_AUTHENTICATION)
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(400, "Bad HTTP authentication header format", "Bearer")
    return token.strip()
