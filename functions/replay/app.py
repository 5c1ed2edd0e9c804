"""Operator function: replay dead letters (or peek at them), enable APIs by id, report status.

Invoked by hand, synchronously, e.g.::

    aws lambda invoke --function-name <ReplayFunctionName> --cli-binary-format raw-in-base64-out \\
        --cli-read-timeout 0 --payload '{"action": "redrive", "max_per_second": 10}' /dev/stdout

Payloads: ``{"action": "peek"}``, ``{"action": "redrive", ...}``, ``{"action": "enable", "ids": [...]}``,
``{"action": "status"}`` (see ``token_exchange_enabler.operator_requests``). Thin on
purpose: the logic lives in the layer's ``token_exchange_enabler`` library, shared with the CLI.
"""

import dataclasses
import os

from aws_lambda_powertools import Logger
from token_exchange_enabler.bootstrap import Runtime, build_runtime
from token_exchange_enabler.config import Config
from token_exchange_enabler.operator_requests import run_operator_request

logger = Logger()
_STOP_BEFORE_DEADLINE_MS = 15_000
_clients: dict = {}
_runtimes: dict[bool, Runtime] = {}


def _client(name: str, **kwargs):
    """boto3 clients, made once per warm instance ("sqs-tasks": no retries, for the move-task calls)."""
    if name not in _clients:
        import boto3
        from botocore.config import Config as BotoConfig

        if name == "sqs-tasks":
            no_retries = BotoConfig(retries={"mode": "standard", "total_max_attempts": 2})
            _clients[name] = boto3.client("sqs", config=no_retries)
        else:
            _clients[name] = boto3.client(name)
    return _clients[name]


def _runtime(dry_run: bool) -> Runtime:
    """The Auth0 side, built on the first ``enable`` (a bad configuration raises ConfigError)."""
    if dry_run not in _runtimes:
        config = Config.from_env()
        _runtimes[dry_run] = build_runtime(dataclasses.replace(config, dry_run=dry_run or config.dry_run))
    return _runtimes[dry_run]


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    result = run_operator_request(
        event, environ=os.environ, sqs=_client("sqs"), tasks=_client("sqs-tasks"),
        secrets=_client("secretsmanager"), runtime=_runtime,
        should_stop=lambda: context.get_remaining_time_in_millis() < _STOP_BEFORE_DEADLINE_MS,
    )
    logger.info("operator request done", extra={
        "action": result.get("action"),
        "summary": {k: result.get(k) for k in ("moved", "stopped", "method", "fallback_reason", "replayable")
                    if k in result},
    })
    return result
