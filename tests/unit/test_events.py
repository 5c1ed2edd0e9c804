"""Unit tests of token_exchange_enabler.events: Auth0 log events -> ApiCreated / Ignored / MalformedEvent."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from token_exchange_enabler.events import (
    ApiCreated,
    Ignored,
    MalformedEvent,
    is_eventbridge_event,
    is_sqs_event,
    log_id_of,
    parse_eventbridge_event,
    parse_log_record,
    parse_sqs_body,
    parse_sqs_record,
)

from tests.conftest import load_sample

API_ID = "67d15a2f8c3e4b0012a9f6d1"
IDENTIFIER = "https://orders.acme.com/api"
LOG_ID = "90020250312094517842107456389021563748219036547182930456"
SECRET = "s3cr3t-Zq8vLm2Kx9Tb4Wn7"
API_ID_PATTERN = re.compile(r"^[0-9a-f]{24}$")
DELETE = object()


def sapi_record(**changes) -> dict:
    """A minimal log record of a successful POST /api/v2/resource-servers.

    ``changes`` maps dotted paths below the record (``data.details.request.method``) to new
    values; ``DELETE`` removes the key.
    """
    record = {
        "log_id": LOG_ID,
        "data": {
            "date": "2025-03-12T09:45:17.842Z",
            "type": "sapi",
            "description": "Create a resource server",
            "client_id": "360yuN1BXP4u3tBChK5VOgekgGJ7CwLL",
            "client_name": "",
            "ip": "203.0.113.24",
            "details": {
                "request": {
                    "method": "post",
                    "path": "/api/v2/resource-servers",
                    "query": {},
                    "body": {"name": "Orders API", "identifier": IDENTIFIER},
                    "channel": "https://manage.auth0.com/",
                },
                "response": {
                    "statusCode": 201,
                    "body": {
                        "id": API_ID,
                        "name": "Orders API",
                        "identifier": IDENTIFIER,
                        "signing_alg": "RS256",
                        "token_lifetime": 86400,
                    },
                },
            },
            "user_id": "auth0|65f0a1b2c3d4e5f607182930",
            "log_id": LOG_ID,
        },
    }
    for dotted, value in changes.items():
        set_path(record, dotted, value)
    return record


def get_path(document, dotted: str):
    for key in dotted.split("."):
        document = document.get(key) if isinstance(document, dict) else None
    return document


def set_path(document: dict, dotted: str, value) -> None:
    """Set (or with ``DELETE`` remove) ``document[a][b][c]`` for ``"a.b.c"``, if its parent exists."""
    parent, _, leaf = dotted.rpartition(".")
    node = get_path(document, parent) if parent else document
    if not isinstance(node, dict):
        return
    if value is DELETE:
        node.pop(leaf, None)
    else:
        node[leaf] = value


def eventbridge(detail, detail_type: str = "Auth0 log") -> dict:
    return {
        "version": "0",
        "id": "5c2e8f41-7a3b-9d06-e1f4-2b8c6d0a9e37",
        "detail-type": detail_type,
        "source": "aws.partner/auth0.com/acme-4f6d2c8e-9b1a-4e37-8a52-0c7d3e9f1b64/auth0.logs",
        "account": "123456789012",
        "time": "2025-03-12T09:45:18Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }


def sqs_record(body) -> dict:
    return {
        "messageId": "2d7f9b14-6c3e-4a85-9f1d-0b8e5c7a3d21",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a7Zk4oGzLMw2p0hTfVqZ7F9dXbH3kD8vRz5yq0tNw==",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1741772718214"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:api-created",
        "awsRegion": "eu-west-1",
    }


ACTOR = "360yuN1BXP4u3tBChK5VOgekgGJ7CwLL"  # the record's client_id: the application that made the call
EXPECTED_FACT = ApiCreated(
    api_id=API_ID, identifier=IDENTIFIER, name="Orders API", is_system=False, log_id=LOG_ID, created_by=ACTOR
)


def parse_everywhere(record: dict) -> list:
    """The outcome of each entry point for one log record (they must agree)."""
    outcomes = []
    event = eventbridge(record)
    for parse, value in (
        (parse_log_record, record),
        (parse_eventbridge_event, event),
        (parse_sqs_body, json.dumps(event)),
        (parse_sqs_body, json.dumps(event).encode()),
        (parse_sqs_body, json.dumps(record)),
        (parse_sqs_record, sqs_record(json.dumps(event))),
    ):
        try:
            outcomes.append(parse(value))
        except MalformedEvent as error:
            outcomes.append(("malformed", error.reason, error.log_id))
    return outcomes


# --- what counts as "API created" --------------------------------------------------------------


def test_a_successful_post_resource_servers_is_an_api_creation_through_every_entry_point():
    assert parse_everywhere(sapi_record()) == [EXPECTED_FACT] * 6


@pytest.mark.parametrize("method", ["post", "POST", "Post", " post "])
def test_method_is_matched_in_any_case(method):
    assert parse_log_record(sapi_record(**{"data.details.request.method": method})) == EXPECTED_FACT


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/resource-servers",
        "/api/v2/resource-servers/",
        "/api/v2/resource-servers?fields=id",
        "/api/v2/resource-servers/?include_fields=true",
        "/api/v2/resource-servers#created",
    ],
)
def test_query_string_and_trailing_slash_are_ignored(path):
    assert parse_log_record(sapi_record(**{"data.details.request.path": path})) == EXPECTED_FACT


@pytest.mark.parametrize("status", [200, 201, 202, 299, "201", " 201 ", "200"])
def test_any_2xx_status_int_or_numeric_string(status):
    assert parse_log_record(sapi_record(**{"data.details.response.statusCode": status})) == EXPECTED_FACT


@pytest.mark.parametrize(
    "method, path, reason",
    [
        ("post", "/api/v2/clients", "POST /api/v2/clients is not an API creation"),
        (
            "patch",
            "/api/v2/clients/Rc3Vx8Nq1Lm6Tz4Wb9Kd2Hf7Pj5Sg0Ya",
            "PATCH /api/v2/clients/Rc3Vx8Nq1Lm6Tz4Wb9Kd2Hf7Pj5Sg0Ya is not an API creation",
        ),
        ("post", "/api/v2/client-grants", "POST /api/v2/client-grants is not an API creation"),
        (
            "patch",
            f"/api/v2/resource-servers/{API_ID}",
            f"PATCH /api/v2/resource-servers/{API_ID} is not an API creation",
        ),
        (
            "post",
            f"/api/v2/resource-servers/{API_ID}",
            f"POST /api/v2/resource-servers/{API_ID} is not an API creation",
        ),
        (
            "delete",
            f"/api/v2/resource-servers/{API_ID}",
            f"DELETE /api/v2/resource-servers/{API_ID} is not an API creation",
        ),
        ("get", "/api/v2/resource-servers", "GET /api/v2/resource-servers is not an API creation"),
        ("put", "/api/v2/resource-servers", "PUT /api/v2/resource-servers is not an API creation"),
        (
            "post",
            "/api/v2/resource-servers-archive",
            "POST /api/v2/resource-servers-archive is not an API creation",
        ),
        ("post", "/api/v2/log-streams", "POST /api/v2/log-streams is not an API creation"),
        ("post", "/api/v2/clients?client_secret=x", "POST /api/v2/clients is not an API creation"),
    ],
)
def test_other_management_api_writes_are_ignored_with_a_reason(method, path, reason):
    record = sapi_record(**{"data.details.request.method": method, "data.details.request.path": path})
    assert parse_log_record(record) == Ignored(reason=reason, log_id=LOG_ID)


@pytest.mark.parametrize("status", [400, 401, 403, 409, 429, 500, 503, 100, 199, 300, 302, "409", " 404 "])
def test_non_2xx_status_is_ignored(status):
    record = sapi_record(**{"data.details.response.statusCode": status})
    expected = Ignored(reason=f"response status {int(status)} is not 2xx", log_id=LOG_ID)
    assert parse_log_record(record) == expected


@pytest.mark.parametrize("log_type", ["s", "f", "mgmt_api_read", "fapi", "seacft", "SAPI", ""])
def test_other_log_types_are_ignored(log_type):
    record = sapi_record(**{"data.type": log_type})
    assert parse_log_record(record) == Ignored(f"log type '{log_type}' is not 'sapi'", LOG_ID)


@pytest.mark.parametrize("detail_type", ["Scheduled Event", "AWS API Call via CloudTrail", "auth0 log", ""])
def test_other_detail_types_are_ignored(detail_type):
    fact = parse_eventbridge_event(eventbridge(sapi_record(), detail_type))
    assert fact == Ignored(f"detail-type '{detail_type}' is not 'Auth0 log'", LOG_ID)


def test_description_is_never_used():
    matching = sapi_record(**{"data.description": "Create a client"})
    assert parse_log_record(matching) == EXPECTED_FACT
    misleading = sapi_record(
        **{"data.description": "Create a resource server", "data.details.request.path": "/api/v2/clients"}
    )
    assert isinstance(parse_log_record(misleading), Ignored)
    no_description = sapi_record(**{"data.description": DELETE})
    assert parse_log_record(no_description) == EXPECTED_FACT


# --- the project's own writes never look like an API creation ----------------------------------


OWN_WRITES = [
    (
        "post",
        "/api/v2/clients",
        "Create a client",
        201,
        {
            "client_id": "Rc3Vx8Nq1Lm6Tz4Wb9Kd2Hf7Pj5Sg0Ya",
            "client_secret": "REDACTED",
            "app_type": "resource_server",
            "resource_server_identifier": IDENTIFIER,
            "token_exchange": {"allow_any_profile_of_type": ["on_behalf_of_token_exchange"]},
        },
    ),
    (
        "patch",
        "/api/v2/clients/Rc3Vx8Nq1Lm6Tz4Wb9Kd2Hf7Pj5Sg0Ya",
        "Update a client",
        200,
        {
            "client_id": "Rc3Vx8Nq1Lm6Tz4Wb9Kd2Hf7Pj5Sg0Ya",
            "client_secret": "REDACTED",
            "token_exchange": {"allow_any_profile_of_type": ["on_behalf_of_token_exchange"]},
        },
    ),
    (
        "post",
        "/api/v2/client-grants",
        "Create client grant",
        201,
        {
            "id": "cgr_4kRt9YwZ2xQm7Lb1",
            "client_id": "Rc3Vx8Nq1Lm6Tz4Wb9Kd2Hf7Pj5Sg0Ya",
            "subject_type": "user",
        },
    ),
]


@pytest.mark.parametrize("method, path, description, status, body", OWN_WRITES)
def test_the_projects_own_writes_are_ignored(method, path, description, status, body):
    record = sapi_record(
        **{
            "data.description": description,
            "data.details.request.method": method,
            "data.details.request.path": path,
            "data.details.response.statusCode": status,
            "data.details.response.body": body,
            "data.details.accessedSecrets": ["client_secret"],
        }
    )
    for outcome in parse_everywhere(record):
        assert isinstance(outcome, Ignored)
        assert outcome.reason.endswith("is not an API creation")
        assert "REDACTED" not in outcome.reason and "secret" not in outcome.reason


# --- optional and variable fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [(DELETE, None), (None, None), ("", None), ("****", "****"), (42, None), ("Orders API", "Orders API")],
)
def test_name_may_be_missing_or_masked(name, expected):
    fact = parse_log_record(sapi_record(**{"data.details.response.body.name": name}))
    assert fact == ApiCreated(API_ID, IDENTIFIER, expected, False, LOG_ID, ACTOR)


@pytest.mark.parametrize(
    "is_system, expected", [(DELETE, False), (None, False), (False, False), (True, True)]
)
def test_is_system_defaults_to_false(is_system, expected):
    fact = parse_log_record(sapi_record(**{"data.details.response.body.is_system": is_system}))
    assert isinstance(fact, ApiCreated)
    assert fact.is_system is expected


def test_response_body_as_a_json_string_is_decoded():
    body = sapi_record()["data"]["details"]["response"]["body"]
    record = sapi_record(**{"data.details.response.body": json.dumps(body)})
    assert parse_everywhere(record) == [EXPECTED_FACT] * 6


@pytest.mark.parametrize("field", ["account", "resources", "region", "time", "id", "version", "source"])
def test_optional_envelope_fields_may_be_missing(field):
    event = eventbridge(sapi_record())
    del event[field]
    assert parse_eventbridge_event(event) == EXPECTED_FACT
    assert parse_sqs_body(json.dumps(event)) == EXPECTED_FACT


@pytest.mark.parametrize(
    "changes, expected_log_id",
    [
        ({}, LOG_ID),
        ({"log_id": DELETE}, LOG_ID),  # only data.log_id
        ({"data.log_id": DELETE}, LOG_ID),  # only detail.log_id
        ({"log_id": "900" + "1" * 53}, "900" + "1" * 53),  # detail.log_id wins
        ({"log_id": ""}, LOG_ID),
    ],
)
def test_log_id_comes_from_detail_or_data(changes, expected_log_id):
    fact = parse_eventbridge_event(eventbridge(sapi_record(**changes)))
    assert fact.log_id == expected_log_id


def test_request_details_other_than_method_and_path_are_optional():
    record = sapi_record(
        **{
            "data.details.request.body": DELETE,
            "data.details.request.query": DELETE,
            "data.details.request.channel": DELETE,
            "data.client_id": DELETE,
            "data.ip": DELETE,
            "data.user_id": DELETE,
            "data.date": DELETE,
        }
    )
    assert parse_log_record(record) == dataclasses.replace(EXPECTED_FACT, created_by=None)  # no actor recorded


def test_system_api_is_reported_not_skipped_here():
    record = sapi_record(
        **{
            "data.details.response.body.is_system": True,
            "data.details.response.body.identifier": "https://acme.eu.auth0.com/api/v2/",
            "data.details.response.body.name": "Auth0 Management API",
        }
    )
    fact = parse_log_record(record)
    assert fact == ApiCreated(
        API_ID, "https://acme.eu.auth0.com/api/v2/", "Auth0 Management API", True, LOG_ID, ACTOR
    )


# --- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"data": DELETE}, "log record has no 'data' object"),
        ({"data": []}, "log record has no 'data' object"),
        ({"data.type": DELETE}, "data.type is missing"),
        ({"data.type": 5}, "data.type is an integer, not a string"),
        ({"data.details": DELETE}, "data.details is missing"),
        ({"data.details": "post"}, "data.details is a string, not an object"),
        ({"data.details.request": DELETE}, "data.details.request is missing"),
        ({"data.details.request.method": DELETE}, "data.details.request.method is missing"),
        ({"data.details.request.method": ["post"]}, "data.details.request.method is an array, not a string"),
        ({"data.details.request.path": 7}, "data.details.request.path is an integer, not a string"),
        ({"data.details.response": DELETE}, "data.details.response is missing"),
        ({"data.details.response.statusCode": DELETE}, "response statusCode is missing"),
        (
            {"data.details.response.statusCode": "Created"},
            "response statusCode 'Created' is not an HTTP status",
        ),
        ({"data.details.response.statusCode": "2O1"}, "response statusCode '2O1' is not an HTTP status"),
        ({"data.details.response.statusCode": "²⁰¹"}, "is not an HTTP status"),
        ({"data.details.response.statusCode": True}, "response statusCode is a boolean, not an integer"),
        (
            {"data.details.response.statusCode": 201.0},
            "response statusCode is a decimal number, not an integer",
        ),
        ({"data.details.response.statusCode": 2010}, "response statusCode is out of the HTTP status range"),
        ({"data.details.response.statusCode": -201}, "response statusCode is out of the HTTP status range"),
        (
            {"data.details.response.statusCode": 10**5000},
            "response statusCode is out of the HTTP status range",
        ),
        ({"data.details.response.body": DELETE}, "response body is missing"),
        ({"data.details.response.body": "{not json"}, "response body is a string but not JSON"),
        ({"data.details.response.body": "[1, 2]"}, "response body is an array, not an object"),
        ({"data.details.response.body": [API_ID]}, "response body is an array, not an object"),
        ({"data.details.response.body.id": DELETE}, "response body id is missing"),
        ({"data.details.response.body.id": 12345}, "response body id is an integer, not a string"),
        ({"data.details.response.body.identifier": DELETE}, "response body has no identifier"),
        ({"data.details.response.body.identifier": ""}, "response body has no identifier"),
        ({"data.details.response.body.identifier": ["x"]}, "response body has no identifier"),
        (
            {"data.details.response.body.is_system": "true"},
            "response body is_system is a string, not a boolean",
        ),
        ({"data.details.response.body.is_system": 1}, "response body is_system is an integer, not a boolean"),
    ],
)
def test_malformed_records_raise_with_a_clear_reason(changes, reason):
    record = sapi_record(**changes)
    with pytest.raises(MalformedEvent) as caught:
        parse_log_record(record)
    assert reason in caught.value.reason
    assert caught.value.log_id == LOG_ID
    assert str(caught.value) == caught.value.reason


@pytest.mark.parametrize(
    "api_id",
    [
        "../clients/abc",
        f"{API_ID}/..",
        f"../{API_ID}",
        f"{API_ID[:23]}/",
        f"{API_ID[:23]}?",
        f"{API_ID[:23]}#",
        f"{API_ID[:12]}%2F{API_ID[15:]}",
        API_ID.upper(),
        API_ID[:23],
        API_ID + "0",
        API_ID + "\n",
        " " + API_ID,
        "rs_" + API_ID[3:],
        "g" * 24,
        "６７d15a2f8c3e4b0012a9f6d1",  # full-width digits
        "",
    ],
)
def test_only_24_lowercase_hex_ids_pass(api_id):
    record = sapi_record(**{"data.details.response.body.id": api_id})
    with pytest.raises(MalformedEvent, match="response body id is not 24 lowercase hex characters"):
        parse_log_record(record)


@pytest.mark.parametrize("log_id", [DELETE, "", None, 900, "has spaces in it", "9" * 129, "900\n123"])
def test_an_api_creation_without_a_usable_log_id_is_malformed(log_id):
    record = sapi_record(**{"log_id": log_id, "data.log_id": log_id})
    with pytest.raises(MalformedEvent, match="API creation record has no usable log_id") as caught:
        parse_log_record(record)
    assert caught.value.log_id is None


@pytest.mark.parametrize(
    "event, reason",
    [
        (None, "EventBridge event is missing"),
        ([], "EventBridge event is an array, not an object"),
        ("Auth0 log", "EventBridge event is a string, not an object"),
        ({"detail": sapi_record()}, "EventBridge event has no detail-type"),
        ({"detail-type": 1, "detail": sapi_record()}, "EventBridge event has no detail-type"),
        ({"detail-type": "Auth0 log"}, "EventBridge event has no 'detail' object"),
        ({"detail-type": "Auth0 log", "detail": json.dumps(sapi_record())}, "has no 'detail' object"),
        ({"detail-type": "Auth0 log", "detail": {"log_id": LOG_ID}}, "log record has no 'data' object"),
    ],
)
def test_malformed_eventbridge_events(event, reason):
    with pytest.raises(MalformedEvent) as caught:
        parse_eventbridge_event(event)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    "body, reason",
    [
        ("", "SQS message body is not JSON"),
        ("Hello from the queue", "SQS message body is not JSON"),
        ('{"version":"0","detail-type":"Auth0 log","detail":{', "SQS message body is not JSON"),
        (b"\xff\xfe\x00garbage", "SQS message body is not UTF-8 text"),
        ("[" * 100_000, "SQS message body is not JSON"),
        ("[]", "SQS message body is an array, not a JSON object"),
        ("null", "SQS message body is missing"),
        ("42", "SQS message body is an integer, not a JSON object"),
        ('"text"', "SQS message body is a string, not a JSON object"),
        ("{}", "SQS message body is neither an EventBridge event nor an Auth0 log record"),
        ('{"Records": []}', "SQS message body is neither an EventBridge event nor an Auth0 log record"),
        (None, "SQS message body is missing"),
        (12, "SQS message body is an integer, not text"),
        ('{"detail-type": "Auth0 log"}', "EventBridge event has no 'detail' object"),
    ],
)
def test_malformed_sqs_bodies(body, reason):
    with pytest.raises(MalformedEvent) as caught:
        parse_sqs_body(body)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"messageId": "m-1"}, "SQS record has no body"),
        ({"messageId": "m-1", "body": 5}, "SQS message body is an integer, not text"),
        ("body", "SQS record is a string, not an object"),
        (None, "SQS record is missing"),
    ],
)
def test_malformed_sqs_records(record, reason):
    with pytest.raises(MalformedEvent) as caught:
        parse_sqs_record(record)
    assert caught.value.reason == reason


def test_malformed_event_carries_the_log_id_when_known_and_survives_pickling():
    record = sapi_record(**{"data.details.response.body.id": "../clients/abc"})
    with pytest.raises(MalformedEvent) as caught:
        parse_sqs_record(sqs_record(json.dumps(eventbridge(record))))
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.log_id == LOG_ID
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (clone.reason, clone.log_id, str(clone)) == (error.reason, error.log_id, str(error))


def test_bare_log_record_in_an_sqs_body_is_accepted():
    assert parse_sqs_body(json.dumps(sapi_record())) == EXPECTED_FACT
    assert parse_sqs_body(("\ufeff" + json.dumps(sapi_record())).encode()) == EXPECTED_FACT


# --- reasons are short, single-line and leak nothing --------------------------------------------


LEAKY_RECORDS = {
    "secret in a client response": sapi_record(
        **{
            "data.details.request.path": "/api/v2/clients",
            "data.details.response.body": {"client_id": "abc", "client_secret": SECRET},
        }
    ),
    "secret in the query string": sapi_record(
        **{"data.details.request.path": f"/api/v2/clients?client_secret={SECRET}"}
    ),
    "secret as the id": sapi_record(**{"data.details.response.body.id": SECRET}),
    "secret beside a bad id": sapi_record(
        **{"data.details.response.body.id": "../x", "data.details.response.body.client_secret": SECRET}
    ),
    "secret in a response body string": sapi_record(**{"data.details.response.body": f"{{{SECRET}"}),
    "secret in a request body": sapi_record(
        **{"data.details.request.body": {"client_secret": SECRET}, "data.details.response.body.id": 1}
    ),
    "secret as is_system": sapi_record(**{"data.details.response.body.is_system": SECRET}),
    "secret as the identifier type": sapi_record(**{"data.details.response.body.identifier": {"k": SECRET}}),
}


@pytest.mark.parametrize("record", LEAKY_RECORDS.values(), ids=LEAKY_RECORDS.keys())
def test_reasons_never_echo_bodies_or_secrets(record):
    for outcome in parse_everywhere(record):
        reason = outcome.reason if isinstance(outcome, Ignored) else outcome[1]
        assert SECRET not in reason
        assert "client_secret" not in reason


@pytest.mark.parametrize(
    "changes",
    [
        {"data.type": "x" * 10_000},
        {"data.type": "s\nInjected: line\r\n"},
        {"data.details.request.method": "post\nX-Injected: 1"},
        {"data.details.request.path": "/api/v2/" + "a" * 10_000},
        {"data.details.request.path": "/api/v2/clients\u2028\x1b[31mred"},
        {"data.details.response.statusCode": "9" * 10_000},
    ],
)
def test_reasons_are_one_bounded_line(changes):
    for outcome in parse_everywhere(sapi_record(**changes)):
        reason = outcome.reason if isinstance(outcome, Ignored) else outcome[1]
        assert len(reason) <= 240
        assert reason.isprintable()


def test_detail_type_is_clipped_in_the_reason():
    fact = parse_eventbridge_event(eventbridge(sapi_record(), "A" * 500))
    assert isinstance(fact, Ignored)
    assert len(fact.reason) < 140 and fact.reason.isprintable()


# --- event shape detection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"Records": [sqs_record("{}")]}, True),
        ({"Records": [sqs_record("{}"), sqs_record("x")]}, True),
        ({"Records": []}, False),
        ({"Records": [{"eventSource": "aws:sns"}]}, False),
        ({"Records": [sqs_record("{}"), {"eventSource": "aws:kinesis"}]}, False),
        ({"Records": "aws:sqs"}, False),
        ({"Records": ["aws:sqs"]}, False),
        (eventbridge(sapi_record()), False),
        ([], False),
        (None, False),
    ],
)
def test_is_sqs_event(event, expected):
    assert is_sqs_event(event) is expected


@pytest.mark.parametrize(
    "event, expected",
    [
        (eventbridge(sapi_record()), True),
        (eventbridge(sapi_record(), "Scheduled Event"), True),
        ({"detail-type": "Auth0 log"}, True),
        ({"Records": [sqs_record("{}")]}, False),
        (sapi_record(), False),
        ({"detail-type": None, "detail": {}}, False),
        ("detail-type", False),
        (None, False),
    ],
)
def test_is_eventbridge_event(event, expected):
    assert is_eventbridge_event(event) is expected


# --- log_id_of ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (sapi_record(), LOG_ID),
        (sapi_record(log_id=DELETE), LOG_ID),
        (eventbridge(sapi_record()), LOG_ID),
        (json.dumps(eventbridge(sapi_record())), LOG_ID),
        (json.dumps(eventbridge(sapi_record())).encode(), LOG_ID),
        (sqs_record(json.dumps(eventbridge(sapi_record()))), LOG_ID),
        (sqs_record(json.dumps(sapi_record())), LOG_ID),
        (eventbridge(sapi_record(), "Scheduled Event"), LOG_ID),
        (sqs_record("not json"), None),
        (sqs_record(None), None),
        ({"detail": "x"}, None),
        ({"log_id": 5, "data": {"log_id": ["x"]}}, None),
        ({"log_id": "x" * 1000}, None),
        ("not json", None),
        (b"\xff", None),
        ("[" * 100_000, None),
        ([], None),
        (None, None),
        (42, None),
    ],
)
def test_log_id_of_is_best_effort_and_never_raises(value, expected):
    assert log_id_of(value) == expected


# --- public samples (samples/) ------------------------------------------------------------------


def test_public_login_sample_is_ignored():
    event = load_sample("eventbridge-auth0-log-real-login-s.json")
    fact = parse_eventbridge_event(event)
    assert fact == Ignored(
        "log type 's' is not 'sapi'", "80020210116121232560015923748216455316604749397232713763"
    )


def test_public_sapi_records_of_other_writes_are_ignored():
    records = load_sample("logstream-sapi-samples.elastic-integrations.json")
    reasons = [parse_log_record(record).reason for record in records]
    assert reasons == [
        "POST /api/v2/log-streams is not an API creation",
        "POST /api/v2/clients is not an API creation",
        "DELETE /api/v2/clients/OjVPkOH645QsMFPitAEmQOx2J7NcAYCZ is not an API creation",
    ]


def test_console_preview_without_details_is_malformed():
    event = load_sample("eventbridge-auth0-log-console-sample-sapi.json")
    with pytest.raises(MalformedEvent, match="data.details is missing"):
        parse_eventbridge_event(event)


def test_recorded_201_response_body_is_an_api_creation():
    recording = load_sample("mgmt-api-post-resource-servers-201.go-auth0-recording.json")
    record = sapi_record(
        **{
            "data.details.request.method": recording["request"]["method"],
            "data.details.request.body": recording["request"]["body"],
            "data.details.response.statusCode": recording["response"]["status"],
            "data.details.response.body": recording["response"]["body"],
        }
    )
    assert parse_log_record(record) == ApiCreated(
        api_id="66b1fe07da0f5b2d35c5c011",
        identifier="https://api.example.com/",
        name="Test Resource Server (Aug  6 16:12:15.127)",
        is_system=False,
        log_id=LOG_ID,
        created_by=ACTOR,
    )


# --- properties ---------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# Where a valid event can go wrong, with values known to be tricky there (beside any JSON value).
TRICKY = {
    "detail-type": ["Auth0 log", "Scheduled Event", ""],
    "detail": [],
    "detail.log_id": ["", LOG_ID, "x" * 200],
    "detail.data": [],
    "detail.data.log_id": ["", LOG_ID],
    "detail.data.type": ["s", "SAPI", "sapi "],
    "detail.data.details": [],
    "detail.data.details.request": [],
    "detail.data.details.request.method": ["POST", "patch", "get", "post\n"],
    "detail.data.details.request.path": [
        "/api/v2/resource-servers/",
        "/api/v2/resource-servers?x=1",
        "/api/v2/clients",
        f"/api/v2/resource-servers/{API_ID}",
        "/api/v2/resource-servers/../clients",
    ],
    "detail.data.details.response": [],
    "detail.data.details.response.statusCode": ["201", " 200 ", 409, "abc", True, 201.0, 10**30, "9" * 5000],
    "detail.data.details.response.body": ["{", "[]", "null", json.dumps({"id": API_ID})],
    "detail.data.details.response.body.id": [
        "../clients/abc",
        API_ID.upper(),
        API_ID + "\n",
        API_ID[:23] + "/",
        API_ID[:23] + "?",
        API_ID[:23] + "#",
        "６７d15a2f8c3e4b0012a9f6d1",
    ],
    "detail.data.details.response.body.identifier": ["", None],
    "detail.data.details.response.body.name": [None, "", "****"],
    "detail.data.details.response.body.is_system": [True, None, "true", 0],
}


@st.composite
def events(draw) -> object:
    """Mostly a valid event with a few fields removed or replaced; sometimes any JSON value."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON_VALUES)
    event = eventbridge(sapi_record())
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(sorted(TRICKY)))
        value = draw(st.one_of(st.just(DELETE), st.sampled_from(TRICKY[path] or [None]), JSON_VALUES))
        set_path(event, path, value)
    body = get_path(event, "detail.data.details.response.body")
    if isinstance(body, dict) and draw(st.booleans()):
        set_path(event, "detail.data.details.response.body", json.dumps(body))
    return event


def assert_is_a_fact_or_malformed(parse, value):
    try:
        fact = parse(value)
    except MalformedEvent as error:
        assert 0 < len(error.reason) <= 240 and error.reason.isprintable()
        return
    assert isinstance(fact, ApiCreated | Ignored)
    if isinstance(fact, ApiCreated):
        assert API_ID_PATTERN.match(fact.api_id)
        assert isinstance(fact.identifier, str) and fact.identifier
        assert isinstance(fact.log_id, str) and fact.log_id
        assert isinstance(fact.is_system, bool)
    else:
        assert 0 < len(fact.reason) <= 240 and fact.reason.isprintable()


PROPERTY = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(
    st.one_of(
        st.text(), st.binary(), events().map(json.dumps), events().map(lambda e: json.dumps(e).encode())
    )
)
def test_parse_sqs_body_only_returns_facts_or_raises_malformed_event(body):
    assert_is_a_fact_or_malformed(parse_sqs_body, body)
    assert log_id_of(body) is None or isinstance(log_id_of(body), str)


@PROPERTY
@given(events())
def test_parse_eventbridge_event_only_returns_facts_or_raises_malformed_event(event):
    before = copy.deepcopy(event)
    assert_is_a_fact_or_malformed(parse_eventbridge_event, event)
    assert log_id_of(event) is None or isinstance(log_id_of(event), str)
    # Inputs are never mutated. Compared inside a list: containers compare items by identity first,
    # so an event that is NaN itself (NaN != NaN) still equals its untouched deep copy.
    assert [event] == [before]
