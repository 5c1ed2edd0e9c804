"""Proof that "enabled" means an exchange works: what an API's own service does with On-Behalf-Of.

A user signs in to the new API's front end and calls the API with an access token for it; the
API's service, authenticated as the API's Custom API client, exchanges that token at
``POST /oauth/token`` (RFC 8693, as Auth0 documents On-Behalf-Of Token Exchange) for a token to a
downstream API, on the same user's behalf. This module sends that request, the way a service
would, and says whether a token came back (and with which scopes). It is a tool beside the
product: the demo and the tests use it against the Auth0 emulator.

Source of the request's shape: https://auth0.com/docs/api/authentication/on-behalf-of-token-exchange/get-token
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@dataclass(frozen=True)
class ExchangeResult:
    ok: bool
    status: int
    scope: str | None = None  # the scopes granted (Auth0 sends them only when they differ from those asked)
    error: str | None = None  # Auth0's "error: error_description" when refused

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "status": self.status, "scope": self.scope, "error": self.error}


def exchange(base_url: str, *, client_id: str, client_secret: str, subject_token: str, audience: str,
             scope: str | None = None, timeout: float = 10.0) -> ExchangeResult:
    """Exchange ``subject_token`` (a user's access token for the client's API) for a token to
    ``audience``. Neither the token nor the secret is ever part of the result."""
    body = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "requested_token_type": ACCESS_TOKEN_TYPE,
        "audience": audience,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    if scope:
        body["scope"] = scope
    answer = requests.post(f"{base_url.rstrip('/')}/oauth/token", data=body, timeout=timeout)
    try:
        document = answer.json()
    except ValueError:
        document = {}
    if answer.ok and document.get("access_token"):
        return ExchangeResult(True, answer.status_code, scope=document.get("scope") or scope)
    error = f"{document.get('error', 'error')}: {document.get('error_description', answer.reason)}"
    return ExchangeResult(False, answer.status_code, error=error)
