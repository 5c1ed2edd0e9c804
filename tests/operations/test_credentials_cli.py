"""``credentials`` and ``rotate``: where an API's client credentials are, and a new secret, stored.

Against the stack in moto's server and the Auth0 emulator, over HTTP. "Works" always means what
the API's service would do: read the secret's AWSCURRENT value and exchange a user's token with it
(On-Behalf-Of) at the token endpoint the secret names. Attacked: two rotations at once, Secrets
Manager failing before and after Auth0 switched, a typo, a dry run, a client someone else made.
"""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
import requests
from token_exchange_enabler.bootstrap import build_runtime
from token_exchange_enabler.config import MODE_ON_BEHALF_OF, Config
from token_exchange_enabler.credentials import rotate
from token_exchange_enabler.locks import lock_key
from token_exchange_enabler.scopes import required_scopes

from local.auth0_emulator import Fault, known_secrets
from local.exchange_proof import exchange
from tests.operations.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET

pytestmark = pytest.mark.integration

PREFIX = "token-exchange-enabler/clients/"
FRONT = "https://front.example.com"  # the API whose service holds the delivered credentials
ORDERS = "https://orders.example.com"  # the downstream API it calls on its users' behalf
USER = "auth0|alice"
DELIVERY = {"CLIENT_SECRETS_PREFIX": PREFIX, "DOWNSTREAM_GRANTS": json.dumps({ORDERS: ["read:orders"]})}


@pytest.fixture
def tenant(ops):
    """The product's application with the scopes of delivery and grants, a downstream API, a user."""
    ops.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET,
                                scopes=required_scopes(MODE_ON_BEHALF_OF, True, with_credentials=True))
    ops.emulator.create_resource_server({"identifier": ORDERS, "name": "Orders", "scopes": [{"value": "read:orders"}],
                                         "skip_consent_for_verifiable_first_party_clients": True})
    ops.emulator.add_user(USER, permissions={FRONT: ["call:front"], ORDERS: ["read:orders"]})
    ops.emulator.create_resource_server({"identifier": FRONT, "name": "Front", "scopes": [{"value": "call:front"}]})
    return ops


def cli(ops, *argv: str, **env: str | None):
    return ops.cli(*argv, **{**DELIVERY, **env})


def enabled(ops) -> dict:
    result = cli(ops, "enable", FRONT, "--json")
    assert result.code == 0, result.err
    (entry,) = result.json["results"]
    assert entry["credentials"] == "stored" and entry["secret_arn"]
    return entry


def stored(arn: str, stage: str = "AWSCURRENT") -> dict:
    # VersionStage named: moto answers AWSCURRENT by the secret's first version otherwise.
    return json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])


def works(ops, credentials: dict) -> bool:
    """What the API's service does with its credentials: exchange a user's token for ORDERS."""
    base_url = credentials["token_endpoint"].removesuffix("/oauth/token")
    assert credentials["audience"] == FRONT and credentials["domain"] == "acme.eu.auth0.com"
    result = exchange(base_url, client_id=credentials["client_id"], client_secret=credentials["client_secret"],
                      subject_token=ops.emulator.issue_user_token(USER, FRONT), audience=ORDERS, scope="read:orders")
    return result.ok


def no_secret_in(*texts: str) -> bool:
    return not any(secret in text for secret in known_secrets() for text in texts if len(secret) >= 12)


def auth0_secret(ops, client_id: str) -> str:
    (client,) = [c for c in ops.emulator.clients if c["client_id"] == client_id]
    return client["client_secret"]


# --------------------------------------------------------------------------- credentials


def test_credentials_says_where_they_are_and_never_shows_them(tenant):
    entry = enabled(tenant)
    for argv in (("credentials", FRONT), ("credentials", entry["api_id"], "--json"),
                 ("credentials", FRONT, "--dry-run")):
        result = cli(tenant, *argv)
        assert result.code == 0, result.out + result.err
        assert no_secret_in(result.out, result.err)
    report = cli(tenant, "credentials", FRONT, "--json").json["results"][0]
    assert (report["status"], report["secret_arn"], report["client_id"]) == (
        "stored", entry["secret_arn"], entry["client_id"])
    assert report["secret_name"] == PREFIX + entry["api_id"] and report["created_by_product"] is True
    assert works(tenant, stored(entry["secret_arn"]))
    text = cli(tenant, "credentials", FRONT).out
    assert text.startswith("stored         " + entry["api_id"]) and entry["secret_arn"] in text


def test_credentials_of_a_client_someone_else_made_are_not_delivered(tenant):
    tenant.emulator.create_resource_server({"identifier": "https://terraformed.example.com"})
    token = tenant.emulator.issue_token(M2M_CLIENT_ID, scopes=["create:clients"])
    made = requests.post(f"{tenant.emulator.base_url}/api/v2/clients", timeout=5,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"name": "Terraformed", "app_type": "resource_server",
                               "resource_server_identifier": "https://terraformed.example.com"}).json()
    result = cli(tenant, "enable", "https://terraformed.example.com", "--json")
    (entry,) = result.json["results"]
    assert result.code == 0 and entry["credentials"] == "not_delivered" and entry["secret_arn"] is None
    assert "credentials not delivered: the client was not created by this product" in entry["reason"]
    located = cli(tenant, "credentials", "https://terraformed.example.com", "--json")
    assert located.code == 1 and located.json["results"][0]["status"] == "not_delivered"
    refused = cli(tenant, "rotate", "https://terraformed.example.com", "--json")
    assert refused.code == 1 and refused.json["results"][0]["status"] == "not_delivered"
    assert auth0_secret(tenant, made["client_id"]) == made["client_secret"]  # untouched


@pytest.mark.parametrize("command", ["credentials", "rotate"])
def test_a_typo_exits_1_not_found(tenant, command):
    result = cli(tenant, command, "https://typo.example.com", "--json")
    assert result.code == 1 and result.json["results"][0]["status"] == "not_found"
    assert tenant.writes() == 0


@pytest.mark.parametrize("command", ["credentials", "rotate"])
def test_without_a_prefix_both_are_usage_errors(tenant, command):
    result = tenant.cli(command, FRONT, "--json")
    assert result.code == 2 and "CLIENT_SECRETS_PREFIX" in result.json["results"][0]["reason"]


# --------------------------------------------------------------------------- rotate


def test_rotate_gives_a_new_secret_and_the_stored_one_works_at_once(tenant):
    entry = enabled(tenant)
    before = stored(entry["secret_arn"])
    result = cli(tenant, "rotate", FRONT, "--json")
    assert result.code == 0, result.out + result.err
    (report,) = result.json["results"]
    assert report["status"] == "rotated" and report["secret_arn"] == entry["secret_arn"]
    # Read the API to resolve the input, again under the lock, its client, then one PATCH.
    assert result.json["management_calls"] == 4
    assert no_secret_in(result.out, result.err)
    after = stored(entry["secret_arn"])
    assert after["client_id"] == before["client_id"] and after["client_secret"] != before["client_secret"]
    assert auth0_secret(tenant, entry["client_id"]) == after["client_secret"]
    assert works(tenant, after) and not works(tenant, before)
    assert stored(entry["secret_arn"], "AWSPREVIOUS") == before  # for a service that reads it too early
    versions = boto3.client("secretsmanager").describe_secret(SecretId=entry["secret_arn"])["VersionIdsToStages"]
    assert not [v for v, labels in versions.items() if "AWSPENDING" in labels]
    assert cli(tenant, "credentials", FRONT, "--json").json["results"][0]["status"] == "stored"


def test_rotate_dry_run_writes_nothing(tenant):
    entry = enabled(tenant)
    writes, before = tenant.writes(), stored(entry["secret_arn"])
    result = cli(tenant, "rotate", FRONT, "--dry-run", "--json")
    assert result.code == 0 and result.json["dry_run"] is True
    (report,) = result.json["results"]
    assert report["status"] == "dry_run" and "would give client" in report["reason"]
    assert tenant.writes() == writes and stored(entry["secret_arn"]) == before
    assert lock_item(tenant, entry["api_id"]) is None


def lock_item(ops, api_id: str) -> dict | None:
    return boto3.client("dynamodb").get_item(TableName=ops.stack.idempotency_table,
                                             Key={"id": {"S": lock_key("on_behalf_of", api_id)}}).get("Item")


def test_two_rotations_at_once_one_rotates_the_other_says_busy(tenant):
    entry = enabled(tenant)
    # The first rotation is slow to hear back from Auth0: the second meets its lock.
    tenant.emulator.inject(Fault("latency", times=1, path_prefix="/api/v2/clients/", method="PATCH", delay=2.0))
    results: dict = {}

    def run(name: str) -> None:
        results[name] = cli(tenant, "rotate", FRONT, "--json")

    first = threading.Thread(target=run, args=("first",))
    first.start()
    deadline = time.monotonic() + 10
    while lock_item(tenant, entry["api_id"]) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run("second")
    first.join(30)
    codes = {name: result.code for name, result in results.items()}
    statuses = {name: result.json["results"][0]["status"] for name, result in results.items()}
    assert (codes, statuses) == ({"first": 0, "second": 1}, {"first": "rotated", "second": "busy"})
    assert tenant.emulator.counters.get("PATCH /api/v2/clients/{id}", 0) == 1
    assert works(tenant, stored(entry["secret_arn"]))


class FailingSecrets:
    """A real Secrets Manager client whose writes to the delivered secrets fail where a test says."""

    def __init__(self, client, *, fail_stage: bool = False, fail_promote: bool = False):
        self._client = client
        self.fail_stage, self.fail_promote = fail_stage, fail_promote

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_secret_value(self, **kwargs):
        from botocore.exceptions import ClientError

        if kwargs["SecretId"].startswith(PREFIX):
            staging = "VersionStages" in kwargs
            if (staging and self.fail_stage) or (not staging and self.fail_promote):
                raise ClientError({"Error": {"Code": "InternalServiceError", "Message": "injected"}}, "PutSecretValue")
        return self._client.put_secret_value(**kwargs)


def runtime_with(ops, wrapper):
    def aws(service, **kwargs):
        client = boto3.client(service, **kwargs)
        return wrapper(client) if service == "secretsmanager" else client

    return build_runtime(Config.from_env({**ops.env, **DELIVERY}), aws=aws)


def test_a_store_failing_before_auth0_switches_changes_nothing(tenant):
    entry = enabled(tenant)
    before = stored(entry["secret_arn"])
    report = rotate(runtime_with(tenant, lambda c: FailingSecrets(c, fail_stage=True)).enabler, FRONT)
    assert report.status == "failed" and report.error_kind == "transient"
    assert "nothing was changed in Auth0" in report.reason
    assert auth0_secret(tenant, entry["client_id"]) == before["client_secret"]
    assert works(tenant, stored(entry["secret_arn"]))
    assert no_secret_in(json.dumps(report.as_dict()))


def test_a_store_failing_after_auth0_switched_loses_no_secret_and_rotate_again_finishes(tenant):
    entry = enabled(tenant)
    before = stored(entry["secret_arn"])
    naps: list[float] = []
    runtime = runtime_with(tenant, lambda c: FailingSecrets(c, fail_promote=True))
    report = rotate(runtime.enabler, FRONT, sleep=naps.append)
    assert report.status == "failed" and report.error_kind == "unreachable" and report.rotation_pending
    assert naps == [1.0, 2.0]  # the promotion was retried before giving up
    assert "AWSPENDING" in report.reason and report.version_id in report.reason
    assert no_secret_in(json.dumps(report.as_dict()))
    # Auth0 refuses the old secret now; the new one is not lost: it waits, working, as AWSPENDING.
    pending = stored(entry["secret_arn"], "AWSPENDING")
    assert works(tenant, pending) and not works(tenant, before)
    assert auth0_secret(tenant, entry["client_id"]) == pending["client_secret"]
    located = cli(tenant, "credentials", FRONT, "--json").json["results"][0]
    assert located["rotation_pending"] is True
    # The CLI says so with exit code 3 (AWS unreachable); rotating again finishes.
    again = cli(tenant, "rotate", FRONT, "--json")
    assert again.code == 0 and again.json["results"][0]["status"] == "rotated"
    assert works(tenant, stored(entry["secret_arn"]))
    assert cli(tenant, "credentials", FRONT, "--json").json["results"][0]["rotation_pending"] is False


def test_rotate_gives_a_client_made_before_delivery_was_on_its_credentials(tenant):
    made = tenant.cli("enable", FRONT, "--json")  # no prefix yet: the service got the secret by hand
    assert made.code == 0
    (entry,) = made.json["results"]
    located = cli(tenant, "credentials", FRONT, "--json")
    assert located.code == 1 and located.json["results"][0]["status"] == "not_stored"
    again = cli(tenant, "enable", FRONT, "--json")  # the product never renews it on its own
    assert again.json["results"][0]["credentials"] == "not_delivered"
    assert "POST /api/v2/clients/{id}/rotate-secret" not in tenant.emulator.counters
    assert "PATCH /api/v2/clients/{id}" not in tenant.emulator.counters
    rotated = cli(tenant, "rotate", FRONT, "--json")
    assert rotated.code == 0, rotated.out
    arn = rotated.json["results"][0]["secret_arn"]
    assert works(tenant, stored(arn))
    (client,) = [c for c in tenant.emulator.clients if c["client_id"] == entry["client_id"]]
    assert client["client_metadata"]["credentials"] == "aws-secrets-manager"  # looked after from now on
    assert cli(tenant, "enable", FRONT, "--json").json["results"][0]["credentials"] == "already_stored"


def test_the_sweep_delivers_the_credentials_of_the_clients_it_creates(tenant):
    tenant.emulator.create_resource_server({"identifier": "https://missed.example.com", "name": "Missed"})
    result = cli(tenant, "reconcile", "--json")
    assert result.code == 0, result.out + result.err
    (item,) = [i for i in result.json["items"] if i["identifier"] == "https://missed.example.com"]
    assert item["status"] == "enabled" and item["credentials"] == "stored" and item["secret_arn"]
    credentials = stored(item["secret_arn"])
    assert credentials["audience"] == "https://missed.example.com"
    assert item["client_id"] == credentials["client_id"]
    # Again: enabled and stored; the sweep decides from its listings and writes nothing.
    writes = tenant.writes()
    again = cli(tenant, "reconcile", "--json")
    assert again.code == 0 and tenant.writes() == writes
    assert no_secret_in(result.out, result.err, again.out, again.err)
