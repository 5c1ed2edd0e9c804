"""local/serve.py: the whole event path kept up for the operator CLI, and the bare tenant for setup."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from local.serve import ADMIN_SCOPES, READY_LINE, Served, ServeOptions, serving
from tests.conftest import ROOT

# What the operator CLI reads, beside the Auth0 and AWS settings.
FULL_VARIABLES = {
    "AUTH0_EVENT_BUS_NAME", "SOURCE_QUEUE_URL", "DEAD_LETTER_QUEUE_URL", "DELIVERY_DEAD_LETTER_QUEUE_URL",
    "TOKEN_CACHE_SECRET_ID", "IDEMPOTENCY_TABLE_NAME", "API_CREATED_RULE_ARN", "RECONCILE_SCHEDULE_NAME",
    "AUTH0_CREDENTIALS_SECRET_ID", "TOKEN_EXCHANGE_MODE",
}  # fmt: skip
BASE_VARIABLES = {
    "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AUTH0_BASE_URL", "AUTH0_DOMAIN", "AUTH0_ADMIN_TOKEN",
}  # fmt: skip
TIMEOUT = 20.0  # for an API to be enabled through the event path (about 1-2 s on an idle machine)


def read_env_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """The exported variables and the comment lines of an env file."""
    variables, comments = {}, []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            comments.append(line)
            continue
        ((name, value),) = [shlex.split(line.removeprefix("export "))[0].split("=", 1)]
        variables[name] = value
    return variables, comments


def wait_for(condition: Callable[[], Any], timeout: float = TIMEOUT, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def management(served: Served, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A Management API call with the admin token, over HTTP, as an operator's tool makes it."""
    return requests.request(
        method,
        f"{served.emulator.base_url}/api/v2{path}",
        headers={"Authorization": f"Bearer {served.admin_token}"},
        timeout=10,
        **kwargs,
    )


def create_api(served: Served, identifier: str) -> dict[str, Any]:
    response = management(served, "POST", "/resource-servers", json={"identifier": identifier, "name": identifier})
    assert response.status_code == 201, response.text
    return response.json()


def custom_api_client(served: Served, identifier: str) -> dict[str, Any] | None:
    found = [c for c in served.emulator.clients if c.get("resource_server_identifier") == identifier]
    return found[0] if found else None


def on_behalf_of(client: dict[str, Any] | None) -> bool:
    profiles = ((client or {}).get("token_exchange") or {}).get("allow_any_profile_of_type") or []
    return "on_behalf_of_token_exchange" in profiles


def delivered(served: Served) -> int:
    return sum(stats["delivered"] for stats in served.emulator.log_stream_stats.values())


@pytest.fixture(scope="class")
def worker_lines() -> list[str]:
    return []


@pytest.fixture(scope="class")
def full(tmp_path_factory, worker_lines) -> Iterator[Served]:
    env_file = tmp_path_factory.mktemp("serve") / "local-ops.env"
    options = ServeOptions(apis=2, env_file=env_file, on_worker_log=lambda _instance, line: worker_lines.append(line))
    with serving(options) as served:
        yield served
    assert not env_file.exists()  # removed on exit


# --- full mode --------------------------------------------------------------------------------------


class TestFullMode:
    """One full ``serving`` for the class: the event path, the env file, the operator CLI."""

    def test_setup_ran_as_a_user_runs_it(self, full):
        report = full.setup
        assert report is not None and report.ok and report.changed
        assert [(step.name, step.action) for step in report.steps] == [
            ("application", "created"),
            ("client grant", "created"),
            ("credentials secret", "created"),
            ("log stream", "created"),
            ("event bus", "created"),
        ]
        (application,) = [c for c in full.emulator.clients if (c.get("client_metadata") or {}).get("managed_by")]
        assert application["client_metadata"]["managed_by"] == "token-exchange-enabler"
        assert full.stack is not None
        # The stack runs with setup's secret and the bus associated with setup's log stream.
        assert full.stack.credentials_secret_arn == report.parameters["Auth0CredentialsSecretArn"]
        (stream,) = full.emulator.log_streams
        assert stream["status"] == "active"
        assert full.stack.event_bus_name == stream["sink"]["awsPartnerEventSource"]

    def test_the_env_file_has_what_the_operator_cli_reads(self, full):
        assert full.env_file is not None
        variables, comments = read_env_file(full.env_file)
        assert full.env_file.read_text().splitlines()[-1] == READY_LINE
        assert variables == full.env
        assert BASE_VARIABLES | FULL_VARIABLES <= set(variables)
        assert any("AUTH0_ADMIN_TOKEN" in line and "local only" in line for line in comments)
        stack = full.stack
        assert stack is not None
        assert variables["AWS_ENDPOINT_URL"] == full.aws.endpoint_url
        assert (variables["AUTH0_BASE_URL"], variables["AUTH0_DOMAIN"]) == (
            full.emulator.base_url,
            full.emulator.domain,
        )
        assert variables["AUTH0_ADMIN_TOKEN"] == full.admin_token
        assert variables["AUTH0_EVENT_BUS_NAME"] == stack.event_bus_name
        assert variables["AUTH0_CREDENTIALS_SECRET_ID"] == stack.credentials_secret_arn
        assert (variables["SOURCE_QUEUE_URL"], variables["DEAD_LETTER_QUEUE_URL"]) == (stack.queue_url, stack.dlq_url)
        assert variables["DELIVERY_DEAD_LETTER_QUEUE_URL"] == stack.delivery_dlq_url
        assert variables["TOKEN_CACHE_SECRET_ID"] == stack.token_cache_secret_arn
        assert variables["IDEMPOTENCY_TABLE_NAME"] == stack.idempotency_table
        assert variables["API_CREATED_RULE_ARN"] == stack.rule_arn
        assert variables["RECONCILE_SCHEDULE_NAME"] == stack.schedule_names["ReconcileFunction"]
        # The schedule the doctor checks exists (nothing runs it locally).
        schedule = boto3.client("scheduler").get_schedule(Name=variables["RECONCILE_SCHEDULE_NAME"])
        assert schedule["State"] == "ENABLED"

    def test_the_admin_token_may_use_every_route_of_the_emulator(self, full):
        assert full.emulator.token_claims(full.admin_token)["scope"].split() == list(ADMIN_SCOPES)
        assert {"read:log_streams", "update:log_streams", "create:resource_servers", "delete:clients"} <= set(
            ADMIN_SCOPES
        )

    def test_an_api_created_over_http_is_enabled_through_the_event_path(self, full, worker_lines):
        before = delivered(full)
        api = create_api(full, "https://orders.serve.example.com")
        wait_for(
            lambda: on_behalf_of(custom_api_client(full, api["identifier"])),
            what="the new API's Custom API client with On-Behalf-Of",
        )
        client = custom_api_client(full, api["identifier"])
        assert client is not None and client["app_type"] == "resource_server"
        assert delivered(full) > before  # its record went through the log stream, not around it
        wait_for(
            lambda: any(api["id"] in line and '"status":"enabled"' in line for line in worker_lines),
            what="the worker's log line",
        )

    def test_with_the_stream_paused_nothing_is_streamed(self, full):
        (stream,) = full.emulator.log_streams
        assert management(full, "PATCH", f"/log-streams/{stream['id']}", json={"status": "paused"}).ok
        try:
            before = delivered(full)
            unseen = create_api(full, "https://paused.serve.example.com")
            assert delivered(full) == before
        finally:
            assert management(full, "PATCH", f"/log-streams/{stream['id']}", json={"status": "active"}).ok
        # An API created once the stream is active again is enabled; the one created while it was
        # paused is not (its record was never streamed): it waits for a sweep.
        seen = create_api(full, "https://resumed.serve.example.com")
        wait_for(lambda: on_behalf_of(custom_api_client(full, seen["identifier"])), what="the API made after the pause")
        assert custom_api_client(full, unseen["identifier"]) is None

    def test_the_apis_made_before_the_log_stream_wait_for_a_sweep(self, full):
        assert [api["identifier"] for api in full.apis] == [f"https://forgotten-{i}.example.com" for i in range(2)]
        assert all(custom_api_client(full, api["identifier"]) is None for api in full.apis)

    def test_the_operator_cli_canary_passes_against_it(self, full):
        from token_exchange_enabler.cli import main as cli

        out, err = _Text(), _Text()
        code = cli(["canary", "--json", "--timeout", str(TIMEOUT)], environ=full.env, out=out, err=err)
        assert code == 0, err.text + out.text
        assert '"result": "enabled"' in out.text and '"cleaned_up": true' in out.text


class _Text:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


# --- bare mode --------------------------------------------------------------------------------------


def test_bare_mode_is_a_tenant_and_an_account_without_the_product(tmp_path):
    env_file = tmp_path / "bare.env"
    with serving(ServeOptions(bare=True, env_file=env_file)) as served:
        variables, _ = read_env_file(env_file)
        assert set(variables) == BASE_VARIABLES
        assert served.stack is None and served.worker is None and served.setup is None and served.apis == []
        tagged = [c for c in served.emulator.clients if (c.get("client_metadata") or {}).get("managed_by")]
        assert tagged == []
        assert served.emulator.clients == []
        assert management(served, "GET", "/log-streams").json() == []
        assert not boto3.client("secretsmanager").list_secrets()["SecretList"]
        assert not boto3.client("sqs").list_queues().get("QueueUrls")
        assert [bus["Name"] for bus in boto3.client("events").list_event_buses()["EventBuses"]] == ["default"]
        assert "token-exchange-enabler setup --domain acme.eu.auth0.com --region us-east-1" in served.summary()
    assert not env_file.exists()


# --- the command --------------------------------------------------------------------------------------


def test_the_command_writes_the_env_file_and_removes_it_on_sigterm(tmp_path):
    env_file = tmp_path / "ops.env"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "local.serve", "--bare", "--env-file", str(env_file)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: env_file.exists() and env_file.read_text().endswith(READY_LINE + "\n"), 60, "# ready")
        variables, _ = read_env_file(env_file)
        assert (
            requests.get(
                f"{variables['AUTH0_BASE_URL']}/api/v2/log-streams",
                headers={"Authorization": f"Bearer {variables['AUTH0_ADMIN_TOKEN']}"},
                timeout=10,
            ).json()
            == []
        )
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr[-3000:]
    assert "token-exchange-enabler setup --domain" in stderr
    assert not env_file.exists()
