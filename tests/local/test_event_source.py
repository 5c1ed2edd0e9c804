"""The event-source-mapping stand-in keeps Lambda's SQS semantics (against moto's server)."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest

from local.event_source import SqsEventSource


def make_queues(max_receive_count=2, visibility=1):
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="esm-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="esm-source", Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}),
    })["QueueUrl"]
    return sqs, queue, dlq


def send(sqs, queue, bodies):
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body)


def count(sqs, queue):
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def wait_for(predicate, timeout=15.0):
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_partial_failures_are_redelivered_and_successes_deleted(aws):
    sqs, queue, dlq = make_queues(max_receive_count=5)
    send(sqs, queue, ["ok-1", "fail-once", "ok-2"])
    seen: list[list[str]] = []
    failed_once: set[str] = set()

    def invoke(event):
        seen.append([r["body"] for r in event["Records"]])
        failures = []
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(":esm-source")
            if record["body"] == "fail-once" and "x" not in failed_once:
                failed_once.add("x")
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    with SqsEventSource(queue_url=queue, invoke=invoke, batch_size=10, batching_window=0.3,
                        maximum_concurrency=1, sqs_client=sqs) as esm:
        # Both conditions: moto's approximate counts can read 0 for a moment while the failed record's
        # visibility timeout ends (seen on a loaded machine).
        assert wait_for(lambda: count(sqs, queue) == 0 and ["fail-once"] in seen[1:], timeout=30.0)
    assert sorted(seen[0]) == ["fail-once", "ok-1", "ok-2"]  # one batch within the window
    assert ["fail-once"] in seen[1:]  # redelivered alone after the visibility timeout
    assert count(sqs, dlq) == 0
    assert esm.stats.succeeded == 3 and esm.stats.failed_records == 1


def test_a_record_that_always_fails_reaches_the_dlq_after_max_receive_count(aws):
    sqs, queue, dlq = make_queues(max_receive_count=2)
    send(sqs, queue, ["poison"])
    receives = []

    def invoke(event):
        receives.append(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    with SqsEventSource(queue_url=queue, invoke=invoke, maximum_concurrency=1, sqs_client=sqs):
        assert wait_for(lambda: count(sqs, dlq) == 1)
    assert receives == ["1", "2"]
    assert count(sqs, queue) == 0


@pytest.mark.parametrize("response", [RuntimeError("boom"), {"batchItemFailures": [{"itemIdentifier": "nope"}]},
                                      {"batchItemFailures": [{}]}])
def test_function_error_or_invalid_response_leaves_the_whole_batch(aws, response):
    sqs, queue, dlq = make_queues(max_receive_count=1)
    send(sqs, queue, ["a", "b"])

    def invoke(event):
        if isinstance(response, Exception):
            raise response
        return response

    with SqsEventSource(queue_url=queue, invoke=invoke, batching_window=0.3, maximum_concurrency=1,
                        sqs_client=sqs) as esm:
        assert wait_for(lambda: count(sqs, dlq) == 2)
    assert esm.stats.succeeded == 0


def test_maximum_concurrency_bounds_parallel_invocations(aws):
    sqs, queue, _ = make_queues()
    send(sqs, queue, [f"m{i}" for i in range(12)])
    active, peak, lock = [0], [0], threading.Lock()

    def invoke(event):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return {"batchItemFailures": []}

    with SqsEventSource(queue_url=queue, invoke=invoke, batch_size=1, maximum_concurrency=3, sqs_client=sqs):
        assert wait_for(lambda: count(sqs, queue) == 0)
    assert peak[0] == 3
