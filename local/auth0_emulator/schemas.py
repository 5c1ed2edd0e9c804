"""Request validation against Auth0's official Management API OpenAPI schemas.

The schemas come from ``data/management-api-oas-excerpt.json`` and, for log streams,
``data/management-api-oas-excerpt-log-streams.json``: unmodified extracts of the official spec (see
their ``_source``). Bodies are validated with JSON Schema Draft 2020-12 (the
dialect of OpenAPI 3.1); failures are turned into Auth0's messages, which come from a z-schema
style validator::

    Payload validation error: 'Additional properties not allowed: token_exchange'.
    Payload validation error: 'Missing required property: value' on property scopes[0] (...).

Deliberate gaps, all permissive:

- Schemas the excerpt references but does not include (``MISSING_SCHEMAS``) accept anything.
- ``format`` is an annotation only (Auth0's custom formats such as ``callback-url`` are not checked).
- ``CreateResourceServerRequestContent`` is not in the excerpt; :func:`create_resource_server_schema`
  derives it from ``UpdateResourceServerRequestContent`` plus ``identifier`` (required) and
  ``token_lifetime_for_web`` (accepted by the real API, see the POST recording in the samples).

Deliberate additions (:data:`SCHEMA_REFINEMENTS`):

- ``ClientMetadata`` declares only ``maxProperties: 10`` and ``additionalProperties: true``, but its
  description says values are strings of at most 255 characters and names at most 255 characters;
  that is enforced.
- ``LogStreamFilter`` declares ``type`` and ``name`` but requires neither and allows anything else;
  the emulator requires both and nothing else (a filter is ``{"type": "category", "name": ...}``).
- ``LogStreamFilterGroupNameEnum`` also accepts ``auth.ancillary.fail`` and
  ``auth.ancillary.success``, which Auth0's SDKs list (see
  :data:`~local.auth0_emulator.logstream.LOG_STREAM_CATEGORIES`).

A log stream's create body is validated against the body schema of its ``type``
(``CreateLogStreamEventBridgeRequestBody``...), for precise messages; a body without a known
``type`` against the spec's ``oneOf`` of them all (:func:`create_log_stream_key`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import ApiError, bad_request
from .logstream import LOG_STREAM_CATEGORIES

OAS_EXCERPT_PATH = Path(__file__).with_name("data") / "management-api-oas-excerpt.json"
LOG_STREAMS_EXCERPT_PATH = Path(__file__).with_name("data") / "management-api-oas-excerpt-log-streams.json"
_REF_PREFIX = "#/components/schemas/"

#: The 2019 beta shape of ``token_exchange`` on a resource server, accepted only in legacy mode.
LEGACY_TOKEN_EXCHANGE_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Token exchange settings of the 2019 On-Behalf-Of beta.",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["enabled_subject_token_types"],
        "properties": {
            "enabled_subject_token_types": {
                "type": ["string", "array"],
                "items": {"type": "string", "minLength": 1},
                "minLength": 1,
            }
        },
    },
}

#: Rules a schema states only in its description, added to it (see the module docstring).
SCHEMA_REFINEMENTS: dict[str, dict[str, Any]] = {
    "ClientMetadata": {
        "additionalProperties": {"type": "string", "maxLength": 255},
        "propertyNames": {"maxLength": 255},
    },
    "LogStreamFilter": {"additionalProperties": False, "required": ["type", "name"]},
    "LogStreamFilterGroupNameEnum": {"enum": list(LOG_STREAM_CATEGORIES)},
}

#: The body schema of each log stream ``type`` the spec knows (only ``eventbridge`` is emulated).
LOG_STREAM_BODY_SCHEMAS = {
    "http": "CreateLogStreamHttpRequestBody",
    "eventbridge": "CreateLogStreamEventBridgeRequestBody",
    "eventgrid": "CreateLogStreamEventGridRequestBody",
    "datadog": "CreateLogStreamDatadogRequestBody",
    "splunk": "CreateLogStreamSplunkRequestBody",
    "sumo": "CreateLogStreamSumoRequestBody",
    "segment": "CreateLogStreamSegmentRequestBody",
    "mixpanel": "CreateLogStreamMixpanelRequestBody",
}

#: The fields Auth0 lets a caller change on a system API (such as the Auth0 Management API).
SYSTEM_RESOURCE_SERVER_PATCHABLE = (
    "token_lifetime",
    "skip_consent_for_verifiable_first_party_clients",
    "subject_type_authorization",
)


@cache
def _excerpt() -> dict[str, Any]:
    return json.loads(OAS_EXCERPT_PATH.read_text(encoding="utf-8"))


@cache
def _log_streams_excerpt() -> dict[str, Any]:
    return json.loads(LOG_STREAMS_EXCERPT_PATH.read_text(encoding="utf-8"))


def _excerpts() -> tuple[dict[str, Any], ...]:
    return (_excerpt(), _log_streams_excerpt())


@cache
def _official_schemas() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for excerpt in _excerpts():
        merged.update(excerpt["schemas"])
    return merged


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            yield ref[len(_REF_PREFIX) :]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@cache
def components() -> dict[str, Any]:
    """Every schema of the excerpts, with a permissive ``{}`` for each one they reference but lack."""
    schemas = copy.deepcopy(_official_schemas())
    for name in sorted(set(_refs(schemas)) - set(schemas)):
        schemas[name] = {"description": f"{name} (not in the spec excerpt: accepted as is)"}
    for name, refinement in SCHEMA_REFINEMENTS.items():
        schemas[name] = {**schemas[name], **refinement}
    return schemas


@cache
def missing_schemas() -> tuple[str, ...]:
    """Names referenced by the excerpts but not included in them (validated permissively)."""
    return tuple(sorted(set(_refs(_official_schemas())) - set(_official_schemas())))


def schema(name: str) -> dict[str, Any]:
    """A copy of one component schema."""
    return copy.deepcopy(components()[name])


def create_resource_server_schema(*, legacy_token_exchange: bool = False) -> dict[str, Any]:
    """The emulator's stand-in for ``CreateResourceServerRequestContent`` (see the module docstring)."""
    derived = schema("UpdateResourceServerRequestContent")
    derived["required"] = ["identifier"]
    derived["properties"] = {
        "identifier": {
            "type": "string",
            "minLength": 1,
            "maxLength": 600,
            "description": "Unique identifier for the API used as the audience parameter on authorization "
            "calls. Can not be changed once set.",
        },
        **derived["properties"],
        "token_lifetime_for_web": {"type": "integer", "minimum": 0, "maximum": 2592000},
    }
    if legacy_token_exchange:
        derived["properties"]["token_exchange"] = LEGACY_TOKEN_EXCHANGE_SCHEMA
    return derived


def update_resource_server_schema(
    *, legacy_token_exchange: bool = False, system: bool = False
) -> dict[str, Any]:
    """``UpdateResourceServerRequestContent``, restricted for system APIs, widened in legacy mode."""
    derived = schema("UpdateResourceServerRequestContent")
    if system:
        derived["properties"] = {k: derived["properties"][k] for k in SYSTEM_RESOURCE_SERVER_PATCHABLE}
    elif legacy_token_exchange:
        derived["properties"]["token_exchange"] = LEGACY_TOKEN_EXCHANGE_SCHEMA
    return derived


@cache
def _validator(key: str) -> Draft202012Validator:
    builders = {
        "create_client": lambda: schema("CreateClientRequestContent"),
        "update_client": lambda: schema("UpdateClientRequestContent"),
        "create_client_grant": lambda: schema("CreateClientGrantRequestContent"),
        "update_client_grant": lambda: schema("UpdateClientGrantRequestContent"),
        "create_resource_server": create_resource_server_schema,
        "create_resource_server_legacy": lambda: create_resource_server_schema(legacy_token_exchange=True),
        "update_resource_server": update_resource_server_schema,
        "update_resource_server_legacy": lambda: update_resource_server_schema(legacy_token_exchange=True),
        "update_system_resource_server": lambda: update_resource_server_schema(system=True),
        "create_log_stream": lambda: schema("CreateLogStreamRequestContent"),
        "update_log_stream": lambda: schema("UpdateLogStreamRequestContent"),
    }
    if key.startswith("create_log_stream_"):  # one log stream type's body (create_log_stream_key)
        root = schema(LOG_STREAM_BODY_SCHEMAS[key.removeprefix("create_log_stream_")])
    else:
        root = builders[key]()
    root["components"] = {"schemas": components()}
    return Draft202012Validator(root)


def create_log_stream_key(body: Any) -> str:
    """The :func:`validate_body` key of a log stream create body: its ``type``'s, if the spec knows it."""
    stream_type = body.get("type") if isinstance(body, dict) else None
    if isinstance(stream_type, str) and stream_type in LOG_STREAM_BODY_SCHEMAS:
        return f"create_log_stream_{stream_type}"
    return "create_log_stream"


def validate_body(key: str, body: Any) -> None:
    """Validate a request body; raise Auth0's 400 ``invalid_body`` on the first problem found."""
    error = first_error(_validator(key), body)
    if error is not None:
        raise bad_request(f"Payload validation error: {describe(error)}.", "invalid_body")


def first_error(validator: Draft202012Validator, instance: Any) -> ValidationError | None:
    """The error Auth0 would report: the shallowest one, in the validator's order."""
    errors = list(validator.iter_errors(instance))
    if not errors:
        return None
    return min(errors, key=lambda e: len(e.absolute_path))


# ---------------------------------------------------------------------------------------------
# Messages in Auth0's (z-schema's) wording


def json_type(value: Any) -> str:
    """The JSON type name of a Python value as z-schema reports it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def property_path(path: Iterable[Any]) -> str:
    """``["scopes", 9, "value"]`` -> ``scopes[9].value``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _message(error: ValidationError) -> str:
    # An error a validator yields always has the instance and the keyword's value, both JSON values
    # (jsonschema's Unset sentinel, which its stubs allow for, is only in errors built by hand).
    instance: Any = error.instance
    value: Any = error.validator_value
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "additionalProperties":
        known = set(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extra = [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]
        return f"Additional properties not allowed: {extra[0] if extra else ''}"
    if keyword == "required":
        missing = [k for k in value if k not in instance]
        return f"Missing required property: {missing[0] if missing else ''}"
    if keyword == "type":
        expected = ",".join(value) if isinstance(value, list) else value
        return f"Expected type {expected} but found type {json_type(instance)}"
    if keyword in ("enum", "const"):
        return f"No enum match for: {json.dumps(instance)}"
    if keyword == "pattern":
        return f"String does not match pattern {value}: {instance}"
    if keyword == "minLength":
        return f"String is too short ({len(instance)} chars), minimum {value}"
    if keyword == "maxLength":
        return f"String is too long ({len(instance)} chars), maximum {value}"
    if keyword == "minimum":
        return f"Value {instance} is less than minimum {value}"
    if keyword == "maximum":
        return f"Value {instance} is greater than maximum {value}"
    if keyword == "minProperties":
        return f"Too few properties defined ({len(instance)}), minimum {value}"
    if keyword == "maxProperties":
        return f"Too many properties defined ({len(instance)}), maximum {value}"
    if keyword == "minItems":
        return f"Array is too short ({len(instance)}), minimum {value}"
    if keyword == "maxItems":
        return f"Array is too long ({len(instance)}), maximum {value}"
    if keyword == "oneOf":
        return "Data does not match any schemas from 'oneOf'"
    if keyword == "anyOf":
        return "Data does not match any schemas from 'anyOf'"
    return error.message


def describe(error: ValidationError) -> str:
    """``'<message>' on property <path> (<description>)`` as Auth0 words a validation failure."""
    text = f"'{_message(error)}'"
    path = property_path(error.absolute_path)
    if path:
        text += f" on property {path}"
        description = error.schema.get("description") if isinstance(error.schema, Mapping) else None
        if description:
            text += f" ({description})"
    return text


# ---------------------------------------------------------------------------------------------
# Query strings

#: Limits the spec states in prose rather than in the parameter schema.
_QUERY_EXTRA_CONSTRAINTS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET /api/v2/resource-servers", "identifiers"): {"maxItems": 10},
}


def _resolve(param_schema: Mapping[str, Any]) -> dict[str, Any]:
    ref = param_schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        return {
            **components()[ref[len(_REF_PREFIX) :]],
            **{k: v for k, v in param_schema.items() if k != "$ref"},
        }
    return dict(param_schema)


@cache
def query_parameters(route: str) -> dict[str, dict[str, Any]]:
    """The query parameters the spec declares for ``"METHOD /api/v2/template"`` (name -> schema)."""
    params = {}
    declared: list[dict[str, Any]] = []
    for excerpt in _excerpts():
        declared.extend(excerpt["query_parameters"].get(route, []))
    for param in declared:
        resolved = _resolve(param.get("schema", {}))
        if description := param.get("description"):
            resolved["description"] = re.sub(r"<[^>]+>", "", description)
        resolved.update(_QUERY_EXTRA_CONSTRAINTS.get((route, param["name"]), {}))
        params[param["name"]] = resolved
    return params


@cache
def _query_validator(route: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"type": "object", "additionalProperties": False, "properties": query_parameters(route)}
    )


def _coerce(raw: list[str], param_schema: Mapping[str, Any]) -> Any:
    declared = param_schema.get("type")
    if declared == "array":
        return list(raw)
    if len(raw) != 1:
        return list(raw)
    value = raw[0]
    if declared == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if declared == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def parse_query(route: str, raw: Mapping[str, list[str]]) -> dict[str, Any]:
    """Coerce and validate a query string; raise Auth0's 400 ``invalid_query_string``."""
    params = query_parameters(route)
    coerced = {name: _coerce(values, params.get(name, {})) for name, values in raw.items()}
    error = first_error(_query_validator(route), coerced)
    if error is not None:
        raise bad_request(f"Query validation error: {describe(error)}.", "invalid_query_string")
    return coerced


def raise_query_error(message: str) -> ApiError:
    """A 400 ``invalid_query_string`` with Auth0's prefix."""
    return bad_request(f"Query validation error: '{message}'.", "invalid_query_string")
