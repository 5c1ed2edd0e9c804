"""What an API needs: the one decision every entry point makes (pure: no I/O).

Every entry point — the worker, ``enable`` (CLI and the replay function), the sweep — reads the
API in its own way (an event, an id, a page of a listing), turns what it read into an
:class:`Observed`, and asks :func:`plan` what to do. The answer is a :class:`Plan`; the writes
it calls for are made by :class:`~token_exchange_enabler.enabling.Enabler`, under the API's
lock. What became of it is one :class:`Outcome`, from the decision to the log line, the batch
result, the exit code or the JSON report.

The two strategies (see ``docs/design.md``):

``on_behalf_of`` (the default, Auth0's generally available On-Behalf-Of Token Exchange):
    the API's Custom API client (``app_type: resource_server``, linked through the resource
    server's read-only ``client_id``) must allow the ``on_behalf_of_token_exchange`` profile.
    No client: create it with ``token_exchange`` set in the create call. A client without the
    profile: add it, merging with what is there (e.g. ``custom_authentication``). Then the
    configured user-delegated grants to downstream APIs.
``legacy_resource_server`` (the 2019 how-to, verbatim):
    ``PATCH /api/v2/resource-servers/{id}`` with ``{"token_exchange": [...]}``.

Credentials delivery (``CLIENT_SECRETS_PREFIX``, see :class:`Credentials`): the plan also says
what becomes of the credentials of the API's Custom API client — stored from the create call's
answer, given a new secret and stored (a client the product made whose store failed), already
stored, or not the product's to deliver (a client someone else made: its secret is never read).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .config import MODE_LEGACY, Config, DownstreamGrant
from .errors import PermanentFailure

OBO_PROFILE = "on_behalf_of_token_exchange"
USER_SUBJECT = "user"  # a user-delegated client grant (On-Behalf-Of), as opposed to "client" (M2M)
# How the project's clients are told apart (operators, the sweep, configuration-as-code tools).
MANAGED_BY_KEY = "managed_by"
PRODUCT = "token-exchange-enabler"
MANAGED_BY = {MANAGED_BY_KEY: PRODUCT}
# Marks a client created while credentials delivery was on (CLIENT_SECRETS_PREFIX): its credentials
# are the product's to store, and to renew if the store failed. A client created before delivery
# was turned on has a secret someone may have copied by hand: it is never renewed on its own.
CREDENTIALS_KEY = "credentials"
CREDENTIALS_IN_SECRETS_MANAGER = "aws-secrets-manager"
_LEGACY_SUBJECT_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # RFC 8693 (not a credential)
LEGACY_BODY = {"token_exchange": [{"enabled_subject_token_types": _LEGACY_SUBJECT_TYPE}]}
CUSTOM_API_APP_TYPE = "resource_server"
_CLIENT_NAME_MAX = 128

NOT_OURS_NOTE = "credentials not delivered: the client was not created by this product"
NOT_MARKED_NOTE = ("credentials not delivered: the client was created before CLIENT_SECRETS_PREFIX was set "
                   "(its secret may be in use elsewhere); `token-exchange-enabler rotate` gives it a new one and "
                   "stores it")

SYSTEM_API_REASON = "system API (e.g. the Auth0 Management API) cannot take part in token exchange"
DELETED_REASON = "the API no longer exists (deleted after it was created)"
NOT_FOUND_REASON = "not found: no API of the tenant has this id or identifier"


class Action(StrEnum):
    """What the API needs, as :func:`plan` found it."""

    NONE = "none"  # already enabled; nothing to write
    SKIP = "skip"  # system or excluded API, or gone
    CREATE_CLIENT = "create_client"
    ENABLE_ON_CLIENT = "enable_on_client"
    PATCH_RESOURCE_SERVER = "patch_resource_server"
    ENSURE_GRANTS = "ensure_grants"  # enabled already; only downstream grants to create or correct


class Status(StrEnum):
    """What became of one API."""

    ENABLED = "enabled"
    ALREADY_ENABLED = "already_enabled"
    SKIPPED = "skipped"
    DRY_RUN = "dry_run"
    NOT_FOUND = "not_found"  # an operator's id or identifier that names no API
    BUSY = "busy"  # another holder has the API's lock: not done, try again
    FAILED = "failed"


class Credentials(StrEnum):
    """What becomes of the credentials of the API's Custom API client (``CLIENT_SECRETS_PREFIX``)."""

    OFF = "off"  # no CLIENT_SECRETS_PREFIX (or legacy mode, or nothing to deliver: skipped, gone)
    STORE_CREATED = "store_created"  # the plan creates the client: store the secret its create answer carries
    ROTATE_AND_STORE = "rotate_and_store"  # made by the product, not stored (a failed store): new secret, stored
    STORED = "stored"  # stored for this client already: a working secret is never overwritten
    NOT_OURS = "not_ours"  # made by someone else: its secret is never read
    NOT_MARKED = "not_marked"  # made by the product before delivery was on: left to the operator's rotate
    UNCHECKED = "unchecked"  # the store was not read (the sweep decides from listings): nothing to do here

    @property
    def writes(self) -> bool:
        return self in (Credentials.STORE_CREATED, Credentials.ROTATE_AND_STORE)


DONE = frozenset({Status.ENABLED, Status.ALREADY_ENABLED, Status.SKIPPED, Status.DRY_RUN})
"""Statuses that end an API's story (the record may be acknowledged)."""


@dataclass(frozen=True, slots=True)
class ApiRef:
    """The API to enable, as the entry point knows it: from an "API created" event (its id and
    the body Auth0 answered) or from an operator (an id or an identifier, nothing else)."""

    api_id: str
    identifier: str | None = None
    name: str | None = None
    is_system: bool = False
    # False: ``api_id`` is what an operator typed (an id or an identifier): it must be read to
    # learn the API's id, and "not found" means the input names no API.
    known_id: bool = True
    created_by: str | None = None  # the application that created it (an event's client_id)

    @classmethod
    def from_operator(cls, given: str) -> ApiRef:
        return cls(api_id=given.strip(), known_id=False)


@dataclass(frozen=True, slots=True)
class ApiState:
    """A resource server as read from Auth0 (never holds a secret)."""

    api_id: str
    identifier: str | None
    name: str | None = None
    is_system: bool = False
    client_id: str | None = None  # the linked Custom API client (read-only field)
    token_exchange: Any = None  # the legacy field, where a tenant still returns it

    @classmethod
    def from_auth0(cls, server: Mapping[str, Any]) -> ApiState:
        return cls(api_id=str(server.get("id") or ""), identifier=server.get("identifier"),
                   name=server.get("name"), is_system=bool(server.get("is_system")),
                   client_id=str(server["client_id"]) if server.get("client_id") else None,
                   token_exchange=server.get("token_exchange"))


@dataclass(frozen=True, slots=True)
class ClientState:
    """The parts of a Custom API client the decision needs (its secret is never kept)."""

    client_id: str
    resource_server_identifier: str | None = None
    token_exchange: Mapping[str, Any] = field(default_factory=dict)
    managed: bool = False  # created by this product (client_metadata.managed_by)
    delivers_credentials: bool = False  # ... while credentials delivery was on (client_metadata.credentials)
    metadata: Mapping[str, Any] = field(default_factory=dict)  # client_metadata (PATCH replaces it whole)

    @classmethod
    def from_auth0(cls, client: Mapping[str, Any]) -> ClientState:
        token_exchange = client.get("token_exchange")
        metadata = client.get("client_metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        managed = metadata.get(MANAGED_BY_KEY) == PRODUCT
        return cls(client_id=str(client.get("client_id") or ""),
                   resource_server_identifier=client.get("resource_server_identifier"),
                   token_exchange=dict(token_exchange) if isinstance(token_exchange, Mapping) else {},
                   managed=managed,
                   delivers_credentials=managed and metadata.get(CREDENTIALS_KEY) == CREDENTIALS_IN_SECRETS_MANAGER,
                   metadata=dict(metadata))

    @property
    def profiles(self) -> list[str]:
        return list(self.token_exchange.get("allow_any_profile_of_type") or [])


@dataclass(frozen=True, slots=True)
class GrantState:
    """A user-delegated client grant as read from Auth0."""

    grant_id: str
    audience: str
    scopes: tuple[str, ...] = ()
    all_scopes: bool = False

    @classmethod
    def from_auth0(cls, grant: Mapping[str, Any]) -> GrantState:
        return cls(grant_id=str(grant.get("id") or ""), audience=str(grant.get("audience") or ""),
                   scopes=tuple(grant.get("scope") or ()), all_scopes=bool(grant.get("allow_all_scopes")))


@dataclass(frozen=True, slots=True)
class GrantChange:
    """A downstream grant to create (``grant_id`` None) or to bring to the configured scopes."""

    audience: str
    scopes: tuple[str, ...] | None  # None: every scope of the audience (allow_all_scopes)
    grant_id: str | None = None

    def create_body(self, client_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"client_id": client_id, "audience": self.audience, "subject_type": USER_SUBJECT}
        return body | self.update_body()

    def update_body(self) -> dict[str, Any]:
        if self.scopes is None:
            return {"scope": [], "allow_all_scopes": True}
        return {"scope": list(self.scopes), "allow_all_scopes": False}

    def describe(self) -> str:
        verb = "create" if self.grant_id is None else "update"
        return f"{verb} {DownstreamGrant(self.audience, self.scopes).describe()}"


@dataclass(frozen=True, slots=True)
class StoredCredentials:
    """The secret under ``<CLIENT_SECRETS_PREFIX><API id>`` as described (never its value).

    ``client_id``: the client whose working credentials its current version holds (its
    ``client_id`` tag, set only once the stored secret is known to be the client's), None when it
    holds none (no current version, or a value not confirmed). ``pending``: a version staged by a
    rotation that did not finish (``AWSPENDING``)."""

    secret_arn: str
    client_id: str | None = None
    pending: bool = False


@dataclass(frozen=True, slots=True)
class Observed:
    """What an entry point read: the API (None: Auth0 says it does not exist), its Custom API
    client (None: it has none; not looked up in ``legacy_resource_server`` mode), that client's
    user-delegated grants (None: not read — no client, or no downstream grants configured) and,
    with credentials delivery, the stored credentials (``stored``, None: none stored;
    ``credentials_read`` False: the store was not looked at)."""

    ref: ApiRef
    api: ApiState | None
    client: ClientState | None = None
    grants: tuple[GrantState, ...] | None = None
    stored: StoredCredentials | None = None
    credentials_read: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """The writes an API needs. ``reason`` says why, in an operator's words."""

    action: Action
    api_id: str
    identifier: str | None
    reason: str
    name: str | None = None
    client_id: str | None = None
    create_body: Mapping[str, Any] | None = None  # CREATE_CLIENT
    token_exchange: Mapping[str, Any] | None = None  # ENABLE_ON_CLIENT: the whole merged object
    grant_changes: tuple[GrantChange, ...] = ()  # downstream grants to create or correct, after the action
    not_found: bool = False  # SKIP because Auth0 does not know the API
    credentials: Credentials = Credentials.OFF
    secret_name: str | None = None  # where the credentials go (with credentials delivery)
    secret_arn: str | None = None  # where they are already (STORED)

    @property
    def writes(self) -> bool:
        return self.action not in (Action.NONE, Action.SKIP) or self.credentials.writes

    def would(self) -> str:
        """What a dry run says it would do."""
        text = {
            Action.CREATE_CLIENT: "would create its Custom API client with On-Behalf-Of enabled",
            Action.ENABLE_ON_CLIENT: f"would enable On-Behalf-Of on Custom API client {self.client_id}",
            Action.PATCH_RESOURCE_SERVER: "would PATCH the resource server's token_exchange field",
            Action.ENSURE_GRANTS: "On-Behalf-Of already enabled, grants differ",
        }.get(self.action, self.reason)
        if self.grant_changes:
            text += "; would " + ", ".join(change.describe() for change in self.grant_changes)
        if self.credentials is Credentials.STORE_CREATED:
            text += f"; would store its credentials in {self.secret_name}"
        elif self.credentials is Credentials.ROTATE_AND_STORE:
            text += (f"; its credentials are not stored: would give client {self.client_id} a new secret "
                     f"and store it in {self.secret_name}")
        return text


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one API, carried unchanged from the decision to the report."""

    status: Status
    api_id: str
    reason: str
    identifier: str | None = None
    name: str | None = None
    action: Action | None = None
    client_id: str | None = None
    created_client: bool = False
    error_kind: str | None = None  # FAILED / BUSY: configuration | rejected | transient | unreachable | busy
    # Credentials delivery: what became of them (a Credentials value; None: off) and where they are.
    credentials: str | None = None
    secret_arn: str | None = None
    notified: bool = False  # the platform's event was sent (NOTIFICATION_BUS_NAME)

    @property
    def done(self) -> bool:
        return self.status in DONE

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "api_id": self.api_id,
            "identifier": self.identifier,
            "name": self.name,
            "action": str(self.action) if self.action else None,
            "reason": self.reason,
            "client_id": self.client_id,
            "created_client": self.created_client,
            "error_kind": self.error_kind,
            "credentials": self.credentials,
            "secret_arn": self.secret_arn,
            "notified": self.notified,
        }


# --------------------------------------------------------------------------- the decision


def skip_reason(config: Config, identifier: str | None, is_system: bool) -> str | None:
    """Why an API is left alone whatever its state, or None."""
    if is_system:
        return SYSTEM_API_REASON
    if identifier:
        pattern = config.is_skipped_identifier(identifier)
        if pattern:
            return f"identifier matches skip pattern {pattern!r}"
    return None


def plan_from_ref(ref: ApiRef, config: Config) -> Plan | None:
    """A skip that needs no read (a system or excluded API named by its event, or one created by
    an application listed in SKIP_CREATED_BY_CLIENT_IDS), else None."""
    reason = skip_reason(config, ref.identifier, ref.is_system)
    if reason is None and ref.created_by and ref.created_by in config.skip_created_by_client_ids:
        reason = (f"created by client {ref.created_by}, listed in SKIP_CREATED_BY_CLIENT_IDS: "
                  "that tool manages its Custom API client")
    if reason:
        return Plan(Action.SKIP, ref.api_id, ref.identifier, reason, name=ref.name)
    return None


def plan(observed: Observed, config: Config) -> Plan:
    """What the API needs, from what was read. Pure (raises PermanentFailure for an API Auth0
    returned without an identifier: an operator must look)."""
    ref, api = observed.ref, observed.api
    if api is None:
        return Plan(Action.SKIP, ref.api_id, ref.identifier, DELETED_REASON if ref.known_id else NOT_FOUND_REASON,
                    name=ref.name, not_found=True)
    reason = skip_reason(config, api.identifier, api.is_system)
    if reason:
        return Plan(Action.SKIP, api.api_id, api.identifier, reason, name=api.name)
    if not api.identifier:
        raise PermanentFailure(f"Auth0 returned API {api.api_id} without an identifier")

    if config.mode == MODE_LEGACY:
        if api.token_exchange:
            return Plan(Action.NONE, api.api_id, api.identifier, "token_exchange already set on the resource server",
                        name=api.name)
        return Plan(Action.PATCH_RESOURCE_SERVER, api.api_id, api.identifier,
                    "token_exchange not set on the resource server", name=api.name)

    client = observed.client
    delivery = config.delivers_credentials
    secret_name = config.client_secret_name(api.api_id) if delivery else None
    if client is None:
        metadata = dict(MANAGED_BY)
        if delivery:
            metadata[CREDENTIALS_KEY] = CREDENTIALS_IN_SECRETS_MANAGER
        body = {
            "name": client_name(api.name or ref.name, api.identifier, config.client_name_suffix),
            "app_type": CUSTOM_API_APP_TYPE,
            "resource_server_identifier": api.identifier,
            # As Auth0's own tools create clients (the Terraform provider, the quickstarts), tagged so
            # that operators and configuration-as-code tools can tell it apart. is_first_party is not
            # sent: Auth0's default is a first-party client, which is never turned third-party here.
            "oidc_conformant": True,
            "client_metadata": metadata,
            "token_exchange": {"allow_any_profile_of_type": [OBO_PROFILE]},
        }
        return Plan(Action.CREATE_CLIENT, api.api_id, api.identifier, "it has no Custom API client",
                    name=api.name, create_body=body, grant_changes=grant_changes(config.downstream_grants, ()),
                    credentials=Credentials.STORE_CREATED if delivery else Credentials.OFF, secret_name=secret_name)
    credentials = credentials_of(observed, config)
    stored_arn = observed.stored.secret_arn if observed.stored and credentials is Credentials.STORED else None
    changes = grant_changes(config.downstream_grants, observed.grants or ())
    profiles = client.profiles
    if OBO_PROFILE in profiles:
        if changes:
            return Plan(Action.ENSURE_GRANTS, api.api_id, api.identifier,
                        "On-Behalf-Of already enabled; its downstream grants differ from DOWNSTREAM_GRANTS",
                        name=api.name, client_id=client.client_id, grant_changes=changes, credentials=credentials,
                        secret_name=secret_name, secret_arn=stored_arn)
        reason = "On-Behalf-Of already enabled on its Custom API client"
        if credentials is Credentials.ROTATE_AND_STORE:
            reason += "; its credentials are not stored"
        return Plan(Action.NONE, api.api_id, api.identifier, reason, name=api.name, client_id=client.client_id,
                    credentials=credentials, secret_name=secret_name, secret_arn=stored_arn)
    # PATCH replaces the whole token_exchange object: keep every other profile and field.
    merged = {**client.token_exchange, "allow_any_profile_of_type": [*profiles, OBO_PROFILE]}
    return Plan(Action.ENABLE_ON_CLIENT, api.api_id, api.identifier,
                "its Custom API client does not allow On-Behalf-Of", name=api.name, client_id=client.client_id,
                token_exchange=merged, grant_changes=changes, credentials=credentials, secret_name=secret_name,
                secret_arn=stored_arn)


def credentials_of(observed: Observed, config: Config) -> Credentials:
    """What the credentials of an existing Custom API client need (``observed.client`` is set).

    Only a client this product created while delivering credentials is the product's to store and,
    when its store failed, to give a new secret: another's secret is never read, and one created
    before delivery was turned on may be in use elsewhere (the operator's ``rotate`` decides)."""
    client = observed.client
    if not config.delivers_credentials or client is None:
        return Credentials.OFF
    if not client.managed:
        return Credentials.NOT_OURS
    if not client.delivers_credentials:
        return Credentials.NOT_MARKED
    if not observed.credentials_read:
        return Credentials.UNCHECKED
    stored = observed.stored
    if stored is not None and stored.client_id == client.client_id:
        return Credentials.STORED
    return Credentials.ROTATE_AND_STORE


def grant_changes(wanted: tuple[DownstreamGrant, ...], have: tuple[GrantState, ...]) -> tuple[GrantChange, ...]:
    """The grants to create, and those whose scopes differ from the configured ones (brought to
    exactly them: an operator who wants more changes DOWNSTREAM_GRANTS)."""
    changes = []
    for grant in wanted:
        existing = next((h for h in have if h.audience == grant.audience), None)
        if existing is None:
            changes.append(GrantChange(grant.audience, grant.scopes))
        elif grant.scopes is None and not existing.all_scopes:
            changes.append(GrantChange(grant.audience, None, existing.grant_id))
        elif grant.scopes is not None and (existing.all_scopes or set(existing.scopes) != set(grant.scopes)):
            changes.append(GrantChange(grant.audience, grant.scopes, existing.grant_id))
    return tuple(changes)


def client_name(api_name: str | None, identifier: str, suffix: str) -> str:
    """A valid client name for the API's Custom API client: no ``<`` or ``>``, bounded length."""
    base = re.sub(r"[<>\x00-\x1f]", "", api_name or "").strip() or re.sub(r"[<>\x00-\x1f]", "", identifier)
    base = base[: _CLIENT_NAME_MAX - len(suffix)].strip() or "API"
    return base + suffix
