"""Constants shared by the HTTP-client and token-cache edge tests (test_auth0_edges, test_token_edges)."""

from __future__ import annotations

DOMAIN = "acme.eu.auth0.com"
CLIENT_ID = "edge-m2m-client"
CLIENT_SECRET = "edge-m2m-secret-0123456789abcdef"  # noqa: S105 - a test credential
SYSTEM_API = f"https://{DOMAIN}/api/v2/"
# Every scope the on_behalf_of mode needs but create:clients: a POST /clients answers 403.
WITHOUT_CREATE = ["read:resource_servers", "read:clients", "update:clients"]
