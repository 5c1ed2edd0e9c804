"""From enabled to usable, through the real handler: the API's service finds its Custom API client's
credentials in Secrets Manager, and the platform hears of the API on its EventBridge bus.

moto's server and the Auth0 emulator over HTTP; AWS faults through the fault proxy
(local/aws_faults.py) in front of moto. "Works" means what the API's service does: read the
secret's AWSCURRENT value and exchange a user's token with it (On-Behalf-Of) at the token endpoint
the secret names. Every secret the emulator issued is looked for in every log line (the leak scan)
and, here, in the handler's results, the dead letters and the events.
"""

from __future__ import annotations

import json

import boto3
import pytest
from token_exchange_enabler.config import MODE_ON_BEHALF_OF
from token_exchange_enabler.scopes import required_scopes

from local.auth0_emulator import known_secrets
from local.aws_faults import AwsFault, AwsFaultProxy
from local.exchange_proof import exchange
from tests.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET

pytestmark = pytest.mark.integration

PREFIX = "token-exchange-enabler/clients/"
BUS = "platform"
FRONT = "https://front.example.com"
ORDERS = "https://orders.example.com"
USER = "auth0|alice"
ROTATE = "POST /api/v2/clients/{id}/rotate-secret"
DETAIL = {"api_id", "identifier", "client_id", "mode", "created_client", "secret_arn", "first_time"}


@pytest.fixture
def platform(stack, local_aws, monkeypatch):
    """Delivery and events on; a downstream API, a user; the bus's events captured in a queue; every
    AWS call of this process (the handler's included) through the fault proxy."""
    emulator = stack.emulator
    emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET,
                            scopes=required_scopes(MODE_ON_BEHALF_OF, True, with_credentials=True))
    emulator.create_resource_server({"identifier": ORDERS, "name": "Orders", "scopes": [{"value": "read:orders"}],
                                     "skip_consent_for_verifiable_first_party_clients": True})
    emulator.add_user(USER, permissions={FRONT: ["call:front"], ORDERS: ["read:orders"]})
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    queue = sqs.create_queue(QueueName="platform-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="enabled-apis", EventBusName=BUS,
                    EventPattern=json.dumps({"source": ["token-exchange-enabler"],
                                             "detail-type": ["Token Exchange Enabled"]}))
    events.put_targets(Rule="enabled-apis", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
    for name, value in {"CLIENT_SECRETS_PREFIX": PREFIX, "NOTIFICATION_BUS_NAME": BUS,
                        "DOWNSTREAM_GRANTS": json.dumps({ORDERS: ["read:orders"]})}.items():
        monkeypatch.setenv(name, value)
    with AwsFaultProxy(upstream=local_aws.endpoint_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
        stack.proxy, stack.events_queue = proxy, queue
        yield stack


def announced(stack) -> list[dict]:
    """The events the platform's rule delivered so far (each once)."""
    sqs, found = boto3.client("sqs"), []
    while True:
        got = sqs.receive_message(QueueUrl=stack.events_queue, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  VisibilityTimeout=0).get("Messages", [])
        if not got:
            return found
        for message in got:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=stack.events_queue, ReceiptHandle=message["ReceiptHandle"])


def stored(api_id: str) -> dict:
    value = boto3.client("secretsmanager").get_secret_value(SecretId=PREFIX + api_id, VersionStage="AWSCURRENT")
    return json.loads(value["SecretString"])


def works(emulator, credentials: dict) -> bool:
    base_url = credentials["token_endpoint"].removesuffix("/oauth/token")
    return exchange(base_url, client_id=credentials["client_id"], client_secret=credentials["client_secret"],
                    subject_token=emulator.issue_user_token(USER, FRONT), audience=ORDERS, scope="read:orders").ok


def secrets_in(*documents: object) -> list[str]:
    text = json.dumps(documents, default=str)
    return [f"{s[:4]}... ({len(s)} characters)" for s in known_secrets() if len(s) >= 12 and s in text]


def test_a_new_api_is_usable_by_its_service_and_announced_once(platform, invoke):
    event = platform.create_api(FRONT, "Front", scopes=[{"value": "call:front"}])
    management_before = dict(platform.emulator.counters)
    result = invoke(platform.sqs_event([event]))
    assert result == {"batchItemFailures": []}
    api_id = event["detail"]["data"]["details"]["response"]["body"]["id"]
    # What delivery and the event cost a new API: no Management API call more than without them
    # (the secret comes in the create call's answer), one CreateSecret, one PutEvents.
    management = {k: v - management_before.get(k, 0) for k, v in platform.emulator.counters.items()
                  if " /api/v2/" in k and v != management_before.get(k, 0)}
    assert management == {"GET /api/v2/resource-servers/{id}": 1, "POST /api/v2/clients": 1,
                          "POST /api/v2/client-grants": 1}  # the grant: DOWNSTREAM_GRANTS, as without delivery
    ours = {k: v for k, v in platform.proxy.calls.items()
            if k in ("secretsmanager.CreateSecret", "secretsmanager.DescribeSecret", "secretsmanager.TagResource",
                     "AWSEvents.PutEvents")}
    assert ours == {"secretsmanager.CreateSecret": 1, "AWSEvents.PutEvents": 1}
    credentials = stored(api_id)
    assert set(credentials) == {"client_id", "client_secret", "audience", "domain", "token_endpoint"}
    assert (credentials["audience"], credentials["domain"]) == (FRONT, "acme.eu.auth0.com")
    assert works(platform.emulator, credentials)
    described = boto3.client("secretsmanager").describe_secret(SecretId=PREFIX + api_id)
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags == {"managed_by": "token-exchange-enabler", "api_id": api_id, "api_identifier": FRONT,
                    "client_id": credentials["client_id"]}
    (announcement,) = announced(platform)
    assert (announcement["source"], announcement["detail-type"]) == ("token-exchange-enabler", "Token Exchange Enabled")
    assert announcement["detail"] == {"api_id": api_id, "identifier": FRONT, "client_id": credentials["client_id"],
                                      "mode": "on_behalf_of", "created_client": True,
                                      "secret_arn": described["ARN"], "first_time": True}
    # A duplicate of the log event: nothing written again (one DescribeSecret to know the credentials
    # are stored), announced again, saying so.
    creates = platform.emulator.counters["POST /api/v2/clients"]
    described = platform.proxy.calls["secretsmanager.DescribeSecret"]
    assert invoke(platform.sqs_event([event])) == {"batchItemFailures": []}
    assert platform.emulator.counters["POST /api/v2/clients"] == creates and ROTATE not in platform.emulator.counters
    assert platform.proxy.calls["secretsmanager.DescribeSecret"] - described == 1
    assert platform.proxy.calls["secretsmanager.CreateSecret"] == 1
    (again,) = announced(platform)
    assert again["detail"] == {**announcement["detail"], "created_client": False, "first_time": False}
    assert secrets_in(announcement, again) == []


def test_a_store_that_fails_acknowledges_nothing_and_the_next_delivery_renews_and_stores(platform, invoke):
    event = platform.create_api(FRONT, "Front", scopes=[{"value": "call:front"}])
    api_id = event["detail"]["data"]["details"]["response"]["body"]["id"]
    platform.proxy.inject(AwsFault("error", target="secretsmanager.CreateSecret", times=None, status=500,
                                   code="InternalServiceError"))
    first = invoke(platform.sqs_event([event]))
    assert len(first["batchItemFailures"]) == 1  # back to the queue
    assert platform.dead_letters() == [] and announced(platform) == []  # nothing acknowledged, nothing announced
    (client,) = [c for c in platform.emulator.clients if c.get("resource_server_identifier") == FRONT]
    lost = {"client_id": client["client_id"], "client_secret": client["client_secret"], "token_endpoint":
            f"{platform.emulator.base_url}/oauth/token"}  # what the create answered, never stored
    assert platform.proxy.faulted["secretsmanager.CreateSecret"] >= 1
    platform.proxy.clear()

    second = invoke(platform.sqs_event([event]))  # the record's next delivery
    assert second == {"batchItemFailures": []}
    assert platform.emulator.counters[ROTATE] == 1 and platform.emulator.counters["POST /api/v2/clients"] == 1
    credentials = stored(api_id)
    assert credentials["client_id"] == client["client_id"]
    assert works(platform.emulator, credentials) and not works(platform.emulator, lost)
    (announcement,) = announced(platform)
    assert announcement["detail"]["first_time"] is False and announcement["detail"]["secret_arn"]
    assert secrets_in(first, second, announcement) == []


def test_a_store_refused_for_good_is_dead_lettered_with_what_to_do_and_a_replay_recovers(platform, invoke):
    event = platform.create_api(FRONT, "Front", scopes=[{"value": "call:front"}])
    api_id = event["detail"]["data"]["details"]["response"]["body"]["id"]
    platform.proxy.inject(AwsFault("error", target="secretsmanager.CreateSecret", times=None, status=400,
                                   code="AccessDeniedException"))
    assert invoke(platform.sqs_event([event])) == {"batchItemFailures": []}
    (letter,) = platform.dead_letters()
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["ERROR_KIND"] == "configuration"
    assert "AccessDeniedException" in attributes["ERROR_REASON"] and "replay" in attributes["ERROR_REASON"]
    assert secrets_in(letter) == []
    platform.proxy.clear()  # the role fixed; the dead letter replayed
    assert invoke(platform.sqs_event([json.loads(letter["Body"])])) == {"batchItemFailures": []}
    assert works(platform.emulator, stored(api_id))


def test_an_event_that_fails_to_send_comes_back_without_writing_again(platform, invoke):
    event = platform.create_api(FRONT, "Front", scopes=[{"value": "call:front"}])
    platform.proxy.inject(AwsFault("error", target="AWSEvents.PutEvents", times=None, status=500,
                                   code="InternalException"))
    assert len(invoke(platform.sqs_event([event]))["batchItemFailures"]) == 1
    platform.proxy.clear()
    writes = {k: v for k, v in platform.emulator.counters.items() if not k.startswith("GET")}
    creates = platform.proxy.calls["secretsmanager.CreateSecret"]
    assert invoke(platform.sqs_event([event])) == {"batchItemFailures": []}
    assert {k: v for k, v in platform.emulator.counters.items() if not k.startswith("GET")} == writes
    assert platform.proxy.calls["secretsmanager.CreateSecret"] == creates and ROTATE not in writes
    (announcement,) = announced(platform)
    assert announcement["detail"]["first_time"] is False and set(announcement["detail"]) == DETAIL
