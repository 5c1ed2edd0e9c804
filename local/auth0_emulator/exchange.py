"""On-Behalf-Of token exchange at ``POST /oauth/token`` (RFC 8693, as Auth0 documents it).

A middle-tier API's **Custom API client** presents a user's access token for that API and gets a
token for the same user to a downstream API. The checks, in the order the emulator makes them (the
first that fails answers; Auth0 documents the statuses, not the order):

1. Parameters (400 ``invalid_request``): ``subject_token``, ``subject_token_type`` and
   ``requested_token_type`` (both ``urn:ietf:params:oauth:token-type:access_token``), ``audience``,
   ``client_id``.
2. Client authentication (401 ``access_denied`` "Unauthorized", as for client credentials): the
   client's id and secret in the body or with HTTP Basic.
3. The client may exchange (403 ``unauthorized_client``): ``app_type: "resource_server"`` and
   ``on_behalf_of_token_exchange`` in ``token_exchange.allow_any_profile_of_type``; not
   ``token_endpoint_auth_method: "none"``.
4. The subject token (401 ``invalid_grant``): genuine, current, unexpired, a user's token (not a
   client-credentials one); issued for the client's own API (403 ``access_denied`` otherwise); at
   most 3 nested ``act`` levels (400 ``invalid_request``, Auth0's documented message).
5. The downstream API (403 ``access_denied``): an API of the tenant, not a system API, whose
   user-delegated access policy is not ``deny_all``; a user-delegated client grant
   (``subject_type: "user"``) from the client to it.
6. Consent (403 ``consent_required``): the exchange cannot prompt the user, so the downstream API must
   allow skipping consent (``skip_consent_for_verifiable_first_party_clients: true``) and the client
   must be first-party (``is_first_party``, true for Custom API clients).
7. Scopes: requested (or, when none are, everything allowed) ∩ the grant's ``scope`` (or every scope
   of the API with ``allow_all_scopes``) ∩ the user's permissions for the API ∩ the API's scopes. If
   scopes were requested and none remain: 403 ``access_denied``.

The new token keeps the user (``sub``), has the downstream audience, is issued to the client
(``azp``), lives the downstream API's ``token_lifetime`` and carries the delegation chain: ``act`` is
``{"sub": <client>, "act": <the subject's act, or {"sub": <the subject's client>}>}``. The answer is
``{"access_token", "expires_in", ["scope",] "token_type": "Bearer", "issued_token_type"}``, with
``scope`` only when it differs from the scopes requested.

Where Auth0 documents only the status, the ``error`` codes and descriptions above are the emulator's
choices (see docs/design.md, "What the emulator implements, and from where").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .errors import ApiError
from .state import Tenant
from .tokens import TokenInfo, TokenIssuer, act_depth

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
OBO_PROFILE = "on_behalf_of_token_exchange"
#: A subject token may carry at most this many nested ``act`` levels less one (Auth0: "fails if the
#: subject token already has four nested act levels").
MAX_SUBJECT_ACT_DEPTH = 4
DEPTH_EXCEEDED = "Delegation chain (`act` claim) depth exceeds the maximum allowed limit of 4"
#: The ``description`` of a ``success_on_behalf_of_token_exchange`` record (its log type's description).
SUCCESS_DESCRIPTION = "Successful Exchange via On-Behalf-Of Token Exchange"


class ExchangeError(Exception):
    """A refused exchange: the HTTP status and OAuth error Auth0 would answer."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class Attempt:
    """What an exchange attempt was about, for its log record (filled in as the checks go)."""

    client_id: str | None = None
    client_name: str = ""
    audience: str = ""
    user_id: str = ""
    user_name: str = ""
    subject_token_type: str = ""
    requested_token_type: str = ""
    actor: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None
    token_jti: str | None = None


def is_on_behalf_of(params: Mapping[str, Any]) -> bool:
    """Whether a token request is an On-Behalf-Of exchange (the grant and subject token types)."""
    return (
        params.get("grant_type") == TOKEN_EXCHANGE_GRANT and params.get("subject_token_type") == ACCESS_TOKEN_TYPE
    )


def _required(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise ExchangeError(400, "invalid_request", f"Missing required parameter: {name}")
    return value


def _subject(issuer: TokenIssuer, token: str) -> TokenInfo:
    try:
        return issuer.lookup(token)
    except ApiError as exc:
        expired = exc.message == errors.EXPIRED_TOKEN
        raise ExchangeError(
            401, "invalid_grant", "Subject token has expired" if expired else "Invalid subject token"
        ) from exc


def exchange(tenant: Tenant, issuer: TokenIssuer, params: Mapping[str, Any], attempt: Attempt) -> dict[str, Any]:
    """Run an On-Behalf-Of exchange; return the 200 body or raise :class:`ExchangeError`.

    ``attempt`` is filled in along the way, for the log record of a success or a failure.
    """
    attempt.subject_token_type = str(params.get("subject_token_type") or "")
    attempt.requested_token_type = str(params.get("requested_token_type") or "")
    attempt.audience = str(params.get("audience") or "")
    presented = params.get("client_id")
    attempt.client_id = str(presented) if presented else None
    attempt.actor = {"sub": attempt.client_id}

    subject_token = _required(params, "subject_token")
    for name in ("subject_token_type", "requested_token_type"):
        if _required(params, name) != ACCESS_TOKEN_TYPE:
            raise ExchangeError(400, "invalid_request", f"Unsupported {name}: {params[name]}")
    audience = _required(params, "audience")
    client_id = _required(params, "client_id")

    # 2. client authentication
    client = tenant.find_client(client_id)
    m2m = tenant.m2m_client(client_id)
    secret = params.get("client_secret")
    if client is not None and secret == client.get("client_secret"):
        attempt.client_name = str(client.get("name", ""))
    elif client is None and m2m is not None and secret == m2m.client_secret:
        client = {"client_id": client_id}  # the admin M2M credentials: not a Custom API client
    else:
        raise ExchangeError(401, "access_denied", "Unauthorized")

    # 3. the client may exchange
    if client.get("app_type") != "resource_server" or not client.get("resource_server_identifier"):
        raise ExchangeError(
            403,
            "unauthorized_client",
            "Only a Custom API client (app_type resource_server) can perform an On-Behalf-Of token exchange",
        )
    profiles = (client.get("token_exchange") or {}).get("allow_any_profile_of_type") or []
    if OBO_PROFILE not in profiles:
        raise ExchangeError(
            403, "unauthorized_client", "On-Behalf-Of token exchange is not enabled for this client"
        )
    if client.get("token_endpoint_auth_method") == "none":
        raise ExchangeError(
            403,
            "unauthorized_client",
            "On-Behalf-Of token exchange is not allowed with token_endpoint_auth_method none",
        )

    # 4. the subject token
    subject = _subject(issuer, subject_token)
    if subject.user_id is None:
        raise ExchangeError(401, "invalid_grant", "The subject token must be a user's access token")
    user = tenant.get_user(subject.user_id)
    if user is None:
        raise ExchangeError(401, "invalid_grant", "Invalid subject token")
    attempt.user_id = subject.user_id
    attempt.user_name = str(user.get("email", ""))
    chain = dict(subject.act) if subject.act is not None else {"sub": subject.client_id}
    attempt.actor = {"sub": client_id, "act": chain}
    if subject.audience != client["resource_server_identifier"]:
        raise ExchangeError(
            403, "access_denied", "The subject token was not issued for the API of this Custom API client"
        )
    if act_depth(subject.act) >= MAX_SUBJECT_ACT_DEPTH:
        raise ExchangeError(400, "invalid_request", DEPTH_EXCEEDED)

    # 5. the downstream API and the user-delegated grant
    target = tenant.resource_server_by_identifier(audience)
    if target is None:
        raise ExchangeError(403, "access_denied", f"Service not enabled within domain: {audience}")
    if target.get("is_system"):
        raise ExchangeError(403, "access_denied", "On-Behalf-Of token exchange cannot target a system API")
    policy = ((target.get("subject_type_authorization") or {}).get("user") or {}).get("policy", "allow_all")
    if policy == "deny_all":
        raise ExchangeError(403, "access_denied", f'User-delegated access to "{audience}" is not allowed')
    grant = tenant.find_client_grant(client_id, audience, "user")
    if grant is None:
        raise ExchangeError(
            403,
            "access_denied",
            f'Client is not authorized to access "{audience}" on behalf of a user. You need to create a '
            'user-delegated "client-grant" (subject_type "user") associated to this API.',
        )

    # 6. consent cannot be prompted for
    if not target.get("skip_consent_for_verifiable_first_party_clients") or not client.get("is_first_party", True):
        raise ExchangeError(403, "consent_required", "Consent required")

    # 7. scopes
    api_scopes = [s["value"] for s in target.get("scopes", []) if isinstance(s, dict) and "value" in s]
    grant_scopes = api_scopes if grant.get("allow_all_scopes") is True else list(grant.get("scope") or [])
    permitted = set(user["permissions"].get(audience, []))
    allowed = [s for s in grant_scopes if s in permitted and s in api_scopes]
    raw_scope = params.get("scope")
    requested = list(dict.fromkeys(str(raw_scope).split())) if raw_scope else None
    issued = [s for s in requested if s in allowed] if requested is not None else allowed
    if requested and not issued:
        raise ExchangeError(
            403, "access_denied", "The user does not have the requested scopes for the target audience"
        )

    lifetime = float(target.get("token_lifetime") or 86400)
    token, info = issuer.issue_user_token(
        client_id=client_id,
        user_id=subject.user_id,
        audience=audience,
        scopes=tuple(issued),
        lifetime=lifetime,
        act=attempt.actor,
    )
    attempt.scope = " ".join(issued)
    attempt.token_jti = info.token_id
    body: dict[str, Any] = {"access_token": token, "expires_in": int(lifetime) if lifetime.is_integer() else lifetime}
    if issued != (requested or []):
        body["scope"] = " ".join(issued)
    body["token_type"] = "Bearer"
    body["issued_token_type"] = ACCESS_TOKEN_TYPE
    return body
