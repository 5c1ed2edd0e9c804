"""Management API access tokens: issued by ``/oauth/token``, checked on every ``/api/v2`` call.

Tokens are opaque random strings or HS256 JWTs (``iss``, ``sub``, ``aud``, ``azp``, ``iat``,
``exp``, ``scope``, ``gty``, ``jti``) signed with a per-emulator key using the standard library.
Either way the issuer keeps a record of each token, so expiry is exact to the sub-second (a test can
use a 1 s lifetime) and :meth:`TokenIssuer.rotate_signing_key` can invalidate every token issued so
far, as a rotated signing key does on a real tenant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from dataclasses import dataclass

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
    """What the emulator knows about an issued token."""

    token_id: str
    client_id: str
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float
    key_generation: int


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
        """A new token for ``client`` carrying ``scopes``."""
        now = self._clock()
        with self._lock:
            info = TokenInfo(
                token_id=secrets.token_hex(16),
                client_id=client.client_id,
                scopes=scopes,
                issued_at=now,
                expires_at=now + self.lifetime,
                key_generation=self._generation,
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
        claims = {
            "iss": self.issuer,
            "sub": f"{info.client_id}@clients",
            "aud": self.audience,
            "iat": int(info.issued_at),
            "exp": math.ceil(info.expires_at),
            "scope": " ".join(info.scopes),
            "gty": "client-credentials",
            "azp": info.client_id,
            "jti": info.token_id,
        }
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
        if not isinstance(claims, dict) or claims.get("aud") != self.audience:
            raise errors.unauthorized(errors.INVALID_TOKEN)
        return str(claims.get("jti", ""))

    def validate(self, token: str) -> TokenInfo:
        """The token's record, or the 401 :class:`ApiError` Auth0 would answer."""
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
