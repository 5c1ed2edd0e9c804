"""One look at the system: queue depths, the oldest dead letter and why it failed, the cached
Management API token's expiry and scope, the configured mode, and where the stack's CloudWatch
dashboard is (when known).

Nothing is consumed or changed: dead letters are sampled with ``VisibilityTimeout=0`` (they stay
visible to everyone; their ``ApproximateReceiveCount`` grows by one), and the token cache is read
for its ``expires_at``, ``fetched_at`` and ``scope`` only — the token itself is never copied
into the result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from .aws_errors import aws_error_code, aws_errors
from .replay import DeadLetter, Replayer, classify

__all__ = ["collect_status", "describe_token_cache", "human_duration", "oldest_dead_letter", "queue_depth"]

QUEUE_LABELS = {
    "source": "source queue",
    "dead_letter": "dead-letter queue",
    "delivery_dead_letter": "delivery dead-letter queue",
}
_DEPTH_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]
_SAMPLE = 10


def collect_status(
    *,
    sqs: Any,
    secrets: Any,
    queues: Mapping[str, str | None],
    token_cache_secret_id: str | None,
    settings: Mapping[str, Any],
    tasks: Any = None,
    dashboard_url: str | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The status document (the ``--json`` output of ``status``).

    ``queues``: name (``source``, ``dead_letter``, ``delivery_dead_letter``) -> URL or None.
    ``settings``: configuration worth showing (mode, dry run, domain), passed through.
    ``dashboard_url``: the stack's dashboard (output ``DashboardUrl``), passed through; None if unknown.
    """
    now = clock()
    result: dict[str, Any] = {"settings": dict(settings), "queues": {}, "oldest_dead_letter": None,
                              "token_cache": None, "redrive_task": None,  # nosec B105  # a key, not a password
                              "dashboard_url": dashboard_url or None}
    oldest: tuple[DeadLetter, str] | None = None
    for name, url in queues.items():
        if not url:
            continue
        depth = queue_depth(sqs, url)
        result["queues"][name] = {"url": url, **depth}
        if name != "source" and depth.get("visible"):
            letter = oldest_dead_letter(sqs, url)
            if letter is not None and (oldest is None or (letter.sent_at or now) < (oldest[0].sent_at or now)):
                oldest = (letter, name)
    if oldest is not None:
        letter, name = oldest
        result["oldest_dead_letter"] = {"queue": name, "sampled": _SAMPLE, **letter.as_dict(now),
                                        "age": human_duration(now - letter.sent_at) if letter.sent_at else None}
    dead_letter_url = queues.get("dead_letter")
    if dead_letter_url:
        try:
            replayer = Replayer(sqs, tasks=tasks)
            result["redrive_task"] = replayer.latest_task(replayer.queue_arn(dead_letter_url))
        except aws_errors():
            result["redrive_task"] = None
    if token_cache_secret_id:
        result["token_cache"] = describe_token_cache(secrets, token_cache_secret_id, now)
    return result


def describe_token_cache(secrets: Any, secret_id: str, now: float) -> dict[str, Any]:
    """State, expiry and scope of the cached token; never the token."""
    try:
        response = secrets.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    except aws_errors() as error:
        code = aws_error_code(error)
        if code == "ResourceNotFoundException":
            return {"state": "empty"}
        return {"state": "unreadable", "error": code}
    try:
        document = json.loads(response.get("SecretString") or "{}")
    except ValueError:
        return {"state": "unreadable", "error": "not JSON"}
    if not isinstance(document, dict):
        return {"state": "unreadable", "error": "not a JSON object"}
    if not document:
        return {"state": "empty"}
    if "claim" in document:
        return {"state": "refreshing"}  # the first refresh is in progress
    expires_at = document.get("expires_at")
    if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
        return {"state": "unreadable", "error": "no expires_at"}
    remaining = expires_at - now
    fetched_at = document.get("fetched_at")
    return {
        "state": "valid" if remaining > 0 else "expired",
        "expires_at": _iso(expires_at),
        "expires_in_seconds": round(remaining),
        "expires_in": human_duration(remaining) if remaining > 0 else f"expired {human_duration(-remaining)} ago",
        "fetched_at": _iso(fetched_at) if isinstance(fetched_at, int | float) else None,
        "scope": str(document.get("scope", "")),
        "version_id": response.get("VersionId"),
    }


def human_duration(seconds: float) -> str:
    """``86340`` -> ``"23h 59m"``: the two largest units."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def queue_depth(sqs: Any, url: str) -> dict[str, Any]:
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=_DEPTH_ATTRIBUTES)["Attributes"]
    except aws_errors() as error:
        return {"error": aws_error_code(error)}
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


def oldest_dead_letter(sqs: Any, url: str) -> DeadLetter | None:
    """The oldest of up to ten sampled messages (a standard queue has no order to ask for)."""
    try:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=_SAMPLE, VisibilityTimeout=0, WaitTimeSeconds=1,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
    except aws_errors():
        return None
    letters = [classify(message) for message in messages]
    return min(letters, key=lambda letter: letter.sent_at or float("inf"), default=None)


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
