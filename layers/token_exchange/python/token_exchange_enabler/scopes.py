"""The Auth0 Management API scopes the product's client needs, per ``TOKEN_EXCHANGE_MODE``.

Defined once here; the README's scopes table, the tests and the local stack read them from this
module. Least privilege: a tenant administrator grants exactly :func:`required_scopes`.

- ``on_behalf_of``: read the API (``read:resource_servers``), find its Custom API client
  (``read:clients``), create it (``create:clients``) or add the On-Behalf-Of profile to it
  (``update:clients``).
- with downstream grants configured (``on_behalf_of`` only): the user-delegated client grants of
  each Custom API client are found (``read:client_grants``), created (``create:client_grants``) and
  brought to the configured scopes (``update:client_grants``).
- ``legacy_resource_server``: read the API and PATCH its ``token_exchange`` field
  (``read:resource_servers``, ``update:resource_servers``).
"""

from __future__ import annotations

from .config import MODE_LEGACY, MODE_ON_BEHALF_OF

OBO_SCOPES: tuple[str, ...] = ("read:resource_servers", "read:clients", "create:clients", "update:clients")
GRANT_SCOPES: tuple[str, ...] = ("read:client_grants", "create:client_grants", "update:client_grants")
LEGACY_SCOPES: tuple[str, ...] = ("read:resource_servers", "update:resource_servers")


def required_scopes(mode: str, with_grants: bool) -> tuple[str, ...]:
    """The scopes the client needs in ``mode``; ``with_grants`` when downstream grants are configured.

    Raises ValueError for an unknown mode, or for grants outside ``on_behalf_of`` (the
    configuration refuses that combination too).
    """
    if mode == MODE_ON_BEHALF_OF:
        return OBO_SCOPES + GRANT_SCOPES if with_grants else OBO_SCOPES
    if mode == MODE_LEGACY:
        if with_grants:
            raise ValueError(f"downstream grants apply only to {MODE_ON_BEHALF_OF}, not {mode}")
        return LEGACY_SCOPES
    raise ValueError(f"unknown token exchange mode {mode!r}: expected {MODE_ON_BEHALF_OF} or {MODE_LEGACY}")
