"""What "enable token exchange" means, in two strategies (see the README and the design notes).

``on_behalf_of`` (the default, Auth0's generally available On-Behalf-Of Token Exchange):
    read the API; skip system and excluded APIs; find its Custom API client (the resource
    server's read-only ``client_id``); if there is none, create it with ``token_exchange`` set in
    the create call (a new API costs 2 Management API calls: GET + POST); otherwise make sure
    ``token_exchange.allow_any_profile_of_type`` holds ``on_behalf_of_token_exchange``, merging
    with what is there (e.g. ``custom_authentication``) and writing nothing when it already does.

``legacy_resource_server`` (the 2019 how-to, verbatim):
    ``PATCH /api/v2/resource-servers/{id}`` with ``{"token_exchange": [...]}``. Current tenants
    reject that field with a 400 naming ``token_exchange``: that is reported once as a
    configuration problem ("use on_behalf_of"), never retried.

Enablers take an :class:`ApiRef` and return an :class:`Outcome`, or raise
:class:`PermanentFailure` (an operator must look: dead-letter it with the reason) or an
:class:`~token_exchange_enabler.auth0.Auth0Error` whose ``retryable`` says whether to retry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

from .auth0 import Auth0Error, BadRequest, Conflict, ManagementApi, NotFound
from .config import MODE_LEGACY, MODE_ON_BEHALF_OF, Config

OBO_PROFILE = "on_behalf_of_token_exchange"
_LEGACY_SUBJECT_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # RFC 8693 (not a credential)
LEGACY_BODY = {"token_exchange": [{"enabled_subject_token_types": _LEGACY_SUBJECT_TYPE}]}
CUSTOM_API_APP_TYPE = "resource_server"
_CLIENT_NAME_MAX = 128
_LOOK_UP = object()  # "find the API's Custom API client" (as opposed to a client the caller read)

ENABLED = "enabled"
ALREADY_ENABLED = "already_enabled"
SKIPPED = "skipped"
DRY_RUN = "dry_run"


@dataclass(frozen=True, slots=True)
class ApiRef:
    """The API to enable: from an "API created" event, or an operator's id/identifier."""

    api_id: str  # the resource server id, or (from an operator) its identifier
    identifier: str | None = None
    name: str | None = None
    is_system: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # enabled | already_enabled | skipped | dry_run
    api_id: str
    reason: str
    identifier: str | None = None
    client_id: str | None = None
    created_client: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


class PermanentFailure(Exception):
    """Retrying will not help; an operator must act. ``reason`` says what to do."""

    def __init__(self, reason: str, *, configuration: bool = False):
        self.reason = reason
        self.configuration = configuration
        super().__init__(reason)


class Enabler(Protocol):
    mode: str

    def enable(self, api: ApiRef) -> Outcome: ...


def _skip_reason(config: Config, identifier: str | None, is_system: bool) -> str | None:
    if is_system:
        return "system API (e.g. the Auth0 Management API) cannot take part in token exchange"
    if identifier:
        pattern = config.is_skipped_identifier(identifier)
        if pattern:
            return f"identifier matches skip pattern {pattern!r}"
    return None


def _permanent_from(error: Auth0Error) -> PermanentFailure:
    if error.configuration:
        hint = ""
        if error.error_code == "insufficient_scope":
            hint = " (grant the Auth0 application the scopes listed in the README for this mode)"
        return PermanentFailure(f"configuration error: {error}{hint}", configuration=True)
    return PermanentFailure(f"Auth0 rejected the request: {error}")


class OnBehalfOfEnabler:
    mode = MODE_ON_BEHALF_OF

    def __init__(self, api: ManagementApi, config: Config):
        self._api = api
        self._config = config

    def enable(self, ref: ApiRef) -> Outcome:
        reason = _skip_reason(self._config, ref.identifier, ref.is_system)
        if reason:
            return Outcome(SKIPPED, ref.api_id, reason, identifier=ref.identifier)
        return self._guarded(ref, lambda: self._enable(self._api.get_resource_server(ref.api_id), ref, _LOOK_UP))

    def enable_listed(self, server: Mapping, client: Mapping | None) -> Outcome:
        """Enable an API whose resource server and Custom API client (None: it has none) the caller
        has just read, e.g. from the list endpoints: nothing is read again, so an API that needs
        work costs one write. Same decisions, request bodies and errors as :meth:`enable`.
        """
        ref = ApiRef(api_id=str(server.get("id") or ""), identifier=server.get("identifier"),
                     name=server.get("name"), is_system=bool(server.get("is_system")))
        return self._guarded(ref, lambda: self._enable(server, ref, client))

    def _guarded(self, ref: ApiRef, run: Callable[[], Outcome]) -> Outcome:
        try:
            return run()
        except NotFound:
            return Outcome(SKIPPED, ref.api_id, "the API no longer exists (deleted after it was created)",
                           identifier=ref.identifier)
        except Auth0Error as error:
            if error.retryable:
                raise
            raise _permanent_from(error) from None

    def _enable(self, server: Mapping, ref: ApiRef, client: Mapping | None | object) -> Outcome:
        api_id = str(server.get("id") or ref.api_id)
        identifier = server.get("identifier") or ref.identifier
        reason = _skip_reason(self._config, identifier, bool(server.get("is_system")))
        if reason:
            return Outcome(SKIPPED, api_id, reason, identifier=identifier)
        if not identifier:
            raise PermanentFailure(f"Auth0 returned API {api_id} without an identifier")

        if client is _LOOK_UP:
            client = self._custom_api_client(server, identifier)
        if client is None:
            return self._create_client(api_id, identifier, server.get("name") or ref.name)

        client_id = client["client_id"]
        current = client.get("token_exchange") or {}
        profiles = list(current.get("allow_any_profile_of_type") or [])
        if OBO_PROFILE in profiles:
            self._ensure_grants(client_id)
            return Outcome(ALREADY_ENABLED, api_id, "On-Behalf-Of already enabled on its Custom API client",
                           identifier=identifier, client_id=client_id)
        if self._config.dry_run:
            return Outcome(DRY_RUN, api_id, f"would enable On-Behalf-Of on Custom API client {client_id}",
                           identifier=identifier, client_id=client_id)
        # PATCH replaces the whole token_exchange object: keep every other profile and field.
        merged = {**current, "allow_any_profile_of_type": [*profiles, OBO_PROFILE]}
        self._api.patch_client(client_id, {"token_exchange": merged})
        self._ensure_grants(client_id)
        return Outcome(ENABLED, api_id, "On-Behalf-Of enabled on its existing Custom API client",
                       identifier=identifier, client_id=client_id)

    def _custom_api_client(self, server: Mapping, identifier: str) -> dict | None:
        """The API's Custom API client, or None.

        Auth0 names the linked client in the resource server's read-only ``client_id``: a fresh
        read without it means there is no Custom API client, so a new API needs no client search.
        If ``client_id`` names a client that is gone, fall back to listing Custom API clients and
        matching the identifier (the list endpoint has no filter for it).
        """
        client_id = server.get("client_id")
        if client_id:
            try:
                return self._api.get_client(str(client_id))
            except NotFound:
                pass
            for client in self._api.iter_clients(
                app_type=CUSTOM_API_APP_TYPE,
                fields="client_id,name,app_type,resource_server_identifier,token_exchange",
            ):
                if client.get("resource_server_identifier") == identifier:
                    return client
        return None

    def _create_client(self, api_id: str, identifier: str, name: str | None) -> Outcome:
        if self._config.dry_run:
            return Outcome(DRY_RUN, api_id, "would create its Custom API client with On-Behalf-Of enabled",
                           identifier=identifier)
        body = {
            "name": client_name(name, identifier, self._config.client_name_suffix),
            "app_type": CUSTOM_API_APP_TYPE,
            "resource_server_identifier": identifier,
            "token_exchange": {"allow_any_profile_of_type": [OBO_PROFILE]},
        }
        client = self._api.create_client(body)
        client_id = client.get("client_id")
        if client_id:
            self._ensure_grants(client_id)
        return Outcome(ENABLED, api_id, "created its Custom API client with On-Behalf-Of enabled",
                       identifier=identifier, client_id=client_id, created_client=True)

    def _ensure_grants(self, client_id: str) -> None:
        """User-delegated grants to the configured downstream APIs (off unless configured)."""
        for audience in self._config.grant_audiences:
            try:
                self._api.create_client_grant(
                    {"client_id": client_id, "audience": audience, "scope": [], "subject_type": "user"}
                )
            except Conflict:
                continue  # already granted


class LegacyResourceServerEnabler:
    mode = MODE_LEGACY

    def __init__(self, api: ManagementApi, config: Config):
        self._api = api
        self._config = config

    def enable(self, ref: ApiRef) -> Outcome:
        try:
            identifier, is_system, api_id = ref.identifier, ref.is_system, ref.api_id
            if identifier is None:  # an operator's id or identifier: learn what it is first
                server = self._api.get_resource_server(ref.api_id)
                identifier, is_system = server.get("identifier"), bool(server.get("is_system"))
                api_id = str(server.get("id") or api_id)
            reason = _skip_reason(self._config, identifier, is_system)
            if reason:
                return Outcome(SKIPPED, api_id, reason, identifier=identifier)
            if self._config.dry_run:
                return Outcome(DRY_RUN, api_id, "would PATCH the resource server's token_exchange field",
                               identifier=identifier)
            self._api.patch_resource_server(api_id, LEGACY_BODY)
            return Outcome(ENABLED, api_id, "token_exchange set on the resource server (legacy mode)",
                           identifier=identifier)
        except NotFound:
            return Outcome(SKIPPED, ref.api_id, "the API no longer exists (deleted after it was created)",
                           identifier=ref.identifier)
        except BadRequest as error:
            if "token_exchange" in (error.message or ""):
                raise PermanentFailure(
                    "this tenant does not support the legacy resource-server token_exchange field "
                    f"(Auth0 answered: {error.message}); set TOKEN_EXCHANGE_MODE=on_behalf_of",
                    configuration=True,
                ) from None
            raise _permanent_from(error) from None
        except Auth0Error as error:
            if error.retryable:
                raise
            raise _permanent_from(error) from None


def client_name(api_name: str | None, identifier: str, suffix: str) -> str:
    """A valid client name for the API's Custom API client: no ``<`` or ``>``, bounded length."""
    base = re.sub(r"[<>\x00-\x1f]", "", api_name or "").strip() or re.sub(r"[<>\x00-\x1f]", "", identifier)
    base = base[: _CLIENT_NAME_MAX - len(suffix)].strip() or "API"
    return base + suffix


def build_enabler(api: ManagementApi, config: Config) -> Enabler:
    if config.mode == MODE_LEGACY:
        return LegacyResourceServerEnabler(api, config)
    return OnBehalfOfEnabler(api, config)
