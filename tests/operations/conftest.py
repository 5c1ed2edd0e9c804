"""Fixtures of the operations tests: the stack built from template.yaml in moto's server, the Auth0
emulator, and the operator CLI run in this process (``ops.cli``) or as its console script."""

from __future__ import annotations

import io
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from token_exchange_enabler.config import MODE_ON_BEHALF_OF
from token_exchange_enabler.scopes import required_scopes

from local.auth0_emulator import Auth0Emulator, eventbridge_envelope
from local.stack import LocalStack, deploy_local_stack
from tests.conftest import AUTH0_DOMAIN as DOMAIN
from tests.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET

# The stack is deployed without downstream grants: the M2M client gets the scopes of that set-up.
OBO_SCOPES = list(required_scopes(MODE_ON_BEHALF_OF, with_grants=False))
OBO = "on_behalf_of_token_exchange"
_STRICT_PURGE = "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(base: dict[str, str], *argv: str, **env: str | None) -> CliResult:
    """The operator CLI run in this process with ``base`` as its environment (``env`` overrides it;
    a None value drops the variable)."""
    from token_exchange_enabler.cli import main

    environ = {**base, **{k: v for k, v in env.items() if v is not None}}
    for name in [k for k, v in env.items() if v is None]:
        environ.pop(name, None)
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ=environ, out=out, err=err)
    return CliResult(code, out.getvalue(), err.getvalue())


@dataclass
class Ops:
    stack: LocalStack
    emulator: Auth0Emulator
    env: dict[str, str]

    @property
    def sqs(self):
        return boto3.client("sqs")

    def cli(self, *argv: str, **env: str | None) -> CliResult:
        """Run the CLI in this process with the stack's configuration (``env`` overrides; None drops)."""
        return run_cli(self.env, *argv, **env)

    # -- Auth0

    def create_api(self, identifier: str, name: str = "API", **extra: Any) -> dict:
        """An API created in the tenant (as in the Dashboard); returns its "API created" event."""
        captured: list[dict] = []
        self.emulator.on_log_event = captured.append
        try:
            self.emulator.create_resource_server({"identifier": identifier, "name": name, **extra})
        finally:
            self.emulator.on_log_event = None
        (record,) = captured
        return eventbridge_envelope(record, DOMAIN)

    def custom_clients(self, identifier: str) -> list[dict]:
        return [c for c in self.emulator.clients
                if c.get("app_type") == "resource_server" and c.get("resource_server_identifier") == identifier]

    def writes(self) -> int:
        """Management API writes received so far (token requests are not writes)."""
        counters = self.emulator.counters
        return sum(n for key, n in counters.items() if " /api/v2/" in key and not key.startswith("GET "))

    # -- queues

    def dead_letter(self, body: str, attributes: dict[str, str] | None = None, queue_url: str | None = None) -> str:
        """Put a message in a dead-letter queue (the worker's by default); its message id."""
        request: dict[str, Any] = {"QueueUrl": queue_url or self.stack.dlq_url, "MessageBody": body}
        if attributes:
            request["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        return self.sqs.send_message(**request)["MessageId"]

    def drain(self, queue_url: str) -> list[dict]:
        """Every message in a queue, received with its attributes and deleted."""
        found: list[dict] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                                VisibilityTimeout=30, AttributeNames=["All"],
                                                MessageAttributeNames=["All"]).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(message)
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def visible(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def worker_dead_letter_attributes(reason: str, kind: str = "configuration") -> dict[str, str]:
    return {"ERROR_KIND": kind, "ERROR_REASON": reason, "FAILED_AT": "2026-01-01T00:00:00Z"}


def lambda_failure_record(event: dict, message: str = "Task timed out after 60.00 seconds") -> str:
    """What a Lambda on-failure destination receives for a failed asynchronous invocation."""
    return json.dumps({
        "version": "1.0",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "requestContext": {"requestId": str(uuid.uuid4()), "condition": "RetriesExhausted",
                           "approximateInvokeCount": 3,
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:worker:$LATEST"},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": message, "errorType": "Sandbox.Timedout"},
    })


@pytest.fixture
def emulator_scopes() -> tuple[str, ...]:
    """The M2M client of tests/conftest.py's ``emulator`` gets the scopes of this stack's mode."""
    return tuple(OBO_SCOPES)


@pytest.fixture(scope="module")
def deployed(local_aws):
    """The stack, deployed once per test module into a clean local AWS (``ops`` cleans it per test)."""
    local_aws.reset()
    # Each test empties the queues; moto otherwise allows one PurgeQueue a minute per queue, as SQS does.
    saved = os.environ.get(_STRICT_PURGE)
    os.environ[_STRICT_PURGE] = "false"
    try:
        yield deploy_local_stack({"Auth0Domain": DOMAIN},
                                 credentials={"client_id": M2M_CLIENT_ID, "client_secret": M2M_CLIENT_SECRET})
    finally:
        if saved is None:
            os.environ.pop(_STRICT_PURGE, None)
        else:
            os.environ[_STRICT_PURGE] = saved
        local_aws.reset()


@pytest.fixture
def ops(deployed: LocalStack, emulator) -> Ops:
    """The deployed stack, emptied: no messages, an empty token cache, no idempotency records.

    ``env`` is the replay function's environment, as the template resolves it locally.
    """
    sqs = boto3.client("sqs")
    for url in (deployed.queue_url, deployed.dlq_url, deployed.delivery_dlq_url):
        sqs.purge_queue(QueueUrl=url)
    boto3.client("secretsmanager").put_secret_value(SecretId=deployed.token_cache_secret_arn, SecretString="{}")
    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName=deployed.idempotency_table, ProjectionExpression="id").get("Items", []):
        dynamodb.delete_item(TableName=deployed.idempotency_table, Key={"id": item["id"]})
    env = dict(deployed.functions["ReplayFunction"].environment)
    env |= {"AUTH0_BASE_URL": emulator.base_url, "AUTH0_HTTP_TIMEOUT": "3"}
    return Ops(stack=deployed, emulator=emulator, env=env)


class Crash(RuntimeError):
    """Stands for the process dying at that point (not an AWS error: nothing in the code handles it)."""


class FlakySqs:
    """A real SQS client that dies where a test says: before the n-th send, or in a delete."""

    def __init__(self, client: Any, *, die_before_send: int | None = None,
                 failing_deletes: dict[int, int] | None = None, on_send: Any = None):
        self._client = client
        self._die_before_send = die_before_send
        self._failing_deletes = dict(failing_deletes or {})  # n-th distinct delete -> how many attempts fail
        self._on_send = on_send
        self.sends = 0
        self.deletes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send_message(self, **kwargs: Any) -> Any:
        if self._die_before_send is not None and self.sends + 1 >= self._die_before_send:
            raise Crash(f"died before send #{self.sends + 1}")
        result = self._client.send_message(**kwargs)
        self.sends += 1
        if self._on_send is not None:
            self._on_send(self.sends)
        return result

    def delete_message(self, **kwargs: Any) -> Any:
        handle = kwargs["ReceiptHandle"]
        if handle not in self.deletes:
            self.deletes.append(handle)
        number = self.deletes.index(handle) + 1
        if self._failing_deletes.get(number, 0) > 0:
            self._failing_deletes[number] -= 1
            raise Crash(f"died between send and delete of message #{number}")
        return self._client.delete_message(**kwargs)


def load_function(name: str, env: dict[str, str], monkeypatch) -> Any:
    """A fresh instance of one of the stack's handlers (functions/<name>/app.py), with its environment."""
    import importlib.util

    from aws_lambda_powertools.utilities import parameters

    from tests.conftest import ROOT

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    parameters.clear_caches()
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"{name}_app_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_worker(ops: Ops, messages: list[dict], monkeypatch) -> dict:
    """Hand messages received from the source queue to the worker, as the SQS event source does."""
    from tests.integration.conftest import LambdaContext

    worker = load_function("enable_token_exchange", {**ops.stack.function.environment,
                                                     "AUTH0_BASE_URL": ops.emulator.base_url}, monkeypatch)
    records = [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs", "eventSourceARN": ops.stack.queue_arn, "awsRegion": "us-east-1",
    } for m in messages]
    results = {"batchItemFailures": []}
    for start in range(0, len(records), 10):
        got = worker.lambda_handler({"Records": records[start:start + 10]}, LambdaContext())
        results["batchItemFailures"] += got["batchItemFailures"]
    return results
