"""The Auth0 Management API scopes the product's client needs, per ``TOKEN_EXCHANGE_MODE``.

Defined once here; the README's scopes table, the tests and the local stack read them from this
module. Least privilege: a tenant administrator grants exactly :func:`required_scopes`.

- ``on_behalf_of``: read the API (``read:resource_servers``), find its Custom API client
  (``read:clients``), create it (``create:clients``) or add the On-Behalf-Of profile to it
  (``update:clients``).
- with downstream grants configured (``on_behalf_of`` only): the user-delegated client grants of
  each Custom API client are found (``read:client_grants``), created (``create:client_grants``) and
  brought to the configured scopes (``update:client_grants``).
- with credentials delivery (``CLIENT_SECRETS_PREFIX``, ``on_behalf_of`` only): a Custom API client
  the product created but whose credentials are not stored (a store that failed) is given a new
  secret (``POST /api/v2/clients/{id}/rotate-secret``), and the operator's ``rotate`` sets one
  (``PATCH /api/v2/clients/{id}`` with ``client_secret``): both need ``update:client_keys``. The
  secret of a new client comes in the create call's answer: no scope for that.
- ``legacy_resource_server``: read the API and PATCH its ``token_exchange`` field
  (``read:resource_servers``, ``update:resource_servers``).
"""

from __future__ import annotations

from .config import MODE_LEGACY, MODE_ON_BEHALF_OF

OBO_SCOPES: tuple[str, ...] = ("read:resource_servers", "read:clients", "create:clients", "update:clients")
GRANT_SCOPES: tuple[str, ...] = ("read:client_grants", "create:client_grants", "update:client_grants")
LEGACY_SCOPES: tuple[str, ...] = ("read:resource_servers", "update:resource_servers")
CREDENTIAL_SCOPES: tuple[str, ...] = ("update:client_keys",)


def required_scopes(mode: str, with_grants: bool, *, with_credentials: bool = False) -> tuple[str, ...]:
    """The scopes the client needs in ``mode``; ``with_grants`` when downstream grants are configured,
    ``with_credentials`` when credentials are delivered (``CLIENT_SECRETS_PREFIX``).

    Raises ValueError for an unknown mode, or for grants or credentials outside ``on_behalf_of``
    (the configuration refuses those combinations too).
    """
    if mode == MODE_ON_BEHALF_OF:
        scopes = OBO_SCOPES + GRANT_SCOPES if with_grants else OBO_SCOPES
        return scopes + CREDENTIAL_SCOPES if with_credentials else scopes
    if mode == MODE_LEGACY:
        if with_grants or with_credentials:
            raise ValueError(f"downstream grants and credentials delivery apply only to {MODE_ON_BEHALF_OF}, "
                             f"not {mode}")
        return LEGACY_SCOPES
    raise ValueError(f"unknown token exchange mode {mode!r}: expected {MODE_ON_BEHALF_OF} or {MODE_LEGACY}")
