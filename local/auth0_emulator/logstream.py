"""Log-stream emission: the records Auth0 streams for Management API writes and token exchanges.

A record has the log-stream shape ``{"log_id", "data": {...}}`` — exactly what Auth0's EventBridge
partner source puts under ``detail`` (see :func:`eventbridge_envelope`). Two families:

- ``sapi`` for each successful Management API write (:func:`build_sapi_record`): ``data`` follows the
  samples Auth0 has streamed (``details.request.method`` in lower case, ``details.response.body`` the
  created or updated object, ``client_secret`` values replaced with ``"REDACTED"``) and validates
  against Auth0's official JSON Schema for ``sapi`` records.
- ``success_on_behalf_of_token_exchange`` / ``failed_on_behalf_of_token_exchange`` for each
  On-Behalf-Of exchange (:func:`build_obo_record`), valid against Auth0's official JSON Schemas of
  those types (``samples/auth0-log-schema-*_on_behalf_of_token_exchange.schema.json``): ``audience``,
  ``client_id``/``client_name``, ``details.{subject_token_type, requested_token_type, actor}`` (the
  new token's ``act`` chain), ``scope`` and ``details.access_token_jti`` on success; on failure the
  ``description`` is the error's description. No real record of either type is public: the fields
  are those the schemas declare, the values the emulator's.

Each record also has a log-stream *filter category* (:func:`log_category`), the name a stream's
``filters`` select it by: ``sapi`` is ``management.success`` (Auth0's "Management API - Success"
filter lists the ``sapi`` event code), the On-Behalf-Of records are ``auth.token_exchange.success``
/ ``auth.token_exchange.fail`` (the emulator's choice: Auth0's filter page lists no event code for
them, and these are its token-exchange filters), anything else ``other``.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: ``details.request.channel`` for calls made with a Management API token.
API_CHANNEL = "api"
#: ``details.request.channel`` for changes made in the Auth0 Dashboard.
DASHBOARD_CHANNEL = "https://manage.auth0.com/"

_SECRET_FIELDS = frozenset({"client_secret", "signing_secret"})
_sequence = itertools.count(1)


@dataclass(frozen=True)
class Actor:
    """Who made a write, as the log record reports it."""

    client_id: str
    channel: str = API_CHANNEL
    ip: str = "127.0.0.1"
    user_agent: str | None = None
    user_id: str = ""
    auth: dict[str, Any] = field(default_factory=dict)
    auth0_client: dict[str, Any] | None = None


def dashboard_actor(admin_user_id: str, dashboard_client_id: str) -> Actor:
    """An administrator working in the Auth0 Dashboard (used for state seeded directly)."""
    email = "admin@example.com"
    return Actor(
        client_id=dashboard_client_id,
        channel=DASHBOARD_CHANNEL,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0",
        user_id=admin_user_id,
        auth={
            "user": {"user_id": admin_user_id, "name": email, "email": email},
            "strategy": "jwt",
            "credentials": {"jti": secrets.token_hex(16)},
        },
    )


def decode_auth0_client(header: str | None) -> dict[str, Any] | None:
    """The SDK telemetry of an ``Auth0-Client`` header (base64 JSON), if it decodes."""
    if not header:
        return None
    try:
        decoded = json.loads(base64.b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded if isinstance(decoded, dict) else None


def redact(value: Any) -> Any:
    """A deep copy with every secret value replaced by ``"REDACTED"``, as Auth0 logs them."""
    if isinstance(value, dict):
        return {
            k: "REDACTED" if k in _SECRET_FIELDS and v is not None else redact(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return copy.deepcopy(value)


def new_log_id(now: datetime) -> str:
    """A unique, roughly time-ordered 56-digit log id like Auth0's."""
    prefix = f"900{now:%Y%m%d%H%M%S}{now.microsecond:06d}{next(_sequence) % 10**12:012d}"
    return prefix + "".join(secrets.choice("0123456789") for _ in range(56 - len(prefix)))


def iso_millis(moment: datetime) -> str:
    """``2021-11-04T00:11:39.575Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def tenant_name(domain: str) -> str:
    """The tenant name of a canonical domain (``acme.eu.auth0.com`` -> ``acme``)."""
    return domain.split(".", 1)[0]


def environment_name(domain: str) -> str:
    """The environment Auth0 reports for a canonical domain (``acme.eu.auth0.com`` -> ``prod-eu-1``)."""
    labels = domain.split(".")
    region = labels[1] if len(labels) == 4 and labels[2:] == ["auth0", "com"] else "us"
    return f"prod-{region}-1"


def build_sapi_record(
    *,
    domain: str,
    description: str,
    method: str,
    path: str,
    query: dict[str, Any],
    request_body: Any,
    status: int,
    response_body: Any,
    actor: Actor,
    accessed_secrets: list[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ``{"log_id", "data"}`` record Auth0 streams for one successful write."""
    moment = now or datetime.now(UTC)
    log_id = new_log_id(moment)
    request: dict[str, Any] = {"method": method.lower(), "path": path, "query": copy.deepcopy(query)}
    if actor.user_agent:
        request["userAgent"] = actor.user_agent
    request.update(
        {
            "body": redact(request_body),
            "channel": actor.channel,
            "ip": actor.ip,
            "auth": copy.deepcopy(actor.auth),
        }
    )
    details: dict[str, Any] = {}
    if accessed_secrets:
        details["accessedSecrets"] = list(accessed_secrets)
    if method.upper() == "DELETE":
        details["deleted"] = True
    details["request"] = request
    details["response"] = {
        "statusCode": status,
        "body": redact(response_body) if response_body is not None else {},
    }
    data: dict[str, Any] = {
        "date": iso_millis(moment),
        "type": "sapi",
        "description": description,
        "client_id": actor.client_id,
        "client_name": "",
        "ip": actor.ip,
    }
    if actor.user_agent:
        data["user_agent"] = actor.user_agent
    data["details"] = details
    data["user_id"] = actor.user_id
    if actor.auth0_client:
        data["auth0_client"] = copy.deepcopy(actor.auth0_client)
    data.update(
        {
            "hostname": domain,
            "tenant_name": tenant_name(domain),
            "environment_name": environment_name(domain),
            "$event_schema": {"version": "1.0.0"},
            "log_id": log_id,
        }
    )
    return {"log_id": log_id, "data": data}


def build_obo_record(
    *,
    domain: str,
    success: bool,
    description: str,
    client_id: str | None,
    client_name: str,
    audience: str,
    user_id: str,
    user_name: str,
    subject_token_type: str,
    requested_token_type: str,
    actor: dict[str, Any],
    ip: str,
    user_agent: str | None = None,
    auth0_client: dict[str, Any] | None = None,
    scope: str | None = None,
    access_token_jti: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ``{"log_id", "data"}`` record of one On-Behalf-Of exchange, successful or failed."""
    moment = now or datetime.now(UTC)
    log_id = new_log_id(moment)
    details: dict[str, Any] = {}
    if success and access_token_jti:
        details["access_token_jti"] = access_token_jti
    details.update(
        {
            "subject_token_type": subject_token_type,
            "requested_token_type": requested_token_type,
            "actor": copy.deepcopy(actor),
        }
    )
    data: dict[str, Any] = {
        "date": iso_millis(moment),
        "type": "success_on_behalf_of_token_exchange" if success else "failed_on_behalf_of_token_exchange",
        "description": description,
        "client_id": client_id,
        "client_name": client_name,
        "ip": ip,
    }
    if user_agent:
        data["user_agent"] = user_agent
    data["details"] = details
    data["user_id"] = user_id
    data["user_name"] = user_name
    data["audience"] = audience
    if success and scope is not None:
        data["scope"] = scope
    if auth0_client:
        data["auth0_client"] = copy.deepcopy(auth0_client)
    data.update(
        {
            "hostname": domain,
            "tenant_name": tenant_name(domain),
            "environment_name": environment_name(domain),
            "$event_schema": {"version": "1.0.0"},
            "log_id": log_id,
        }
    )
    return {"log_id": log_id, "data": data}


#: The filter categories a log stream's ``filters`` may name: the official spec's
#: ``LogStreamFilterGroupNameEnum`` plus ``auth.ancillary.fail``/``auth.ancillary.success``, which
#: Auth0's SDKs (auth0.net ``LogStreamFilterName``, node-auth0) list and the spec no longer does.
LOG_STREAM_CATEGORIES: tuple[str, ...] = (
    "auth.ancillary.fail",
    "auth.ancillary.success",
    "auth.login.fail",
    "auth.login.notification",
    "auth.login.success",
    "auth.logout.fail",
    "auth.logout.success",
    "auth.signup.fail",
    "auth.signup.success",
    "auth.silent_auth.fail",
    "auth.silent_auth.success",
    "auth.token_exchange.fail",
    "auth.token_exchange.success",
    "management.fail",
    "management.success",
    "scim.event",
    "system.notification",
    "user.fail",
    "user.notification",
    "user.success",
    "actions",
    "other",
)

_CATEGORY_OF_TYPE = {
    "sapi": "management.success",
    "success_on_behalf_of_token_exchange": "auth.token_exchange.success",
    "failed_on_behalf_of_token_exchange": "auth.token_exchange.fail",
}


def log_category(record: dict[str, Any]) -> str:
    """The filter category of a ``{"log_id", "data"}`` record (see the module docstring)."""
    data = record.get("data")
    log_type = data.get("type") if isinstance(data, dict) else None
    return _CATEGORY_OF_TYPE.get(log_type, "other") if isinstance(log_type, str) else "other"


def partner_event_source_name(domain: str, tenant_uuid: str) -> str:
    """``aws.partner/auth0.com/<tenant>-<uuid>/auth0.logs``: an EventBridge log stream's event source."""
    return f"aws.partner/auth0.com/{tenant_name(domain)}-{tenant_uuid}/auth0.logs"


def default_tenant_uuid(domain: str) -> str:
    """A stable UUID for a tenant's partner event source (the same domain always gets the same one)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, domain))


def eventbridge_envelope(
    record: dict[str, Any],
    domain: str,
    *,
    tenant_uuid: str | None = None,
    region: str = "us-east-1",
    account: str = "000000000000",
    event_id: str | None = None,
) -> dict[str, Any]:
    """The EventBridge event Auth0's partner event source delivers for one log-stream record."""
    date = record.get("data", {}).get("date")
    try:
        moment = datetime.strptime(date, "%Y-%m-%dT%H:%M:%S.%fZ") if date else datetime.now(UTC)
    except ValueError:
        moment = datetime.now(UTC)
    source_uuid = tenant_uuid or default_tenant_uuid(domain)
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Auth0 log",
        "source": partner_event_source_name(domain, source_uuid),
        "account": account,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": copy.deepcopy(record),
    }
