"""Worker: an SQS batch of "API created" events (or one EventBridge event) -> token exchange enabled.

Thin on purpose: the logic lives in the layer's ``token_exchange_enabler`` library.
"""

from aws_lambda_powertools import Logger, Metrics
from token_exchange_enabler.bootstrap import Runtime, build_runtime
from token_exchange_enabler.config import Config, ConfigError

logger = Logger()
metrics = Metrics()
_runtime: Runtime | None = None


def _get_runtime() -> Runtime:
    """Built on the first invocation and kept while the instance is warm (token cache included).

    A bad configuration raises ConfigError naming each variable; nothing is processed, so the
    batch returns to the queue untouched.
    """
    global _runtime
    if _runtime is None:
        try:
            config = Config.from_env()
        except ConfigError as error:
            logger.error(str(error), extra={"problems": error.problems})
            raise
        _runtime = build_runtime(config, metrics=metrics)
    return _runtime


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event, context):
    return _get_runtime().worker.handle(event, context)
