"""CPU per record of the real handler with the network stubbed out (run by bench.measure_cpu).

In a fresh process whose stdout is discarded (the handler's log lines and metrics are still
formatted and written, as on Lambda): the worker's ``lambda_handler`` from
functions/enable_token_exchange/app.py, decorators included, over SQS batches of "API created"
events. Its runtime is wired by hand from the library's own classes with in-memory fakes for
Auth0 and Secrets Manager (bench/fakes.py), as bootstrap.build_runtime wires the real ones.
The baseline is the same loop over the same batches with a handler that only parses each body.

Usage: ``python -m bench.cpu_probe RECORDS RESULT_PATH``.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import sys
import time
import types
import uuid
from pathlib import Path
from typing import Any

from bench.common import FUNCTION_DIR, ROOT

BATCH = 10
WARMUP_BATCHES = 3


class Context:
    """What Lambda passes as ``context`` (Powertools' inject_lambda_context reads these)."""

    function_name = "enable-token-exchange"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:enable-token-exchange"
    log_group_name = "/aws/lambda/enable-token-exchange"
    log_stream_name = "bench"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def batches(records: int) -> list[dict]:
    """SQS batches of distinct "API created" events, built from the sample in events/."""
    template = json.loads((ROOT / "events" / "api-created.eventbridge.json").read_text())
    sqs = json.loads((ROOT / "events" / "api-created.sqs.json").read_text())["Records"][0]
    out, batch = [], []
    for i in range(records):
        event = copy.deepcopy(template)
        event["id"] = str(uuid.uuid4())
        event["detail"]["log_id"] = f"9002025031209451784210745638902156374821903654718{i:07d}"
        body = event["detail"]["data"]["details"]["response"]["body"]
        body["id"] = f"{i:024x}"
        body["identifier"] = f"https://api-{i}.example.com"
        record = {**copy.deepcopy(sqs), "messageId": str(uuid.uuid4()), "body": json.dumps(event)}
        batch.append(record)
        if len(batch) == BATCH:
            out.append({"Records": batch})
            batch = []
    if batch:
        out.append({"Records": batch})
    return out


def trivial_handler(event: dict, context: object) -> dict:
    for record in event["Records"]:
        json.loads(record["body"])
    return {"batchItemFailures": []}


def wire_product_handler():
    """The real handler module, its runtime built from the library's classes with fakes."""
    sys.path[:0] = [str(FUNCTION_DIR), str(ROOT / "layers" / "token_exchange" / "python")]
    # The worker's handler module, imported by its name on sys.path as Lambda does (all three
    # handlers are named app); a module object whose warm runtime is set below.
    app: Any = importlib.import_module("app")
    from token_exchange_enabler.auth0 import CallStats, ClientCredentials, ManagementApi, TokenEndpoint
    from token_exchange_enabler.config import Config
    from token_exchange_enabler.enabling import Enabler
    from token_exchange_enabler.token_cache import TokenProvider
    from token_exchange_enabler.worker import Worker

    from bench.fakes import FakeAuth0Session, FakeSecretsManager

    config = Config.from_env({"AUTH0_DOMAIN": "acme.eu.auth0.com", "AUTH0_CREDENTIALS_SECRET_ID": "auth0/m2m",
                              "TOKEN_CACHE_SECRET_ID": "auth0/token-cache"})
    session, secrets = FakeAuth0Session(), FakeSecretsManager()
    stats = CallStats()
    endpoint = TokenEndpoint(base_url=config.base_url, audience=config.audience, session=session, stats=stats,
                             credentials=lambda: ClientCredentials("bench-client", "bench-secret-value-0123456789"))
    tokens = TokenProvider(fetch=endpoint.fetch, cache_secret_id=config.token_cache_secret_id, secrets_client=secrets)
    api = ManagementApi(base_url=config.base_url, tokens=tokens, session=session, stats=stats)
    worker = Worker(enabler=Enabler(api, config), dead_letters=None, stats=stats,
                    deadline_setter=lambda deadline: setattr(api, "deadline", deadline), metrics=app.metrics)
    app._runtime = types.SimpleNamespace(worker=worker)  # what app._get_runtime() hands out when warm
    return app.lambda_handler, session


def timed(handler, events: list[dict]) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, failed records) of ``handler`` over ``events``."""
    failed = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for event in events:
        failed += len(handler(event, Context())["batchItemFailures"])
    return time.process_time() - cpu, time.perf_counter() - wall, failed


def main() -> None:
    records, result_path = int(sys.argv[1]), Path(sys.argv[2])
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "token-exchange-enabler")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "TokenExchangeEnabler")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    events = batches(records)
    warmup = batches(WARMUP_BATCHES * BATCH)
    handler, session = wire_product_handler()
    timed(handler, warmup)  # the first invocations import lazily (BatchProcessor, ...): not per-record cost
    calls_before = dict(session.calls)
    product_cpu, product_wall, failed = timed(handler, events)
    timed(trivial_handler, warmup)
    base_cpu, base_wall, _ = timed(trivial_handler, events)
    calls = {k: v - calls_before.get(k, 0) for k, v in session.calls.items()}
    result = {
        "records": records, "batch_size": BATCH,
        "product_cpu_us_per_record": round(product_cpu / records * 1e6, 1),
        "product_wall_us_per_record": round(product_wall / records * 1e6, 1),
        "baseline_cpu_us_per_record": round(base_cpu / records * 1e6, 1),
        "baseline_wall_us_per_record": round(base_wall / records * 1e6, 1),
        "overhead_cpu_us_per_record": round((product_cpu - base_cpu) / records * 1e6, 1),
        "failed_records": failed,
        "fake_auth0_calls": calls,
    }
    result_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
