"""/api/v2/log-streams and the delivery of log records through EventBridge log streams.

Sources: the official Management API spec (samples/mgmt-api-oas-excerpt-log-streams.json: scopes,
bodies, the 200 of a create, "The log stream does not exist."), a real streamed "Create a log
stream" sapi record (samples/logstream-sapi-samples.elastic-integrations.json: statusCode 200, id
``lst_`` + 16 digits) and Auth0's EventBridge guide (events to a source with no associated bus are
dropped). Delivery runs against moto's server through :class:`LocalEventBridgePartner`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import boto3
import jsonschema
import pytest
import requests
from botocore.exceptions import ClientError

from local.auth0_emulator import Auth0Emulator, LocalEventBridgePartner, schemas
from local.auth0_emulator.exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from local.auth0_emulator.logstream import LOG_STREAM_CATEGORIES, log_category
from local.stack import partner_event_bus_name
from tests.conftest import load_sample

from .conftest import DOMAIN, Mgmt, assert_auth0_error, create_api, mgmt_for

ACCOUNT = "123456789012"  # moto's default account: the customer's side is this process's boto3
REGION = "us-east-1"
EVENTBRIDGE: dict[str, Any] = {
    "name": "to-aws",
    "type": "eventbridge",
    "sink": {"awsAccountId": ACCOUNT, "awsRegion": REGION},
}
SOURCE_RE = re.compile(r"^aws\.partner/auth0\.com/acme-([0-9a-f-]{36})/auth0\.logs$")
LOG_STREAM_SCOPES = ["read:log_streams", "create:log_streams", "update:log_streams", "delete:log_streams"]


def create_stream(api: Mgmt, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/v2/log-streams", {**EVENTBRIDGE, **fields})
    assert response.status_code == 200, response.text
    return response.json()


class RecordingPartner:
    """An in-memory :class:`PartnerEventBridge`: what the emulator asked of the AWS side."""

    def __init__(self, associated: bool = True) -> None:
        self.associated = associated
        self.sources: list[tuple[str, str, str, str]] = []
        self.events: list[dict[str, Any]] = []

    def create_source(self, name: str, account: str, region: str) -> None:
        self.sources.append(("create", name, account, region))

    def delete_source(self, name: str, account: str, region: str) -> None:
        self.sources.append(("delete", name, account, region))

    def deliver(self, name: str, account: str, region: str, event: dict[str, Any]) -> bool:
        if not self.associated:
            return False
        assert event["source"] == name and event["account"] == account and event["region"] == region
        self.events.append(event)
        return True


# -- the spec excerpt ---------------------------------------------------------------------------------


def test_vendored_log_stream_excerpt_matches_the_repository_sample():
    sample = load_sample("mgmt-api-oas-excerpt-log-streams.json")
    vendored = json.loads(schemas.LOG_STREAMS_EXCERPT_PATH.read_text(encoding="utf-8"))

    assert vendored["schemas"] == sample["components"]["schemas"]
    routes = {
        f"{method.upper()} /api/v2{path}": [p for p in op.get("parameters", []) if p["in"] == "query"]
        for path, operations in sample["paths"].items()
        for method, op in operations.items()
    }
    assert vendored["query_parameters"] == routes
    assert not set(schemas.missing_schemas()) & set(sample["components"]["schemas"])


def test_the_accepted_filter_categories_extend_the_spec_with_the_sdks_ancillary_ones():
    official = load_sample("mgmt-api-oas-excerpt-log-streams.json")["components"]["schemas"]
    enum = official["LogStreamFilterGroupNameEnum"]["enum"]

    assert set(enum) < set(LOG_STREAM_CATEGORIES)
    assert set(LOG_STREAM_CATEGORIES) - set(enum) == {"auth.ancillary.fail", "auth.ancillary.success"}


def test_record_categories():
    assert log_category({"data": {"type": "sapi"}}) == "management.success"
    assert log_category({"data": {"type": "success_on_behalf_of_token_exchange"}}) == "auth.token_exchange.success"
    assert log_category({"data": {"type": "failed_on_behalf_of_token_exchange"}}) == "auth.token_exchange.fail"
    assert log_category({"data": {"type": "s"}}) == "other"
    assert log_category({}) == "other"


# -- routes ---------------------------------------------------------------------------------------------


def test_create_answers_the_stream_with_the_tenants_partner_event_source(api, emu):
    stream = create_stream(api, filters=[{"type": "category", "name": "management.success"}])

    assert re.fullmatch(r"lst_\d{16}", stream["id"])
    assert list(stream) == ["id", "name", "type", "status", "sink", "filters"]
    assert stream["status"] == "active" and stream["type"] == "eventbridge" and stream["name"] == "to-aws"
    assert stream["sink"] == {
        "awsAccountId": ACCOUNT,
        "awsRegion": REGION,
        "awsPartnerEventSource": partner_event_bus_name(DOMAIN),  # the local stack's partner bus
    }
    assert api.get(f"/api/v2/log-streams/{stream['id']}").json() == stream
    listed = api.get("/api/v2/log-streams")
    assert listed.status_code == 200 and listed.json() == [stream]
    assert emu.log_streams == [stream]


def test_later_streams_get_a_new_source_and_optional_fields_are_kept(api):
    first = create_stream(api)
    body = {
        "type": "eventbridge",
        "sink": {"awsAccountId": "210987654321", "awsRegion": "eu-west-1", "awsPartnerEventSource": "mine"},
        "isPriority": True,
        "pii_config": {"log_fields": ["email"], "method": "mask"},
        "startFrom": "2026-01-01T00:00:00.000Z",
    }
    response = api.post("/api/v2/log-streams", body)
    assert response.status_code == 200, response.text
    second = response.json()

    assert "filters" not in first and "name" not in second
    assert second["id"] != first["id"]
    assert list(second) == ["id", "type", "status", "sink", "isPriority", "pii_config"]
    match = SOURCE_RE.match(second["sink"]["awsPartnerEventSource"])
    assert match and uuid.UUID(match.group(1)).version == 4  # a given source is ignored
    assert second["sink"]["awsPartnerEventSource"] != first["sink"]["awsPartnerEventSource"]
    assert second["sink"]["awsRegion"] == "eu-west-1"


@pytest.mark.parametrize(
    ("body", "error_code", "message"),
    [
        (
            {"name": "x", "type": "eventbridge"},
            "invalid_body",
            "Payload validation error: 'Missing required property: sink'.",
        ),
        (
            {**EVENTBRIDGE, "sink": {"awsAccountId": "12345", "awsRegion": REGION}},
            "invalid_body",
            "Payload validation error: 'String does not match pattern ^\\d{12}$: 12345' on property "
            "sink.awsAccountId (AWS account ID).",
        ),
        (
            {**EVENTBRIDGE, "sink": {"awsAccountId": ACCOUNT}},
            "invalid_body",
            "Payload validation error: 'Missing required property: awsRegion' on property sink.",
        ),
        ({**EVENTBRIDGE, "sink": {"awsAccountId": ACCOUNT, "awsRegion": "mars-1"}}, "invalid_body", None),
        (
            {**EVENTBRIDGE, "color": "blue"},
            "invalid_body",
            "Payload validation error: 'Additional properties not allowed: color'.",
        ),
        ({**EVENTBRIDGE, "sink": {**EVENTBRIDGE["sink"], "extra": 1}}, "invalid_body", None),
        ({**EVENTBRIDGE, "filters": [{"type": "category", "name": "nope"}]}, "invalid_body", None),
        ({**EVENTBRIDGE, "filters": [{"type": "event", "name": "other"}]}, "invalid_body", None),
        ({**EVENTBRIDGE, "filters": [{"type": "category"}]}, "invalid_body", None),
        ({**EVENTBRIDGE, "filters": [{"type": "category", "name": "other", "x": 1}]}, "invalid_body", None),
        ({**EVENTBRIDGE, "filters": "management.success"}, "invalid_body", None),
        ({**EVENTBRIDGE, "pii_config": {"log_fields": []}}, "invalid_body", None),
        ({"name": "x", "sink": EVENTBRIDGE["sink"]}, "invalid_body", None),
        ({**EVENTBRIDGE, "type": "carrier-pigeon"}, "invalid_body", None),
        ([EVENTBRIDGE], "invalid_body", None),
        (
            {"name": "hook", "type": "http", "sink": {"httpEndpoint": "https://example.com/logs"}},
            "operation_not_supported",
            "Log streams of type http are not emulated: only type eventbridge is.",
        ),
        ({"name": "hook", "type": "http", "sink": {"awsAccountId": ACCOUNT}}, "invalid_body", None),
    ],
)
def test_create_validation(api, emu, body, error_code, message):
    response = api.post("/api/v2/log-streams", body)

    error = assert_auth0_error(response, 400, error_code, message)
    if error_code == "invalid_body":
        assert error["message"].startswith("Payload validation error: ")
    assert emu.log_streams == []


def test_every_filter_category_is_accepted(api):
    filters = [{"type": "category", "name": name} for name in LOG_STREAM_CATEGORIES]
    assert create_stream(api, filters=filters)["filters"] == filters


def test_patch_changes_name_status_filters_and_keeps_the_field_order(api):
    stream = create_stream(api)
    path = f"/api/v2/log-streams/{stream['id']}"

    for status in ("paused", "suspended", "active"):
        response = api.patch(path, {"status": status})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    filters = [{"type": "category", "name": "auth.token_exchange.fail"}]
    updated = api.patch(path, {"name": "renamed", "filters": filters, "isPriority": False}).json()

    assert updated == {**stream, "name": "renamed", "filters": filters, "isPriority": False}
    assert list(updated) == ["id", "name", "type", "status", "sink", "filters", "isPriority"]
    assert api.get(path).json() == updated
    assert api.patch(path, {}).json() == updated
    assert api.patch(path, {"filters": []}).json()["filters"] == []


@pytest.mark.parametrize(
    ("body", "error_code"),
    [
        ({"status": "stopped"}, "invalid_body"),
        ({"type": "http"}, "invalid_body"),
        ({"filters": [{"type": "category", "name": "everything"}]}, "invalid_body"),
        ({"sink": {"awsAccountId": "999999999999", "awsRegion": REGION}}, "invalid_body"),
        ({"sink": {"httpEndpoint": "https://example.com/logs"}}, "operation_not_supported"),
    ],
)
def test_patch_validation_and_an_eventbridge_sink_cannot_change(api, body, error_code):
    stream = create_stream(api)
    response = api.patch(f"/api/v2/log-streams/{stream['id']}", body)

    assert_auth0_error(response, 400, error_code)
    assert api.get(f"/api/v2/log-streams/{stream['id']}").json() == stream


def test_delete_is_204_and_unknown_ids_are_404(api, emu):
    stream = create_stream(api)
    path = f"/api/v2/log-streams/{stream['id']}"

    response = api.delete(path)
    assert response.status_code == 204 and response.content == b""
    assert emu.log_streams == [] and api.get("/api/v2/log-streams").json() == []
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        missing = api.request(method, path, json=body)
        assert_auth0_error(missing, 404, "inexistent_log_stream", "The log stream does not exist.")


def test_the_list_takes_no_query_parameters(api):
    response = api.get("/api/v2/log-streams", params={"page": "0"})
    assert_auth0_error(response, 400, "invalid_query_string")


@pytest.mark.parametrize(
    ("method", "path", "body", "scope", "status"),
    [
        ("GET", "/api/v2/log-streams", None, "read:log_streams", 200),
        ("POST", "/api/v2/log-streams", EVENTBRIDGE, "create:log_streams", 200),
        ("GET", "/api/v2/log-streams/{id}", None, "read:log_streams", 200),
        ("PATCH", "/api/v2/log-streams/{id}", {"name": "n"}, "update:log_streams", 200),
        ("DELETE", "/api/v2/log-streams/{id}", None, "delete:log_streams", 204),
    ],
)
def test_each_route_needs_its_scope(emu, method, path, body, scope, status):
    admin = mgmt_for(emu, client_id="admin")
    stream = create_stream(admin)
    target = path.replace("{id}", stream["id"])
    others = [s for s in LOG_STREAM_SCOPES if s != scope]

    refused = mgmt_for(emu, scopes=others, client_id="others").request(method, target, json=body)
    assert_auth0_error(refused, 403, "insufficient_scope", f"Insufficient scope, expected any of: {scope}")
    allowed = mgmt_for(emu, scopes=[scope], client_id="only").request(method, target, json=body)
    assert allowed.status_code == status, allowed.text
    assert_auth0_error(requests.request(method, emu.base_url + target, json=body, timeout=5), 401, None)


@pytest.fixture(scope="module")
def sapi_validator():
    schema = load_sample("auth0-log-schema-sapi.schema.json")
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_writes_emit_sapi_records(api, emu, sapi_validator):
    records: list[dict[str, Any]] = []
    emu.on_log_event = records.append
    stream = create_stream(api)
    api.get("/api/v2/log-streams")
    api.patch(f"/api/v2/log-streams/{stream['id']}", {"status": "paused"})
    api.patch(f"/api/v2/log-streams/{stream['id']}", {"status": "bogus"})  # refused: no record
    api.delete(f"/api/v2/log-streams/{stream['id']}")
    emu.on_log_event = None

    data = [r["data"] for r in records]
    assert [d["description"] for d in data] == ["Create a log stream", "Update a log stream", "Delete a log stream"]
    assert [d["details"]["request"]["method"] for d in data] == ["post", "patch", "delete"]
    assert [d["details"]["response"]["statusCode"] for d in data] == [200, 200, 204]
    assert data[0]["details"]["response"]["body"] == stream
    assert data[2]["details"]["deleted"] is True
    for record in records:
        assert not list(sapi_validator.iter_errors(record["data"]))


def test_admin_helpers(api, emu):
    records: list[dict[str, Any]] = []
    stream = create_stream(api)
    emu.on_log_event = records.append

    suspended = emu.set_log_stream_status(stream["id"], "suspended")
    assert suspended["status"] == "suspended" == api.get(f"/api/v2/log-streams/{stream['id']}").json()["status"]
    assert records == []  # Auth0's own doing: no sapi record
    with pytest.raises(ValueError):
        emu.set_log_stream_status(stream["id"], "broken")
    with pytest.raises(KeyError):
        emu.set_log_stream_status("lst_0000000000000000", "paused")
    copy = emu.log_streams
    copy[0]["sink"]["awsRegion"] = "changed"
    assert emu.log_streams[0]["sink"]["awsRegion"] == REGION


def test_reset_forgets_streams_and_the_next_one_gets_the_stable_source_again(api, emu):
    create_stream(api)
    assert create_stream(api)["sink"]["awsPartnerEventSource"] != partner_event_bus_name(DOMAIN)

    emu.reset()
    assert emu.log_streams == [] and emu.log_stream_stats == {}
    assert create_stream(api)["sink"]["awsPartnerEventSource"] == partner_event_bus_name(DOMAIN)


# -- streaming (in memory) ----------------------------------------------------------------------------


def test_records_go_to_active_matching_streams_and_on_log_event_still_gets_them_all(api, emu):
    partner = RecordingPartner()
    emu.event_bridge = partner
    everything = create_stream(api)
    management = create_stream(api, filters=[{"type": "category", "name": "management.success"}])
    exchanges = create_stream(
        api,
        filters=[
            {"type": "category", "name": "auth.token_exchange.fail"},
            {"type": "category", "name": "auth.token_exchange.success"},
        ],
    )
    assert [s[0] for s in partner.sources] == ["create"] * 3
    seen: list[dict[str, Any]] = []
    emu.on_log_event = seen.append
    partner.events.clear()
    before = emu.log_stream_stats  # the streams' own "Create a log stream" records count too

    create_api(api)  # sapi: management.success
    failed = requests.post(
        f"{emu.base_url}/oauth/token",
        data={"grant_type": TOKEN_EXCHANGE_GRANT, "subject_token_type": ACCESS_TOKEN_TYPE},
        timeout=5,
    )
    assert failed.status_code == 400  # a failed On-Behalf-Of exchange: auth.token_exchange.fail

    assert [r["data"]["type"] for r in seen] == ["sapi", "failed_on_behalf_of_token_exchange"]
    by_source: dict[str, list[str]] = {}
    for event in partner.events:
        by_source.setdefault(event["source"], []).append(event["detail"]["data"]["type"])
        assert event["detail-type"] == "Auth0 log" and event["detail"] in seen
    assert by_source == {
        everything["sink"]["awsPartnerEventSource"]: ["sapi", "failed_on_behalf_of_token_exchange"],
        management["sink"]["awsPartnerEventSource"]: ["sapi"],
        exchanges["sink"]["awsPartnerEventSource"]: ["failed_on_behalf_of_token_exchange"],
    }
    after = emu.log_stream_stats
    assert before[everything["id"]] == {"delivered": 3, "undelivered": 0}  # its own create and the others'
    assert before[management["id"]] == {"delivered": 2, "undelivered": 0}
    assert before[exchanges["id"]] == {"delivered": 0, "undelivered": 0}
    assert after[everything["id"]] == {"delivered": 5, "undelivered": 0}
    assert after[management["id"]] == {"delivered": 3, "undelivered": 0}
    assert after[exchanges["id"]] == {"delivered": 1, "undelivered": 0}


def test_paused_and_suspended_streams_receive_nothing(api, emu):
    partner = RecordingPartner()
    emu.event_bridge = partner
    stream = create_stream(api)
    path = f"/api/v2/log-streams/{stream['id']}"
    api.patch(path, {"status": "paused"})  # its own record finds the stream paused already
    partner.events.clear()

    create_api(api, "https://paused.example.com/")
    emu.set_log_stream_status(stream["id"], "suspended")
    create_api(api, "https://suspended.example.com/")
    assert partner.events == []
    api.patch(path, {"status": "active"})  # streamed: the stream is active when its record is emitted
    create_api(api, "https://active.example.com/")

    descriptions = [e["detail"]["data"]["description"] for e in partner.events]
    assert descriptions == ["Update a log stream", "Create a resource server"]
    assert emu.log_stream_stats[stream["id"]] == {"delivered": 3, "undelivered": 0}  # create, resume, API


def test_without_a_partner_or_a_bus_records_are_undelivered(api, emu):
    stream = create_stream(api)  # no partner: its own record is undelivered
    create_api(api)
    assert emu.log_stream_stats == {stream["id"]: {"delivered": 0, "undelivered": 2}}

    emu.event_bridge = RecordingPartner(associated=False)
    create_api(api, "https://pending.example.com/")
    assert emu.log_stream_stats == {stream["id"]: {"delivered": 0, "undelivered": 3}}


def test_a_failing_delivery_is_logged_and_counted_and_the_call_succeeds(api, emu, caplog):
    class Broken(RecordingPartner):
        def deliver(self, name: str, account: str, region: str, event: dict[str, Any]) -> bool:
            raise RuntimeError("the partner's AWS is down")

        def delete_source(self, name: str, account: str, region: str) -> None:
            raise RuntimeError("the partner's AWS is down")

    emu.event_bridge = Broken()
    stream = create_stream(api)
    with caplog.at_level(logging.ERROR, logger="local.auth0_emulator.app"):
        rs = create_api(api)
        deleted = api.delete(f"/api/v2/log-streams/{stream['id']}")

    assert rs["identifier"] == "https://orders.example.com/" and deleted.status_code == 204
    assert f"log stream {stream['id']}: delivery of log" in caplog.text
    assert "delete_source of its partner event source failed" in caplog.text
    assert emu.log_stream_stats == {stream["id"]: {"delivered": 0, "undelivered": 2}}  # deleted, still listed


def test_the_event_bridge_can_be_given_to_the_constructor():
    partner = RecordingPartner()
    with Auth0Emulator(domain=DOMAIN, event_bridge=partner) as emu:
        assert emu.event_bridge is partner
        create_stream(mgmt_for(emu))
        emu.event_bridge = None
        assert emu.event_bridge is None
    assert partner.sources == [("create", partner_event_bus_name(DOMAIN), ACCOUNT, REGION)]


# -- streaming to the local AWS (moto) -------------------------------------------------------------------


def associate(source: str) -> str:
    """What the customer does in AWS: associate the source with a bus, plus a rule to an SQS queue.

    Returns the queue's URL. moto gap (local/stack.py): the rule lands on the routing bus
    ``auth0.logs``, created here as the local stack does.
    """
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name=source, EventSourceName=source)
    try:
        events.create_event_bus(Name=source.rsplit("/", 1)[1])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    url = sqs.create_queue(QueueName=f"seen-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"source": [{"prefix": "aws.partner/auth0.com"}]})
    events.put_rule(Name="auth0-logs", EventBusName=source, EventPattern=pattern)
    events.put_targets(Rule="auth0-logs", EventBusName=source, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        messages.extend(json.loads(m["Body"]) for m in batch)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return messages


def test_creating_and_deleting_a_stream_creates_and_deletes_its_partner_event_source(aws, api, emu):
    emu.event_bridge = LocalEventBridgePartner(aws.endpoint_url)
    stream = create_stream(api)
    source = stream["sink"]["awsPartnerEventSource"]
    events = boto3.client("events", region_name=REGION)

    assert events.describe_event_source(Name=source)["State"] in {"PENDING", "ACTIVE"}  # AWS / moto
    assert api.delete(f"/api/v2/log-streams/{stream['id']}").status_code == 204
    assert events.describe_event_source(Name=source)["State"] == "DELETED"


def test_records_reach_the_associated_bus_only_while_active_and_matching(aws, api, emu):
    emu.event_bridge = LocalEventBridgePartner()  # boto3's own AWS_ENDPOINT_URL: the local AWS
    stream = create_stream(api, filters=[{"type": "category", "name": "management.success"}])
    source = stream["sink"]["awsPartnerEventSource"]
    path = f"/api/v2/log-streams/{stream['id']}"

    create_api(api, "https://pending.example.com/")  # the source is pending: dropped
    assert emu.log_stream_stats[stream["id"]] == {"delivered": 0, "undelivered": 2}
    queue = associate(source)
    rs = create_api(api, "https://associated.example.com/")
    api.patch(path, {"status": "paused"})
    create_api(api, "https://paused.example.com/")
    api.patch(path, {"status": "active", "filters": [{"type": "category", "name": "auth.login.success"}]})
    create_api(api, "https://filtered-out.example.com/")
    api.patch(path, {"filters": []})  # no filters: every record, this update's own included
    create_api(api, "https://unfiltered.example.com/")

    messages = received(queue)
    bodies = [m["detail"]["data"]["details"]["response"]["body"] for m in messages]
    assert [m["detail"]["data"]["description"] for m in messages] == [
        "Create a resource server",
        "Update a log stream",
        "Create a resource server",
    ]
    assert bodies[0] == rs and bodies[2]["identifier"] == "https://unfiltered.example.com/"
    for message in messages:
        assert message["source"] == source and message["detail-type"] == "Auth0 log"
        assert message["region"] == REGION and set(message["detail"]) == {"log_id", "data"}
    assert emu.log_stream_stats[stream["id"]] == {"delivered": 3, "undelivered": 2}
