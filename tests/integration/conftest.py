"""The real handler, run in this process against moto's server and the Auth0 emulator over HTTP."""

from __future__ import annotations

import importlib.util
import json
import logging
import time
import uuid
from dataclasses import dataclass, field

import boto3
import pytest

from local.auth0_emulator import Auth0Emulator, eventbridge_envelope
from tests.conftest import AUTH0_DOMAIN as DOMAIN
from tests.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET, ROOT

# The Auth0 emulator (fixture ``emulator``, with the M2M client above) comes from tests/conftest.py.
ADMIN_ID, ADMIN_SECRET = "admin000000000000000000000000000", "admin-secret-" + "y" * 40


@dataclass
class LambdaContext:
    """What Lambda passes to a handler, with a real countdown of the remaining time."""

    function_name: str = "enable-token-exchange"
    memory_limit_in_mb: int = 256
    timeout_seconds: float = 60.0
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:enable-token-exchange"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


@dataclass
class Stack:
    emulator: Auth0Emulator
    env: dict
    dlq_url: str
    table: str

    def sqs_event(self, events: list[dict]) -> dict:
        return {"Records": [sqs_record(e) for e in events]}

    def dead_letters(self) -> list[dict]:
        sqs = boto3.client("sqs")
        found = []
        while True:
            got = sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                      MessageAttributeNames=["All"], VisibilityTimeout=0).get("Messages", [])
            if not got:
                return found
            for m in got:
                found.append(m)
                sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=m["ReceiptHandle"])

    def create_api(self, identifier: str, name: str = "API", **extra) -> dict:
        """Create an API through the emulator and return the EventBridge event Auth0 would stream."""
        captured: list[dict] = []
        self.emulator.on_log_event = captured.append
        server = self.emulator.create_resource_server({"identifier": identifier, "name": name, **extra})
        self.emulator.on_log_event = None
        (record,) = captured
        assert record["data"]["details"]["response"]["body"]["id"] == server["id"]
        return eventbridge_envelope(record, DOMAIN)


def sqs_record(event: dict) -> dict:
    body = json.dumps(event)
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "rh-" + uuid.uuid4().hex,
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000)),
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000))},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:token-exchange-enabler-events",
        "awsRegion": "us-east-1",
    }


def _load_handler_module():
    path = ROOT / "functions" / "enable_token_exchange" / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stack(aws, emulator, monkeypatch):
    sm, sqs, ddb = boto3.client("secretsmanager"), boto3.client("sqs"), boto3.client("dynamodb")
    creds = sm.create_secret(Name="auth0/credentials",
                             SecretString=json.dumps({"client_id": M2M_CLIENT_ID, "client_secret": M2M_CLIENT_SECRET}))
    cache = sm.create_secret(Name="auth0/token-cache", SecretString="{}")
    dlq_url = sqs.create_queue(QueueName="token-exchange-enabler-dlq")["QueueUrl"]
    table = "token-exchange-enabler-idempotency"
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    env = {
        "AUTH0_DOMAIN": DOMAIN,
        "AUTH0_BASE_URL": emulator.base_url,
        "AUTH0_CREDENTIALS_SECRET_ID": creds["ARN"],
        "TOKEN_CACHE_SECRET_ID": cache["ARN"],
        "DEAD_LETTER_QUEUE_URL": dlq_url,
        "IDEMPOTENCY_TABLE_NAME": table,
        "AUTH0_HTTP_TIMEOUT": "3",
        "POWERTOOLS_SERVICE_NAME": "token-exchange-enabler",
        "POWERTOOLS_METRICS_NAMESPACE": "TokenExchangeEnabler",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield Stack(emulator=emulator, env=env, dlq_url=dlq_url, table=table)


@pytest.fixture
def new_instance():
    """A fresh Lambda instance (cold start): the handler module loaded anew, nothing cached in memory."""
    from aws_lambda_powertools.utilities import parameters

    def make():
        parameters.clear_caches()
        return _load_handler_module()

    return make


@pytest.fixture
def invoke(new_instance):
    """Invoke one warm instance, like Lambda does, and return the handler's result."""
    module = new_instance()

    def call(event, *, context=None):
        return module.lambda_handler(event, context or LambdaContext())

    call.module = module
    return call


@pytest.fixture(autouse=True)
def _quiet_libraries():
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
