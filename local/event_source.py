"""A stand-in for Lambda's SQS event-source mapping, polling the local (moto) queue.

What it reproduces, because the product's correctness depends on it:
- batches of up to ``batch_size`` records, gathered for at most ``batching_window`` seconds;
- the Lambda SQS event shape (``Records`` with ``messageId``, ``receiptHandle``, ``body``,
  ``attributes``, ``messageAttributes`` in Lambda's camel-case form, ``eventSourceARN`` ...);
- partial batch responses (``ReportBatchItemFailures``): the records that succeeded are deleted,
  the ones in ``batchItemFailures`` are left to reappear after the visibility timeout; a function
  error or timeout leaves the whole batch; an unknown or malformed failure list fails the batch,
  as Lambda does;
- the queue's own redrive policy moves a message to the dead-letter queue once it has been
  received ``maxReceiveCount`` times (SQS does that, here moto);
- at most ``maximum_concurrency`` invocations at once (``ScalingConfig.MaximumConcurrency``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    succeeded: int = 0
    failed_records: int = 0
    function_errors: int = 0
    max_in_flight: int = 0
    errors: list[str] = field(default_factory=list)


def lambda_sqs_record(message: dict, queue_arn: str, region: str) -> dict:
    """One SQS message as Lambda hands it to a function."""
    attributes = message.get("MessageAttributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in attributes.items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsEventSource:
    """Polls one queue and invokes a function with batches, until stopped."""

    def __init__(
        self,
        *,
        queue_url: str,
        invoke: Callable[[dict], Any],
        batch_size: int = 10,
        batching_window: float = 0.0,
        maximum_concurrency: int = 2,
        report_batch_item_failures: bool = True,
        sqs_client: Any = None,
        idle_wait: float = 0.2,
    ):
        self._sqs = sqs_client or boto3.client("sqs")
        self._queue_url = queue_url
        attributes = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self._queue_arn = attributes["QueueArn"]
        self._region = self._sqs.meta.region_name
        self._invoke = invoke
        self.batch_size = batch_size
        self.batching_window = batching_window
        self.maximum_concurrency = maximum_concurrency
        self._partial = report_batch_item_failures
        self._idle_wait = idle_wait
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        self.stats = PollerStats()

    # ---- lifecycle

    def start(self) -> SqsEventSource:
        for n in range(self.maximum_concurrency):
            thread = threading.Thread(target=self._poll, name=f"esm-poller-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 90.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def __enter__(self) -> SqsEventSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- polling

    def _receive_batch(self) -> list[dict]:
        """Gather up to batch_size messages for at most the batching window (or one poll)."""
        batch: list[dict] = []
        window_ends = time.monotonic() + self.batching_window
        while len(batch) < self.batch_size and not self._stop.is_set():
            got = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(batch)),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch.extend(got)
            if time.monotonic() >= window_ends:
                break
            if not got:
                time.sleep(min(0.05, max(0.0, window_ends - time.monotonic())))
        return batch

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._receive_batch()
            except Exception as error:  # noqa: BLE001 - a poller keeps polling, as Lambda's does
                self.stats.errors.append(f"receive: {type(error).__name__}: {error}")
                time.sleep(self._idle_wait)
                continue
            if not messages:
                time.sleep(self._idle_wait)
                continue
            self._deliver(messages)

    def _deliver(self, messages: list[dict]) -> None:
        event = {"Records": [lambda_sqs_record(m, self._queue_arn, self._region) for m in messages]}
        with self._lock:
            self._in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self._in_flight)
            self.stats.batches += 1
            self.stats.records += len(messages)
        try:
            result = self._invoke(event)
        except Exception as error:  # noqa: BLE001 - a function error leaves the whole batch
            with self._lock:
                self.stats.function_errors += 1
                self.stats.failed_records += len(messages)
                self.stats.errors.append(f"invoke: {error}")
            return
        finally:
            with self._lock:
                self._in_flight -= 1
        failed = self._failed_ids(result, messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        with self._lock:
            self.stats.succeeded += len(done)
            self.stats.failed_records += len(messages) - len(done)

    def _failed_ids(self, result: Any, messages: list[dict]) -> set[str]:
        """The ids Lambda would leave on the queue, given the function's response."""
        every = {m["MessageId"] for m in messages}
        if not self._partial:
            return set()
        if result is None or (isinstance(result, dict) and not result.get("batchItemFailures")):
            return set()
        if not isinstance(result, dict) or not isinstance(result.get("batchItemFailures"), list):
            return every
        failed: set[str] = set()
        for item in result["batchItemFailures"]:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(identifier, str) or identifier not in every:
                return every  # Lambda treats an unknown or empty identifier as a failed batch
            failed.add(identifier)
        return failed
