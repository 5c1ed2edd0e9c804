"""template.yaml, the event path: the rule that picks out "API created", the queue it feeds, the
dead-letter queues, and the event source mapping that hands batches to the worker.

EventBridge matching is moto's implementation of event patterns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS_DIR, load_sample
from tests.template.support import (
    DELIVERY_DLQ,
    DLQ,
    FUNCTION,
    QUEUE,
    RULE,
    get_att,
    props,
    queue_policy_for,
    ref,
    resources,
    the_event_source_mapping,
)

# --- the rule: exactly "API created" ------------------------------------------------------------


def auth0_log(
    method: str = "post",
    path: str = "/api/v2/resource-servers",
    status: Any = 201,
    log_type: str = "sapi",
    detail_type: str = "Auth0 log",
) -> dict[str, Any]:
    """An EventBridge event from an Auth0 log stream (the shape of the public samples in samples/)."""
    return {
        "version": "0",
        "id": "5c2e8f41-7a3b-9d06-e1f4-2b8c6d0a9e37",
        "detail-type": detail_type,
        "source": "aws.partner/auth0.com/acme-4f6d2c8e-9b1a-4e37-8a52-0c7d3e9f1b64/auth0.logs",
        "account": "123456789012",
        "time": "2025-03-12T09:45:18Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "log_id": "90020250312094517842107456389021563748219036547182930456",
            "data": {
                "date": "2025-03-12T09:45:17.842Z",
                "type": log_type,
                "description": "Create a resource server",
                "details": {
                    "request": {"method": method, "path": path, "query": {}, "body": {}},
                    "response": {"statusCode": status, "body": {"id": "67d15a2f8c3e4b0012a9f6d1"}},
                },
            },
        },
    }


def is_api_created(event: dict[str, Any]) -> bool:
    """The design's definition of "API created", written out independently of the pattern."""
    data = (event.get("detail") or {}).get("data") or {}
    details = data.get("details") or {}
    request, response = details.get("request") or {}, details.get("response") or {}
    status = response.get("statusCode")
    return (
        event.get("detail-type") == "Auth0 log"
        and data.get("type") == "sapi"
        and request.get("method") == "post"
        and isinstance(request.get("path"), str)
        and request["path"].split("?", 1)[0] == "/api/v2/resource-servers"
        and isinstance(status, int | float)
        and not isinstance(status, bool)
        and 200 <= status < 300
    )


CLIENT_ID = "Rc3Vx8Nq1Lm6Tz4Wb9Kd2Hf7Pj5Sg0Ya"
API_ID = "67d15a2f8c3e4b0012a9f6d1"
RULE_CASES = [
    pytest.param(auth0_log(), True, id="api-created-201"),
    pytest.param(auth0_log(status=200), True, id="api-created-200"),
    pytest.param(auth0_log(path="/api/v2/resource-servers?fields=id"), True, id="api-created-query-in-path"),
    pytest.param(auth0_log(status=300), False, id="status-300-is-not-2xx"),
    pytest.param(auth0_log(status=409), False, id="api-create-conflict-409"),
    pytest.param(auth0_log(status=400), False, id="api-create-invalid-400"),
    pytest.param(auth0_log(status=500), False, id="api-create-error-500"),
    pytest.param(auth0_log(status="201"), False, id="status-as-text"),
    pytest.param(auth0_log(log_type="fapi"), False, id="failed-api-operation"),
    pytest.param(auth0_log(detail_type="Auth0 event"), False, id="other-detail-type"),
    # The project's own writes must never trigger it (no loops).
    pytest.param(auth0_log(path="/api/v2/clients"), False, id="own-create-client"),
    pytest.param(auth0_log("patch", f"/api/v2/clients/{CLIENT_ID}", 200), False, id="own-update-client"),
    pytest.param(auth0_log(path="/api/v2/client-grants"), False, id="own-create-client-grant"),
    pytest.param(auth0_log("patch", f"/api/v2/resource-servers/{API_ID}", 200), False, id="own-legacy-patch"),
    # Neighbours of the path.
    pytest.param(auth0_log("delete", f"/api/v2/resource-servers/{API_ID}", 204), False, id="delete-api"),
    pytest.param(auth0_log(path=f"/api/v2/resource-servers/{API_ID}"), False, id="post-under-an-api"),
    pytest.param(auth0_log(path="/api/v2/resource-servers-archive"), False, id="post-longer-path"),
]


def _eventbridge_events(data: Any, name: str) -> Iterator[tuple[str, Any]]:
    """(label, event) for an EventBridge event, or for each event body of an SQS batch."""
    if not isinstance(data, dict):
        return
    if "detail-type" in data:
        yield name, data
    for number, record in enumerate(data.get("Records", [])):
        try:
            body = json.loads(record.get("body", ""))
        except ValueError:
            continue  # a deliberately malformed message: nothing a rule could have matched
        if isinstance(body, dict) and "detail-type" in body:
            yield f"{name}#{number}", body


def _event_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None  # not an event file


def _sample_events() -> Iterator[Any]:
    """Every EventBridge event among the project's sample events and the public samples."""
    for path in sorted(EVENTS_DIR.glob("*.json")):
        for label, event in _eventbridge_events(_event_file(path), path.name):
            yield pytest.param(event, id=f"events/{label}")
    for name in ("eventbridge-auth0-log-console-sample-sapi.json", "eventbridge-auth0-log-real-login-s.json"):
        for label, event in _eventbridge_events(load_sample(name), name):
            yield pytest.param(event, id=f"samples/{label}")
    # Real log-stream records ({log_id, data}, what EventBridge puts under "detail").
    for record in load_sample("logstream-sapi-samples.elastic-integrations.json"):
        yield pytest.param(
            {**auth0_log(), "detail": record},
            id="samples/logstream-" + record["data"]["description"].lower().replace(" ", "-"),
        )


@pytest.fixture(scope="module")
def api_created_pattern(sam_template):
    from moto.events.models import EventPattern

    pattern = props(sam_template, RULE)["EventPattern"]
    return EventPattern.load(json.dumps(pattern))  # also validates the pattern's syntax


@pytest.mark.parametrize(("event", "expected"), RULE_CASES)
def test_rule_matches_exactly_api_created(api_created_pattern, event, expected):
    assert is_api_created(event) is expected  # the reference definition agrees with the case
    assert api_created_pattern.matches_event(event) is expected


@pytest.mark.parametrize("event", list(_sample_events()))
def test_rule_agrees_with_the_design_on_sample_events(api_created_pattern, event):
    assert api_created_pattern.matches_event(event) is is_api_created(event)


def test_rule_pattern_filters_on_exactly_the_designed_fields(sam_template):
    def leaves(node: dict[str, Any], prefix: str = "") -> set[str]:
        found = set()
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            found |= leaves(value, path) if isinstance(value, dict) else {path}
        return found

    assert leaves(props(sam_template, RULE)["EventPattern"]) == {
        "detail-type",
        "detail.data.type",
        "detail.data.details.request.method",
        "detail.data.details.request.path",
        "detail.data.details.response.statusCode",
    }


def test_rule_listens_on_the_partner_bus_and_targets_the_queue(sam_template):
    rule = props(sam_template, RULE)
    assert rule["EventBusName"] == ref("Auth0EventBusName")
    assert rule["State"] == "ENABLED"
    [target] = rule["Targets"]
    assert target["Arn"] == get_att(QUEUE, "Arn")
    assert target["DeadLetterConfig"]["Arn"] == get_att(DELIVERY_DLQ, "Arn")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


# --- queues ------------------------------------------------------------------------------------


def test_visibility_timeout_is_at_least_six_times_the_function_timeout(sam_template, cfn_template):
    queue = props(cfn_template, QUEUE)
    function = props(cfn_template, FUNCTION)
    assert function["Timeout"] == ref("FunctionTimeout")
    assert queue["VisibilityTimeout"] == {
        "Fn::FindInMap": ["QueueVisibilityTimeouts", ref("FunctionTimeout"), "VisibilityTimeout"]
    }
    table = sam_template["Mappings"]["QueueVisibilityTimeouts"]
    allowed = sam_template["Parameters"]["FunctionTimeout"]["AllowedValues"]
    assert sorted(int(key) for key in table) == sorted(allowed)  # every choice has its visibility timeout
    batching_window = the_event_source_mapping(cfn_template)["MaximumBatchingWindowInSeconds"]
    for timeout in allowed:
        visibility = table[str(timeout)]["VisibilityTimeout"]
        assert visibility >= 6 * timeout, timeout
        assert visibility <= 43_200  # SQS's maximum
        assert visibility > timeout + batching_window


def test_queue_redrives_to_the_dead_letter_queue(cfn_template):
    queue = props(cfn_template, QUEUE)
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": get_att(DLQ, "Arn"),
        "maxReceiveCount": ref("MaxReceiveCount"),
    }
    # Only the source queue may use the dead-letter queue; its ARN is built from the queue's name.
    allow = props(cfn_template, DLQ)["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    [source_arn] = allow["sourceQueueArns"]
    assert source_arn == {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:"
        + queue["QueueName"]["Fn::Sub"]
    }
    assert props(cfn_template, DELIVERY_DLQ)["RedriveAllowPolicy"] == {"redrivePermission": "denyAll"}


def test_dead_letter_queues_keep_messages_longer_than_the_queue(cfn_template):
    retention = {q: props(cfn_template, q)["MessageRetentionPeriod"] for q in (QUEUE, DLQ, DELIVERY_DLQ)}
    assert retention[QUEUE] == 4 * 86_400
    assert retention[DLQ] == retention[DELIVERY_DLQ] == 14 * 86_400
    assert retention[DLQ] > retention[QUEUE]


def test_every_queue_is_encrypted_and_refuses_plain_http(cfn_template):
    queues = resources(cfn_template, "AWS::SQS::Queue")
    assert set(queues) == {QUEUE, DLQ, DELIVERY_DLQ}
    for queue in queues:
        assert props(cfn_template, queue)["SqsManagedSseEnabled"] is True
        statements = queue_policy_for(cfn_template, queue)["Statement"]
        assert {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": get_att(queue, "Arn"),
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        } in statements


@pytest.mark.parametrize("queue", [QUEUE, DELIVERY_DLQ])
def test_only_the_rule_may_send_to_the_queues_eventbridge_writes(cfn_template, queue):
    allows = [s for s in queue_policy_for(cfn_template, queue)["Statement"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "AllowApiCreatedRuleOnly",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": get_att(queue, "Arn"),
            "Condition": {"ArnEquals": {"aws:SourceArn": get_att(RULE, "Arn")}},
        }
    ]


def test_nobody_is_granted_the_worker_dead_letter_queue_by_queue_policy(cfn_template):
    assert [s for s in queue_policy_for(cfn_template, DLQ)["Statement"] if s["Effect"] == "Allow"] == []


# --- the event source mapping ------------------------------------------------------------------


def test_event_source_mapping_reports_partial_failures_with_bounded_concurrency(cfn_template):
    mapping = the_event_source_mapping(cfn_template)
    assert mapping["EventSourceArn"] == get_att(QUEUE, "Arn")
    assert mapping["FunctionName"] == ref(FUNCTION)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": ref("MaximumConcurrency")}
    assert mapping["BatchSize"] == ref("BatchSize")
    assert 1 <= mapping["MaximumBatchingWindowInSeconds"] <= 300  # >= 1 lets BatchSize exceed 10
