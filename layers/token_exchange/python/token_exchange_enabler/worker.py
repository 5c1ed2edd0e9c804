"""The event path: Lambda event -> facts -> the decision core -> outcome (metric, log line, batch result).

Every record ends one of four ways:
- enabled / already enabled / skipped for a stated reason: the record succeeds;
- a permanent failure (malformed input, a configuration error, a request Auth0 will always
  reject): the record is sent to the dead-letter queue at once, with its reason as message
  attributes, and succeeds — retrying it would only burn the tenant's rate limit;
- a transient failure (429 that does not fit in the time left, 5xx, network, an expired
  token twice, credentials Secrets Manager did not take, an event EventBridge did not take), or
  another holder of the API's lock (another instance, the sweep, an operator's ``enable``): the
  record is reported in ``batchItemFailures``; SQS delivers it again after the visibility timeout
  and moves it to the dead-letter queue after ``maxReceiveCount``;
- if the dead-letter queue cannot be reached, a permanent failure is treated as transient,
  so nothing is ever lost.

Duplicates (at-least-once delivery, replays, two instances at once) never make a second Custom
API client: every write happens under the API's lock, built from a read made under it
(:mod:`~token_exchange_enabler.enabling`), so a duplicate finds the API enabled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from .auth0 import Auth0Error, CallStats, Deadline
from .decision import ApiRef, Outcome, Status
from .enabling import Enabler
from .errors import LockBusy, PermanentFailure, TryAgain, permanent_from
from .events import (
    ApiCreated,
    Ignored,
    MalformedEvent,
    is_eventbridge_event,
    is_sqs_event,
    parse_eventbridge_event,
    parse_sqs_record,
)

logger = Logger(child=True)

_OUTCOME_METRICS = {
    Status.ENABLED: "EnabledApis",
    Status.ALREADY_ENABLED: "AlreadyEnabled",
    Status.SKIPPED: "SkippedApis",
    Status.DRY_RUN: "DryRunApis",
}
_MAX_ATTRIBUTE = 1000


class RecordFailed(Exception):
    """A record that must go back to SQS to be tried again (or reach the DLQ by redrive)."""


class DeadLetters:
    """Sends a permanently failed message to the dead-letter queue, reason attached.

    The body is the original message body, unchanged, so ``replay`` can put it back on the
    source queue as it was; the reason travels in message attributes (``ERROR_KIND``,
    ``ERROR_REASON``, ``LOG_ID``, ``API_ID``, ``FAILED_AT``).
    """

    def __init__(self, queue_url: str, sqs_client: Any = None):
        self.queue_url = queue_url
        self._sqs = sqs_client

    def send(self, body: str, *, kind: str, reason: str, log_id: str | None, api_id: str | None) -> None:
        if self._sqs is None:
            import boto3

            self._sqs = boto3.client("sqs")
        attributes = {
            "ERROR_KIND": kind,
            "ERROR_REASON": reason[:_MAX_ATTRIBUTE],
            "FAILED_AT": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if log_id:
            attributes["LOG_ID"] = log_id[:_MAX_ATTRIBUTE]
        if api_id:
            attributes["API_ID"] = api_id[:_MAX_ATTRIBUTE]
        self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body or "(empty body)",
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )


@dataclass
class Instruments:
    """Where outcomes are reported: a Powertools Metrics object (or anything with add_metric)."""

    metrics: Any = None

    def count(self, name: str, value: float = 1) -> None:
        if self.metrics is not None and value:
            self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


class Worker:
    """Turns one Lambda invocation into outcomes. Adapters (Auth0, SQS, DynamoDB) come from outside."""

    def __init__(
        self,
        *,
        enabler: Enabler,
        dead_letters: DeadLetters | None,
        stats: CallStats,
        deadline_setter: Callable[[Deadline], None] = lambda deadline: None,
        metrics: Any = None,
    ):
        self._enabler = enabler
        self._dead_letters = dead_letters
        self._stats = stats
        self._set_deadline = deadline_setter
        self._instruments = Instruments(metrics)

    # ---- entry point

    def handle(self, event: Any, context: Any) -> dict:
        self._set_deadline(Deadline.from_context(context))
        rate_limited_before, paced_before = self._stats.rate_limited, self._stats.paced
        try:
            if isinstance(event, Mapping) and is_sqs_event(event):
                return self._handle_sqs(event, context)
            if isinstance(event, Mapping) and is_eventbridge_event(event):
                return self._handle_direct(event, context)
            raise ValueError(
                "unsupported event: expected an SQS batch of EventBridge events or an EventBridge 'Auth0 log' event"
            )
        finally:
            self._instruments.count("RateLimited", self._stats.rate_limited - rate_limited_before)
            self._instruments.count("PacedCalls", self._stats.paced - paced_before)

    def _handle_sqs(self, event: Mapping, context: Any) -> dict:
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        # An all-failed batch returns every id in batchItemFailures rather than raising: the
        # records go back to SQS all the same, and the invocation is not counted as an error.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return dict(process_partial_response(
            event=dict(event), record_handler=lambda record: self._sqs_record(record, context),
            processor=processor, context=context,
        ))

    def _handle_direct(self, event: Mapping, context: Any) -> dict:
        """A single EventBridge event delivered to the function (asynchronous invoke).

        A transient failure raises, so Lambda's asynchronous retries and on-failure destination
        take over; the result of a handled event is returned for synchronous callers.
        """
        return self._parse_and_process(parse_eventbridge_event, event, lambda: json.dumps(event), context)

    def _sqs_record(self, record: Any, context: Any) -> dict:
        raw = record.raw_event if hasattr(record, "raw_event") else record
        return self._parse_and_process(parse_sqs_record, raw, lambda: raw.get("body") or "", context)

    def _parse_and_process(self, parse: Callable[[Any], ApiCreated | Ignored], raw: Any,
                           body: Callable[[], str], context: Any) -> dict:
        """Parse once (the parser also yields the correlation id); ``body`` is only built for the DLQ."""
        try:
            fact = parse(raw)
        except MalformedEvent as error:
            logger.set_correlation_id(error.log_id)
            self._permanent(body(), "malformed", f"malformed event: {error.reason}", error.log_id, None)
            return {"status": "dead_lettered", "reason": error.reason, "log_id": error.log_id}
        logger.set_correlation_id(fact.log_id)
        return self._process(fact, body, context)

    # ---- one fact

    def _process(self, fact: ApiCreated | Ignored, body: Callable[[], str], context: Any) -> dict:
        if isinstance(fact, Ignored):
            logger.info("event ignored", extra={"reason": fact.reason, "log_id": fact.log_id})
            self._instruments.count("IgnoredEvents")
            result = {"status": "ignored", "reason": fact.reason, "log_id": fact.log_id}
            return result
        ref = ApiRef(api_id=fact.api_id, identifier=fact.identifier, name=fact.name, is_system=fact.is_system,
                     created_by=fact.created_by)
        started = time.monotonic()
        try:
            outcome = self._enabler.enable(ref, time_left=_time_left(context))
        except PermanentFailure as failure:
            self._permanent(body(), failure.kind, failure.reason, fact.log_id, fact.api_id)
            return {"status": "dead_lettered", "reason": failure.reason, "api_id": fact.api_id}
        except (TryAgain, Auth0Error) as error:
            if isinstance(error, Auth0Error) and not error.retryable:  # not expected from the core: be safe
                refused = permanent_from(error)
                self._permanent(body(), refused.kind, refused.reason, fact.log_id, fact.api_id)
                return {"status": "dead_lettered", "reason": refused.reason, "api_id": fact.api_id}
            self._instruments.count("FailedRecords")
            if isinstance(error, LockBusy):
                self._instruments.count("LockBusy")
            logger.warning(
                "not done now; the record returns to the queue",
                extra={"api_id": fact.api_id, "error": str(error), "retry_after": getattr(error, "retry_after", None),
                       "kind": type(error).__name__},
            )
            raise RecordFailed(str(error)) from None
        except Exception:
            self._instruments.count("FailedRecords")
            logger.exception("unexpected failure; the record returns to the queue", extra={"api_id": fact.api_id})
            raise
        return self._report(outcome, fact.log_id, started)

    def _report(self, outcome: Outcome, log_id: str, started: float) -> dict:
        result = {**outcome.as_dict(), "log_id": log_id, "ms": round((time.monotonic() - started) * 1000, 1)}
        self._instruments.count(_OUTCOME_METRICS.get(outcome.status, "SkippedApis"))
        logger.info(
            f"API {outcome.status}",
            extra={k: result.get(k) for k in ("status", "api_id", "identifier", "client_id", "action", "reason",
                                               "credentials", "secret_arn", "notified")},
        )
        return result

    def _permanent(self, body: str, kind: str, reason: str, log_id: str | None, api_id: str | None) -> None:
        self._instruments.count("FailedRecords")
        if self._dead_letters is None:
            logger.error("permanent failure and no DEAD_LETTER_QUEUE_URL: the record returns to the queue",
                         extra={"kind": kind, "reason": reason, "api_id": api_id})
            raise RecordFailed(reason)
        try:
            self._dead_letters.send(body, kind=kind, reason=reason, log_id=log_id, api_id=api_id)
        except Exception as error:  # noqa: BLE001 - any failure to dead-letter means: keep the record
            logger.error("could not send to the dead-letter queue: the record returns to the queue",
                         extra={"kind": kind, "reason": reason, "error": type(error).__name__})
            raise RecordFailed(reason) from None
        self._instruments.count("DeadLettered")
        logger.error("permanent failure: sent to the dead-letter queue",
                     extra={"kind": kind, "reason": reason, "api_id": api_id, "log_id": log_id})


def _time_left(context: Any) -> float | None:
    """Seconds until the function's timeout (the lock's lease ends there); None outside Lambda."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if getter is None:
        return None
    try:
        return float(getter()) / 1000.0
    except (TypeError, ValueError):
        return None
