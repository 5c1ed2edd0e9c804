"""SQS's own redrive (StartMessageMoveTask), checked call by call with botocore's Stubber.

moto has no message move tasks, so these pin down the exact requests and how the answers are read:
start, progress polling, completion (when SQS no longer returns the task handle), failure,
cancellation on Ctrl-C, following a task that was already running, and the fall back to moving
messages one by one when SQS refuses the task.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from token_exchange_enabler.replay import NativeRedriveUnavailable, Replayer

DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/tee-DeadLetterQueue"
SOURCE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/tee-api-created"
DLQ_ARN = "arn:aws:sqs:eu-west-1:123456789012:tee-DeadLetterQueue"
SOURCE_ARN = "arn:aws:sqs:eu-west-1:123456789012:tee-api-created"
STARTED = 1767225600000  # ms


@pytest.fixture
def sqs():
    client = boto3.client("sqs", region_name="eu-west-1", endpoint_url="https://sqs.eu-west-1.amazonaws.com",
                          aws_access_key_id="stub", aws_secret_access_key="stub")  # noqa: S106 - never sent
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def arns(stubber):
    for url, arn in ((DLQ_URL, DLQ_ARN), (SOURCE_URL, SOURCE_ARN)):
        stubber.add_response("get_queue_attributes", {"Attributes": {"QueueArn": arn}},
                             {"QueueUrl": url, "AttributeNames": ["QueueArn"]})


def task(status, moved, *, handle=None, to_move=5, failure=None):
    entry = {"Status": status, "SourceArn": DLQ_ARN, "DestinationArn": SOURCE_ARN,
             "ApproximateNumberOfMessagesMoved": moved, "ApproximateNumberOfMessagesToMove": to_move,
             "MaxNumberOfMessagesPerSecond": 10, "StartedTimestamp": STARTED}
    if handle:
        entry["TaskHandle"] = handle
    if failure:
        entry["FailureReason"] = failure
    return entry


def listing(stubber, *tasks):
    stubber.add_response("list_message_move_tasks", {"Results": list(tasks)},
                         {"SourceArn": DLQ_ARN, "MaxResults": 10})


def start(stubber, handle="task-1"):
    stubber.add_response("start_message_move_task", {"TaskHandle": handle},
                         {"SourceArn": DLQ_ARN, "DestinationArn": SOURCE_ARN, "MaxNumberOfMessagesPerSecond": 10})


def replayer(client, **kwargs):
    progress, sleeps = [], []
    r = Replayer(client, progress=lambda phase, done, total: progress.append((phase, done, total)),
                 sleep=sleeps.append, **kwargs)
    return r, progress, sleeps


def test_a_task_is_started_followed_and_reported_complete(sqs):
    client, stubber = sqs
    arns(stubber)
    listing(stubber)  # nothing running yet
    start(stubber)
    listing(stubber, task("RUNNING", 0, handle="task-1"))
    listing(stubber, task("RUNNING", 3, handle="task-1"))
    listing(stubber, task("COMPLETED", 5))  # SQS drops the handle once the task is over
    r, progress, sleeps = replayer(client)
    report = r.replay(DLQ_URL, SOURCE_URL, max_per_second=10, poll_interval=2)
    assert report.method == "native" and report.ok
    assert report.moved == 5
    assert report.task == {"handle": "task-1", "status": "COMPLETED", "moved": 5, "to_move": 5, "max_per_second": 10,
                           "failure": None, "started_at": "2026-01-01T00:00:00Z"}
    assert progress == [("native", 0, 5), ("native", 3, 5), ("native", 5, 5)]
    assert sleeps == [2, 2]


def test_a_failed_task_is_reported_with_its_reason(sqs):
    client, stubber = sqs
    arns(stubber)
    listing(stubber)
    start(stubber)
    listing(stubber, task("RUNNING", 1, handle="task-1"))
    listing(stubber, task("FAILED", 1, failure="AccessDenied on the destination queue"))
    report = replayer(client)[0].replay(DLQ_URL, SOURCE_URL, max_per_second=10)
    assert not report.ok and report.moved == 1
    assert report.task["status"] == "FAILED"
    assert report.errors == [{"error": "the move task failed: AccessDenied on the destination queue"}]
    assert report.as_dict()["task"]["failure"] == "AccessDenied on the destination queue"


def test_stopping_cancels_the_task_and_waits_for_it(sqs):
    client, stubber = sqs
    arns(stubber)
    listing(stubber)
    start(stubber)
    listing(stubber, task("RUNNING", 2, handle="task-1"))
    stubber.add_response("cancel_message_move_task", {"ApproximateNumberOfMessagesMoved": 2},
                         {"TaskHandle": "task-1"})
    listing(stubber, task("CANCELLED", 2))
    report = replayer(client, should_stop=lambda: True)[0].replay(DLQ_URL, SOURCE_URL, max_per_second=10)
    assert report.stopped == "interrupted" and report.moved == 2 and report.task["status"] == "CANCELLED"


def test_near_the_deadline_the_lambda_leaves_the_task_running(sqs):
    client, stubber = sqs
    arns(stubber)
    listing(stubber)
    start(stubber)
    listing(stubber, task("RUNNING", 2, handle="task-1"))
    report = replayer(client, should_stop=lambda: True)[0].replay(DLQ_URL, SOURCE_URL, max_per_second=10,
                                                                  cancel_on_stop=False)
    assert report.stopped == "deadline" and report.task["status"] == "RUNNING"


def test_a_task_already_running_is_followed_not_started_twice(sqs):
    client, stubber = sqs
    arns(stubber)
    listing(stubber, task("RUNNING", 4, handle="task-0"))
    listing(stubber, task("RUNNING", 4, handle="task-0"))
    listing(stubber, task("COMPLETED", 5))
    report = replayer(client)[0].replay(DLQ_URL, SOURCE_URL, max_per_second=10)
    assert report.attached and report.task["handle"] == "task-0" and report.moved == 5 and report.ok


def test_a_refused_task_falls_back_to_one_by_one(sqs):
    client, stubber = sqs
    arns(stubber)
    listing(stubber)
    stubber.add_client_error("start_message_move_task", service_error_code="InvalidParameterValue",
                             service_message="Source queue must be configured as a Dead Letter Queue.")
    listing(stubber)  # a refused start started nothing
    stubber.add_response("receive_message", {"Messages": []})  # one by one: the queue is empty
    report = replayer(client, wait_seconds=0)[0].replay(DLQ_URL, SOURCE_URL, max_per_second=10)
    assert report.method == "one_by_one" and report.ok
    assert report.fallback_reason == ("StartMessageMoveTask refused (InvalidParameterValue: "
                                      "Source queue must be configured as a Dead Letter Queue.)")


def test_native_only_refuses_to_fall_back(sqs):
    client, stubber = sqs
    arns(stubber)
    stubber.add_client_error("list_message_move_tasks", service_error_code="UnsupportedOperation")
    with pytest.raises(NativeRedriveUnavailable, match="ListMessageMoveTasks unavailable"):
        replayer(client)[0].replay(DLQ_URL, SOURCE_URL, method="native")
