"""Dead letters back to the source queue: look at them, tell their shapes apart, replay them.

What can sit in a dead-letter queue of this system, and what replaying it sends back:

==================  ==========================================================  ====================
shape               how to recognise it                                         failure reason shown
==================  ==========================================================  ====================
``worker``          the body is the original message; the worker added          ``ERROR_KIND``:
                    ``ERROR_KIND``/``ERROR_REASON``/``LOG_ID``/``API_ID``/      ``ERROR_REASON``
                    ``FAILED_AT`` (a permanent failure it sent there itself)
``sqs_redrive``     the body is the original message, no attributes: SQS        "retries exhausted
                    moved it after ``maxReceiveCount`` failed deliveries        (ApproximateReceiveCount=N)"
``eventbridge``     the body is the event; ``ERROR_CODE``/``ERROR_MESSAGE``/    ``ERROR_CODE``:
                    ``RULE_ARN`` attributes (EventBridge could not deliver)     ``ERROR_MESSAGE``
``lambda_async``    a Lambda asynchronous-invocation failure record,            ``responsePayload``
                    ``{"requestContext", "requestPayload": <event>,             ``.errorMessage``
                    "responseContext", "responsePayload"}``
``lambda_dlq``      the body is the event; ``RequestID``/``ErrorCode``/         ``ErrorMessage``
                    ``ErrorMessage`` attributes (a function's own DLQ)
==================  ==========================================================  ====================

In every case a replay sends the original EventBridge event (for ``lambda_async``, the
``requestPayload``; otherwise the body, byte for byte), with the message attributes
``REPLAY_OF`` (the dead letter's message id) and ``REPLAYED_AT``. The event is first run through
the worker's own parser (:func:`~token_exchange_enabler.events.parse_sqs_body`): a message that
is none of the shapes above, or whose event the worker could never understand, is *not
replayable* and stays in the dead-letter queue, reported with its reason.

Two ways to move messages
-------------------------
``native``
    SQS's own redrive, ``StartMessageMoveTask`` from the dead-letter queue to the source queue
    (optionally ``MaxNumberOfMessagesPerSecond``), followed with ``ListMessageMoveTasks`` until
    it ends; stopping cancels it (``CancelMessageMoveTask``). SQS moves every body as it is:
    a Lambda failure record or a malformed message goes back too, and the worker dead-letters
    it again (nothing is lost); ``one_by_one`` is the way to unwrap or hold those back. SQS
    accepts only dead-letter queues of SQS queues as the source: for EventBridge's dead-letter
    queue, or where the API is missing (moto), the replay falls back to ``one_by_one``.
``one_by_one``
    receive (with a visibility timeout) → send to the source queue → delete from the
    dead-letter queue, one message at a time. The delete comes only after a successful send,
    so nothing is ever lost. Stopping (Ctrl-C, the Lambda deadline, ``limit``) happens between
    two messages, never between a send and its delete, and a failure raised between them still
    deletes the message that was sent before the error propagates. What remains is a hard
    kill of the process (or a dead-letter queue that stays unreachable) exactly between a
    send and its delete: that one message is sent again by the next run. SQS standard queues
    have no deduplication on send, so this cannot be closed on the queue; the duplicate
    carries the same ``REPLAY_OF`` and is absorbed by the worker (idempotency keyed on the API,
    and its look-before-create), so it never becomes a second Custom API client.

Run one replay of a queue at a time. No module here prints or logs message bodies.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .aws_errors import aws_error_code, aws_errors
from .events import ApiCreated, Ignored, MalformedEvent, parse_sqs_body
from .pacing import Pacer

__all__ = [
    "REPLAY_OF",
    "DeadLetter",
    "NativeRedriveUnavailable",
    "ReplayReport",
    "Replayer",
    "classify",
    "queues_from_env",
]

REPLAY_OF = "REPLAY_OF"
REPLAYED_AT = "REPLAYED_AT"

SHAPE_WORKER = "worker"
SHAPE_REDRIVE = "sqs_redrive"
SHAPE_EVENTBRIDGE = "eventbridge"
SHAPE_LAMBDA_ASYNC = "lambda_async"
SHAPE_LAMBDA_DLQ = "lambda_dlq"
SHAPE_UNKNOWN = "unknown"

METHOD_NATIVE = "native"
METHOD_ONE_BY_ONE = "one_by_one"
METHOD_PEEK = "peek"

# Why a run ended before the queue was empty.
STOPPED_INTERRUPTED = "interrupted"
STOPPED_DEADLINE = "deadline"
STOPPED_LIMIT = "limit"

_TERMINAL_TASK_STATES = {"COMPLETED", "FAILED", "CANCELLED"}
_MAX_REASON = 300


def queues_from_env(environ: Mapping[str, str]) -> dict[str, str | None]:
    """The queue URLs of the configuration (no Auth0 variables needed):

    ``DEAD_LETTER_QUEUE_URL`` (the worker's dead-letter queue), ``SOURCE_QUEUE_URL`` (the queue
    the worker consumes, where replays go) and ``DELIVERY_DEAD_LETTER_QUEUE_URL`` (EventBridge's
    dead-letter queue of the rule's target).
    """

    def get(name: str) -> str | None:
        return (environ.get(name) or "").strip() or None

    return {
        "source": get("SOURCE_QUEUE_URL"),
        "dead_letter": get("DEAD_LETTER_QUEUE_URL"),
        "delivery_dead_letter": get("DELIVERY_DEAD_LETTER_QUEUE_URL"),
    }


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message, classified. Neither the body nor the receipt handle is shown."""

    message_id: str
    shape: str
    failure: str  # why it was dead-lettered
    problem: str | None  # why it cannot be replayed; None: replayable
    receive_count: int
    sent_at: float | None  # Unix time it was first sent to the dead-letter queue
    api_id: str | None = None
    identifier: str | None = None
    log_id: str | None = None
    note: str | None = None
    event_body: str | None = field(default=None, repr=False)  # what a replay sends
    receipt_handle: str = field(default="", repr=False)

    @property
    def replayable(self) -> bool:
        return self.problem is None

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "message_id": self.message_id,
            "shape": self.shape,
            "replayable": self.replayable,
            "failure": self.failure,
            "problem": self.problem,
            "api_id": self.api_id,
            "identifier": self.identifier,
            "log_id": self.log_id,
            "note": self.note,
            "receive_count": self.receive_count,
            "age_seconds": None if self.sent_at is None else max(0, round(now - self.sent_at)),
        }


def classify(message: Mapping[str, Any]) -> DeadLetter:
    """Tell which shape a received SQS message has, what a replay would send, and why it failed.

    ``message`` is one entry of ``ReceiveMessage``'s ``Messages``, received with
    ``AttributeNames=["All"]`` and ``MessageAttributeNames=["All"]``.
    """
    attributes = _string_attributes(message.get("MessageAttributes"))
    system = message.get("Attributes") or {}
    receive_count = _int(system.get("ApproximateReceiveCount"))
    sent = _int(system.get("SentTimestamp"))
    body = message.get("Body")
    body = body if isinstance(body, str) else ""

    shape, failure, event_body, problem = _unwrap(body, attributes, receive_count)
    api_id = identifier = log_id = note = None
    if event_body is not None:
        try:
            fact = parse_sqs_body(event_body)
        except MalformedEvent as error:
            problem = f"malformed event: {error.reason}"
            log_id = error.log_id
        else:
            if isinstance(fact, ApiCreated):
                api_id, identifier, log_id = fact.api_id, fact.identifier, fact.log_id
            elif isinstance(fact, Ignored):
                log_id = fact.log_id
                note = f"not an API creation; the worker will ignore it ({fact.reason})"
    return DeadLetter(
        message_id=str(message.get("MessageId") or ""),
        shape=shape,
        failure=_clip(failure),
        problem=None if problem is None else _clip(problem),
        receive_count=receive_count,
        sent_at=sent / 1000.0 if sent else None,
        api_id=api_id,
        identifier=identifier,
        log_id=log_id or attributes.get("LOG_ID"),
        note=note,
        event_body=event_body if problem is None else None,
        receipt_handle=str(message.get("ReceiptHandle") or ""),
    )


def _unwrap(body: str, attributes: Mapping[str, str], receive_count: int
            ) -> tuple[str, str, str | None, str | None]:
    """(shape, failure reason, event body to send, problem) of one message."""
    document = _json(body)
    if isinstance(document, dict) and "requestPayload" in document and (
        "requestContext" in document or "responsePayload" in document
    ):
        failure = _lambda_failure(document)
        payload = document["requestPayload"]
        if not isinstance(payload, dict):
            return SHAPE_LAMBDA_ASYNC, failure, None, "the Lambda failure record's requestPayload is not an event"
        return SHAPE_LAMBDA_ASYNC, failure, json.dumps(payload, separators=(",", ":")), None
    if "ERROR_CODE" in attributes or "RULE_ARN" in attributes:
        code, text = attributes.get("ERROR_CODE", "?"), attributes.get("ERROR_MESSAGE", "")
        return SHAPE_EVENTBRIDGE, f"EventBridge could not deliver the event: {code}: {text}".rstrip(": "), body, None
    if "ERROR_REASON" in attributes or "ERROR_KIND" in attributes:
        kind, reason = attributes.get("ERROR_KIND", "failed"), attributes.get("ERROR_REASON", "")
        return SHAPE_WORKER, f"{kind}: {reason}".rstrip(": "), body, None
    if "ErrorMessage" in attributes or "RequestID" in attributes:
        text = attributes.get("ErrorMessage") or attributes.get("ErrorCode") or "asynchronous invocation failed"
        return SHAPE_LAMBDA_DLQ, f"Lambda: {text}", body, None
    failure = f"retries exhausted (ApproximateReceiveCount={receive_count})"
    if document is None:
        return SHAPE_UNKNOWN, failure, body, None  # the parser says why it is unusable
    return SHAPE_REDRIVE, failure, body, None


def _lambda_failure(record: Mapping[str, Any]) -> str:
    response = record.get("responsePayload")
    raw_context = record.get("requestContext")
    context: Mapping[str, Any] = raw_context if isinstance(raw_context, Mapping) else {}
    if isinstance(response, Mapping) and response.get("errorMessage"):
        kind = response.get("errorType")
        return f"{kind}: {response['errorMessage']}" if kind else str(response["errorMessage"])
    condition = context.get("condition") or "failed"
    count = context.get("approximateInvokeCount")
    return f"Lambda: {condition}" + (f" after {count} attempts" if count else "")


# --------------------------------------------------------------------------- moving


@dataclass
class ReplayReport:
    """What a peek or a replay did. ``as_dict()`` is the ``--json`` output."""

    method: str
    source_url: str  # the dead-letter queue
    destination_url: str | None
    moved: int = 0
    left: list[DeadLetter] = field(default_factory=list)  # not replayable: they stay
    letters: list[DeadLetter] = field(default_factory=list)  # peek: everything seen
    errors: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None
    fallback_reason: str | None = None
    task: dict[str, Any] | None = None
    attached: bool = False  # native: a task was already running on the queue, and was followed
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing was left behind."""
        failed_task = self.task is not None and self.task.get("status") == "FAILED"
        return not self.errors and not self.left and not failed_task and self.stopped is None

    def as_dict(self) -> dict[str, Any]:
        now = time.time()
        result: dict[str, Any] = {
            "method": self.method,
            "dead_letter_queue_url": self.source_url,
            "destination_url": self.destination_url,
            "moved": self.moved,
            "left": [letter.as_dict(now) for letter in self.left],
            "errors": self.errors,
            "stopped": self.stopped,
            "fallback_reason": self.fallback_reason,
            "task": self.task,
            "attached": self.attached,
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(self.moved / self.seconds, 1) if self.seconds > 0 else None,
        }
        if self.method == METHOD_PEEK:
            result["messages"] = [letter.as_dict(now) for letter in self.letters]
            result["replayable"] = sum(1 for letter in self.letters if letter.replayable)
        return result


Progress = Callable[[str, int, int | None], None]
"""``progress(phase, done, total)``: called as work advances (total None when unknown)."""


class Replayer:
    """Peeks at and replays one dead-letter queue into its source queue.

    ``sqs``: a boto3 SQS client. ``tasks``: the client for the message-move-task calls (default
    ``sqs``); the CLI passes one that does not retry, so that a missing API falls back at once.
    ``should_stop()`` is asked between two messages (and between two polls of a move task):
    Ctrl-C in the CLI, the approaching deadline in Lambda.
    """

    def __init__(
        self,
        sqs: Any,
        *,
        tasks: Any = None,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
        visibility_timeout: int = 120,
        wait_seconds: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._sqs = sqs
        self._tasks = tasks or sqs
        self._should_stop = should_stop
        self._progress = progress or (lambda phase, done, total: None)
        self._visibility = visibility_timeout
        self._wait = wait_seconds
        self._clock = clock
        self._sleep = sleep

    # ---- peek

    def peek(self, dlq_url: str, *, limit: int = 100) -> ReplayReport:
        """Classify up to ``limit`` messages without moving or deleting any.

        Each message is received once (hidden for the visibility timeout meanwhile) and made
        visible again at the end. Receiving counts as a receive: ``ApproximateReceiveCount`` grows.
        """
        started = self._clock()
        report = ReplayReport(METHOD_PEEK, dlq_url, None)
        seen: dict[str, DeadLetter] = {}
        handles: list[str] = []
        try:
            while len(seen) < limit:
                messages = self._receive(dlq_url, min(10, limit - len(seen)))
                handles += [m["ReceiptHandle"] for m in messages]
                fresh = [m for m in messages if m.get("MessageId") not in seen]
                if not fresh:
                    break
                for message in fresh:
                    seen[message["MessageId"]] = classify(message)
                self._progress("peek", len(seen), None)
        finally:
            self._release(dlq_url, handles)
        report.letters = list(seen.values())
        report.left = [letter for letter in report.letters if not letter.replayable]
        report.seconds = self._clock() - started
        return report

    # ---- replay

    def replay(
        self,
        dlq_url: str,
        destination_url: str,
        *,
        method: str = "auto",
        max_per_second: float | None = None,
        limit: int | None = None,
        poll_interval: float = 5.0,
        follow: bool = True,
        cancel_on_stop: bool = True,
    ) -> ReplayReport:
        """Move the dead letters back. ``method``: ``auto`` (native, else one by one),
        ``native`` or ``one_by_one``. ``limit`` applies to one-by-one moves only. A native task is
        followed until it ends (``follow``); stopping cancels it (``cancel_on_stop``) or leaves it
        running.
        """
        if method not in ("auto", METHOD_NATIVE, METHOD_ONE_BY_ONE):
            raise ValueError(f"unknown replay method {method!r}")
        started = self._clock()
        fallback = None
        if method != METHOD_ONE_BY_ONE and limit is None:
            source_arn, destination_arn = self.queue_arn(dlq_url), self.queue_arn(destination_url)
            report, fallback = self._native(dlq_url, destination_url, source_arn, destination_arn,
                                            max_per_second, poll_interval, follow, cancel_on_stop)
            if report is not None:
                report.seconds = self._clock() - started
                return report
            if method == METHOD_NATIVE:
                raise NativeRedriveUnavailable(fallback or "native redrive is unavailable")
        elif method == METHOD_NATIVE:
            raise ValueError("a limit applies to one-by-one replays only")
        else:
            self.queue_arn(destination_url)  # fail early on a wrong destination
        report = self._one_by_one(dlq_url, destination_url, max_per_second, limit)
        report.fallback_reason = fallback
        report.seconds = self._clock() - started
        return report

    def queue_arn(self, queue_url: str) -> str:
        return self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # ---- native: StartMessageMoveTask

    def latest_task(self, source_arn: str) -> dict[str, Any] | None:
        """The most recent message move task of a dead-letter queue (None: none, or the API is missing)."""
        try:
            results = self._tasks.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        except aws_errors():
            return None
        return _task_view(results[0]) if results else None

    def _native(self, dlq_url, destination_url, source_arn, destination_arn, max_per_second, poll_interval,
                follow, cancel_on_stop) -> tuple[ReplayReport | None, str | None]:
        report = ReplayReport(METHOD_NATIVE, dlq_url, destination_url)
        try:
            running = self._running_task(source_arn)
        except aws_errors() as error:
            return None, f"ListMessageMoveTasks unavailable ({aws_error_code(error)})"
        asked = time.time()
        if running is not None:
            handle, asked = running["TaskHandle"], (running.get("StartedTimestamp") or 0) / 1000
            report.attached = True  # a task was already running on this queue: followed it
        else:
            request: dict[str, Any] = {"SourceArn": source_arn, "DestinationArn": destination_arn}
            if max_per_second:
                request["MaxNumberOfMessagesPerSecond"] = int(max_per_second)
            try:
                handle = self._tasks.start_message_move_task(**request)["TaskHandle"]
            except aws_errors() as error:
                # A failed start may still have started a task (a 5xx after the fact): look once.
                try:
                    running = self._running_task(source_arn, not_before=asked)
                except aws_errors():
                    running = None
                if running is None:
                    return None, f"StartMessageMoveTask refused ({aws_error_code(error)}{_aws_message(error)})"
                handle = running["TaskHandle"]
        report.task = {"handle": handle, "status": "RUNNING"}
        self._follow(report, source_arn, handle, asked, poll_interval, follow, cancel_on_stop)
        return report, None

    def _running_task(self, source_arn: str, not_before: float = 0.0) -> dict[str, Any] | None:
        results = self._tasks.list_message_move_tasks(SourceArn=source_arn, MaxResults=10).get("Results", [])
        for task in results:
            started_ms = task.get("StartedTimestamp") or 0
            if task.get("Status") == "RUNNING" and task.get("TaskHandle") and started_ms / 1000 >= not_before - 60:
                return task
        return None

    def _follow(self, report: ReplayReport, source_arn: str, handle: str, asked: float, poll_interval: float,
                follow: bool, cancel_on_stop: bool) -> None:
        """Poll ListMessageMoveTasks until the task ends. ``follow=False``: one look, then leave it
        running. When ``should_stop()``: cancel it (``cancel_on_stop``), or leave it running."""
        started_ms: int | None = None
        cancelled = False
        failures = 0
        while True:
            try:
                results = self._tasks.list_message_move_tasks(SourceArn=source_arn, MaxResults=10).get("Results", [])
                failures = 0
            except aws_errors() as error:
                failures += 1
                if failures >= 5:
                    report.errors.append({"error": f"could not follow the move task: {aws_error_code(error)}"})
                    return
                results = None
            if results is not None:
                task = _find_task(results, handle, started_ms, asked)
                if task is not None:
                    started_ms = task.get("StartedTimestamp") or started_ms
                    report.task = {"handle": handle, **_task_view(task)}
                    report.moved = report.task["moved"]
                    self._progress("native", report.task["moved"], report.task["to_move"])
                    status = report.task["status"]
                    if status == "CANCELLED":
                        report.stopped = STOPPED_INTERRUPTED
                    if status == "FAILED":
                        report.errors.append({"error": f"the move task failed: {report.task.get('failure')}"})
                    if status in _TERMINAL_TASK_STATES:
                        return
            if not follow:
                return  # it goes on without us: `status` shows its progress
            if self._should_stop() and not cancelled:
                if not cancel_on_stop:
                    report.stopped = STOPPED_DEADLINE  # it goes on without us
                    return
                try:
                    self._tasks.cancel_message_move_task(TaskHandle=handle)
                except aws_errors() as error:
                    report.errors.append({"error": f"could not cancel the move task: {aws_error_code(error)}"})
                    return
                cancelled = True
                continue
            self._sleep(poll_interval)

    # ---- one by one: receive -> send -> delete

    def _one_by_one(self, dlq_url: str, destination_url: str, max_per_second: float | None,
                    limit: int | None) -> ReplayReport:
        report = ReplayReport(METHOD_ONE_BY_ONE, dlq_url, destination_url)
        pacer = Pacer(max_per_second, clock=self._clock, sleep=self._sleep)
        left: dict[str, DeadLetter] = {}
        held: list[str] = []  # receipt handles of messages that stay (made visible again at the end)
        pending: list[str] = []  # received, not yet handled (made visible again if the run ends early)
        sent: DeadLetter | None = None  # sent, its delete not yet done
        try:
            while report.stopped is None and not report.errors:
                if limit is not None and report.moved >= limit:
                    report.stopped = STOPPED_LIMIT
                    break
                if self._should_stop():
                    report.stopped = STOPPED_INTERRUPTED
                    break
                want = 10 if limit is None else max(1, min(10, limit - report.moved))
                messages = self._receive(dlq_url, want)
                if not messages or all(m.get("MessageId") in left for m in messages):
                    held += [m["ReceiptHandle"] for m in messages]
                    break  # empty, or only what stays
                pending = [m["ReceiptHandle"] for m in messages]
                for message in messages:
                    letter = classify(message)
                    if not letter.replayable:
                        left[letter.message_id] = letter
                        held.append(pending.pop(0))
                        continue
                    if limit is not None and report.moved >= limit:
                        report.stopped = STOPPED_LIMIT
                        break  # the rest of the batch is released below
                    if self._should_stop():
                        report.stopped = STOPPED_INTERRUPTED
                        break
                    pacer.wait()
                    if not self._send(destination_url, letter, report):
                        break  # the message stays; the error is reported
                    sent = letter
                    delete_error = self._try_delete(dlq_url, letter)
                    sent = None
                    pending.pop(0)
                    report.moved += 1
                    if delete_error:
                        report.errors.append({"message_id": letter.message_id, "error": (
                            f"sent but not deleted ({delete_error}): it reappears after the visibility timeout "
                            "and the next replay sends it again (the worker absorbs the duplicate)")})
                        break
                    self._progress("one_by_one", report.moved, None)
        finally:
            if sent is not None:
                # Something other than an AWS error came between a send and its delete (Ctrl-C twice,
                # a bug): delete now, or the next run would send this message a second time.
                pending.pop(0)
                # If this fails too, it reappears after the visibility timeout and is sent again.
                with contextlib.suppress(*aws_errors()):
                    self._delete(dlq_url, sent)
            self._release(dlq_url, held + pending)
        report.left = list(left.values())
        return report

    def _send(self, destination_url: str, letter: DeadLetter, report: ReplayReport) -> bool:
        try:
            self._sqs.send_message(
                QueueUrl=destination_url,
                MessageBody=letter.event_body,
                MessageAttributes={
                    REPLAY_OF: {"DataType": "String", "StringValue": letter.message_id},
                    REPLAYED_AT: {"DataType": "String",
                                  "StringValue": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                },
            )
        except aws_errors() as error:
            report.errors.append({"message_id": letter.message_id,
                                  "error": f"send failed, the message stays: {aws_error_code(error)}"})
            return False
        return True

    def _delete(self, dlq_url: str, letter: DeadLetter) -> None:
        self._sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)

    def _try_delete(self, dlq_url: str, letter: DeadLetter) -> str | None:
        """Delete a sent message; the AWS error code if that failed (after botocore's retries)."""
        try:
            self._delete(dlq_url, letter)
        except aws_errors() as error:
            return aws_error_code(error)
        return None

    # ---- SQS plumbing

    def _receive(self, queue_url: str, count: int) -> list[dict[str, Any]]:
        return self._sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=self._visibility,
            WaitTimeSeconds=self._wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _release(self, queue_url: str, handles: Iterable[str]) -> None:
        """Make received messages visible again at once (best effort: else after the timeout)."""
        handles = list(dict.fromkeys(handles))
        for start in range(0, len(handles), 10):
            entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                       for i, h in enumerate(handles[start:start + 10])]
            try:
                self._sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
            except aws_errors():
                return


class NativeRedriveUnavailable(RuntimeError):
    """``method="native"`` was asked for, and SQS's redrive cannot be used for this queue here."""


# --------------------------------------------------------------------------- helpers


def _find_task(results: list[dict[str, Any]], handle: str, started_ms: int | None,
               not_before: float) -> dict[str, Any] | None:
    """Our task among the most recent ones. SQS returns ``TaskHandle`` only while a task runs;
    after that it is recognised by its start time (or, if it ended before it was ever seen
    running, as the latest task started after we asked for it)."""
    for task in results:
        if task.get("TaskHandle") == handle:
            return task
    if started_ms is not None:
        return next((task for task in results if task.get("StartedTimestamp") == started_ms), None)
    if results and (results[0].get("StartedTimestamp") or 0) / 1000 >= not_before - 60:
        return results[0]
    return None


def _aws_message(error: BaseException) -> str:
    """``": <AWS's message>"`` of a ClientError, short; empty when there is none worth showing."""
    response = getattr(error, "response", None)
    message = str(((response or {}).get("Error") or {}).get("Message") or "") if isinstance(response, Mapping) else ""
    if not message or message.lstrip().startswith("<"):  # an HTML error page, e.g. from a local stand-in
        return ""
    return ": " + _clip(message, 160)


def _task_view(task: Mapping[str, Any]) -> dict[str, Any]:
    started = task.get("StartedTimestamp")
    return {
        "status": task.get("Status"),
        "moved": int(task.get("ApproximateNumberOfMessagesMoved") or 0),
        "to_move": task.get("ApproximateNumberOfMessagesToMove"),
        "max_per_second": task.get("MaxNumberOfMessagesPerSecond"),
        "failure": task.get("FailureReason"),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started / 1000)) if started else None,
    }


def _string_attributes(attributes: Any) -> dict[str, str]:
    if not isinstance(attributes, Mapping):
        return {}
    return {name: str(value.get("StringValue", "")) for name, value in attributes.items()
            if isinstance(value, Mapping) and "StringValue" in value}


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _clip(text: str, limit: int = _MAX_REASON) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
