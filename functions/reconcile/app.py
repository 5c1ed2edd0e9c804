"""Reconciliation sweep, on a schedule (EventBridge Scheduler): enable every API the event path missed.

Also invoked by hand, e.g. for a dry run::

    aws lambda invoke --function-name <ReconcileFunctionName> --cli-binary-format raw-in-base64-out \\
        --cli-read-timeout 0 --payload '{"dry_run": true}' /dev/stdout

Thin on purpose: the logic lives in the layer's ``token_exchange_enabler.reconcile``, shared with
the CLI's ``reconcile`` command. A sweep that nears the function's timeout stops cleanly and
reports it; the next run carries on (it starts from the tenant's state).
"""

import dataclasses

from aws_lambda_powertools import Logger, Metrics
from token_exchange_enabler.auth0 import Deadline
from token_exchange_enabler.bootstrap import Runtime, build_runtime
from token_exchange_enabler.config import Config, ConfigError
from token_exchange_enabler.reconcile import STOPPED_DEADLINE, Reconciler

logger = Logger()
metrics = Metrics()
_STOP_BEFORE_DEADLINE_MS = 30_000
_runtimes: dict[bool, Runtime] = {}


def _runtime(dry_run: bool) -> Runtime:
    if dry_run not in _runtimes:
        try:
            config = Config.from_env()
        except ConfigError as error:
            logger.error(str(error), extra={"problems": error.problems})
            raise
        _runtimes[dry_run] = build_runtime(dataclasses.replace(config, dry_run=dry_run or config.dry_run),
                                           metrics=metrics)
    return _runtimes[dry_run]


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event, context):
    dry_run = isinstance(event, dict) and event.get("dry_run") is True
    runtime = _runtime(dry_run)
    runtime.api.deadline = Deadline.from_context(context)
    report = Reconciler(
        enabler=runtime.enabler, metrics=metrics, stopped_as=STOPPED_DEADLINE,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000.0,
        should_stop=lambda: context.get_remaining_time_in_millis() < _STOP_BEFORE_DEADLINE_MS,
    ).run()
    result = report.as_dict()
    for item in result["items"]:
        if item["status"] != "skipped":
            logger.info("API reconciled", extra={"api": item})
    logger.info("reconciliation sweep done", extra={k: v for k, v in result.items() if k != "items"})
    return result
