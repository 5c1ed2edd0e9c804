"""The sapi records the emulator streams for successful writes, and their EventBridge envelope."""

from __future__ import annotations

import base64
import logging
import re
import uuid

import jsonschema
import pytest

from local.auth0_emulator import Auth0Emulator, Fault, eventbridge_envelope
from tests.conftest import load_sample

from .conftest import CLIENT_ID, DOMAIN, Mgmt, create_api, mgmt_for


@pytest.fixture(scope="module")
def sapi_validator():
    schema = load_sample("auth0-log-schema-sapi.schema.json")
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def assert_valid_sapi(validator, record):
    assert set(record) == {"log_id", "data"}
    assert record["data"]["log_id"] == record["log_id"]
    errors = sorted(validator.iter_errors(record["data"]), key=str)
    assert not errors, [e.message for e in errors]


def test_every_write_emits_a_schema_valid_record(api, emu, sapi_validator):
    received = []
    emu.on_log_event = received.append
    rs = create_api(api)
    api.patch(f"/api/v2/resource-servers/{rs['id']}", {"token_lifetime": 600})
    client = api.post(
        "/api/v2/clients",
        {
            "name": "Orders (Custom API)",
            "app_type": "resource_server",
            "resource_server_identifier": rs["identifier"],
        },
    ).json()
    api.patch(
        f"/api/v2/clients/{client['client_id']}",
        {"token_exchange": {"allow_any_profile_of_type": ["on_behalf_of_token_exchange"]}},
    )
    api.post(
        "/api/v2/client-grants",
        {"client_id": client["client_id"], "audience": rs["identifier"], "subject_type": "user"},
    )
    api.delete(f"/api/v2/clients/{client['client_id']}")
    api.get("/api/v2/resource-servers")  # reads are not streamed
    api.post("/api/v2/resource-servers", {"identifier": rs["identifier"]})  # failures are not streamed

    descriptions = [r["data"]["description"] for r in received]
    assert descriptions == [
        "Create a resource server",
        "Update a resource server",
        "Create a client",
        "Update a client",
        "Create client grant",
        "Delete a client",
    ]
    assert received == emu.log_events
    for record in received:
        assert_valid_sapi(sapi_validator, record)
    assert len({r["log_id"] for r in received}) == len(received)


def test_create_resource_server_record_matches_what_the_product_parses(api, emu):
    rs = create_api(api)

    record = emu.log_events[-1]
    data = record["data"]

    assert re.fullmatch(r"\d{56}", record["log_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["date"])
    assert data["type"] == "sapi"
    assert data["client_id"] == CLIENT_ID
    assert data["hostname"] == DOMAIN
    assert data["ip"] == "127.0.0.1"
    request = data["details"]["request"]
    assert request["method"] == "post"
    assert request["path"] == "/api/v2/resource-servers"
    assert request["query"] == {}
    assert request["body"] == {"identifier": rs["identifier"], "name": "Orders"}
    assert request["channel"] == "api"
    assert request["auth"]["strategy"] == "jwt"
    assert data["details"]["response"] == {"statusCode": 201, "body": rs}
    assert data["user_agent"].startswith("python-requests/")


def test_client_secrets_are_redacted(api, emu):
    client = api.post("/api/v2/clients", {"name": "m2m", "app_type": "non_interactive"}).json()
    api.patch(f"/api/v2/clients/{client['client_id']}", {"client_secret": "s" * 48})

    created, updated = emu.log_events[-2:]

    assert created["data"]["details"]["accessedSecrets"] == ["client_secret"]
    assert created["data"]["details"]["response"]["body"]["client_secret"] == "REDACTED"
    assert client["client_secret"] not in str(created)
    assert updated["data"]["details"]["request"]["body"] == {"client_secret": "REDACTED"}
    assert "s" * 48 not in str(updated)


def test_delete_record_follows_the_sample(api, emu, sapi_validator):
    rs = create_api(api)
    api.delete(f"/api/v2/resource-servers/{rs['id']}")

    details = emu.log_events[-1]["data"]["details"]

    assert details["deleted"] is True
    assert details["request"]["method"] == "delete"
    assert details["request"]["path"] == f"/api/v2/resource-servers/{rs['id']}"
    assert details["response"] == {"statusCode": 204, "body": {}}
    assert_valid_sapi(sapi_validator, emu.log_events[-1])


def test_seeding_helper_emits_a_dashboard_record(emu, sapi_validator):
    received = []
    emu.on_log_event = received.append

    rs = emu.create_resource_server({"identifier": "https://seeded.example.com/", "name": "Seeded"})

    (record,) = received
    assert_valid_sapi(sapi_validator, record)
    data = record["data"]
    assert data["details"]["request"]["method"] == "post"
    assert data["details"]["request"]["path"] == "/api/v2/resource-servers"
    assert data["details"]["request"]["channel"] == "https://manage.auth0.com/"
    assert data["details"]["response"] == {"statusCode": 201, "body": rs}
    assert data["user_id"].startswith("auth0|")


def test_sdk_telemetry_header_becomes_auth0_client(api, emu, sapi_validator):
    telemetry = base64.b64encode(b'{"name":"auth0-python","version":"6.8.0"}').decode()

    api.post("/api/v2/resource-servers", {"identifier": "urn:x"}, headers={"Auth0-Client": telemetry})

    assert emu.log_events[-1]["data"]["auth0_client"] == {"name": "auth0-python", "version": "6.8.0"}
    assert_valid_sapi(sapi_validator, emu.log_events[-1])


def test_a_failing_callback_never_breaks_the_response(api, emu, caplog):
    def explode(record):
        raise RuntimeError("boom")

    emu.on_log_event = explode
    with caplog.at_level(logging.ERROR, logger="local.auth0_emulator"):
        response = api.post("/api/v2/resource-servers", {"identifier": "urn:x"})

    assert response.status_code == 201
    assert "on_log_event callback failed" in caplog.text
    assert len(emu.log_events) == 1


def test_callback_runs_outside_the_lock_and_before_the_response(emu):
    api = mgmt_for(emu)
    other = Mgmt(emu, api.session.headers["Authorization"].split()[1])
    seen = []

    def callback(record):
        # Reading state, and even calling the emulator over HTTP, must not deadlock.
        seen.append((len(emu.resource_servers), other.get("/api/v2/resource-servers").status_code))

    emu.on_log_event = callback
    create_api(api)

    assert seen == [(2, 200)]


def test_faulted_writes_emit_nothing(api, emu):
    emu.inject(Fault("status", status=503, method="POST"))

    api.post("/api/v2/resource-servers", {"identifier": "urn:x"})

    assert emu.log_events == []


def test_eventbridge_envelope_matches_the_partner_source_sample(api, emu):
    sample = load_sample("eventbridge-auth0-log-real-login-s.json")
    create_api(api)
    record = emu.log_events[-1]

    event = eventbridge_envelope(record, DOMAIN, region="eu-west-1")

    assert set(event) == set(sample)
    assert event["detail-type"] == "Auth0 log"
    assert event["version"] == "0" and event["resources"] == []
    assert re.fullmatch(r"aws\.partner/auth0\.com/acme-[0-9a-f-]{36}/auth0\.logs", event["source"])
    assert event["source"] == eventbridge_envelope(record, DOMAIN)["source"]  # stable per domain
    uuid.UUID(event["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert event["time"][:19] == record["data"]["date"][:19]
    assert event["region"] == "eu-west-1"
    assert event["detail"] == record
    custom = eventbridge_envelope(record, DOMAIN, tenant_uuid="635d694a-8a5a-4f1a-b223-1e0424edd19a")
    assert custom["source"] == "aws.partner/auth0.com/acme-635d694a-8a5a-4f1a-b223-1e0424edd19a/auth0.logs"
    assert emu.eventbridge_events()[-1]["detail"] == record


def test_reset_forgets_records(emu):
    emu.create_resource_server({"identifier": "urn:x"})

    emu.reset()

    assert emu.log_events == []
    assert [rs["name"] for rs in emu.resource_servers] == ["Auth0 Management API"]


def test_records_of_two_emulators_never_share_log_ids():
    with Auth0Emulator() as first, Auth0Emulator() as second:
        ids = {first.create_resource_server({"identifier": f"urn:{n}"})["id"] for n in range(3)}
        ids |= {second.create_resource_server({"identifier": f"urn:{n}"})["id"] for n in range(3)}
        log_ids = {r["log_id"] for r in first.log_events + second.log_events}

    assert len(ids) == 6 and len(log_ids) == 6
