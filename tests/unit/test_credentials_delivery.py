"""Credentials delivery and the platform's event in the decision core, against in-memory adapters.

What is checked here, each write alone: the plan (pure) says what becomes of the credentials of
the API's Custom API client; the core stores a new client's secret before anything else, renews
and stores the secret of a client the product made whose store failed, never reads another's,
never overwrites a stored one; the event follows the writes, says ``first_time`` only for the run
that enabled the API, and a retry after a failed send writes nothing again. The real Secrets
Manager (moto) and EventBridge paths are in tests/integration and tests/operations.
"""

from __future__ import annotations

import copy
import json

import pytest
from token_exchange_enabler.config import Config, ConfigError
from token_exchange_enabler.decision import (
    CREDENTIALS_IN_SECRETS_MANAGER,
    CREDENTIALS_KEY,
    MANAGED_BY,
    NOT_OURS_NOTE,
    Action,
    ApiRef,
    ApiState,
    ClientState,
    Credentials,
    Observed,
    Status,
    StoredCredentials,
    credentials_of,
    plan,
)
from token_exchange_enabler.enabling import Enabler
from token_exchange_enabler.errors import CredentialsNotStored, NotificationNotSent, PermanentFailure
from token_exchange_enabler.notifications import DETAIL_TYPE, SOURCE, Notifier, event_detail
from token_exchange_enabler.scopes import CREDENTIAL_SCOPES, required_scopes

from tests.unit.test_enabling import API_ID, FakeApi

PREFIX = "token-exchange/clients/"
IDENTIFIER = "https://orders.example.com"
REF = ApiRef(api_id=API_ID, identifier=IDENTIFIER, name="Orders")
ARN = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{PREFIX}{API_ID}-AbCdEf"


def config(**overrides: str) -> Config:
    return Config.from_env({"AUTH0_DOMAIN": "acme.eu.auth0.com", "AUTH0_CREDENTIALS_SECRET_ID": "c",
                            "TOKEN_CACHE_SECRET_ID": "t", "CLIENT_SECRETS_PREFIX": PREFIX, **overrides})


class SecretsApi(FakeApi):
    """FakeApi whose clients have secrets, as Auth0's do (create and rotate-secret answer them)."""

    def __init__(self):
        super().__init__()
        self.issued: list[str] = []

    def _secret(self) -> str:
        self.issued.append(f"secret-{len(self.issued)}-" + "s" * 40)
        return self.issued[-1]

    def create_client(self, body):
        answer = super().create_client(body)
        self.clients[answer["client_id"]]["client_secret"] = self._secret()
        return copy.deepcopy(self.clients[answer["client_id"]])

    def get_client(self, client_id):
        client = super().get_client(client_id)
        client.pop("client_secret", None)  # the product holds no read:client_keys
        return client

    def rotate_client_secret(self, client_id):
        self._enter("rotate_client_secret")
        self.clients[client_id]["client_secret"] = self._secret()
        return copy.deepcopy(self.clients[client_id])


class FakeSecrets:
    """ClientSecretStore in memory: name -> {"client_id" tag, the value}."""

    def __init__(self):
        self.secrets: dict[str, dict] = {}
        self.calls: list[str] = []
        self.fail_store = 0

    def name(self, api_id):
        return PREFIX + api_id

    def find(self, api_id):
        self.calls.append("find")
        found = self.secrets.get(self.name(api_id))
        return None if found is None else StoredCredentials(ARN, client_id=found["client_id"])

    def store(self, *, api_id, identifier, client_id, client_secret):
        self.calls.append("store")
        if self.fail_store:
            self.fail_store -= 1
            raise CredentialsNotStored(f"could not create the credentials secret {self.name(api_id)} (Throttling)")
        self.secrets[self.name(api_id)] = {"client_id": client_id, "value": {
            "client_id": client_id, "client_secret": client_secret, "audience": identifier}}
        return ARN


class FakeEvents:
    """An EventBridge client that records PutEvents and can refuse them."""

    def __init__(self):
        self.entries: list[dict] = []
        self.refuse = 0

    def put_events(self, Entries):  # noqa: N803 - boto3's keyword
        if self.refuse:
            self.refuse -= 1
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}
        self.entries += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}

    def details(self) -> list[dict]:
        return [json.loads(entry["Detail"]) for entry in self.entries]


def enabler(api, secrets=None, events=None, **env) -> Enabler:
    settings = config(**env)
    notifier = Notifier("platform", client=events) if events is not None else None
    return Enabler(api, settings, secrets=secrets if secrets is not None else FakeSecrets(), notifier=notifier)


def product_client(api, *, marked=True, obo=True) -> str:
    metadata = dict(MANAGED_BY) | ({CREDENTIALS_KEY: CREDENTIALS_IN_SECRETS_MANAGER} if marked else {})
    profiles = ["on_behalf_of_token_exchange"] if obo else []
    api.clients["c9"] = {"client_id": "c9", "app_type": "resource_server", "resource_server_identifier": IDENTIFIER,
                         "client_metadata": metadata, "client_secret": "copied-by-hand-" + "h" * 40,
                         "token_exchange": {"allow_any_profile_of_type": profiles}}
    api.servers[API_ID]["client_id"] = "c9"
    return "c9"


# --------------------------------------------------------------------------- configuration and scopes


def test_the_prefix_is_off_by_default_and_validated():
    assert not Config.from_env({"AUTH0_DOMAIN": "acme.eu.auth0.com", "AUTH0_CREDENTIALS_SECRET_ID": "c",
                                "TOKEN_CACHE_SECRET_ID": "t"}).delivers_credentials
    assert config().client_secret_name(API_ID) == PREFIX + API_ID
    with pytest.raises(ConfigError) as caught:
        config(CLIENT_SECRETS_PREFIX="bad prefix!", NOTIFICATION_BUS_NAME="no spaces please")
    assert len(caught.value.problems) == 2
    with pytest.raises(ConfigError, match="only to TOKEN_EXCHANGE_MODE=on_behalf_of"):
        config(TOKEN_EXCHANGE_MODE="legacy_resource_server")
    with pytest.raises(ConfigError, match="needs CLIENT_SECRETS_PREFIX"):
        config(CLIENT_SECRETS_PREFIX="", CLIENT_SECRETS_KMS_KEY_ID="alias/clients")
    assert config(NOTIFICATION_BUS_NAME="arn:aws:events:us-east-1:123456789012:event-bus/platform").notification_bus


def test_delivery_needs_update_client_keys_and_only_in_on_behalf_of_mode():
    assert required_scopes("on_behalf_of", False, with_credentials=True)[-1:] == CREDENTIAL_SCOPES == (
        "update:client_keys",)
    with pytest.raises(ValueError):
        required_scopes("legacy_resource_server", False, with_credentials=True)


# --------------------------------------------------------------------------- the plan (pure)


def observed(client: ClientState | None, stored=None, read=True) -> Observed:
    api = ApiState(api_id=API_ID, identifier=IDENTIFIER, name="Orders", client_id=client.client_id if client else None)
    return Observed(REF, api, client, stored=stored, credentials_read=read)


def client_state(*, managed=True, marked=True, client_id="c9") -> ClientState:
    metadata = (dict(MANAGED_BY) if managed else {"owner": "terraform"}) | (
        {CREDENTIALS_KEY: CREDENTIALS_IN_SECRETS_MANAGER} if marked else {})
    return ClientState.from_auth0({"client_id": client_id, "resource_server_identifier": IDENTIFIER,
                                   "client_metadata": metadata,
                                   "token_exchange": {"allow_any_profile_of_type": ["on_behalf_of_token_exchange"]}})


@pytest.mark.parametrize(("client", "stored", "read", "expected"), [
    (client_state(managed=False), None, False, Credentials.NOT_OURS),
    (client_state(marked=False), None, True, Credentials.NOT_MARKED),
    (client_state(), None, False, Credentials.UNCHECKED),
    (client_state(), None, True, Credentials.ROTATE_AND_STORE),
    (client_state(), StoredCredentials(ARN, client_id=None), True, Credentials.ROTATE_AND_STORE),  # unconfirmed
    (client_state(), StoredCredentials(ARN, client_id="former"), True, Credentials.ROTATE_AND_STORE),
    (client_state(), StoredCredentials(ARN, client_id="c9"), True, Credentials.STORED),
])
def test_what_the_credentials_of_an_existing_client_need(client, stored, read, expected):
    assert credentials_of(observed(client, stored, read), config()) is expected
    decided = plan(observed(client, stored, read), config())
    assert decided.writes is (expected is Credentials.ROTATE_AND_STORE)
    assert decided.secret_arn == (ARN if expected is Credentials.STORED else None)


def test_a_new_client_is_marked_as_delivering_its_credentials_only_with_the_prefix():
    decided = plan(observed(None), config())
    assert decided.action is Action.CREATE_CLIENT and decided.credentials is Credentials.STORE_CREATED
    assert decided.create_body["client_metadata"] == {**MANAGED_BY, CREDENTIALS_KEY: CREDENTIALS_IN_SECRETS_MANAGER}
    assert decided.secret_name == PREFIX + API_ID and PREFIX + API_ID in decided.would()
    off = plan(observed(None), config(CLIENT_SECRETS_PREFIX=""))
    assert off.create_body["client_metadata"] == MANAGED_BY and off.credentials is Credentials.OFF


# --------------------------------------------------------------------------- the core


def test_a_new_client_has_its_secret_stored_before_anything_else_is_written():
    api, secrets = SecretsApi(), FakeSecrets()
    api.downstream = {"https://a.example.com"}
    outcome = enabler(api, secrets, DOWNSTREAM_GRANTS='{"https://a.example.com": ["read:a"]}').enable(REF)
    assert outcome.status == Status.ENABLED and outcome.credentials == "stored" and outcome.secret_arn == ARN
    assert api.calls == ["get_resource_server", "create_client", "create_client_grant"]
    assert secrets.calls == ["store"]  # a new client: nothing to look up
    stored = secrets.secrets[PREFIX + API_ID]["value"]
    assert stored == {"client_id": outcome.client_id, "client_secret": api.issued[0], "audience": IDENTIFIER}
    assert api.issued[0] not in json.dumps(outcome.as_dict()) + outcome.reason


def test_a_failed_store_acknowledges_nothing_and_the_next_attempt_renews_and_stores():
    api, secrets = SecretsApi(), FakeSecrets()
    secrets.fail_store = 1
    core = enabler(api, secrets)
    with pytest.raises(CredentialsNotStored) as caught:
        core.enable(REF)
    assert api.issued[0] not in str(caught.value)
    (client_id,) = api.clients
    api.calls.clear()
    outcome = core.enable(REF)  # the record's next delivery
    assert api.calls == ["get_resource_server", "get_client", "rotate_client_secret"]
    assert outcome.status == Status.ALREADY_ENABLED and outcome.credentials == "renewed_and_stored"
    assert "gave client" in outcome.reason and outcome.secret_arn == ARN
    # The stored secret is the one Auth0 has now; the first one, never stored, no longer works.
    assert secrets.secrets[PREFIX + API_ID]["value"]["client_secret"] == api.clients[client_id]["client_secret"]
    assert api.clients[client_id]["client_secret"] == api.issued[1] != api.issued[0]
    api.calls.clear()
    assert core.enable(REF).credentials == "already_stored" and "rotate_client_secret" not in api.calls


def test_a_client_made_by_someone_else_is_never_read_for_its_secret():
    api, secrets = SecretsApi(), FakeSecrets()
    api.clients["tf"] = {"client_id": "tf", "app_type": "resource_server", "resource_server_identifier": IDENTIFIER,
                         "token_exchange": {"allow_any_profile_of_type": ["custom_authentication"]}}
    api.servers[API_ID]["client_id"] = "tf"
    outcome = enabler(api, secrets).enable(REF)
    assert outcome.status == Status.ENABLED and outcome.credentials == "not_delivered"
    assert NOT_OURS_NOTE in outcome.reason and outcome.secret_arn is None
    assert secrets.calls == [] and "rotate_client_secret" not in api.calls


def test_a_client_made_before_delivery_was_on_keeps_its_secret():
    api, secrets = SecretsApi(), FakeSecrets()
    product_client(api, marked=False)
    outcome = enabler(api, secrets).enable(REF)
    assert outcome.status == Status.ALREADY_ENABLED and outcome.credentials == "not_delivered"
    assert "rotate" in outcome.reason and secrets.calls == [] and "rotate_client_secret" not in api.calls


def test_a_stored_working_secret_is_never_overwritten():
    api, secrets = SecretsApi(), FakeSecrets()
    product_client(api)
    secrets.secrets[PREFIX + API_ID] = {"client_id": "c9", "value": {}}
    outcome = enabler(api, secrets).enable(REF)
    assert outcome.credentials == "already_stored" and outcome.secret_arn == ARN
    assert secrets.calls == ["find"] and "rotate_client_secret" not in api.calls


def test_a_secret_left_by_a_former_client_is_replaced():
    api, secrets = SecretsApi(), FakeSecrets()
    product_client(api)
    secrets.secrets[PREFIX + API_ID] = {"client_id": "deleted-by-the-deploy-cli", "value": {}}
    outcome = enabler(api, secrets).enable(REF)
    assert outcome.credentials == "renewed_and_stored"
    assert secrets.secrets[PREFIX + API_ID]["client_id"] == "c9"


def test_a_dry_run_stores_and_announces_nothing():
    api, secrets, events = SecretsApi(), FakeSecrets(), FakeEvents()
    outcome = enabler(api, secrets, events, DRY_RUN="true").enable(REF)
    assert outcome.status == Status.DRY_RUN and "would store its credentials" in outcome.reason
    assert secrets.secrets == {} and events.entries == [] and api.clients == {}


def test_a_permanent_store_failure_names_the_fix_and_the_replay_recovers():
    api, secrets = SecretsApi(), FakeSecrets()

    def refuse(**_):
        raise PermanentFailure("could not create the credentials secret (AccessDeniedException)", configuration=True)

    secrets.store = refuse
    with pytest.raises(PermanentFailure):
        enabler(api, secrets).enable(REF)
    del secrets.store  # the operator fixed the role; the dead letter is replayed
    outcome = enabler(api, secrets).enable(REF)
    assert outcome.credentials == "renewed_and_stored"


# --------------------------------------------------------------------------- the platform's event


def test_one_event_per_api_enabled_with_ids_only():
    api, secrets, events = SecretsApi(), FakeSecrets(), FakeEvents()
    outcome = enabler(api, secrets, events).enable(REF)
    assert outcome.notified
    (entry,) = events.entries
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (SOURCE, DETAIL_TYPE, "platform")
    assert json.loads(entry["Detail"]) == {
        "api_id": API_ID, "identifier": IDENTIFIER, "client_id": outcome.client_id, "mode": "on_behalf_of",
        "created_client": True, "secret_arn": ARN, "first_time": True}
    assert all(secret not in entry["Detail"] for secret in api.issued)


def test_a_failed_send_is_retried_without_redoing_the_writes():
    api, secrets, events = SecretsApi(), FakeSecrets(), FakeEvents()
    events.refuse = 1
    core = enabler(api, secrets, events)
    with pytest.raises(NotificationNotSent):
        core.enable(REF)
    writes = [c for c in api.calls if not c.startswith("get")]
    outcome = core.enable(REF)  # the record comes back
    assert [c for c in api.calls if not c.startswith("get")] == writes == ["create_client"]
    assert secrets.calls == ["store", "find"]
    assert outcome.status == Status.ALREADY_ENABLED and outcome.notified
    assert events.details() == [{**event_detail(outcome, "on_behalf_of"), "first_time": False}]
    assert events.details()[0]["secret_arn"] == ARN


def test_skipped_apis_are_not_announced():
    api, events = SecretsApi(), FakeEvents()
    api.servers[API_ID]["is_system"] = True
    assert enabler(api, FakeSecrets(), events).enable(REF).status == Status.SKIPPED
    assert events.entries == []


def test_a_bus_that_does_not_exist_is_a_configuration_failure():
    from botocore.exceptions import ClientError

    class Missing:
        def put_events(self, Entries):  # noqa: N803 - boto3's keyword
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "Event bus x does not exist"}},
                              "PutEvents")

    core = Enabler(SecretsApi(), config(), secrets=FakeSecrets(), notifier=Notifier("x", client=Missing()))
    with pytest.raises(PermanentFailure) as caught:
        core.enable(REF)
    assert caught.value.configuration and "NOTIFICATION_BUS_NAME" in caught.value.reason
