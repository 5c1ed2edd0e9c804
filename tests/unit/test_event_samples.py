"""The sample events in events/ are realistic and parse to what each one is meant to show.

Every ``sapi`` log record in them must validate against Auth0's official JSON Schema for that log
type, and every file must appear in EXPECTED below with the outcome of each event it holds.
"""

import hashlib
import json
from pathlib import Path

import pytest
from jsonschema import FormatChecker, validators
from token_exchange_enabler.events import (
    ApiCreated,
    Ignored,
    MalformedEvent,
    is_eventbridge_event,
    is_sqs_event,
    parse_eventbridge_event,
    parse_sqs_record,
)

from tests.conftest import EVENTS_DIR, SAMPLES_DIR

SAPI_SCHEMA_FILE = SAMPLES_DIR / "auth0-log-schema-sapi.schema.json"


def malformed(reason: str) -> tuple[str, str]:
    return ("malformed", reason)


# The client_id of the records made in the Dashboard (the application that made the call).
DASHBOARD = "360yuN1BXP4u3tBChK5VOgekgGJ7CwLL"

# file name -> the outcome of each event in it (one per SQS record)
EXPECTED = {
    "api-created.eventbridge.json": [
        ApiCreated(
            api_id="67d15a2f8c3e4b0012a9f6d1",
            identifier="https://orders.acme.com/api",
            name="Orders API",
            is_system=False,
            log_id="90020250312094517842107456389021563748219036547182930456",
            created_by=DASHBOARD,
        )
    ],
    "api-created.sqs.json": [
        ApiCreated(
            api_id="67d15a2f8c3e4b0012a9f6d1",
            identifier="https://orders.acme.com/api",
            name="Orders API",
            is_system=False,
            log_id="90020250312094517842107456389021563748219036547182930456",
            created_by=DASHBOARD,
        ),
        ApiCreated(
            api_id="67d160b39e1f2a0047c5d8e2",
            identifier="urn:acme:inventory",
            name="Inventory API",
            is_system=False,
            log_id="90020250312101203517228341905617724450913867725604183392",
            created_by="Xk4Tq9LwZb2Rm7Nc1Vp8Hs3Jd6Fg0Ya5",
        ),
    ],
    "api-created-terraform.eventbridge.json": [
        ApiCreated(
            api_id="67d2ec3f5a8b1c0019e4d7f3",
            identifier="https://billing.acme.com",
            name="Billing API",
            is_system=False,
            log_id="90020250313143055210335906127748815302694418200573916624",
            created_by="Tf7pQ2mW9xK4sL1vB8nR3cY6hJ0dG5zE",  # Terraform
        )
    ],
    "system-api.eventbridge.json": [
        ApiCreated(
            api_id="67d3e4a21b9c7d0033f8a5c6",
            identifier="https://acme.eu.auth0.com/api/v2/",
            name="Auth0 Management API",
            is_system=True,
            log_id="90020250314081122004441027583396612047825903318764205539",
            created_by=DASHBOARD,
        )
    ],
    "create-client.eventbridge.json": [
        Ignored(
            reason="POST /api/v2/clients is not an API creation",
            log_id="90020250312094519377552718640039928173064429917856302741",
        )
    ],
    "update-client.eventbridge.json": [
        Ignored(
            reason="PATCH /api/v2/clients/Rc3Vx8Nq1Lm6Tz4Wb9Kd2Hf7Pj5Sg0Ya is not an API creation",
            log_id="90020250312094520114663829751140039284175530028967413852",
        )
    ],
    "malformed-body.sqs.json": [
        malformed("SQS message body is not JSON"),
        malformed("response body id is not 24 lowercase hex characters"),
    ],
    "login-success.eventbridge.json": [
        Ignored(
            reason="log type 's' is not 'sapi'",
            log_id="90020250312091502665102938475610293847561029384756102938",
        )
    ],
}

SAMPLE_FILES = sorted(EVENTS_DIR.glob("*.json"))


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def outcomes(sample) -> list:
    """What the parser makes of each event in a sample file."""
    if is_sqs_event(sample):
        parse, items = parse_sqs_record, sample["Records"]
    else:
        assert is_eventbridge_event(sample)
        parse, items = parse_eventbridge_event, [sample]
    results = []
    for item in items:
        try:
            results.append(parse(item))
        except MalformedEvent as error:
            results.append(malformed(error.reason))
    return results


def eventbridge_events(sample) -> list[dict]:
    """The EventBridge events a sample holds (SQS bodies that are not JSON are skipped)."""
    if not is_sqs_event(sample):
        return [sample]
    events = []
    for record in sample["Records"]:
        try:
            events.append(json.loads(record["body"]))
        except ValueError:
            continue
    return events


@pytest.fixture(scope="module")
def sapi_validator():
    schema = load(SAPI_SCHEMA_FILE)
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=FormatChecker())


def test_every_sample_file_has_an_expectation():
    assert sorted(path.name for path in SAMPLE_FILES) == sorted(EXPECTED)


def test_the_sapi_schema_is_draft_07():
    schema = load(SAPI_SCHEMA_FILE)
    assert validators.validator_for(schema) is validators.Draft7Validator


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sample_parses_to_the_expected_outcomes(path):
    assert outcomes(load(path)) == EXPECTED[path.name]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sapi_records_validate_against_the_official_schema(path, sapi_validator):
    for event in eventbridge_events(load(path)):
        data = event["detail"]["data"]
        if data.get("type") != "sapi":
            continue
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in sapi_validator.iter_errors(data)
        ]
        assert errors == [], f"{path.name}: {errors}"


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sample_envelopes_are_consistent(path):
    sample = load(path)
    if is_sqs_event(sample):
        for record in sample["Records"]:
            assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
            assert set(record["attributes"]) >= {
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
            }
            assert record["eventSourceARN"].startswith("arn:aws:sqs:")
    for event in eventbridge_events(sample):
        assert event["detail-type"] == "Auth0 log"
        assert event["source"].startswith("aws.partner/auth0.com/")
        assert event["source"].endswith("/auth0.logs")
        detail = event["detail"]
        assert detail["log_id"] == detail["data"]["log_id"]
        assert len(detail["log_id"]) == 56 and detail["log_id"].isdigit()


def test_samples_cover_every_kind_of_outcome():
    kinds = {type(outcome).__name__ for expected in EXPECTED.values() for outcome in expected}
    assert kinds == {"ApiCreated", "Ignored", "tuple"}


def secrets_in(node) -> list:
    """Every value stored under a ``client_secret`` key, at any depth."""
    if isinstance(node, dict):
        found = [node["client_secret"]] if "client_secret" in node else []
        return found + [secret for value in node.values() for secret in secrets_in(value)]
    if isinstance(node, list):
        return [secret for value in node for secret in secrets_in(value)]
    return []


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_samples_carry_only_redacted_secrets(path):
    for event in eventbridge_events(load(path)):
        assert set(secrets_in(event)) <= {"REDACTED"}
