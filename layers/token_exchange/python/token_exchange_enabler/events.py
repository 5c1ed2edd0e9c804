"""Turn Auth0 log events into "API created" facts, or a stated reason to ignore them.

Auth0 streams each log record as ``{"log_id": ..., "data": {...}}``. EventBridge delivers that
record as the ``detail`` of an event whose ``detail-type`` is ``"Auth0 log"``, and the queue
carries that event, as JSON text, in the ``body`` of an SQS record. An API (a resource server)
created in the Dashboard or by any Management API client shows up as a ``sapi`` record of a
successful ``POST /api/v2/resource-servers``, whose response body is the new API::

    {
      "detail-type": "Auth0 log",
      "source": "aws.partner/auth0.com/acme-<uuid>/auth0.logs",
      "detail": {
        "log_id": "90020250312094517842...",
        "data": {
          "type": "sapi",
          "description": "Create a resource server",
          "details": {
            "request": {"method": "post", "path": "/api/v2/resource-servers", ...},
            "response": {
              "statusCode": 201,
              "body": {"id": "66b1fe07da0f5b2d35c5c011", "identifier": "https://orders.acme.com",
                       "name": "Orders API", ...}
            }
          }
        }
      }
    }

Every parser returns :class:`ApiCreated` or :class:`Ignored` (with its reason), or raises
:class:`MalformedEvent` for input it cannot understand. Matching never relies on the
``description`` text, and the project's own writes (``POST /api/v2/clients``,
``PATCH /api/v2/clients/{id}``, ``POST /api/v2/client-grants``) are ignored. Reasons are one short
line and never echo request or response bodies. Pure functions: no I/O, no logging, stdlib only.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "API_CREATION_PATH",
    "AUTH0_LOG_DETAIL_TYPE",
    "ApiCreated",
    "Fact",
    "Ignored",
    "MalformedEvent",
    "is_eventbridge_event",
    "is_sqs_event",
    "log_id_of",
    "parse_eventbridge_event",
    "parse_log_record",
    "parse_sqs_body",
    "parse_sqs_record",
]

AUTH0_LOG_DETAIL_TYPE = "Auth0 log"
API_CREATION_PATH = "/api/v2/resource-servers"

_API_ID = re.compile(r"[0-9a-f]{24}")
_LOG_ID = re.compile(r"[!-~]{1,128}")  # printable ASCII, no spaces; Auth0's are 56 digits
_STATUS = re.compile(r"[0-9]{3}")
_MAX_ECHO = 80
_MAX_REASON = 240
_INVALID = object()  # "not JSON", distinct from a JSON null


@dataclass(frozen=True, slots=True)
class ApiCreated:
    """A new API (resource server) was created, as the Management API answered it."""

    api_id: str
    identifier: str
    name: str | None
    is_system: bool
    log_id: str
    created_by: str | None = None  # the record's client_id: the application that created the API


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed event that is not an API creation, and why."""

    reason: str
    log_id: str | None


Fact = ApiCreated | Ignored


class MalformedEvent(ValueError):
    """Input that cannot be understood; ``reason`` is a clear one-line message.

    The reason never contains request or response bodies and is at most a few hundred characters.
    """

    def __init__(self, reason: str, log_id: str | None = None) -> None:
        reason = _clip(str(reason), _MAX_REASON)
        super().__init__(reason)
        self.reason = reason
        self.log_id = log_id

    def __reduce__(self):
        return type(self), (self.reason, self.log_id)


def parse_eventbridge_event(event: Mapping) -> Fact:
    """Classify one EventBridge event (``detail-type: "Auth0 log"``, the log record in ``detail``).

    Optional envelope fields (``account``, ``region``, ``resources``, ``time``, ...) are not needed.
    """
    if not isinstance(event, Mapping):
        raise MalformedEvent(_wrong("EventBridge event", event, "an object"))
    detail = event.get("detail")
    log_id = _log_id_in(detail)
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str):
        raise MalformedEvent("EventBridge event has no detail-type", log_id)
    if detail_type != AUTH0_LOG_DETAIL_TYPE:
        return Ignored(f"detail-type '{_clip(detail_type)}' is not '{AUTH0_LOG_DETAIL_TYPE}'", log_id)
    if not isinstance(detail, Mapping):
        raise MalformedEvent("EventBridge event has no 'detail' object", log_id)
    return parse_log_record(detail)


def parse_log_record(record: Mapping) -> Fact:
    """Classify one Auth0 log record, ``{"log_id": ..., "data": {...}}``, as Auth0 streams it."""
    if not isinstance(record, Mapping):
        raise MalformedEvent(_wrong("log record", record, "an object"))
    log_id = _log_id_in(record)
    data = record.get("data")
    if not isinstance(data, Mapping):
        raise MalformedEvent("log record has no 'data' object", log_id)
    return _classify(data, log_id)


def parse_sqs_body(body: str | bytes) -> Fact:
    """Classify an SQS message body: an EventBridge event as JSON, or a bare log record."""
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise MalformedEvent("SQS message body is not UTF-8 text") from None
    if not isinstance(body, str):
        raise MalformedEvent(_wrong("SQS message body", body, "text"))
    message = _json_or_invalid(body)
    if message is _INVALID:
        raise MalformedEvent("SQS message body is not JSON")
    if not isinstance(message, dict):
        raise MalformedEvent(_wrong("SQS message body", message, "a JSON object"))
    if "detail-type" in message or "detail" in message:
        return parse_eventbridge_event(message)
    if "data" in message:
        return parse_log_record(message)
    raise MalformedEvent("SQS message body is neither an EventBridge event nor an Auth0 log record")


def parse_sqs_record(record: Mapping) -> Fact:
    """Classify one record of a Lambda SQS event (``{"messageId": ..., "body": ..., ...}``)."""
    if not isinstance(record, Mapping):
        raise MalformedEvent(_wrong("SQS record", record, "an object"))
    body = record.get("body")
    if body is None:
        raise MalformedEvent("SQS record has no body")
    return parse_sqs_body(body)


def is_sqs_event(event: Mapping) -> bool:
    """True for a Lambda SQS batch: ``{"Records": [{"eventSource": "aws:sqs", ...}, ...]}``."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    return (
        isinstance(records, list | tuple)
        and len(records) > 0
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def is_eventbridge_event(event: Mapping) -> bool:
    """True for an event delivered by EventBridge (it has a ``detail-type``)."""
    return isinstance(event, Mapping) and isinstance(event.get("detail-type"), str)


def log_id_of(record_or_event: object) -> str | None:
    """Best-effort ``log_id`` of an SQS record, SQS body, EventBridge event or log record.

    Never raises; ``None`` when there is no usable id.
    """
    candidate = record_or_event
    if isinstance(candidate, str | bytes | bytearray):
        candidate = _json_or_invalid(candidate)
    if isinstance(candidate, Mapping) and isinstance(candidate.get("body"), str | bytes):
        candidate = _json_or_invalid(candidate["body"])  # an SQS record
    if isinstance(candidate, Mapping) and isinstance(candidate.get("detail"), Mapping):
        candidate = candidate["detail"]  # an EventBridge event
    return _log_id_in(candidate)


# --- internals -------------------------------------------------------------------------------


def _classify(data: Mapping, log_id: str | None) -> Fact:
    log_type = data.get("type")
    if not isinstance(log_type, str):
        raise MalformedEvent(_wrong("data.type", log_type, "a string"), log_id)
    if log_type != "sapi":
        return Ignored(f"log type '{_clip(log_type)}' is not 'sapi'", log_id)

    details = _object(data, "details", "data", log_id)
    request = _object(details, "request", "data.details", log_id)
    method = _string(request, "method", "data.details.request", log_id).strip().upper()
    route = _route(_string(request, "path", "data.details.request", log_id))
    if method != "POST" or route != API_CREATION_PATH:
        return Ignored(f"{_clip(method)} {_clip(route)} is not an API creation", log_id)

    response = _object(details, "response", "data.details", log_id)
    status = _status(response, log_id)
    if not 200 <= status <= 299:
        return Ignored(f"response status {status} is not 2xx", log_id)

    body = _response_body(response, log_id)
    api_id = body.get("id")
    if not isinstance(api_id, str):
        raise MalformedEvent(_wrong("response body id", api_id, "a string"), log_id)
    if not _API_ID.fullmatch(api_id):
        raise MalformedEvent("response body id is not 24 lowercase hex characters", log_id)
    identifier = body.get("identifier")
    if not isinstance(identifier, str) or not identifier:
        raise MalformedEvent("response body has no identifier", log_id)
    is_system = body.get("is_system")
    if is_system is None:
        is_system = False
    elif not isinstance(is_system, bool):
        raise MalformedEvent(_wrong("response body is_system", is_system, "a boolean"), log_id)
    if log_id is None:
        raise MalformedEvent("API creation record has no usable log_id")
    name = body.get("name")
    actor = data.get("client_id")
    return ApiCreated(
        api_id=api_id,
        identifier=identifier,
        name=name if isinstance(name, str) and name else None,
        is_system=is_system,
        log_id=log_id,
        created_by=actor.strip() or None if isinstance(actor, str) else None,
    )


def _object(parent: Mapping, key: str, where: str, log_id: str | None) -> Mapping:
    value = parent.get(key)
    if not isinstance(value, Mapping):
        raise MalformedEvent(_wrong(f"{where}.{key}", value, "an object"), log_id)
    return value


def _string(parent: Mapping, key: str, where: str, log_id: str | None) -> str:
    value = parent.get(key)
    if not isinstance(value, str):
        raise MalformedEvent(_wrong(f"{where}.{key}", value, "a string"), log_id)
    return value


def _route(path: str) -> str:
    """The path without query string or fragment, and without a trailing slash."""
    route = path.strip().split("?", 1)[0].split("#", 1)[0]
    return route.rstrip("/") or "/"


def _status(response: Mapping, log_id: str | None) -> int:
    value = response.get("statusCode")
    if isinstance(value, str) and _STATUS.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str):
            raise MalformedEvent(f"response statusCode '{_clip(value)}' is not an HTTP status", log_id)
        raise MalformedEvent(_wrong("response statusCode", value, "an integer"), log_id)
    if not 100 <= value <= 599:
        raise MalformedEvent("response statusCode is out of the HTTP status range", log_id)
    return value


def _response_body(response: Mapping, log_id: str | None) -> Mapping:
    body = response.get("body")
    if isinstance(body, str):
        body = _json_or_invalid(body)
        if body is _INVALID:
            raise MalformedEvent("response body is a string but not JSON", log_id)
    if not isinstance(body, Mapping):
        raise MalformedEvent(_wrong("response body", body, "an object"), log_id)
    return body


def _log_id_in(record: object) -> str | None:
    """``record.log_id``, else ``record.data.log_id``; only a plausible id is returned."""
    if not isinstance(record, Mapping):
        return None
    data = record.get("data")
    for value in (record.get("log_id"), data.get("log_id") if isinstance(data, Mapping) else None):
        if isinstance(value, str) and _LOG_ID.fullmatch(value):
            return value
    return None


def _json_or_invalid(text: str | bytes | bytearray) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # includes JSONDecodeError and UnicodeDecodeError
        return _INVALID


def _wrong(what: str, value: object, expected: str) -> str:
    """Why ``value`` is not what was expected, without echoing it."""
    if value is None:
        return f"{what} is missing"
    return f"{what} is {_kind(value)}, not {expected}"


def _kind(value: object) -> str:
    """The JSON kind of a value."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"


def _clip(text: str, limit: int = _MAX_ECHO) -> str:
    """``text`` as one printable line of at most ``limit`` characters."""
    line = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return line if len(line) <= limit else line[: limit - 3] + "..."
