"""replay: dead letters of every shape back to the source queue; the malformed stay; nothing lost or doubled."""

from __future__ import annotations

import json
import signal
from collections import Counter

import boto3
import pytest
from token_exchange_enabler.cli import StopRequest
from token_exchange_enabler.replay import REPLAY_OF, Replayer, classify

from tests.operations.conftest import (
    Crash,
    FlakySqs,
    lambda_failure_record,
    run_worker,
    worker_dead_letter_attributes,
)

pytestmark = pytest.mark.integration


def sqs_redrive(ops, body: str) -> str:
    """Deliver a message on the source queue until SQS moves it to the dead-letter queue; its id."""
    sqs = ops.sqs
    message_id = sqs.send_message(QueueUrl=ops.stack.queue_url, MessageBody=body)["MessageId"]
    for _ in range(ops.stack.queue_settings["max_receive_count"] + 1):
        sqs.receive_message(QueueUrl=ops.stack.queue_url, VisibilityTimeout=0, WaitTimeSeconds=0)
    assert ops.visible(ops.stack.queue_url) == 0
    return message_id


def every_shape(ops) -> tuple[dict[str, str], dict[str, dict], dict[str, str]]:
    """A dead-letter queue holding one message of each shape, and two that cannot be replayed.

    Returns (message id by shape, original event by message id, message id of the unreplayable by name).
    """
    events = [ops.create_api(f"https://shape{i}.example.com", f"Shape {i}") for i in range(5)]
    ids = {
        "worker": ops.dead_letter(json.dumps(events[0]), worker_dead_letter_attributes(
            "configuration error: GET /api/v2/resource-servers/{id}: 403 Forbidden [insufficient_scope]")),
        "sqs_redrive": sqs_redrive(ops, json.dumps(events[1])),
        "eventbridge": ops.dead_letter(json.dumps(events[2]), {
            "ERROR_CODE": "SQS_PERMISSION_DENIED", "ERROR_MESSAGE": "Failed to send a message to an SQS queue",
            "RULE_ARN": ops.stack.rule_arn, "TARGET_ARN": ops.stack.queue_arn}),
        "lambda_async": ops.dead_letter(lambda_failure_record(events[3])),
        "lambda_dlq": ops.dead_letter(json.dumps(events[4]), {
            "RequestID": "8d5f2a4e-0000-4000-8000-000000000000", "ErrorCode": "200", "ErrorMessage": "boom"}),
    }
    originals = {ids[shape]: event for shape, event in zip(ids, events, strict=True)}
    bad = {
        "not_json": ops.dead_letter("this is not JSON"),
        "empty_payload": ops.dead_letter(json.dumps({"requestContext": {"condition": "EventAgeExceeded"},
                                                     "requestPayload": None, "responsePayload": None})),
    }
    return ids, originals, bad


def replayed(ops) -> dict[str, list[dict]]:
    """The source queue's messages by the REPLAY_OF they carry (the queue is drained)."""
    found: dict[str, list[dict]] = {}
    for message in ops.drain(ops.stack.queue_url):
        found.setdefault(message["MessageAttributes"][REPLAY_OF]["StringValue"], []).append(message)
    return found


def test_peek_lists_every_shape_with_its_failure_reason_and_moves_nothing(ops):
    ids, _, bad = every_shape(ops)
    result = ops.cli("replay", "--peek", "--json", "--wait-seconds", "0")
    assert result.code == 0, result.err
    by_id = {m["message_id"]: m for m in result.json["messages"]}
    assert len(by_id) == 7 and result.json["replayable"] == 5
    assert {shape: by_id[i]["shape"] for shape, i in ids.items()} == {shape: shape for shape in ids}
    failures = {shape: by_id[i]["failure"] for shape, i in ids.items()}
    assert failures["worker"].startswith("configuration: configuration error: GET /api/v2/resource-servers")
    assert failures["sqs_redrive"].startswith("retries exhausted (ApproximateReceiveCount=")
    assert failures["eventbridge"] == ("EventBridge could not deliver the event: SQS_PERMISSION_DENIED: "
                                       "Failed to send a message to an SQS queue")
    assert failures["lambda_async"] == "Sandbox.Timedout: Task timed out after 60.00 seconds"
    assert failures["lambda_dlq"] == "Lambda: boom"
    assert all(by_id[i]["replayable"] and by_id[i]["api_id"] for i in ids.values())
    assert by_id[bad["not_json"]]["problem"] == "malformed event: SQS message body is not JSON"
    assert by_id[bad["empty_payload"]]["problem"] == "the Lambda failure record's requestPayload is not an event"
    assert by_id[bad["empty_payload"]]["failure"] == "Lambda: EventAgeExceeded"
    # Nothing moved, and everything is visible again at once.
    assert ops.visible(ops.stack.queue_url) == 0
    assert len(ops.sqs.receive_message(QueueUrl=ops.stack.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                       WaitTimeSeconds=0).get("Messages", [])) == 7
    text = ops.cli("replay", "--peek", "--wait-seconds", "0")
    assert "7 dead letter(s)" in text.out and "5 replayable" in text.out
    assert "NOT REPLAYABLE, stays: malformed event: SQS message body is not JSON" in text.out


def test_replay_sends_the_original_event_of_every_shape_and_keeps_what_cannot_be_replayed(ops, monkeypatch):
    ids, originals, bad = every_shape(ops)
    result = ops.cli("replay", "--json", "--wait-seconds", "0")
    assert result.code == 1, result.err  # two messages stayed behind
    report = result.json
    assert report["method"] == "one_by_one"
    assert "ListMessageMoveTasks unavailable" in report["fallback_reason"]  # moto has no StartMessageMoveTask
    assert report["moved"] == 5 and report["errors"] == [] and report["stopped"] is None
    assert {m["message_id"]: m["problem"] for m in report["left"]} == {
        bad["not_json"]: "malformed event: SQS message body is not JSON",
        bad["empty_payload"]: "the Lambda failure record's requestPayload is not an event",
    }
    # The source queue got each original EventBridge event once (the Lambda record unwrapped).
    sent = replayed(ops)
    assert set(sent) == set(originals)
    for message_id, messages in sent.items():
        (message,) = messages
        assert json.loads(message["Body"]) == originals[message_id]
        assert set(message["MessageAttributes"]) == {REPLAY_OF, "REPLAYED_AT"}  # no stale ERROR_* attributes
    # What cannot be replayed is still there, and visible.
    left = ops.drain(ops.stack.dlq_url)
    assert {m["MessageId"] for m in left} == set(bad.values())
    # The worker enables every replayed API.
    for message in sent.values():
        ops.sqs.send_message(QueueUrl=ops.stack.queue_url, MessageBody=message[0]["Body"])
    assert run_worker(ops, ops.drain(ops.stack.queue_url), monkeypatch) == {"batchItemFailures": []}
    for i in range(5):
        (client,) = ops.custom_clients(f"https://shape{i}.example.com")
        assert "on_behalf_of_token_exchange" in client["token_exchange"]["allow_any_profile_of_type"]


def test_replay_of_eventbridge_dead_letters_and_an_explicit_queue(ops):
    event = ops.create_api("https://delivery.example.com")
    message_id = ops.dead_letter(json.dumps(event), {"ERROR_CODE": "THROTTLING", "ERROR_MESSAGE": "slow down",
                                                     "RULE_ARN": ops.stack.rule_arn},
                                 queue_url=ops.stack.delivery_dlq_url)
    result = ops.cli("replay", "--delivery", "--one-by-one", "--json", "--wait-seconds", "0")
    assert result.code == 0, result.err
    assert result.json["moved"] == 1 and result.json["fallback_reason"] is None
    assert set(replayed(ops)) == {message_id}
    # The same with explicit URLs, no variables at all.
    ops.dead_letter(json.dumps(event), queue_url=ops.stack.delivery_dlq_url)
    result = ops.cli("replay", "--dlq-url", ops.stack.delivery_dlq_url, "--queue-url", ops.stack.queue_url,
                     "--limit", "5", "--wait-seconds", "0", DEAD_LETTER_QUEUE_URL=None, SOURCE_QUEUE_URL=None)
    assert result.code == 0 and "moved 1 message(s) one by one" in result.out


def test_limit_moves_that_many_and_leaves_the_rest(ops):
    events = [ops.create_api(f"https://limit{i}.example.com") for i in range(4)]
    for event in events:
        ops.dead_letter(json.dumps(event))
    result = ops.cli("replay", "--one-by-one", "--limit", "1", "--json", "--wait-seconds", "0")
    assert result.code == 0 and result.json["moved"] == 1 and result.json["stopped"] == "limit"
    assert ops.visible(ops.stack.queue_url) == 1 and ops.visible(ops.stack.dlq_url) == 3


def _moved_each_once(ops, originals: dict[str, dict]) -> None:
    sent = replayed(ops)
    assert Counter({k: len(v) for k, v in sent.items()}) == Counter(dict.fromkeys(originals, 1))
    for message_id, (message,) in sent.items():
        assert json.loads(message["Body"]) == originals[message_id]


@pytest.mark.parametrize(
    ("where", "flaky"),
    [
        ("before a send", {"die_before_send": 3}),
        ("between a send and its delete", {"failing_deletes": {2: 1}}),
    ],
)
def test_an_interrupted_replay_loses_and_doubles_nothing(ops, where, flaky):
    ids, originals, bad = every_shape(ops)
    flaky_sqs = FlakySqs(boto3.client("sqs"), **flaky)
    with pytest.raises(Crash):
        Replayer(flaky_sqs, wait_seconds=0).replay(ops.stack.dlq_url, ops.stack.queue_url, method="one_by_one")
    assert 0 < ops.visible(ops.stack.queue_url) < len(originals)  # it really stopped midway
    report = Replayer(boto3.client("sqs"), wait_seconds=0).replay(ops.stack.dlq_url, ops.stack.queue_url,
                                                                  method="one_by_one")
    assert report.errors == [] and len(report.left) == 2
    _moved_each_once(ops, originals)
    assert {m["MessageId"] for m in ops.drain(ops.stack.dlq_url)} == set(bad.values())


def test_ctrl_c_finishes_the_message_in_hand_then_stops(ops):
    ids, originals, bad = every_shape(ops)
    stop = StopRequest(open("/dev/null", "w"))  # noqa: SIM115 - closed with the test process
    flaky_sqs = FlakySqs(boto3.client("sqs"), on_send=lambda n: signal.raise_signal(signal.SIGINT) if n == 2 else None)
    with stop.installed():
        report = Replayer(flaky_sqs, wait_seconds=0, should_stop=stop).replay(
            ops.stack.dlq_url, ops.stack.queue_url, method="one_by_one")
    assert report.stopped == "interrupted" and report.moved == 2 and report.errors == []
    rest = Replayer(boto3.client("sqs"), wait_seconds=0).replay(ops.stack.dlq_url, ops.stack.queue_url,
                                                                method="one_by_one")
    assert rest.moved == 3
    _moved_each_once(ops, originals)


def test_a_hard_kill_between_send_and_delete_sends_one_message_twice_and_the_worker_absorbs_it(ops, monkeypatch):
    events = [ops.create_api(f"https://kill{i}.example.com") for i in range(3)]
    for event in events:
        ops.dead_letter(json.dumps(event))
    # The delete of the second message fails, and so does the clean-up's retry: the process is gone.
    flaky_sqs = FlakySqs(boto3.client("sqs"), failing_deletes={2: 2})
    with pytest.raises(Crash):
        Replayer(flaky_sqs, wait_seconds=0, visibility_timeout=1).replay(ops.stack.dlq_url, ops.stack.queue_url,
                                                                         method="one_by_one")
    import time

    time.sleep(1.2)  # the message in flight becomes visible again
    Replayer(boto3.client("sqs"), wait_seconds=0).replay(ops.stack.dlq_url, ops.stack.queue_url, method="one_by_one")
    messages = ops.drain(ops.stack.queue_url)
    by_replay_of = Counter(m["MessageAttributes"][REPLAY_OF]["StringValue"] for m in messages)
    assert sorted(by_replay_of.values()) == [1, 1, 2]  # exactly one duplicate, recognisable by REPLAY_OF
    assert ops.visible(ops.stack.dlq_url) == 0
    assert run_worker(ops, messages, monkeypatch) == {"batchItemFailures": []}
    for i in range(3):
        assert len(ops.custom_clients(f"https://kill{i}.example.com")) == 1
    assert ops.emulator.counters.get("POST /api/v2/clients") == 3


def test_classify_never_needs_the_network():
    letter = classify({"MessageId": "m1", "ReceiptHandle": "r", "Body": "{}",
                       "Attributes": {"ApproximateReceiveCount": "7", "SentTimestamp": "1700000000000"}})
    assert (letter.shape, letter.failure, letter.replayable) == (
        "sqs_redrive", "retries exhausted (ApproximateReceiveCount=7)", False)
    assert letter.problem == "malformed event: SQS message body is neither an EventBridge event nor an Auth0 log record"
    assert "receipt_handle" not in letter.as_dict() and "event_body" not in letter.as_dict()
