"""A local Auth0 tenant over real HTTP: token endpoint, Management API subset and log streams.

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
  ``{"error", "error_description"}``; its own rate bucket with ``Retry-After``. Two kinds of
  credentials: those given to :meth:`Auth0Emulator.add_m2m_client` (checked first, unchanged: a
  Management API token with the scopes given there), and any client of the tenant (``POST
  /clients``) whose ``grant_types`` include ``client_credentials`` — which a new client other than a
  Custom API client has by default, as Auth0 gives a confidential application (docs: "Application
  Grant Types") — authenticated with its current ``client_secret`` (a rotated secret works at once,
  the old one is refused). Such a client gets a token for an API of the tenant (the Management API
  included) only through a client grant to it with ``subject_type`` absent or ``client``: the token
  carries the grant's ``scope`` as it is when the token is issued (every scope of the API with
  ``allow_all_scopes``); a requested ``scope`` must be a subset. No grant: 403 ``access_denied``
  "Client is not authorized to access ..."; no ``client_credentials`` grant type: 403
  ``unauthorized_client`` "Grant type 'client_credentials' not allowed for the client.". A
  Management API token lives ``token_lifetime`` seconds (the emulator's setting), another API's
  token that API's ``token_lifetime``.
- On-Behalf-Of token exchange at the same endpoint (:mod:`~local.auth0_emulator.exchange`): a Custom
  API client with ``on_behalf_of_token_exchange`` exchanges a user's token for its API for a token
  for the same user to a downstream API, through a user-delegated client grant; scopes are the
  intersection of the request, the grant (or every scope with ``allow_all_scopes``) and the user's
  permissions; the ``act`` delegation chain; ``success_/failed_on_behalf_of_token_exchange`` log
  records. Users and the tokens a login gives them are seeded with :meth:`Auth0Emulator.add_user`
  and :meth:`Auth0Emulator.issue_user_token`; :meth:`Auth0Emulator.token_claims` reads any token.
- The Management API routes the product uses, with Auth0's scopes, pagination shapes and errors
  (``{"statusCode", "error", "message", "errorCode"}``; 401s carry no ``errorCode``):
  ``GET|POST /api/v2/resource-servers``, ``GET|PATCH|DELETE /api/v2/resource-servers/{id}`` (id or
  identifier), ``GET|POST /api/v2/clients``, ``GET|PATCH|DELETE /api/v2/clients/{id}``,
  ``POST /api/v2/clients/{id}/rotate-secret`` (``update:client_keys``; the new secret works at
  once, the old one is refused), ``GET|POST /api/v2/client-grants``,
  ``GET|PATCH|DELETE /api/v2/client-grants/{id}`` (``scope``, ``allow_all_scopes``, ``subject_type``),
  ``GET|POST /api/v2/log-streams`` and ``GET|PATCH|DELETE /api/v2/log-streams/{id}``
  (``read:|create:|update:|delete:log_streams``; see "Log streams" below).
- Plan entity limits (``Auth0Emulator(plan="free"|"essentials"|"professional"|"enterprise")``,
  :class:`EntityLimits`): a create beyond the plan's maximum of applications, APIs or client grants
  is 403 ``too_many_entities``; unlimited by default.
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
- Log records: the ``sapi`` record Auth0 streams for each successful write, valid against
  Auth0's official ``sapi`` JSON Schema, and the On-Behalf-Of exchange records, handed to
  ``on_log_event`` (every record, whatever the log streams); :func:`eventbridge_envelope`
  wraps it the way Auth0's EventBridge partner source does.
- Log streams (``/api/v2/log-streams``), of type ``eventbridge`` only: a create of another type is
  400 ``operation_not_supported`` after its body is validated (the emulator's choice). A create
  answers 200 (as the official spec and a real streamed "Create a log stream" record show) with
  ``id`` ``lst_<16 digits>``, ``status: "active"`` and ``sink.awsPartnerEventSource``
  ``aws.partner/auth0.com/<tenant>-<uuid>/auth0.logs`` — for the tenant's first EventBridge stream
  (since it was created or :meth:`Auth0Emulator.reset`) the stable UUID of
  ``logstream.default_tenant_uuid``, the name ``local/stack.py: partner_event_bus_name`` gives the
  partner bus; afterwards a random UUID. PATCH changes ``name``, ``status``
  (``active|paused|suspended``), ``filters``, ``isPriority``, ``pii_config``; an EventBridge sink
  cannot change (400). ``filters`` are ``{"type": "category", "name": <category>}`` and nothing
  else. Each record goes to every ``active`` stream with no filters or a filter naming its category
  (``sapi``: ``management.success``; On-Behalf-Of: ``auth.token_exchange.success|fail``; others:
  ``other``). With a :class:`PartnerEventBridge` set (``Auth0Emulator(event_bridge=...)`` or
  :attr:`Auth0Emulator.event_bridge`, e.g. :class:`LocalEventBridgePartner` on moto), creating a
  stream creates its partner event source, deleting it deletes the source, and each record is put,
  in the partner source's envelope, on the bus associated with the source — only if one is, as
  Auth0 drops events while the source is pending. A delivery never fails a request: errors are
  logged; :attr:`Auth0Emulator.log_stream_stats` counts ``delivered``/``undelivered`` per stream.
  :attr:`Auth0Emulator.log_streams` and :meth:`Auth0Emulator.set_log_stream_status` (e.g. to
  suspend a stream as Auth0 does) are for tests.

Deliberately not emulated: any other Management API route, other grant types (Custom Token
Exchange included), the ``seccft``/``feccft`` log records of client-credentials exchanges,
``token_endpoint_auth_method`` (a client may authenticate in the body or with HTTP Basic whatever it
says; a public client is not refused the client credentials grant), private-key JWT client
authentication, log stream types other than ``eventbridge``, log streams' queuing (Auth0 keeps the
records of a paused stream and delivers them on resume; the emulator delivers only while a stream
is ``active``, records meanwhile are lost), retries, automatic suspension, ``startFrom``
replays, PII obfuscation (``pii_config`` is stored only), the limit on the number of streams,
logins themselves (users get tokens through :meth:`Auth0Emulator.issue_user_token`),
organizations and DPoP/mTLS binding in token exchange, field-level scope rules beyond
``client_secret`` visibility (read:client_keys) and updates (update:client_keys), the alternative
scopes Auth0 also accepts on a route (e.g. ``read:client_summary``), the Lucene ``q`` search on
clients, per-client or per-endpoint rate limits, client-grant scope checks against
the API's scopes, Auth0's custom ``format`` checks, chunked request bodies, and persistence
(everything lives in memory). The credentials given to :meth:`Auth0Emulator.add_m2m_client` stand
for the tenant's admin application and are not listed among the tenant's clients.

Where Auth0's behaviour is not documented the emulator makes a stated choice (a system API's PATCH,
a second Custom API client for one API, 409 error codes, defaults of new objects): see the
docstring of :mod:`local.auth0_emulator.state`.

Modules: ``emulator`` (the public class), ``server`` (HTTP transport), ``app`` (request handling
and routes), ``state`` (tenant data), ``exchange`` (On-Behalf-Of), ``limits`` (plans), ``tokens``,
``ratelimit``, ``faults``, ``schemas`` (OpenAPI validation), ``logstream`` (log records, filter
categories, EventBridge envelope) and ``partner`` (the AWS side of EventBridge log streams).
Every Auth0 fact they rely on is listed with its source in docs/design.md, "What the emulator
implements, and from where"; those of log streams and of tenant clients' client credentials are
cited where they are used (``state``, ``schemas``, ``logstream``, ``partner``, ``app``).
"""

from .emulator import Auth0Emulator
from .errors import ApiError
from .faults import Fault
from .known import known_secrets
from .limits import PLANS, EntityLimits
from .logstream import eventbridge_envelope
from .partner import LocalEventBridgePartner, PartnerEventBridge
from .ratelimit import RateLimit

__all__ = [
    "PLANS",
    "ApiError",
    "Auth0Emulator",
    "EntityLimits",
    "Fault",
    "LocalEventBridgePartner",
    "PartnerEventBridge",
    "RateLimit",
    "eventbridge_envelope",
    "known_secrets",
]
