"""The AWS end of the event path, shared by ``make demo`` (:mod:`local.pipeline`) and
``python -m local.serve``: a local stack's worker in the Lambda stand-in, fed by its SQS event source.

:func:`worker_function` makes the worker (:class:`~local.lambda_runtime.LocalFunction`) from the
stack's :class:`~local.stack.FunctionSpec`: its code and handler, the template's environment with
the local AWS settings (``aws.env()``) and ``AUTH0_BASE_URL`` added, the ``sys.path`` Lambda would
give it (:func:`~local.layer_view.lambda_sys_path`), its timeout, memory and as many warm instances
as its event source's ``MaximumConcurrency``. :func:`worker_event_source` makes the stand-in for
its SQS event-source mapping (:class:`~local.event_source.SqsEventSource`, not started), with the
template's batch size and batching window. :func:`start_worker` does both and starts polling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from local.aws import LocalAws
from local.event_source import SqsEventSource
from local.lambda_runtime import LocalFunction
from local.layer_view import lambda_sys_path
from local.stack import LocalStack

# Instances of the worker when its event source sets no MaximumConcurrency (the smallest Lambda allows).
DEFAULT_CONCURRENCY = 2


def worker_concurrency(stack: LocalStack, requested: int = 0) -> int:
    """``requested`` instances, or (0) the event source's ``MaximumConcurrency``, or 2."""
    return requested or stack.event_source.maximum_concurrency or DEFAULT_CONCURRENCY


def worker_function(
    stack: LocalStack,
    *,
    aws: LocalAws,
    auth0_base_url: str,
    work_dir: Path,
    environment: Mapping[str, str] | None = None,
    code_dir: Path | None = None,
    handler: str | None = None,
    timeout: float | None = None,
    max_instances: int | None = None,
    extra_sys_path: Iterable[str] = (),
    on_log: Callable[[str, str], None] | None = None,
) -> LocalFunction:
    """The stack's worker as a :class:`LocalFunction` (no instance started yet).

    Its environment is the template's (``stack.function.environment``), then ``aws.env()``, then
    ``AUTH0_BASE_URL`` (the local Auth0), then ``environment``. ``work_dir``: where the views of
    the layer's and the runtime's packages are built (a temporary folder that outlives the
    function). ``code_dir``/``handler``: another handler in the worker's place (default: the
    template's); ``timeout``: default the template's; ``max_instances``: default
    :func:`worker_concurrency`; ``on_log``: called with (instance id, line) for every line printed.
    """
    spec = stack.function
    folder = code_dir or spec.code_dir
    return LocalFunction(
        name=spec.name,
        code_dir=folder,
        handler=handler or spec.handler,
        environment={**spec.environment, **aws.env(), "AUTH0_BASE_URL": auth0_base_url, **(environment or {})},
        sys_path=[*lambda_sys_path(folder, work_dir), *extra_sys_path],
        timeout=timeout or spec.timeout,
        memory_mb=spec.memory_mb,
        max_instances=max_instances or worker_concurrency(stack),
        on_log=on_log,
    )


def worker_event_source(
    stack: LocalStack,
    function: LocalFunction,
    *,
    batching_window: float | None = None,
    maximum_concurrency: int | None = None,
) -> SqsEventSource:
    """The stand-in for the worker's SQS event-source mapping, not started.

    ``batching_window``: at most this many seconds (the template's window when shorter; ``None``:
    the template's); ``maximum_concurrency``: default :func:`worker_concurrency`.
    """
    source = stack.event_source
    window: float = source.batching_window_seconds
    if batching_window is not None:
        window = min(window, batching_window)
    return SqsEventSource(
        queue_url=stack.queue_url,
        invoke=function.invoke,
        batch_size=source.batch_size,
        batching_window=window,
        maximum_concurrency=maximum_concurrency or worker_concurrency(stack),
    )


@dataclass
class Worker:
    """A running worker: the function's warm instances and the mapping that feeds them."""

    function: LocalFunction
    mapping: SqsEventSource

    def stop(self) -> None:
        """Stop polling (the batches in flight finish), then the instances."""
        try:
            self.mapping.stop()
        finally:
            self.function.stop()


def start_worker(
    stack: LocalStack,
    *,
    aws: LocalAws,
    auth0_base_url: str,
    work_dir: Path,
    batching_window: float | None = None,
    environment: Mapping[str, str] | None = None,
    on_log: Callable[[str, str], None] | None = None,
) -> Worker:
    """:func:`worker_function` and :func:`worker_event_source`, polling until :meth:`Worker.stop`."""
    function = worker_function(
        stack, aws=aws, auth0_base_url=auth0_base_url, work_dir=work_dir, environment=environment, on_log=on_log
    )
    mapping = worker_event_source(stack, function, batching_window=batching_window)
    mapping.start()
    return Worker(function=function, mapping=mapping)
