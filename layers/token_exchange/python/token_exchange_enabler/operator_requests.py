"""What the replay Lambda function does with the payload an operator invokes it with.

One dispatcher over the operations modules (``replay``, ``status``, ``enable_by_id``), so that
none of them needs another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .config import status_settings
from .enable_by_id import enable_apis
from .replay import METHOD_ONE_BY_ONE, Replayer, queues_from_env
from .status import collect_status

__all__ = ["OPERATOR_ACTIONS", "run_operator_request"]

OPERATOR_ACTIONS: dict[str, frozenset[str]] = {
    "peek": frozenset({"action", "dlq", "limit"}),
    "redrive": frozenset({"action", "dlq", "max_per_second", "one_by_one", "limit"}),
    "enable": frozenset({"action", "ids", "dry_run"}),
    "status": frozenset({"action"}),
}
_MAX_IDS = 100


def run_operator_request(
    request: Any,
    *,
    environ: Mapping[str, str],
    sqs: Any,
    tasks: Any = None,
    secrets: Any = None,
    runtime: Callable[[bool], Any] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """What the replay Lambda function does with the payload an operator invokes it with::

        {"action": "peek", "dlq": "worker" | "delivery", "limit": 50}
        {"action": "redrive", "dlq": "worker" | "delivery", "max_per_second": 10, "one_by_one": false, "limit": N}
        {"action": "enable", "ids": ["<api id or identifier>", ...], "dry_run": false}
        {"action": "status"}

    ``runtime(dry_run)`` builds the Auth0 side (only ``enable`` needs it). A started SQS redrive
    is followed until ``should_stop()`` (the deadline), then left running; ``status`` shows it.
    Raises ValueError with a clear message for a payload that is not one of these.
    """
    if not isinstance(request, Mapping) or request.get("action") not in OPERATOR_ACTIONS:
        raise ValueError(f"the payload must be a JSON object with action one of {', '.join(OPERATOR_ACTIONS)}, "
                         'e.g. {"action": "peek"}')
    action = request["action"]
    unknown = sorted(set(request) - OPERATOR_ACTIONS[action])
    if unknown:
        raise ValueError(f"unknown field(s) for action {action}: {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(OPERATOR_ACTIONS[action]))}")
    queues = queues_from_env(environ)

    if action == "enable":
        ids = request.get("ids")
        if not isinstance(ids, list) or not ids or len(ids) > _MAX_IDS or \
                not all(isinstance(i, str) and i.strip() for i in ids):
            raise ValueError(f"ids must be a list of 1 to {_MAX_IDS} API ids or identifiers")
        if runtime is None:
            raise ValueError("enable is not available here")
        dry_run = _flag(request, "dry_run")
        results = enable_apis(runtime(dry_run).enabler, ids, should_stop=should_stop)
        return {"action": "enable", "dry_run": dry_run, "results": [result.as_dict() for result in results],
                "not_tried": ids[len(results):]}

    if action == "status":
        settings = status_settings(environ)
        return {"action": "status", **collect_status(sqs=sqs, secrets=secrets, queues=queues, tasks=tasks,
                                                     token_cache_secret_id=environ.get("TOKEN_CACHE_SECRET_ID"),
                                                     settings=settings)}

    which = request.get("dlq", "worker")
    if which not in ("worker", "delivery"):
        raise ValueError('dlq must be "worker" (the worker\'s dead-letter queue) or "delivery" (EventBridge\'s)')
    dlq = queues["delivery_dead_letter" if which == "delivery" else "dead_letter"]
    if not dlq:
        raise ValueError(f"the {which} dead-letter queue is not configured in this function's environment")
    limit = _positive(request, "limit", int)
    replayer = Replayer(sqs, tasks=tasks, should_stop=should_stop)
    if action == "peek":
        return {"action": "peek", **replayer.peek(dlq, limit=limit or 50).as_dict()}
    if not queues["source"]:
        raise ValueError("SOURCE_QUEUE_URL is not configured in this function's environment")
    method = METHOD_ONE_BY_ONE if _flag(request, "one_by_one") else "auto"
    report = replayer.replay(dlq, queues["source"], method=method, limit=limit, cancel_on_stop=False,
                             max_per_second=_positive(request, "max_per_second", float))
    return {"action": "redrive", **report.as_dict()}


def _flag(request: Mapping[str, Any], name: str) -> bool:
    value = request.get(name, False)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def _positive(request: Mapping[str, Any], name: str, kind: type) -> Any:
    value = request.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{name} must be a positive number")
    return kind(value)
