"""The emulated tenant's data: resource servers (APIs), clients (applications), client grants, log
streams and users.

Every operation validates its input the way Auth0 does (OpenAPI schema first, then the semantic
rules below), runs under one re-entrant lock, and returns deep copies, so callers can never change
the stored state by accident. Failures raise :class:`~local.auth0_emulator.errors.ApiError` with the
status and body Auth0 would send.

Semantics worth knowing (where the spec is silent the emulator makes a documented choice):

- Objects are shaped like Auth0's responses in recorded real traffic: a resource server has no
  ``is_system`` field unless it is a system API; defaults are ``signing_alg`` RS256,
  ``token_lifetime`` 86400, ``token_lifetime_for_web`` 7200, ``allow_offline_access`` false and
  ``skip_consent_for_verifiable_first_party_clients`` false.
- ``POST /clients`` with ``app_type: "resource_server"`` must name an existing, non-system resource
  server in ``resource_server_identifier`` (and that field needs that ``app_type``). The resource
  server's read-only ``client_id`` then names the new client — unless another client was linked
  first: a second Custom API client for one API is allowed and does not take the link over.
- ``PATCH`` replaces top-level fields (a new ``token_exchange`` object replaces the old one
  entirely; ``null`` removes it). The link (``resource_server_identifier``) cannot change.
- A system API only accepts ``token_lifetime``, ``skip_consent_for_verifiable_first_party_clients``
  and ``subject_type_authorization`` in a PATCH; anything else is 400 ``invalid_body``
  "Payload validation error: 'Additional properties not allowed: <field>'." — the answer tools
  report from real tenants (the spec only says "System resource servers cannot be patched.").
  Deleting one is 400 ``operation_not_supported`` "System resource servers cannot be deleted.".
- Error codes Auth0 does not document are the emulator's choice: 409 ``resource_server_conflict``
  and ``client_grant_conflict``; 400 ``inexistent_resource_server`` for a Custom API client naming
  an unknown API; 400 ``operation_not_supported`` for a link to a system API or a change of
  ``app_type`` to or from ``resource_server``.
- Deleting a client unlinks it from its resource server; nothing cascades otherwise.
- A new client's ``oidc_conformant`` is ``true`` for a Custom API client and ``false`` otherwise, as
  recorded answers show (go-auth0 ``TestClient_Create``, Terraform ``TestAccClientResourceServer``).
  ``client_metadata`` is an object of at most 10 string values (at most 255 characters), as the
  spec's description says; ``schemas`` enforces it.
- Client grants are answered as recorded: ``id``, ``client_id``, ``audience``, ``scope``,
  ``subject_type`` and whatever else was set — no ``allow_any_organization`` or ``is_system``
  unless set. ``allow_all_scopes: true`` drops ``scope`` from the grant (a recorded PATCH answer);
  a grant may not have both ``allow_all_scopes: true`` and a non-empty ``scope`` (400
  ``invalid_body``: the emulator's choice, the rule Auth0's Deploy CLI and Terraform provider
  enforce), so a body with both is refused, and so is a non-empty ``scope`` for a grant that still
  allows every scope; ``allow_all_scopes: true`` alone replaces whatever scope the grant had.
  ``allow_all_scopes`` in any form on a system API's grant is 400 "`allow_all_scopes` cannot be
  provided when `audience` is a system API" (an answer a tenant gave). One grant per
  client, audience and ``subject_type`` (409 ``client_grant_conflict``). Deleting a grant that does
  not exist is 204, as two recordings show.
- Plan entity limits (:mod:`~local.auth0_emulator.limits`): a create beyond the plan's limit is 403
  ``too_many_entities``; unlimited unless a plan is set.
- A new client without ``grant_types`` gets ``authorization_code``, ``implicit``, ``refresh_token`` and
  ``client_credentials`` (a Custom API client: none), what Auth0 gives a confidential application —
  a Regular Web or Machine-to-Machine one (``non_interactive``) — according to
  https://auth0.com/docs/get-started/applications/application-grant-types. So a ``non_interactive``
  client created without ``grant_types`` can use the client credentials grant at once.
- Users exist only to be the subject of access tokens: an id and, per API audience, the permissions
  Role-Based Access Control would give them. They are not served by any route.
- Log streams (``/api/v2/log-streams``): only ``type: "eventbridge"`` is emulated; a create body of
  another type the spec knows is validated against that type's schema and then refused with 400
  ``operation_not_supported`` (the emulator's choice). An EventBridge stream is answered as the spec's
  samples show it: ``id`` (``lst_`` and 16 digits), ``name`` (if given), ``type``, ``status``
  (``active`` at first), ``sink`` (``awsAccountId``, ``awsRegion`` and the generated
  ``awsPartnerEventSource``, ``aws.partner/auth0.com/<tenant>-<uuid>/auth0.logs``; a source given in
  the body is ignored), then ``filters``, ``isPriority`` and ``pii_config`` when given. ``startFrom``
  is accepted and ignored. The first EventBridge stream since the tenant was created (or
  :meth:`Tenant.reset`) gets the tenant's stable UUID (:func:`~local.auth0_emulator.logstream.default_tenant_uuid`,
  so its source is the partner bus name ``local/stack.py`` uses), later ones a random one. PATCH
  replaces ``name``, ``status``, ``filters``, ``isPriority`` and ``pii_config``; a ``sink`` for an
  EventBridge stream is 400 ``operation_not_supported`` (the spec: "updating the sink is not
  permitted"). An unknown id is 404 ``inexistent_log_stream`` "The log stream does not exist." (the
  spec's message; the error code is the emulator's choice). The spec's limit on the number of
  streams (409) is not emulated.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from . import known, limits, schemas
from .errors import ApiError, bad_request
from .limits import UNLIMITED, EntityLimits
from .logstream import default_tenant_uuid, partner_event_source_name
from .tokens import M2MClient

ALPHANUMERIC = string.ascii_letters + string.digits
SECRET_ALPHABET = ALPHANUMERIC + "-_"

#: The scopes of the emulated Management API routes (and the system API's scope list).
MANAGEMENT_SCOPES: tuple[str, ...] = (
    "read:resource_servers",
    "create:resource_servers",
    "update:resource_servers",
    "delete:resource_servers",
    "read:clients",
    "create:clients",
    "update:clients",
    "delete:clients",
    "read:client_keys",
    "update:client_keys",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
    "delete:client_grants",
    "read:log_streams",
    "create:log_streams",
    "update:log_streams",
    "delete:log_streams",
)

#: The statuses of a log stream (the spec's ``LogStreamStatusEnum``).
LOG_STREAM_STATUSES: tuple[str, ...] = ("active", "paused", "suspended")
#: The log stream types the emulator implements.
EMULATED_LOG_STREAM_TYPES: tuple[str, ...] = ("eventbridge",)
#: What a PATCH may change on a log stream (``sink`` aside, refused for EventBridge streams).
_LOG_STREAM_UPDATABLE = ("name", "status", "filters", "isPriority", "pii_config")
_LOG_STREAM_FIELD_ORDER = ("id", "name", "type", "status", "sink", "filters", "isPriority", "pii_config")
# Log stream ids, process-wide so two emulators never hand out the same one.
_log_stream_numbers = itertools.count(12345)

DEFAULT_GRANT_TYPES = ["authorization_code", "implicit", "refresh_token", "client_credentials"]
DEFAULT_REFRESH_TOKEN = {
    "rotation_type": "non-rotating",
    "expiration_type": "non-expiring",
    "leeway": 0,
    "token_lifetime": 2592000,
    "infinite_token_lifetime": True,
    "infinite_idle_token_lifetime": True,
    "idle_token_lifetime": 1296000,
}


def random_string(length: int, alphabet: str = ALPHANUMERIC) -> str:
    """A cryptographically random string."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_object_id() -> str:
    """A 24-hex-character id shaped like Auth0's resource server ids (a timestamp, then random)."""
    return f"{int(time.time()):08x}{secrets.token_hex(8)}"


def _certificate() -> str:
    body = random_string(64, ALPHANUMERIC + "+/")
    return f"-----BEGIN CERTIFICATE-----\r\n{body}\r\n-----END CERTIFICATE-----\r\n"


def inexistent_resource_server() -> ApiError:
    """Auth0's 404 for an unknown resource server id or identifier."""
    return ApiError(404, "The resource server does not exist", "inexistent_resource_server")


def inexistent_client() -> ApiError:
    """Auth0's 404 for an unknown client id."""
    return ApiError(404, "The client does not exist", "inexistent_client")


def inexistent_client_grant(message: str = "The client grant does not exist.") -> ApiError:
    """Auth0's 404 for an unknown client grant id (the spec's wording per route)."""
    return ApiError(404, message, "inexistent_client_grant")


def inexistent_log_stream() -> ApiError:
    """404 for an unknown log stream id (the spec's message; the error code is the emulator's)."""
    return ApiError(404, "The log stream does not exist.", "inexistent_log_stream")


#: 400 for a grant that would both allow every scope and list some (the emulator's wording).
ALLOW_ALL_SCOPES_WITH_SCOPE = (
    "Payload validation error: 'scope must be empty or absent when allow_all_scopes is true'."
)
#: 400 for ``allow_all_scopes`` on a grant for a system API (the wording a tenant answered).
ALLOW_ALL_SCOPES_ON_SYSTEM_API = "`allow_all_scopes` cannot be provided when `audience` is a system API"


class Tenant:
    """The data of one emulated tenant; every public method is thread-safe."""

    def __init__(
        self, domain: str, *, legacy_token_exchange: bool = False, entity_limits: EntityLimits = UNLIMITED
    ) -> None:
        self.domain = domain
        self.legacy_token_exchange = legacy_token_exchange
        self.entity_limits = entity_limits
        self._lock = threading.RLock()
        self._sequence = itertools.count(1)
        self._order: dict[str, int] = {}
        self._resource_servers: dict[str, dict[str, Any]] = {}
        self._clients: dict[str, dict[str, Any]] = {}
        self._grants: dict[str, dict[str, Any]] = {}
        self._m2m: dict[str, M2MClient] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._log_streams: dict[str, dict[str, Any]] = {}
        self._log_stream_uuids: dict[str, str] = {}  # stream id -> the UUID in its event source name
        self._default_source_taken = False
        system = self.create_resource_server(
            {
                "name": "Auth0 Management API",
                "identifier": f"https://{domain}/api/v2/",
                "scopes": [
                    {"value": s, "description": s.replace(":", " ").replace("_", " ")}
                    for s in MANAGEMENT_SCOPES
                ],
                "token_lifetime": 86400,
            },
            is_system=True,
        )
        self.system_api_id: str = system["id"]
        self._system_api = system

    # -- lifecycle -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every object and user but the M2M credentials; restore the Auth0 Management API."""
        with self._lock:
            self._order.clear()
            self._resource_servers.clear()
            self._clients.clear()
            self._grants.clear()
            self._users.clear()
            self._log_streams.clear()
            self._log_stream_uuids.clear()
            self._default_source_taken = False
            self._resource_servers[self.system_api_id] = copy.deepcopy(self._system_api)
            self._remember(self.system_api_id)

    def _remember(self, key: str) -> None:
        self._order[key] = next(self._sequence)

    def order_of(self, key: str) -> int:
        """The creation sequence number of an object (for checkpoint pagination)."""
        with self._lock:
            return self._order.get(key, 0)

    # -- machine-to-machine credentials -------------------------------------------------------------

    def add_m2m_client(self, client: M2MClient) -> None:
        """Register (or replace) credentials that may request Management API tokens."""
        known.remember(client.client_secret)
        with self._lock:
            self._m2m[client.client_id] = client

    def m2m_client(self, client_id: str) -> M2MClient | None:
        """The registered credentials for ``client_id``, if any."""
        with self._lock:
            return self._m2m.get(client_id)

    # -- resource servers --------------------------------------------------------------------------

    def _find_resource_server(self, id_or_identifier: str) -> dict[str, Any]:
        found = self._resource_servers.get(id_or_identifier)
        if found is None:
            found = next(
                (rs for rs in self._resource_servers.values() if rs["identifier"] == id_or_identifier), None
            )
        if found is None:
            raise inexistent_resource_server()
        return found

    def resource_server_by_identifier(self, identifier: str) -> dict[str, Any] | None:
        """The resource server with this identifier (audience), if any."""
        with self._lock:
            found = next(
                (rs for rs in self._resource_servers.values() if rs["identifier"] == identifier), None
            )
            return copy.deepcopy(found)

    def create_resource_server(self, body: Any, *, is_system: bool = False) -> dict[str, Any]:
        """``POST /api/v2/resource-servers``."""
        key = "create_resource_server_legacy" if self.legacy_token_exchange else "create_resource_server"
        schemas.validate_body(key, body)
        with self._lock:
            if any(rs["identifier"] == body["identifier"] for rs in self._resource_servers.values()):
                raise ApiError(
                    409,
                    "A resource server with the same identifier already exists",
                    "resource_server_conflict",
                )
            if not is_system:
                apis = sum(1 for rs in self._resource_servers.values() if not rs.get("is_system"))
                limits.check(apis, self.entity_limits.resource_servers)
            rs_id = new_object_id()
            signing_alg = body.get("signing_alg", "RS256")
            rs: dict[str, Any] = {"id": rs_id, "name": body.get("name", body["identifier"])}
            if is_system:
                rs["is_system"] = True
            rs["identifier"] = body["identifier"]
            rs["scopes"] = copy.deepcopy(body.get("scopes", []))
            rs["signing_alg"] = signing_alg
            if signing_alg == "HS256":
                rs["signing_secret"] = body.get("signing_secret") or random_string(32)
            rs["allow_offline_access"] = body.get("allow_offline_access", False)
            rs["token_lifetime"] = body.get("token_lifetime", 86400)
            rs["token_lifetime_for_web"] = body.get("token_lifetime_for_web", 7200)
            rs["skip_consent_for_verifiable_first_party_clients"] = body.get(
                "skip_consent_for_verifiable_first_party_clients", False
            )
            for field, value in body.items():
                if field not in rs:
                    rs[field] = copy.deepcopy(value)
            encryption_key = rs.get("token_encryption", {}).get("encryption_key")
            if isinstance(encryption_key, dict):
                encryption_key.pop("pem", None)  # write-only, as in the recorded response
            self._resource_servers[rs_id] = rs
            self._remember(rs_id)
            return copy.deepcopy(rs)

    def get_resource_server(self, id_or_identifier: str) -> dict[str, Any]:
        """``GET /api/v2/resource-servers/{id}``: by id or by identifier."""
        with self._lock:
            return copy.deepcopy(self._find_resource_server(id_or_identifier))

    def list_resource_servers(self, identifiers: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every resource server in creation order, optionally only those with these identifiers."""
        wanted = set(identifiers) if identifiers else None
        with self._lock:
            return [
                copy.deepcopy(rs)
                for rs in self._resource_servers.values()
                if wanted is None or rs["identifier"] in wanted
            ]

    def update_resource_server(self, id_or_identifier: str, body: Any) -> dict[str, Any]:
        """``PATCH /api/v2/resource-servers/{id}``."""
        with self._lock:
            rs = self._find_resource_server(id_or_identifier)
            if rs.get("is_system"):
                schemas.validate_body("update_system_resource_server", body)
            else:
                key = (
                    "update_resource_server_legacy"
                    if self.legacy_token_exchange
                    else "update_resource_server"
                )
                schemas.validate_body(key, body)
            for field, value in body.items():
                if value is None:
                    rs.pop(field, None)
                else:
                    rs[field] = copy.deepcopy(value)
            if rs.get("signing_alg") == "HS256" and "signing_secret" not in rs:
                rs["signing_secret"] = random_string(32)
            return copy.deepcopy(rs)

    def delete_resource_server(self, id_or_identifier: str) -> None:
        """``DELETE /api/v2/resource-servers/{id}``."""
        with self._lock:
            rs = self._find_resource_server(id_or_identifier)
            if rs.get("is_system"):
                raise bad_request("System resource servers cannot be deleted.", "operation_not_supported")
            del self._resource_servers[rs["id"]]
            self._order.pop(rs["id"], None)

    @staticmethod
    def _link(rs: dict[str, Any], client_id: str) -> None:
        """Set the read-only ``client_id`` of a resource server, just after ``identifier`` as Auth0 does."""
        linked = {}
        for field, value in rs.items():
            if field == "client_id":
                continue
            linked[field] = value
            if field == "identifier":
                linked["client_id"] = client_id
        rs.clear()
        rs.update(linked)

    # -- clients ---------------------------------------------------------------------------------------

    def _find_client(self, client_id: str) -> dict[str, Any]:
        found = self._clients.get(client_id)
        if found is None:
            raise inexistent_client()
        return found

    def create_client(self, body: Any) -> dict[str, Any]:
        """``POST /api/v2/clients``."""
        schemas.validate_body("create_client", body)
        app_type = body.get("app_type")
        identifier = body.get("resource_server_identifier")
        with self._lock:
            target = None
            if app_type == "resource_server" and identifier is None:
                raise bad_request(
                    "Payload validation error: 'resource_server_identifier is required when app_type is "
                    "resource_server'."
                )
            if identifier is not None:
                if app_type != "resource_server":
                    raise bad_request(
                        "Payload validation error: 'resource_server_identifier can only be set when "
                        "app_type is resource_server'."
                    )
                target = next(
                    (rs for rs in self._resource_servers.values() if rs["identifier"] == identifier), None
                )
                if target is None:
                    raise bad_request(
                        f"The resource server with identifier {identifier} does not exist.",
                        "inexistent_resource_server",
                    )
                if target.get("is_system"):
                    raise bad_request(
                        "A client cannot be linked to a system resource server.", "operation_not_supported"
                    )
            limits.check(self.application_count(), self.entity_limits.applications)
            client_id = random_string(32)
            client: dict[str, Any] = {"name": body["name"]}
            if "description" in body:
                client["description"] = body["description"]
            client["client_id"] = client_id
            client["client_secret"] = random_string(64, SECRET_ALPHABET)
            known.remember(client["client_secret"])
            if app_type is not None:
                client["app_type"] = app_type
            client["is_first_party"] = body.get("is_first_party", True)
            client["is_token_endpoint_ip_header_trusted"] = body.get(
                "is_token_endpoint_ip_header_trusted", False
            )
            client["oidc_conformant"] = body.get("oidc_conformant", app_type == "resource_server")
            jwt_configuration: dict[str, Any] = {"secret_encoded": False}
            jwt_configuration.update(
                {"alg": "RS256"} if app_type == "resource_server" else {"lifetime_in_seconds": 36000}
            )
            jwt_configuration.update(body.get("jwt_configuration") or {})
            client["jwt_configuration"] = jwt_configuration
            client["signing_keys"] = [{"cert": _certificate()}]
            client["sso_disabled"] = body.get("sso_disabled", False)
            client["cross_origin_authentication"] = body.get("cross_origin_authentication", False)
            default_grants = [] if app_type == "resource_server" else DEFAULT_GRANT_TYPES
            client["grant_types"] = copy.deepcopy(body.get("grant_types", default_grants))
            client["custom_login_page_on"] = body.get("custom_login_page_on", True)
            client["refresh_token"] = copy.deepcopy(body.get("refresh_token", DEFAULT_REFRESH_TOKEN))
            for field, value in body.items():
                if field not in client:
                    client[field] = copy.deepcopy(value)
            self._clients[client_id] = client
            self._remember(client_id)
            if target is not None and "client_id" not in target:
                self._link(target, client_id)
            return copy.deepcopy(client)

    def application_count(self) -> int:
        """The applications the plan's limit counts: every client plus the registered M2M credentials."""
        with self._lock:
            return len(self._clients) + sum(1 for cid in self._m2m if cid not in self._clients)

    def find_client(self, client_id: str) -> dict[str, Any] | None:
        """A copy of the client with this id, secret included, if any."""
        with self._lock:
            found = self._clients.get(client_id)
            return copy.deepcopy(found) if found is not None else None

    def get_client(self, client_id: str) -> dict[str, Any]:
        """``GET /api/v2/clients/{id}``."""
        with self._lock:
            return copy.deepcopy(self._find_client(client_id))

    def list_clients(self, predicate: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Every client in creation order, optionally filtered."""
        with self._lock:
            return [copy.deepcopy(c) for c in self._clients.values() if predicate is None or predicate(c)]

    def update_client(self, client_id: str, body: Any) -> dict[str, Any]:
        """``PATCH /api/v2/clients/{id}``."""
        schemas.validate_body("update_client", body)
        with self._lock:
            client = self._find_client(client_id)
            new_app_type = body.get("app_type", client.get("app_type"))
            if (client.get("app_type") == "resource_server") != (new_app_type == "resource_server"):
                raise bad_request(
                    "The app_type resource_server can only be set when a client is created.",
                    "operation_not_supported",
                )
            for field, value in body.items():
                if value is None:
                    client.pop(field, None)
                else:
                    client[field] = copy.deepcopy(value)
            known.remember(body.get("client_secret"))  # a secret set by the caller (update:client_keys)
            return copy.deepcopy(client)

    def rotate_client_secret(self, client_id: str) -> dict[str, Any]:
        """``POST /api/v2/clients/{id}/rotate-secret``: a new secret at once; the old one is refused
        from then on (the tenant's propagation delay of up to 30 s is not emulated)."""
        with self._lock:
            client = self._find_client(client_id)
            client["client_secret"] = random_string(64, SECRET_ALPHABET)
            known.remember(client["client_secret"])
            return copy.deepcopy(client)

    def delete_client(self, client_id: str) -> None:
        """``DELETE /api/v2/clients/{id}``; unlinks the client from its resource server."""
        with self._lock:
            self._find_client(client_id)
            del self._clients[client_id]
            self._order.pop(client_id, None)
            for rs in self._resource_servers.values():
                if rs.get("client_id") == client_id:
                    del rs["client_id"]

    # -- client grants ------------------------------------------------------------------------------------

    def _find_grant(self, grant_id: str, message: str = "The client grant does not exist.") -> dict[str, Any]:
        found = self._grants.get(grant_id)
        if found is None:
            raise inexistent_client_grant(message)
        return found

    @staticmethod
    def _check_scopes(grant: dict[str, Any]) -> None:
        if grant.get("allow_all_scopes") is True and grant.get("scope"):
            raise bad_request(ALLOW_ALL_SCOPES_WITH_SCOPE)

    def create_client_grant(self, body: Any) -> dict[str, Any]:
        """``POST /api/v2/client-grants``."""
        schemas.validate_body("create_client_grant", body)
        if "client_id" not in body and "default_for" not in body:
            raise bad_request("Payload validation error: 'Missing required property: client_id'.")
        subject_type = body.get("subject_type", "client")
        with self._lock:
            client_id = body.get("client_id")
            if client_id is not None and client_id not in self._clients and client_id not in self._m2m:
                raise ApiError(404, "Client not found", "inexistent_client")
            audience = body["audience"]
            target = next((rs for rs in self._resource_servers.values() if rs["identifier"] == audience), None)
            if target is None:
                raise ApiError(404, "Resource server not found", "inexistent_resource_server")
            if "allow_all_scopes" in body and target.get("is_system"):
                raise bad_request(ALLOW_ALL_SCOPES_ON_SYSTEM_API)
            self._check_scopes(body)
            for existing in self._grants.values():
                if (existing.get("client_id"), existing["audience"], existing["subject_type"]) == (
                    client_id,
                    audience,
                    subject_type,
                ):
                    raise ApiError(
                        409,
                        "A client grant for this client and audience already exists",
                        "client_grant_conflict",
                    )
            limits.check(len(self._grants), self.entity_limits.client_grants)
            grant_id = f"cgr_{random_string(16)}"
            grant: dict[str, Any] = {"id": grant_id}
            if client_id is not None:
                grant["client_id"] = client_id
            grant["audience"] = audience
            if body.get("allow_all_scopes") is not True:
                grant["scope"] = list(body.get("scope", []))
            for field in ("organization_usage", "allow_any_organization"):
                if field in body:
                    grant[field] = body[field]
            grant["subject_type"] = subject_type
            for field, value in body.items():
                if field not in grant and field != "scope":
                    grant[field] = copy.deepcopy(value)
            self._grants[grant_id] = grant
            self._remember(grant_id)
            return copy.deepcopy(grant)

    def get_client_grant(self, grant_id: str) -> dict[str, Any]:
        """``GET /api/v2/client-grants/{id}``."""
        with self._lock:
            return copy.deepcopy(self._find_grant(grant_id, "The grant does not exist."))

    def update_client_grant(self, grant_id: str, body: Any) -> dict[str, Any]:
        """``PATCH /api/v2/client-grants/{id}``: the given fields replace the stored ones (``null`` removes)."""
        schemas.validate_body("update_client_grant", body)
        with self._lock:
            grant = self._find_grant(grant_id)
            target = next(
                (rs for rs in self._resource_servers.values() if rs["identifier"] == grant["audience"]), None
            )
            if "allow_all_scopes" in body and target is not None and target.get("is_system"):
                raise bad_request(ALLOW_ALL_SCOPES_ON_SYSTEM_API)
            self._check_scopes(body)
            updated = copy.deepcopy(grant)
            if body.get("allow_all_scopes") is True:
                updated.pop("scope", None)  # the scope a grant had gives way to every scope
            for field, value in body.items():
                if value is None:
                    updated.pop(field, None)
                else:
                    updated[field] = copy.deepcopy(value)
            self._check_scopes(updated)  # a scope for a grant that still allows every scope
            if updated.get("allow_all_scopes") is True:
                updated.pop("scope", None)
            elif "scope" not in updated:
                updated["scope"] = []
            ordered: dict[str, Any] = {
                k: updated[k] for k in ("id", "client_id", "audience", "scope") if k in updated
            }
            ordered.update({k: v for k, v in updated.items() if k not in ordered})
            grant.clear()
            grant.update(ordered)
            return copy.deepcopy(grant)

    def list_client_grants(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[dict[str, Any]]:
        """Every client grant in creation order, optionally filtered."""
        with self._lock:
            return [copy.deepcopy(g) for g in self._grants.values() if predicate is None or predicate(g)]

    def find_client_grant(self, client_id: str, audience: str, subject_type: str) -> dict[str, Any] | None:
        """The grant of a client to an audience for a subject type, if any."""
        with self._lock:
            found = next(
                (
                    g
                    for g in self._grants.values()
                    if (g.get("client_id"), g["audience"], g["subject_type"]) == (client_id, audience, subject_type)
                ),
                None,
            )
            return copy.deepcopy(found) if found is not None else None

    def delete_client_grant(self, grant_id: str) -> None:
        """``DELETE /api/v2/client-grants/{id}``: 204 whether or not the grant exists, as recorded."""
        with self._lock:
            if self._grants.pop(grant_id, None) is not None:
                self._order.pop(grant_id, None)

    def client_credentials_grant(self, client_id: str, audience: str) -> dict[str, Any] | None:
        """The grant that lets a client get client-credentials tokens for an API (``subject_type``
        absent or ``client``), if any."""
        with self._lock:
            found = next(
                (
                    g
                    for g in self._grants.values()
                    if g.get("client_id") == client_id
                    and g["audience"] == audience
                    and g.get("subject_type", "client") == "client"
                ),
                None,
            )
            return copy.deepcopy(found) if found is not None else None

    # -- log streams ---------------------------------------------------------------------------------------

    def _find_log_stream(self, stream_id: str) -> dict[str, Any]:
        found = self._log_streams.get(stream_id)
        if found is None:
            raise inexistent_log_stream()
        return found

    def create_log_stream(self, body: Any) -> dict[str, Any]:
        """``POST /api/v2/log-streams`` (``eventbridge`` only, see the module docstring)."""
        schemas.validate_body(schemas.create_log_stream_key(body), body)
        stream_type = body["type"]
        if stream_type not in EMULATED_LOG_STREAM_TYPES:
            raise bad_request(
                f"Log streams of type {stream_type} are not emulated: only type eventbridge is.",
                "operation_not_supported",
            )
        with self._lock:
            if self._default_source_taken:
                source_uuid = str(uuid.uuid4())
            else:
                source_uuid = default_tenant_uuid(self.domain)
                self._default_source_taken = True
            stream_id = f"lst_{next(_log_stream_numbers):016d}"
            stream: dict[str, Any] = {"id": stream_id}
            if "name" in body:
                stream["name"] = body["name"]
            stream["type"] = stream_type
            stream["status"] = "active"
            stream["sink"] = {
                "awsAccountId": body["sink"]["awsAccountId"],
                "awsRegion": body["sink"]["awsRegion"],
                "awsPartnerEventSource": partner_event_source_name(self.domain, source_uuid),
            }
            for field in ("filters", "isPriority", "pii_config"):
                if field in body:
                    stream[field] = copy.deepcopy(body[field])
            self._log_streams[stream_id] = stream
            self._log_stream_uuids[stream_id] = source_uuid
            self._remember(stream_id)
            return copy.deepcopy(stream)

    def get_log_stream(self, stream_id: str) -> dict[str, Any]:
        """``GET /api/v2/log-streams/{id}``."""
        with self._lock:
            return copy.deepcopy(self._find_log_stream(stream_id))

    def list_log_streams(self) -> list[dict[str, Any]]:
        """Every log stream, in creation order."""
        with self._lock:
            return [copy.deepcopy(s) for s in self._log_streams.values()]

    def update_log_stream(self, stream_id: str, body: Any) -> dict[str, Any]:
        """``PATCH /api/v2/log-streams/{id}``: the given fields replace the stored ones."""
        schemas.validate_body("update_log_stream", body)
        with self._lock:
            stream = self._find_log_stream(stream_id)
            if "sink" in body:
                raise bad_request(
                    f"The sink of a log stream of type {stream['type']} cannot be updated.",
                    "operation_not_supported",
                )
            for field in _LOG_STREAM_UPDATABLE:
                if field in body:
                    stream[field] = copy.deepcopy(body[field])
            ordered = {k: stream[k] for k in _LOG_STREAM_FIELD_ORDER if k in stream}
            ordered.update({k: v for k, v in stream.items() if k not in ordered})
            stream.clear()
            stream.update(ordered)
            return copy.deepcopy(stream)

    def set_log_stream_status(self, stream_id: str, status: str) -> dict[str, Any]:
        """Change a stream's status as Auth0 itself does (e.g. ``suspended`` after failures)."""
        if status not in LOG_STREAM_STATUSES:
            raise ValueError(f"a log stream's status is one of {', '.join(LOG_STREAM_STATUSES)}")
        with self._lock:
            stream = self._find_log_stream(stream_id)
            stream["status"] = status
            return copy.deepcopy(stream)

    def delete_log_stream(self, stream_id: str) -> dict[str, Any]:
        """``DELETE /api/v2/log-streams/{id}``; returns the deleted stream."""
        with self._lock:
            stream = self._find_log_stream(stream_id)
            del self._log_streams[stream_id]
            self._log_stream_uuids.pop(stream_id, None)
            self._order.pop(stream_id, None)
            return copy.deepcopy(stream)

    def log_stream_source_uuid(self, stream_id: str) -> str | None:
        """The UUID in the event source name of an EventBridge stream, if the stream exists."""
        with self._lock:
            return self._log_stream_uuids.get(stream_id)

    def active_log_streams(self) -> list[tuple[dict[str, Any], str]]:
        """Each ``active`` stream with the UUID of its event source, in creation order."""
        with self._lock:
            return [
                (copy.deepcopy(s), self._log_stream_uuids[s["id"]])
                for s in self._log_streams.values()
                if s["status"] == "active"
            ]

    # -- users ---------------------------------------------------------------------------------------------

    def add_user(self, user_id: str, permissions: dict[str, list[str]], email: str | None = None) -> dict[str, Any]:
        """Create or replace a user with per-audience permissions."""
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("user_id must be a non-empty string")
        user: dict[str, Any] = {"user_id": user_id}
        if email is not None:
            user["email"] = email
        user["permissions"] = {audience: list(dict.fromkeys(scopes)) for audience, scopes in permissions.items()}
        with self._lock:
            self._users[user_id] = user
            return copy.deepcopy(user)

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        """A copy of the user, if any."""
        with self._lock:
            found = self._users.get(user_id)
            return copy.deepcopy(found) if found is not None else None

    def list_users(self) -> list[dict[str, Any]]:
        """Every user, in the order they were added."""
        with self._lock:
            return [copy.deepcopy(u) for u in self._users.values()]
