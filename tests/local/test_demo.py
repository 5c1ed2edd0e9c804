"""`make demo` end to end, short runs: the JSON summary is the contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration
KEYS = {"apis_created", "enabled", "skipped", "dead_lettered", "token_requests", "management_calls",
        "rate_limited", "seconds"}


def demo(*args: str) -> tuple[dict, subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run([sys.executable, "-m", "local.demo", "--json", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.stdout.strip(), done.stderr[-3000:]
    return json.loads(done.stdout), done


def test_default_mode_enables_every_api_and_skips_the_system_one():
    summary, done = demo("--apis", "8")
    assert done.returncode == 0, done.stderr[-3000:]
    assert KEYS <= set(summary)
    assert summary["apis_created"] == 8
    assert summary["enabled"] == 7 and summary["skipped"] == 1 and summary["dead_lettered"] == 0
    assert summary["lost"] == 0 and summary["duplicate_clients"] == 0
    assert summary["token_requests"] == 1
    assert summary["management_calls"] == 14  # 2 per API enabled, none for the system API
    (system,) = [a for a in summary["apis"] if a["style"] == "system"]
    assert system["status"] == "skipped" and "system API" in system["reason"]


def test_faults_duplicates_and_delays_lose_nothing_and_make_no_second_client():
    summary, done = demo("--apis", "9", "--faults", "5xx,duplicates,delays,latency", "--visibility-timeout", "5",
                         "--function-timeout", "5")
    assert done.returncode == 0, done.stderr[-3000:]
    assert summary["duplicate_events_streamed"] > 0
    assert summary["lost"] == 0 and summary["duplicate_clients"] == 0
    assert summary["enabled"] + summary["skipped"] + summary["dead_lettered"] == 9
    assert summary["dead_lettered"] == 0


def test_legacy_mode_on_a_current_tenant_dead_letters_with_the_reason():
    summary, done = demo("--apis", "3", "--mode", "legacy_resource_server", "--current-tenant")
    assert done.returncode == 0, done.stderr[-3000:]
    assert summary["dead_lettered"] == 2 and summary["skipped"] == 1
    reasons = {a["reason"] for a in summary["apis"] if a["status"] == "dead_lettered"}
    assert all("use on_behalf_of" in r or "TOKEN_EXCHANGE_MODE=on_behalf_of" in r for r in reasons)
    assert summary["management_calls"] == 2  # one PATCH each, never retried


def test_bad_flags_get_a_clear_error():
    done = subprocess.run([sys.executable, "-m", "local.demo", "--faults", "meteor"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown fault(s): meteor" in done.stderr
