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
    # 3 per API enabled (GET the API, POST its client, POST its downstream grant), none for the system API
    assert summary["management_calls"] == 21
    (system,) = [a for a in summary["apis"] if a["style"] == "system"]
    assert system["status"] == "skipped" and "system API" in system["reason"]
    # The proof: each enabled API's service exchanged a user's token for the downstream API, with the
    # credentials the worker stored for it; each was announced once on the platform's bus.
    assert (summary["exchanges_ok"], summary["exchanges_failed"]) == (7, 0)
    assert (summary["credentials_stored"], summary["events_announced"]) == (7, 7)
    assert summary["secrets_in_worker_logs"] == 0  # every client secret the emulator issued, looked for
    for api in summary["apis"]:
        if api["status"] == "enabled":
            assert api["proof"] == "ok" and api["events"] == 1
            assert api["secret"] == f"token-exchange-enabler/clients/{api['api_id']}"
    assert system["proof"] is None and system["secret"] is None


def test_without_the_proof_there_is_no_grant_and_no_exchange():
    summary, done = demo("--apis", "3", "--no-prove", "--no-deliver")
    assert done.returncode == 0, done.stderr[-3000:]
    assert summary["exchanges_ok"] is None and summary["exchanges_failed"] is None
    assert summary["credentials_stored"] is None and summary["events_announced"] is None
    assert summary["management_calls"] == 4  # GET + POST per API enabled: no grant


def test_a_run_beyond_the_presets_plan_says_so_plainly():
    summary, done = demo("--apis", "12", "--rate-limit", "free", "--no-prove", "--timeout", "120")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "beyond a real free tenant" in done.stderr and summary["plan"] is None
    within, done = demo("--apis", "4", "--rate-limit", "free", "--no-prove")
    assert done.returncode == 0 and within["plan"] == "free" and within["enabled"] == 3


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


def test_a_neighbour_on_the_tenant_is_counted_apart_from_the_worker():
    from local.demo import render

    summary, done = demo("--apis", "6", "--rate-share", "0.5", "--neighbour", "0.4")
    assert done.returncode == 0, done.stderr[-3000:]
    assert summary["enabled"] == 5 and summary["lost"] == 0
    neighbour = summary["neighbour"]
    assert neighbour["rate_per_s"] == 6.4  # 0.4 of the Enterprise bucket's 16/s
    assert neighbour["served"] > 0 and neighbour["rate_limited"] == 0
    assert neighbour["sent"] == neighbour["served"] + neighbour["rate_limited"] + neighbour["other_errors"]
    # the neighbour's token and reads are its own, not the worker's
    assert summary["token_requests"] == 1 and summary["management_calls"] == 15  # 3 per API: GET, POST, grant
    assert summary["rate_share"] == 0.5 and isinstance(summary["paced"], int)
    assert f"neighbour         {neighbour['served']} served, 0 answered 429" in render(summary)


def test_without_a_neighbour_there_is_none_in_the_summary():
    summary, done = demo("--apis", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert summary["neighbour"] is None and summary["paced"] is None  # metrics off: not measured
    assert summary["rate_share"] == 0.5  # the template's default


def test_a_neighbour_needs_a_share_of_a_rate_limit():
    for args, message in ((["--neighbour", "1.5"], "--neighbour must be in (0, 1]"),
                          (["--neighbour", "0.4", "--rate-limit", "none"], "--neighbour needs a rate limit"),
                          (["--rate-share", "0"], "--rate-share must be in (0, 1]")):
        done = subprocess.run([sys.executable, "-m", "local.demo", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2 and message in done.stderr, done.stderr
