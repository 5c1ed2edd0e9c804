"""One pipeline run (local/pipeline.py) in a fresh interpreter, with every billable request counted.

Like bench/pipeline_run.py (options as JSON on stdin, the summary as JSON on stdout), plus what a
bill is made of, gathered without touching the pipeline's code:

- every AWS request: the pipeline's local AWS is wrapped so that boto3 everywhere (the deployment,
  the SQS event source stand-in, the worker processes) reaches moto through a counting proxy
  (local/aws_faults.AwsFaultProxy with nothing injected), which records each request by operation
  and resource (queue, secret, table) and whether a ReceiveMessage came back empty; only requests
  sent after the stack is deployed are kept;
- each invocation's wall time, cold start included (``LocalFunction.invoke`` timed), and the
  function's memory size as the local stack read it from template.yaml;
- the bytes the function logs (its CloudWatch log), the EMF metric blobs among them and the
  distinct custom metrics they define (namespace, name, dimension values).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local.aws_faults import AwsFaultProxy

SQS_PREFIX = "AmazonSQS."


class CountingProxy(AwsFaultProxy):
    """The fault proxy, forwarding everything, counting requests by operation and resource."""

    def __init__(self, names: dict[str, str]) -> None:
        super().__init__()
        self.names = names  # resource id (queue URL, secret ARN, table) -> a readable role
        self.requests: Counter = Counter()
        self.counting = False
        self.largest_item = 0  # bytes, of the items DynamoDB writes were sent (see _item_bytes)
        self._count_lock = threading.Lock()

    def forward(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict[str, str], bytes]:
        status, answer, payload = super().forward(method, path, headers, body)
        if self.counting:
            key = self._key(headers.get("X-Amz-Target", ""), body, payload)
            if key:
                with self._count_lock:
                    self.requests[key] += 1
        return status, answer, payload

    def _key(self, target: str, body: bytes, payload: bytes) -> str | None:
        if not target:
            return None
        service, _, operation = target.partition(".")
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        if service.startswith("DynamoDB") and operation in ("PutItem", "UpdateItem"):
            with self._count_lock:
                self.largest_item = max(self.largest_item, _item_bytes(request))
        resource = request.get("QueueUrl") or request.get("SecretId") or request.get("TableName") or ""
        role = self.names.get(resource, resource.rsplit("/", 1)[-1] if resource else "")
        if target.startswith(SQS_PREFIX) and operation == "ReceiveMessage":
            try:
                empty = not json.loads(payload or b"{}").get("Messages")
            except ValueError:
                empty = False
            operation += " (empty)" if empty else ""
        return f"{service}:{operation}:{role}" if role else f"{service}:{operation}"


def main() -> None:
    import local.pipeline as pipeline
    from local.aws import LocalAws, start_local_aws
    from local.lambda_runtime import InvocationError, LocalFunction

    options = json.loads(sys.stdin.read())
    for key in ("function_dir",):
        if options.get(key):
            options[key] = Path(options[key])
    for key in ("faults", "extra_sys_path"):
        if key in options:
            options[key] = tuple(options[key])
    proxy = CountingProxy({})
    largest = [0]

    @contextmanager
    def counted_aws() -> Iterator[LocalAws]:
        moto = start_local_aws()
        proxy.upstream = moto.endpoint_url
        proxy.start()
        aws = LocalAws(endpoint_url=proxy.endpoint_url, server=moto.server)
        saved = {k: os.environ.get(k) for k in aws.env()}
        os.environ.update(aws.env())
        try:
            yield aws
            table = next((k for k, v in proxy.names.items() if v == "lock table"), None)
            if table:  # before moto stops: the size of each item left, for the write units it costs
                largest[0] = _largest_item_bytes(moto.endpoint_url, table)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            proxy.stop()
            moto.stop()

    pipeline.local_aws_environment = counted_aws

    invocations: list[float] = []
    memory: list[int] = []
    original_invoke = LocalFunction.invoke

    def timed_invoke(self: LocalFunction, event: dict) -> dict:
        started = time.perf_counter()
        try:
            return original_invoke(self, event)
        except InvocationError as error:
            if "concurrency limit" in str(error):  # refused before any instance ran: not an invocation
                started = 0.0
            raise
        finally:
            if started:
                invocations.append((time.perf_counter() - started) * 1000)
                memory[:] = [self.memory_mb]

    LocalFunction.invoke = timed_invoke  # type: ignore[method-assign]

    logs = {"lines": 0, "bytes": 0, "emf_lines": 0, "emf_bytes": 0}
    metrics: set[tuple[str, str, str]] = set()
    log_lock = threading.Lock()

    def on_log(instance: str, line: str) -> None:
        size = len(line.encode())
        emf = line.startswith("{") and '"_aws"' in line
        with log_lock:
            logs["lines"] += 1
            logs["bytes"] += size
            if emf:
                logs["emf_lines"] += 1
                logs["emf_bytes"] += size
                metrics.update(_emf_metrics(line))

    def setup(emulator: Any, stack: Any) -> None:
        proxy.names.update({stack.queue_url: "queue", stack.dlq_url: "dead-letter queue",
                            stack.delivery_dlq_url: "delivery dead-letter queue",
                            stack.credentials_secret_arn: "credentials", stack.token_cache_secret_arn: "token cache",
                            stack.idempotency_table: "lock table"})
        proxy.counting = True  # the stack is deployed; the APIs are created next

    label = os.environ.get("BENCH_LABEL", "cost")
    summary = pipeline.run_pipeline(pipeline.PipelineOptions(**options, on_log=on_log, setup=setup),
                                    progress=lambda text: print(f"  {label}: {text}", file=sys.stderr, flush=True))
    summary.pop("apis", None)
    summary["aws_requests"] = dict(sorted(proxy.requests.items()))
    summary["invocation_ms"] = [round(ms, 1) for ms in invocations]
    summary["memory_mb"] = memory[0] if memory else None
    summary["logs"] = logs
    summary["custom_metrics"] = sorted("/".join(m) for m in metrics)
    summary["largest_item_bytes"] = max(largest[0], proxy.largest_item)
    print(json.dumps(summary))


def _item_bytes(request: dict) -> int:
    """The size of the item a PutItem writes; for an UpdateItem, of its key and new values (a lower bound)."""
    if "Item" in request:
        return sum(len(name.encode()) + _value_bytes(value) for name, value in request["Item"].items())
    key = sum(len(name.encode()) + _value_bytes(value) for name, value in request.get("Key", {}).items())
    values = sum(_value_bytes(value) for value in request.get("ExpressionAttributeValues", {}).values())
    names = sum(len(name.encode()) for name in request.get("ExpressionAttributeNames", {}).values())
    return key + values + names


def _largest_item_bytes(endpoint_url: str, table: str) -> int:
    """The largest item of ``table`` by DynamoDB's item-size rules (names + values, in bytes)."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    largest = 0
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            largest = max(largest, sum(len(name.encode()) + _value_bytes(value) for name, value in item.items()))
    return largest


def _value_bytes(value: dict) -> int:
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return (len(data.strip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_bytes(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_bytes(v) + 1 for v in data)
    return sum(len(str(v).encode()) for v in data)  # sets


def _emf_metrics(line: str) -> set[tuple[str, str, str]]:
    """(namespace, metric name, dimension values) of each metric an EMF blob defines."""
    try:
        blob = json.loads(line)
        out = set()
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive.get("Dimensions") or [[]]:
                values = ",".join(f"{d}={blob.get(d)}" for d in dimensions)
                for metric in directive.get("Metrics", []):
                    out.add((directive.get("Namespace", ""), metric["Name"], values))
        return out
    except (ValueError, KeyError, TypeError):
        return set()


if __name__ == "__main__":
    main()
