"""``setup``, ``doctor`` and ``canary`` against the Auth0 emulator (log streams, partner event sources
in moto) and moto's server, through the CLI as an operator runs it.

A "bare" tenant and account: nothing set up (no application, secret, stream or bus), only an
operator's token. ``setup`` builds everything, a second run changes nothing; ``doctor`` then finds
each link it lists, and each broken one with its fix; the canary always cleans up.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from token_exchange_enabler.auth0 import ClientCredentials, TokenEndpoint
from token_exchange_enabler.cli import main
from token_exchange_enabler.config import MODE_ON_BEHALF_OF
from token_exchange_enabler.onboarding import DEFAULT_SECRET_NAME, OPERATOR_SCOPES, update_samconfig
from token_exchange_enabler.scopes import required_scopes

from local.auth0_emulator import Auth0Emulator
from local.auth0_emulator.partner import LocalEventBridgePartner
from tests.conftest import AUTH0_DOMAIN as DOMAIN
from tests.operations.conftest import CliResult, run_cli

ADMIN_ID = "operator00000000000000000000admin"
ADMIN_SECRET = "operator-secret-" + "9" * 48
CANARY_SCOPES = ("create:resource_servers", "read:resource_servers", "delete:resource_servers",
                 "read:clients", "delete:clients", "read:client_grants", "delete:client_grants")
AUDIENCE = f"https://{DOMAIN}/api/v2/"
OBO = "on_behalf_of_token_exchange"


@dataclass
class Bare:
    """A tenant and an account with nothing set up; ``cli`` runs a command with the operator's token."""

    emulator: Auth0Emulator
    admin_token: str
    env: dict[str, str] = field(default_factory=dict)

    def cli(self, *argv: str, **env: str | None) -> CliResult:
        return run_cli(self.env, *argv, **env)

    def setup(self, *argv: str, **env: str | None) -> CliResult:
        return self.cli("setup", "--domain", DOMAIN, "--json", *argv, **env)

    # -- what the tenant and the account hold

    def our_applications(self) -> list[dict]:
        return [c for c in self.emulator.clients if c.get("app_type") == "non_interactive"
                and (c.get("client_metadata") or {}).get("managed_by") == "token-exchange-enabler"]

    def grants_of(self, client_id: str) -> list[dict]:
        return [g for g in self.emulator.client_grants if g["client_id"] == client_id and g["audience"] == AUDIENCE]

    def stored(self, name: str = DEFAULT_SECRET_NAME) -> dict:
        return json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])

    def token_for(self, credentials: dict) -> Any:
        creds = ClientCredentials(credentials["client_id"], credentials["client_secret"])
        return TokenEndpoint(base_url=self.emulator.base_url, audience=AUDIENCE, credentials=lambda: creds).fetch()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        import requests

        response = requests.request(method, f"{self.emulator.base_url}/api/v2{path}", json=body, timeout=10,
                                    headers={"Authorization": f"Bearer {self.admin_token}"})
        response.raise_for_status()
        return response.json() if response.content else None


@pytest.fixture
def bare(aws) -> Iterator[Bare]:
    with Auth0Emulator(domain=DOMAIN, event_bridge=LocalEventBridgePartner()) as emulator:
        scopes = sorted({*OPERATOR_SCOPES, *CANARY_SCOPES, "update:client_grants", "delete:log_streams"})
        emulator.add_m2m_client(ADMIN_ID, ADMIN_SECRET, scopes=scopes)
        token = emulator.issue_token(ADMIN_ID, scopes)
        env = {**aws.env(), "AUTH0_BASE_URL": emulator.base_url, "AUTH0_ADMIN_TOKEN": token,
               "AUTH0_DOMAIN": DOMAIN}
        yield Bare(emulator, token, env)


# --------------------------------------------------------------------------- setup


def test_setup_builds_everything_on_a_bare_tenant_and_a_second_run_changes_nothing(bare):
    first = bare.setup()
    assert first.code == 0, first.err
    report = first.json
    assert report["changed"] is True and report["ok"] is True
    assert [(s["name"], s["action"]) for s in report["steps"]] == [
        ("application", "created"), ("client grant", "created"), ("credentials secret", "created"),
        ("log stream", "created"), ("event bus", "created")]

    (application,) = bare.our_applications()
    (grant,) = bare.grants_of(application["client_id"])
    assert sorted(grant["scope"]) == sorted(required_scopes(MODE_ON_BEHALF_OF, with_grants=False))
    stored = bare.stored()
    assert stored["client_id"] == application["client_id"]
    token = bare.token_for(stored)  # the stored credentials work, with exactly the mode's scopes
    assert sorted(token.scope.split()) == sorted(grant["scope"])
    (stream,) = bare.emulator.log_streams
    assert stream["status"] == "active" and stream["type"] == "eventbridge"
    assert stream["filters"] == [{"type": "category", "name": "management.success"}]
    source = stream["sink"]["awsPartnerEventSource"]
    buses = boto3.client("events").list_event_buses(NamePrefix=source)["EventBuses"]
    assert [bus["Name"] for bus in buses] == [source]
    assert report["parameters"] == {
        "Auth0Domain": DOMAIN, "TokenExchangeMode": MODE_ON_BEHALF_OF, "Auth0EventBusName": source,
        "Auth0CredentialsSecretArn": boto3.client("secretsmanager").describe_secret(
            SecretId=DEFAULT_SECRET_NAME)["ARN"]}
    assert stored["client_secret"] not in first.out + first.err
    assert bare.admin_token not in first.out + first.err

    second = bare.setup()
    assert second.code == 0, second.err
    assert second.json["changed"] is False
    assert {s["action"] for s in second.json["steps"]} == {"unchanged"}
    assert second.json["parameters"] == report["parameters"]
    assert len(bare.our_applications()) == 1 and len(bare.emulator.log_streams) == 1
    assert bare.stored() == stored  # the same working secret: not rotated

    text = bare.cli("setup", "--domain", DOMAIN)
    assert text.code == 0 and "nothing to change: all in place" in text.out
    assert "sam deploy --parameter-overrides Auth0Domain=acme.eu.auth0.com" in text.out


def test_setup_dry_run_changes_nothing(bare):
    result = bare.setup("--dry-run")
    assert result.code == 0, result.err
    assert result.json["changed"] is True and result.json["dry_run"] is True
    assert [s["action"] for s in result.json["steps"]] == ["would create"] * 5
    assert bare.our_applications() == [] and bare.emulator.log_streams == []
    assert boto3.client("secretsmanager").list_secrets()["SecretList"] == []


def test_setup_corrects_what_differs(bare):
    assert bare.setup().code == 0
    (application,) = bare.our_applications()
    client_id = application["client_id"]
    (grant,) = bare.grants_of(client_id)
    # Someone widened the grant and dropped a needed scope, paused the stream and narrowed its
    # filters, and the stored secret is no longer the application's.
    wrong_scopes = [s for s in grant["scope"] if s != "create:clients"] + ["delete:clients"]
    bare.admin("PATCH", f"/client-grants/{grant['id']}", {"scope": wrong_scopes})
    (stream,) = bare.emulator.log_streams
    bare.admin("PATCH", f"/log-streams/{stream['id']}",
               {"status": "paused", "filters": [{"type": "category", "name": "auth.login.fail"}]})
    boto3.client("secretsmanager").put_secret_value(
        SecretId=DEFAULT_SECRET_NAME, SecretString=json.dumps({"client_id": client_id, "client_secret": "stale" * 10}))

    result = bare.setup("--dry-run")
    assert result.code == 0 and result.json["changed"] is True
    assert bare.grants_of(client_id)[0]["scope"] == wrong_scopes  # the dry run left it

    result = bare.setup()
    assert result.code == 0, result.err
    actions = {s["name"]: (s["action"], s["detail"]) for s in result.json["steps"]}
    assert actions["client grant"][0] == "updated"
    assert "add create:clients" in actions["client grant"][1] and "remove delete:clients" in actions["client grant"][1]
    assert actions["credentials secret"][0] == "updated" and "rotate-secret" in actions["credentials secret"][1]
    assert actions["log stream"][0] == "updated" and "was paused" in actions["log stream"][1]
    assert actions["application"][0] == actions["event bus"][0] == "unchanged"
    assert sorted(bare.grants_of(client_id)[0]["scope"]) == sorted(required_scopes(MODE_ON_BEHALF_OF, False))
    (stream,) = bare.emulator.log_streams
    assert stream["status"] == "active"
    assert {"type": "category", "name": "management.success"} in stream["filters"]
    assert {"type": "category", "name": "auth.login.fail"} in stream["filters"]  # theirs kept
    assert bare.token_for(bare.stored()).access_token  # the new secret works
    assert bare.setup().json["changed"] is False


def test_setup_grants_the_scopes_of_the_configuration(bare):
    grants = json.dumps({"https://downstream.example.com": ["read:data"]})
    result = bare.setup("--downstream-grants", grants, "--client-secrets-prefix", "tee/clients/")
    assert result.code == 0, result.err
    (application,) = bare.our_applications()
    (grant,) = bare.grants_of(application["client_id"])
    assert sorted(grant["scope"]) == sorted(required_scopes(MODE_ON_BEHALF_OF, True, with_credentials=True))
    assert result.json["parameters"]["DownstreamGrants"] == '{"https://downstream.example.com":["read:data"]}'
    assert result.json["parameters"]["ClientSecretsPrefix"] == "tee/clients/"
    legacy = bare.setup("--mode", "legacy_resource_server")  # the same application, the legacy scopes
    assert legacy.code == 0 and sorted(bare.grants_of(application["client_id"])[0]["scope"]) == sorted(
        required_scopes("legacy_resource_server", False))


def test_setup_writes_samconfig_keeping_the_file(bare, tmp_path):
    path = tmp_path / "samconfig.toml"
    path.write_text('version = 0.1\n# keep me\n[default.deploy.parameters]\ncapabilities = "CAPABILITY_IAM"\n'
                    'parameter_overrides = "AlarmEmail=ops@acme.com"\n')
    result = bare.setup("--write-samconfig", str(path))
    assert result.code == 0, result.err
    text = path.read_text()
    assert "# keep me" in text and 'capabilities = "CAPABILITY_IAM"' in text
    import tomllib

    overrides = tomllib.loads(text)["default"]["deploy"]["parameters"]["parameter_overrides"]
    assert "AlarmEmail=ops@acme.com" in overrides and f"Auth0Domain={DOMAIN}" in overrides
    assert "Auth0CredentialsSecretArn=arn:aws:secretsmanager:" in overrides
    again = bare.setup("--write-samconfig", str(path))
    assert again.json["changed"] is False and again.json["steps"][-1]["action"] == "unchanged"


def test_update_samconfig_quotes_json_and_round_trips():
    text = update_samconfig("", {"DownstreamGrants": '{"urn:a": "*"}', "Auth0Domain": DOMAIN})
    assert update_samconfig(text, {"Auth0Domain": DOMAIN}) == text
    import tomllib

    overrides = tomllib.loads(text)["default"]["deploy"]["parameters"]["parameter_overrides"]
    assert overrides == "DownstreamGrants='{\"urn:a\": \"*\"}' Auth0Domain=acme.eu.auth0.com"


def test_setup_refuses_without_an_operator_token_or_with_too_few_scopes(bare):
    missing = bare.setup(AUTH0_ADMIN_TOKEN=None)
    assert missing.code == 2 and "export AUTH0_ADMIN_TOKEN" in missing.err
    other = bare.setup("--admin-token-env", "MY_TOKEN", MY_TOKEN=bare.admin_token, AUTH0_ADMIN_TOKEN=None)
    assert other.code == 0, other.err
    narrow = bare.emulator.issue_token(ADMIN_ID, ["read:clients"])
    refused = bare.setup("--app-name", "another", "--secret-name", "another/secret", AUTH0_ADMIN_TOKEN=narrow)
    assert refused.code == 2
    failed = refused.json["steps"][-1]
    assert failed["action"] == "failed" and failed["name"] == "application"
    assert "create:clients" in failed["detail"]
    bad_domain = bare.cli("setup", "--domain", "https://acme.eu.auth0.com/")
    assert bad_domain.code == 2 and "no scheme" in bad_domain.err
    no_region = bare.setup(AWS_REGION=None, AWS_DEFAULT_REGION=None)
    assert no_region.code in (0, 2)  # boto3 may still find a region in ~/.aws; never a crash


# --------------------------------------------------------------------------- doctor without a stack


def _checks(result: CliResult) -> dict[str, dict]:
    return {check["name"]: check for check in result.json["checks"]}


def test_doctor_after_setup_fails_only_what_needs_the_stack(bare):
    assert bare.setup().code == 0
    result = bare.cli("doctor", "--json")
    assert result.code == 1, result.err
    checks = _checks(result)
    failing = sorted(name for name, check in checks.items() if not check["ok"])
    assert failing == ["dead-letter queues", "event rule", "sweep schedule"]
    for name in failing:
        assert "sam deploy" in checks[name]["fix"] and checks[name]["detail"].startswith("not checked: no stack")
    assert checks["token scopes"]["ok"] and checks["log stream active"]["ok"] and checks["partner event source"]["ok"]
    assert bare.admin_token not in result.out


def test_doctor_on_a_bare_tenant_names_setup_as_the_fix(bare):
    result = bare.cli("doctor", "--json")
    assert result.code == 1
    checks = _checks(result)
    secret = checks["credentials secret"]
    assert not secret["ok"] and "token-exchange-enabler setup" in secret["fix"]
    assert not checks["log stream"]["ok"] and "setup" in checks["log stream"]["fix"]
    without_token = bare.cli("doctor", "--json", AUTH0_ADMIN_TOKEN=None)
    stream = _checks(without_token)["log stream"]
    assert not stream["ok"] and "AUTH0_ADMIN_TOKEN" in stream["fix"] and "read:log_streams" in stream["fix"]


def test_doctor_exits_3_when_aws_cannot_be_reached(bare):
    result = bare.cli("doctor", "--json", "--endpoint-url", "http://127.0.0.1:9")
    assert result.code == 3, result.out + result.err
    assert any("unreachable" in check["detail"] for check in result.json["checks"])


# --------------------------------------------------------------------------- doctor on a deployed stack


@pytest.fixture
def deployed(bare) -> Iterator[Bare]:
    """``bare`` after setup and a local ``sam deploy`` with setup's parameters; ``env`` as --stack-name
    would read it."""
    from local.serve import operator_environment
    from local.stack import deploy_local_stack

    report = bare.setup().json
    stack = deploy_local_stack(dict(report["parameters"]))
    bare.env = {**bare.env, **operator_environment(stack)}
    try:
        yield bare
    finally:
        stack.delete()


def test_doctor_on_a_deployed_stack_passes_every_check(deployed):
    result = deployed.cli("doctor", "--json")
    assert result.code == 0, result.out + result.err
    assert result.json["ok"] is True
    assert len(result.json["checks"]) == 12
    text = deployed.cli("doctor")
    assert text.code == 0 and "all checks pass" in text.out


def _one_failure(result: CliResult) -> dict:
    assert result.code == 1, result.out + result.err
    failing = [check for check in result.json["checks"] if not check["ok"]]
    assert len(failing) == 1, failing
    return failing[0]


def test_doctor_finds_a_paused_stream(deployed):
    (stream,) = deployed.emulator.log_streams
    deployed.admin("PATCH", f"/log-streams/{stream['id']}", {"status": "paused"})
    check = _one_failure(deployed.cli("doctor", "--json"))
    assert check["name"] == "log stream active" and check["detail"].startswith("paused")
    assert "active" in check["fix"] and "reconcile" in check["fix"]
    deployed.emulator.set_log_stream_status(stream["id"], "suspended")
    check = _one_failure(deployed.cli("doctor", "--json"))
    assert "suspended" in check["detail"] and "partner event source" in check["fix"]


def test_doctor_finds_a_filter_without_management_api_successes(deployed):
    (stream,) = deployed.emulator.log_streams
    deployed.admin("PATCH", f"/log-streams/{stream['id']}", {"filters": [{"type": "category",
                                                                           "name": "auth.login.success"}]})
    check = _one_failure(deployed.cli("doctor", "--json"))
    assert check["name"] == "log stream filters" and "management.success" in check["fix"]


def test_doctor_finds_a_missing_scope(deployed):
    (application,) = deployed.our_applications()
    (grant,) = deployed.grants_of(application["client_id"])
    deployed.admin("PATCH", f"/client-grants/{grant['id']}",
                   {"scope": [s for s in grant["scope"] if s != "update:clients"]})
    check = _one_failure(deployed.cli("doctor", "--json"))
    assert check["name"] == "token scopes" and "missing update:clients" in check["detail"]
    assert "setup" in check["fix"]


def test_doctor_finds_an_unassociated_source(deployed):
    source = deployed.env["AUTH0_EVENT_BUS_NAME"]
    boto3.client("events").delete_event_bus(Name=source)
    result = deployed.cli("doctor", "--json")
    checks = _checks(result)
    assert result.code == 1
    assert not checks["partner event source"]["ok"]
    assert "not associated" in checks["partner event source"]["detail"]
    assert f"--event-source-name {source}" in checks["partner event source"]["fix"]


def test_doctor_finds_a_missing_secret(deployed):
    boto3.client("secretsmanager").delete_secret(SecretId=deployed.env["AUTH0_CREDENTIALS_SECRET_ID"],
                                                 ForceDeleteWithoutRecovery=True)
    result = deployed.cli("doctor", "--json")
    checks = _checks(result)
    assert result.code == 1 and not checks["credentials secret"]["ok"]
    assert "ResourceNotFoundException" in checks["credentials secret"]["detail"]
    assert "setup" in checks["credentials secret"]["fix"]
    assert checks["management api token"]["detail"].startswith("not checked")


def test_doctor_finds_dead_letters_with_the_oldest_reason(deployed):
    boto3.client("sqs").send_message(
        QueueUrl=deployed.env["DEAD_LETTER_QUEUE_URL"], MessageBody="{}",
        MessageAttributes={"ERROR_REASON": {"DataType": "String", "StringValue": "the tenant reached its limit"},
                           "ERROR_KIND": {"DataType": "String", "StringValue": "configuration"}})
    check = _one_failure(deployed.cli("doctor", "--json"))
    assert check["name"] == "dead-letter queues" and "the tenant reached its limit" in check["detail"]
    assert "replay --peek" in check["fix"]


def test_doctor_finds_a_downstream_audience_that_is_no_api(deployed):
    grants = json.dumps({"urn:nowhere": "*"})
    # Grants configured after a setup without them: the grant scopes are missing too, and said so.
    result = deployed.cli("doctor", "--json", DOWNSTREAM_GRANTS=grants)
    failing = {check["name"]: check for check in result.json["checks"] if not check["ok"]}
    assert result.code == 1 and sorted(failing) == ["downstream audiences", "token scopes"]
    assert "missing read:client_grants create:client_grants update:client_grants" in failing["token scopes"]["detail"]
    assert deployed.setup("--downstream-grants", grants).code == 0
    check = _one_failure(deployed.cli("doctor", "--json", DOWNSTREAM_GRANTS=grants))
    assert check["name"] == "downstream audiences" and "urn:nowhere" in check["detail"]


# --------------------------------------------------------------------------- canary


def _canary_apis(emulator: Auth0Emulator) -> list[dict]:
    return [s for s in emulator.resource_servers if s["identifier"].startswith("urn:token-exchange-enabler:canary:")]


def test_canary_cleans_up_after_a_timeout(bare):
    result = bare.cli("canary", "--json", "--timeout", "1", "--poll-interval", "0.2")
    assert result.code == 1, result.err
    report = result.json
    assert report["ok"] is False and report["result"] == "timeout" and report["cleaned_up"] is True
    assert report["api_id"] and report["latency_ms"] is None
    assert _canary_apis(bare.emulator) == []


def test_canary_enabled_by_the_worker_is_measured_and_cleaned_up(bare):
    """A stand-in for the deployed event path: each "API created" record is enabled by the operator's
    ``enable`` (the worker's enabler), on its own thread, as a worker would."""
    assert bare.setup().code == 0
    env = {**bare.env, "AUTH0_CREDENTIALS_SECRET_ID": DEFAULT_SECRET_NAME, "TOKEN_CACHE_SECRET_ID": "tee/cache"}
    boto3.client("secretsmanager").create_secret(Name="tee/cache", SecretString="{}")

    def on_record(record: dict) -> None:
        details = record.get("data", {}).get("details", {})
        if details.get("request", {}).get("method") == "post" and details["request"].get("path") == \
                "/api/v2/resource-servers":
            api_id = details["response"]["body"]["id"]
            threading.Thread(target=main, args=(["enable", api_id, "--quiet"],),
                             kwargs={"environ": env, "out": io.StringIO(), "err": io.StringIO()}).start()

    bare.emulator.on_log_event = on_record
    result = bare.cli("canary", "--json", "--timeout", "30", "--poll-interval", "0.2")
    bare.emulator.on_log_event = None
    assert result.code == 0, result.out + result.err
    report = result.json
    assert report["ok"] is True and report["cleaned_up"] is True and report["latency_ms"] > 0
    assert _canary_apis(bare.emulator) == []
    assert not [c for c in bare.emulator.clients if str(c.get("resource_server_identifier", "")).startswith(
        "urn:token-exchange-enabler:canary:")]


def test_canary_cleans_up_after_an_interrupt(bare):
    from token_exchange_enabler.auth0 import ManagementApi, StaticToken
    from token_exchange_enabler.canary import run_canary

    api = ManagementApi(base_url=bare.emulator.base_url, tokens=StaticToken(bare.admin_token))
    looks = []

    def stop() -> bool:
        looks.append(1)
        return len(looks) >= 2  # Ctrl-C after the second look

    report = run_canary(api, mode=MODE_ON_BEHALF_OF, timeout=60, poll_interval=0.05, should_stop=stop)
    assert report.result == "interrupted" and report.cleaned_up and report.api_id
    assert _canary_apis(bare.emulator) == []

    def interrupted_sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    report = run_canary(api, mode=MODE_ON_BEHALF_OF, timeout=60, poll_interval=0.05, sleep=interrupted_sleep)
    assert report.result == "interrupted" and report.cleaned_up
    assert _canary_apis(bare.emulator) == []


def test_canary_needs_an_operator_token(bare):
    result = bare.cli("canary", AUTH0_ADMIN_TOKEN=None)
    assert result.code == 2 and "AUTH0_ADMIN_TOKEN" in result.err


# --------------------------------------------------------------------------- attacks on setup and canary


def test_setup_stopped_before_its_secret_was_stored_recovers_without_a_second_application(bare):
    """A setup killed between creating the application and storing its secret: the secret (only in
    that run's memory) is gone; the next run finds the application by its tag, gives it a new secret
    and stores that one."""
    assert bare.setup().code == 0
    boto3.client("secretsmanager").delete_secret(SecretId=DEFAULT_SECRET_NAME, ForceDeleteWithoutRecovery=True)
    result = bare.setup()
    assert result.code == 0, result.err
    steps = {s["name"]: s for s in result.json["steps"]}
    assert steps["application"]["action"] == "unchanged"
    secret = steps["credentials secret"]
    assert secret["action"] == "created" and "rotate-secret" in secret["detail"]
    assert len(bare.our_applications()) == 1
    assert bare.token_for(bare.stored()).access_token


def test_setup_names_the_applications_a_race_left_behind(bare):
    assert bare.setup().code == 0
    (kept,) = bare.our_applications()
    extra = bare.admin("POST", "/clients", {"name": "token-exchange-enabler", "app_type": "non_interactive",
                                            "client_metadata": {"managed_by": "token-exchange-enabler"}})
    result = bare.setup()
    assert result.code == 0 and result.json["changed"] is False
    detail = result.json["steps"][0]["detail"]
    assert detail.startswith(kept["client_id"]) and extra["client_id"] in detail and "delete them" in detail


def test_canary_and_doctor_dry_runs_create_nothing(bare):
    result = bare.cli("canary", "--dry-run", "--json")
    assert result.code == 0 and result.json["result"] == "planned" and result.json["api_id"] is None
    assert bare.emulator.resource_servers == [s for s in bare.emulator.resource_servers if s.get("is_system")]
    doctor = bare.cli("doctor", "--dry-run", "--canary", "--json")
    assert doctor.json["canary"]["result"] == "planned"
    assert _canary_apis(bare.emulator) == []


def test_doctor_exits_3_when_auth0_cannot_be_reached(bare):
    assert bare.setup().code == 0
    result = bare.cli("doctor", "--json", AUTH0_BASE_URL="http://127.0.0.1:9")
    assert result.code == 3, result.out + result.err
    checks = _checks(result)
    assert checks["management api token"]["ok"] is False and "try again" in checks["management api token"]["fix"]


def test_setup_encrypts_the_secret_with_the_given_key_and_moves_it_to_another(bare):
    kms = boto3.client("kms")
    first_key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert bare.setup("--kms-key-id", first_key).code == 0
    secrets = boto3.client("secretsmanager")
    assert secrets.describe_secret(SecretId=DEFAULT_SECRET_NAME)["KmsKeyId"] == first_key
    second_key = kms.create_key()["KeyMetadata"]["KeyId"]
    result = bare.setup("--kms-key-id", second_key)
    step = {s["name"]: s for s in result.json["steps"]}["credentials secret"]
    assert step["action"] == "updated" and f"encrypt with {second_key}" in step["detail"]
    assert secrets.describe_secret(SecretId=DEFAULT_SECRET_NAME)["KmsKeyId"] == second_key
    assert bare.setup("--kms-key-id", second_key).json["changed"] is False


def test_doctor_with_a_refused_operator_token_fails_the_stream_checks_not_exit_3(bare):
    assert bare.setup().code == 0
    result = bare.cli("doctor", "--json", AUTH0_ADMIN_TOKEN="not-a-token-the-tenant-issued")
    assert result.code == 1, result.out + result.err
    checks = _checks(result)
    assert "refused the token in AUTH0_ADMIN_TOKEN" in checks["log stream"]["detail"]
    assert "export AUTH0_ADMIN_TOKEN" in checks["log stream"]["fix"]
    assert checks["log stream active"]["detail"].startswith("not checked")
