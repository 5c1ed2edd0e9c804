"""A local Auth0 tenant over real HTTP: token endpoint, Management API subset and log stream.

Used by the tests, the demo and the benchmarks in place of a real tenant::

    from local.auth0_emulator import Auth0Emulator, Fault, RateLimit

    with Auth0Emulator(domain="acme.eu.auth0.com", rate_limit=RateLimit.free()) as emu:
        emu.add_m2m_client("cid", "secret", scopes=["read:resource_servers", "update:clients"])
        emu.on_log_event = lambda record: ...   # each sapi record, e.g. to put on EventBridge
        ...  # point the product at emu.base_url

What is emulated, wire-compatible with Auth0 (bodies, status codes, headers):

- ``POST /oauth/token`` (client credentials; JSON, form or HTTP Basic client authentication):
  opaque or HS256-JWT tokens that really expire, carry the client's scopes and can be invalidated
  all at once (:meth:`Auth0Emulator.rotate_signing_key`); OAuth errors
  ``{"error", "error_description"}``; its own rate bucket with ``Retry-After``.
- The Management API routes the product uses, with Auth0's scopes, pagination shapes and errors
  (``{"statusCode", "error", "message", "errorCode"}``; 401s carry no ``errorCode``):
  ``GET|POST /api/v2/resource-servers``, ``GET|PATCH|DELETE /api/v2/resource-servers/{id}`` (id or
  identifier), ``GET|POST /api/v2/clients``, ``GET|PATCH|DELETE /api/v2/clients/{id}``,
  ``GET|POST /api/v2/client-grants``, ``DELETE /api/v2/client-grants/{id}``.
- Request bodies and query strings validated against the official OpenAPI schemas (unknown body
  fields or query parameters are a 400, as on a real tenant), including ``token_exchange`` being
  unknown on resource servers — or, with ``legacy_token_exchange_field=True``, accepted the way
  the 2019 beta did.
- Custom API clients: ``app_type: "resource_server"`` + ``resource_server_identifier`` links the
  client to the API (the API's read-only ``client_id``); PATCH replaces top-level fields, so a
  caller must merge ``token_exchange`` itself.
- The per-tenant token-bucket rate limit with ``x-ratelimit-limit/-remaining/-reset`` on every
  response and 429 ``too_many_requests``; presets for Auth0's published limits.
- Fault injection (:class:`Fault`): error statuses, latency, dropped connections, 401s on valid
  tokens; before the request takes effect or, with ``after=True``, after it (the answer is lost).
- :func:`known_secrets`: every client secret and access token the emulators of this process were
  given or issued, for the test suite's leak scan.
- Log streaming: the ``sapi`` record Auth0 streams for each successful write, valid against
  Auth0's official ``sapi`` JSON Schema, handed to ``on_log_event``; :func:`eventbridge_envelope`
  wraps it the way Auth0's EventBridge partner source does.

Deliberately not emulated: any other Management API route, other grant types, field-level scope
rules beyond ``client_secret`` visibility (read:client_keys) and updates (update:client_keys),
the alternative scopes Auth0 also accepts on a route (e.g. ``read:client_summary``), the Lucene
``q`` search on clients, per-client or per-endpoint rate limits, client-grant scope checks against
the API's scopes, Auth0's custom ``format`` checks, chunked request bodies, and persistence
(everything lives in memory). The credentials given to :meth:`Auth0Emulator.add_m2m_client` stand
for the tenant's admin application and are not listed among the tenant's clients.

Where Auth0's behaviour is not documented the emulator makes a stated choice (a system API's PATCH,
a second Custom API client for one API, 409 error codes, defaults of new objects): see the
docstring of :mod:`local.auth0_emulator.state`.

Modules: ``emulator`` (the public class), ``server`` (HTTP transport), ``app`` (request handling
and routes), ``state`` (tenant data), ``tokens``, ``ratelimit``, ``faults``, ``schemas`` (OpenAPI
validation) and ``logstream`` (sapi records, EventBridge envelope).
"""

from .emulator import Auth0Emulator
from .errors import ApiError
from .faults import Fault
from .known import known_secrets
from .logstream import eventbridge_envelope
from .ratelimit import RateLimit

__all__ = ["ApiError", "Auth0Emulator", "Fault", "RateLimit", "eventbridge_envelope", "known_secrets"]
