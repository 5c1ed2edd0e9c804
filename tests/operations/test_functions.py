"""The two Lambda functions, with the environment the template gives them (resolved by the local stack)."""

from __future__ import annotations

import json

import pytest

from local.auth0_emulator import Fault
from tests.integration.conftest import LambdaContext
from tests.operations.conftest import load_function, worker_dead_letter_attributes

pytestmark = pytest.mark.integration


@pytest.fixture
def replay_function(ops, monkeypatch):
    return load_function("replay", {**ops.stack.functions["ReplayFunction"].environment,
                                    "AUTH0_BASE_URL": ops.emulator.base_url}, monkeypatch)


@pytest.fixture
def reconcile_function(ops, monkeypatch):
    return load_function("reconcile", {**ops.stack.functions["ReconcileFunction"].environment,
                                       "AUTH0_BASE_URL": ops.emulator.base_url}, monkeypatch)


def test_the_replay_function_peeks_redrives_enables_and_reports(ops, replay_function):
    invoke = replay_function.lambda_handler
    event = ops.create_api("https://lambda.example.com")
    ops.dead_letter(json.dumps(event), worker_dead_letter_attributes("configuration error: 403"))
    ops.dead_letter("not JSON")

    peek = invoke({"action": "peek"}, LambdaContext(function_name="replay"))
    assert peek["action"] == "peek" and len(peek["messages"]) == 2 and peek["replayable"] == 1

    redrive = invoke({"action": "redrive", "max_per_second": 50}, LambdaContext(function_name="replay"))
    assert redrive["moved"] == 1 and redrive["method"] == "one_by_one" and len(redrive["left"]) == 1
    assert ops.visible(ops.stack.queue_url) == 1

    enabled = invoke({"action": "enable", "ids": ["https://lambda.example.com"]}, LambdaContext(function_name="replay"))
    assert enabled["results"][0]["status"] == "enabled"

    status = invoke({"action": "status"}, LambdaContext(function_name="replay"))
    assert status["queues"]["dead_letter"]["visible"] == 1 and status["token_cache"]["state"] == "valid"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "action one of"),
        ({"action": "redrive", "maxPerSecond": 1}, "unknown field"),
        ({"action": "enable", "ids": []}, "ids must be a list"),
        ({"action": "redrive", "dlq": "other"}, "dlq must be"),
        ({"action": "peek", "limit": -1}, "limit must be a positive number"),
    ],
)
def test_the_replay_function_refuses_a_wrong_payload_clearly(replay_function, payload, message):
    with pytest.raises(ValueError, match=message):
        replay_function.lambda_handler(payload, LambdaContext(function_name="replay"))


def test_the_reconcile_function_sweeps_and_reports(ops, reconcile_function):
    for i in range(3):
        ops.emulator.create_resource_server({"identifier": f"https://sweep{i}.example.com"})
    planned = reconcile_function.lambda_handler({"dry_run": True}, LambdaContext(function_name="reconcile"))
    assert planned["planned"] == 3 and ops.writes() == 0
    result = reconcile_function.lambda_handler({}, LambdaContext(function_name="reconcile"))
    assert (result["enabled"], result["skipped"], result["failed"], result["stopped"]) == (3, 1, 0, None)
    assert result["management_calls"] == 2 + 3 * 2  # the listings, then per API under its lock: GET + POST
    for i in range(3):
        assert len(ops.custom_clients(f"https://sweep{i}.example.com")) == 1


def test_the_reconcile_function_stops_before_its_deadline(ops, reconcile_function):
    for i in range(3):
        ops.emulator.create_resource_server({"identifier": f"https://late{i}.example.com"})
    result = reconcile_function.lambda_handler({}, LambdaContext(function_name="reconcile", timeout_seconds=20))
    assert result["stopped"] == "deadline" and result["enabled"] == 0 and ops.writes() == 0


def test_a_sweep_whose_listing_fails_counts_as_a_failed_sweep(ops, reconcile_function, capsys):
    """The sweep's alarm watches ReconcileFailed: a sweep that examined nothing because Auth0
    refused the listing must still count one failure, or nothing would ever alarm."""
    ops.emulator.inject(Fault("status", status=503, times=None, path_prefix="/api/v2/resource-servers"))
    try:
        result = reconcile_function.lambda_handler({}, LambdaContext(function_name="reconcile"))
    finally:
        ops.emulator.clear_faults()
    assert result["stopped"] == "unreachable" and result["apis"] == 0
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["ReconcileFailed"] for m in emitted if "ReconcileFailed" in m] == [[1.0]]
