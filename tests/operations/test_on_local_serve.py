"""The way in, end to end on ``python -m local.serve``: what an operator does in a second shell after
``. ./local-ops.env``, with the environment that file exports.

- ``--bare``: ``setup --json`` succeeds, a second run prints ``"changed": false``, and ``doctor`` then
  fails only the checks that need the deployed stack, each with its fix.
- full: ``doctor --json`` is all ok; a paused log stream makes it exit 1 naming the pause and its fix;
  ``canary --json`` is ok through the real event path (stream → bus → rule → queue → worker),
  ``cleaned_up`` is true and no canary API is left in the tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.serve import Served, ServeOptions, serving
from tests.operations.conftest import run_cli

STACK_CHECKS = ["dead-letter queues", "event rule", "sweep schedule"]


def cli(served: Served, *argv: str) -> tuple[int, Any, str]:
    result = run_cli(served.env, *argv)
    return result.code, result.json if "--json" in argv else result.out, result.err


def canary_apis(served: Served) -> list[dict]:
    return [s for s in served.emulator.resource_servers
            if s["identifier"].startswith("urn:token-exchange-enabler:canary:")]


@pytest.fixture
def bare(tmp_path) -> Iterator[Served]:
    with serving(ServeOptions(bare=True, env_file=tmp_path / "local-ops.env")) as served:
        yield served


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Iterator[Served]:
    env_file = tmp_path_factory.mktemp("serve") / "local-ops.env"
    with serving(ServeOptions(apis=0, env_file=env_file)) as served:
        yield served


def test_setup_twice_then_doctor_on_bare(bare):
    code, first, err = cli(bare, "setup", "--domain", bare.env["AUTH0_DOMAIN"], "--json")
    assert code == 0, err
    assert first["changed"] is True and {s["action"] for s in first["steps"]} == {"created"}
    code, second, err = cli(bare, "setup", "--domain", bare.env["AUTH0_DOMAIN"], "--json")
    assert code == 0, err
    assert second["changed"] is False and second["parameters"] == first["parameters"]

    code, doctor, err = cli(bare, "doctor", "--json")
    assert code == 1, err
    failing = {c["name"]: c for c in doctor["checks"] if not c["ok"]}
    assert sorted(failing) == STACK_CHECKS
    assert all(c["fix"].startswith("deploy the stack") for c in failing.values())


def test_doctor_is_all_ok_on_the_full_local_stack(full):
    code, doctor, err = cli(full, "doctor", "--json")
    assert code == 0, (doctor, err)
    assert doctor["ok"] is True and all(check["ok"] for check in doctor["checks"])


def test_a_paused_stream_fails_doctor_with_its_fix(full):
    (stream,) = full.emulator.log_streams
    url = f"{full.emulator.base_url}/api/v2/log-streams/{stream['id']}"
    headers = {"Authorization": f"Bearer {full.admin_token}"}
    requests.patch(url, json={"status": "paused"}, headers=headers, timeout=10).raise_for_status()
    try:
        code, doctor, _ = cli(full, "doctor", "--json")
        assert code == 1
        (failing,) = [c for c in doctor["checks"] if not c["ok"]]
        assert failing["name"] == "log stream active" and "paused" in failing["detail"]
        assert "set it active" in failing["fix"] and "reconcile" in failing["fix"]
    finally:
        requests.patch(url, json={"status": "active"}, headers=headers, timeout=10).raise_for_status()


def test_canary_through_the_event_path_cleans_up(full):
    code, report, err = cli(full, "canary", "--json", "--timeout", "60", "--poll-interval", "0.25")
    assert code == 0, (report, err)
    assert report["ok"] is True and report["cleaned_up"] is True and report["latency_ms"] > 0
    assert canary_apis(full) == []
    code, doctor, err = cli(full, "doctor", "--json", "--canary", "--timeout", "60", "--poll-interval", "0.25")
    assert code == 0, (doctor, err)
    assert doctor["canary"]["ok"] is True and doctor["canary"]["cleaned_up"] is True
    assert canary_apis(full) == []
