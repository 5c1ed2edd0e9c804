"""Every entry point under the same rules, attacked the way a hostile operator would.

Each test reproduces a way the guarantee "nothing lost, never a second client" broke when the
worker, ``enable`` and the sweep each decided and locked in their own way: the worker, the CLI
(in this process and as a real process that gets killed) and the sweep run against the Auth0
emulator and the stack in moto's server, over HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import boto3
import pytest
import requests
from token_exchange_enabler.bootstrap import build_runtime
from token_exchange_enabler.config import MODE_ON_BEHALF_OF, Config
from token_exchange_enabler.locks import DEFAULT_LEASE_SECONDS, lock_key
from token_exchange_enabler.reconcile import Reconciler
from token_exchange_enabler.scopes import required_scopes

from local.auth0_emulator import Fault
from tests.conftest import ROOT
from tests.operations.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET, OBO, load_function

pytestmark = pytest.mark.integration


def worker(ops, monkeypatch, **env):
    return load_function("enable_token_exchange", {**ops.stack.function.environment,
                                                   "AUTH0_BASE_URL": ops.emulator.base_url, **env}, monkeypatch)


def sqs_event(ops, events: list[dict]) -> dict:
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": json.dumps(event),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": ops.stack.queue_arn, "awsRegion": "us-east-1",
    } for event in events]}


def context():
    from tests.integration.conftest import LambdaContext

    return LambdaContext()


def admin(ops, method: str, path: str, **body) -> dict:
    """What an admin does in the Dashboard, over the Management API."""
    scopes = ["read:clients", "create:clients", "update:clients", "delete:clients"]
    ops.emulator.add_m2m_client("dashboard-admin", "dashboard-admin-secret-0123456789", scopes=scopes)
    token = ops.emulator.issue_token("dashboard-admin", scopes=scopes)
    response = requests.request(method, f"{ops.emulator.base_url}/api/v2{path}", json=body or None, timeout=5,
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def lock_item(ops, api_id: str) -> dict | None:
    item = boto3.client("dynamodb").get_item(TableName=ops.stack.idempotency_table,
                                             Key={"id": {"S": lock_key("on_behalf_of", api_id)}}).get("Item")
    return item


def test_the_worker_never_acknowledges_a_record_whose_lock_the_sweep_holds(ops, monkeypatch):
    """Regression (silent loss): the sweep held the API's lock and its POST /clients failed (503)
    while the worker got the event; the worker acknowledged it as "another instance is on it"."""
    event = ops.create_api("https://contested.example.com", "Contested")
    api_id = event["detail"]["data"]["details"]["response"]["body"]["id"]
    runtime = build_runtime(Config.from_env({**ops.env, "IDEMPOTENCY_TABLE_NAME": ops.stack.idempotency_table}))
    handler = worker(ops, monkeypatch)
    # The sweep's read under the lock is slow, then its create fails.
    ops.emulator.inject(Fault("latency", delay=1.0, path_prefix=f"/api/v2/resource-servers/{api_id}", method="GET"))
    ops.emulator.inject(Fault("status", status=503, path_prefix="/api/v2/clients", method="POST"))
    sweep = threading.Thread(target=lambda: reports.append(Reconciler(enabler=runtime.enabler).run()))
    reports: list = []
    sweep.start()
    deadline = time.monotonic() + 5
    while lock_item(ops, api_id) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lock_item(ops, api_id) is not None, "the sweep never took the lock"
    result = handler.lambda_handler(sqs_event(ops, [event]), context())
    sweep.join(30)
    ops.emulator.clear_faults()
    assert len(result["batchItemFailures"]) == 1  # back to the queue, not dropped
    (report,) = reports
    assert not report.ok and report.count("failed") == 1  # the sweep says it failed
    assert ops.custom_clients("https://contested.example.com") == []
    # Delivered again once the sweep let go: enabled.
    assert handler.lambda_handler(sqs_event(ops, [event]), context()) == {"batchItemFailures": []}
    assert len(ops.custom_clients("https://contested.example.com")) == 1


def test_enable_and_the_worker_at_the_same_moment_make_one_client(ops, monkeypatch):
    """Regression (two Custom API clients): `enable` took no lock; with both reads slowed by 0.8 s,
    the CLI and the worker each created a client and both reported success."""
    event = ops.create_api("https://both.example.com", "Both")
    handler = worker(ops, monkeypatch)
    ops.emulator.inject(Fault("latency", delay=0.8, times=None, path_prefix="/api/v2/resource-servers",
                              method="GET"))
    barrier, results = threading.Barrier(2), {}

    def run_worker():
        barrier.wait()
        results["worker"] = handler.lambda_handler(sqs_event(ops, [event]), context())

    def run_cli():
        barrier.wait()
        results["cli"] = ops.cli("enable", "https://both.example.com", "--json")

    threads = [threading.Thread(target=run_worker), threading.Thread(target=run_cli)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    ops.emulator.clear_faults()
    assert len(ops.custom_clients("https://both.example.com")) == 1
    assert ops.emulator.counters.get("POST /api/v2/clients") == 1
    # Each says what is true: the one that created the client "enabled"; the other either met the
    # lock (the CLI: busy, exit 1; the worker: the record back to the queue) or came after it and
    # read the API enabled.
    cli = results["cli"].json["results"][0]
    assert cli["status"] in ("enabled", "already_enabled", "busy")
    assert (results["cli"].code == 1) == (cli["status"] == "busy")
    if results["worker"]["batchItemFailures"]:
        assert cli["status"] == "enabled"
        assert handler.lambda_handler(sqs_event(ops, [event]), context()) == {"batchItemFailures": []}
    assert len(ops.custom_clients("https://both.example.com")) == 1


def test_the_sweep_merges_into_the_client_as_it_is_now_not_as_it_was_listed(ops):
    """Regression (the sweep undoes an operator): clients were listed once and a PATCH merged into
    that old copy, so a profile an admin removed mid-sweep was put back."""
    first = ops.emulator.create_resource_server({"identifier": "https://first.example.com"})
    second = ops.emulator.create_resource_server({"identifier": "https://second.example.com"})
    for server in (first, second):
        admin(ops, "POST", "/clients", name="c", app_type="resource_server",
              resource_server_identifier=server["identifier"],
              token_exchange={"allow_any_profile_of_type": ["custom_authentication"]})
    (victim,) = ops.custom_clients("https://second.example.com")
    runtime = build_runtime(Config.from_env(ops.env))

    def progress(examined, counts):  # after the first API, an admin drops the second's profile
        if examined == 1:
            admin(ops, "PATCH", f"/clients/{victim['client_id']}", token_exchange={"allow_any_profile_of_type": []})

    report = Reconciler(enabler=runtime.enabler, progress=progress).run()
    assert report.ok, report.as_dict()
    (after,) = ops.custom_clients("https://second.example.com")
    assert after["token_exchange"]["allow_any_profile_of_type"] == [OBO]  # not custom_authentication again


def test_the_sweep_repairs_an_api_whose_client_was_deleted_after_the_worker_enabled_it(ops, monkeypatch):
    """Regression (the sweep reports work it did not do): it took "enabled ... handled by the worker
    meanwhile" from the worker's stale idempotency record; the API stayed without a client."""
    event = ops.create_api("https://deleted-later.example.com", "Deleted later")
    assert worker(ops, monkeypatch).lambda_handler(sqs_event(ops, [event]), context()) == {"batchItemFailures": []}
    (client,) = ops.custom_clients("https://deleted-later.example.com")
    admin(ops, "DELETE", f"/clients/{client['client_id']}")
    result = ops.cli("reconcile", "--json")
    assert result.code == 0, result.err
    (item,) = [i for i in result.json["items"] if i["identifier"] == "https://deleted-later.example.com"]
    assert item["status"] == "enabled" and item["created_client"] is True
    assert "meanwhile" not in item["reason"]
    (again,) = ops.custom_clients("https://deleted-later.example.com")
    assert OBO in again["token_exchange"]["allow_any_profile_of_type"]


def _cli_process(ops, *argv: str) -> subprocess.Popen:
    env = {**os.environ, **ops.env, "PYTHONPATH": str(ROOT / "layers" / "token_exchange" / "python")}
    return subprocess.Popen([sys.executable, "-m", "token_exchange_enabler", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_lock(ops, api_id: str, process: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        item = lock_item(ops, api_id)
        if item is not None:
            return item
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the CLI never took the API's lock")


def test_a_killed_cli_blocks_its_api_for_its_lease_only_and_a_second_run_says_busy(ops):
    """Regression: a CLI `reconcile` killed inside the lock left it in progress for an hour (no expiry
    outside Lambda), and a second `reconcile` exited 0 reporting `busy` although nobody worked."""
    server = ops.emulator.create_resource_server({"identifier": "https://killed.example.com"})
    ops.emulator.inject(Fault("latency", delay=30, path_prefix="/api/v2/clients", method="POST"))
    process = _cli_process(ops, "reconcile")
    try:
        item = _wait_for_lock(ops, server["id"], process)
        process.kill()  # SIGKILL: no clean-up can run
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    ops.emulator.clear_faults()
    lease_left = float(item["lease_until"]["N"]) - time.time()
    assert 0 < lease_left <= DEFAULT_LEASE_SECONDS  # minutes at most, not the hour of a record's lifetime
    second = ops.cli("reconcile", "--json")
    assert second.code == 1  # not done, and it says so
    assert second.json["busy"] == 1


def test_ctrl_c_twice_releases_the_lock_the_cli_holds(ops):
    """An interrupted CLI releases what it holds: the worker can enable the API at once."""
    server = ops.emulator.create_resource_server({"identifier": "https://interrupted.example.com"})
    ops.emulator.inject(Fault("latency", delay=30, path_prefix="/api/v2/clients", method="POST"))
    process = _cli_process(ops, "enable", server["id"])
    try:
        _wait_for_lock(ops, server["id"], process)
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    ops.emulator.clear_faults()
    assert process.returncode == 130, err
    assert lock_item(ops, server["id"]) is None
    assert ops.cli("enable", server["id"]).code == 0


def test_a_missing_downstream_audience_dead_letters_the_record_with_its_name(ops, monkeypatch):
    """Regression: the grant's 404 became "skipped: the API no longer exists" and was acknowledged."""
    event = ops.create_api("https://granting.example.com", "Granting")
    ops.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=required_scopes(MODE_ON_BEHALF_OF, True))
    handler = worker(ops, monkeypatch, DOWNSTREAM_GRANTS='{"https://no-such-api.example.com": ["read:x"]}')
    assert handler.lambda_handler(sqs_event(ops, [event]), context()) == {"batchItemFailures": []}
    (letter,) = ops.drain(ops.stack.dlq_url)
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["ERROR_KIND"] == "configuration"
    assert "https://no-such-api.example.com" in attributes["ERROR_REASON"]
    assert "no longer exists" not in attributes["ERROR_REASON"]


@pytest.mark.parametrize("value", ["1", "true", "yes", "on"])
def test_dry_run_is_read_the_same_way_by_every_entry_point(ops, value):
    """Regression: DRY_RUN was parsed in three places that disagreed (`DRY_RUN=1`)."""
    from token_exchange_enabler.operator_requests import run_operator_request

    status = ops.cli("status", "--json", DRY_RUN=value)
    assert status.code == 0 and status.json["settings"]["dry_run"] is True
    replayed = run_operator_request({"action": "status"}, environ={**ops.env, "DRY_RUN": value},
                                    sqs=boto3.client("sqs"), secrets=boto3.client("secretsmanager"))
    assert replayed["settings"]["dry_run"] is True
    assert Config.from_env({**ops.env, "DRY_RUN": value}).dry_run is True
    assert ops.cli("status", DRY_RUN="maybe").code == 2
