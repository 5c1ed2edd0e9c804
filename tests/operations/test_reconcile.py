"""reconcile: the sweep over every API, paginated, at a known number of Management API calls."""

from __future__ import annotations

import pytest
import requests
from token_exchange_enabler.bootstrap import build_runtime
from token_exchange_enabler.config import Config
from token_exchange_enabler.decision import Status
from token_exchange_enabler.locks import lock_key
from token_exchange_enabler.pacing import Pacer, pace_management_calls
from token_exchange_enabler.reconcile import Reconciler
from token_exchange_enabler.scopes import LEGACY_SCOPES

from tests.operations.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET, OBO

pytestmark = pytest.mark.integration

SKIP = "https://internal.*"


def seed(ops, apis: int, enabled: int, without_obo: int) -> list[dict]:
    """``apis`` APIs, the first ``enabled`` with an OBO-enabled Custom API client, the next
    ``without_obo`` with a client allowing only custom_authentication; plus one excluded API."""
    servers = [ops.emulator.create_resource_server({"identifier": f"https://api{i:04}.example.com", "name": f"API {i}"})
               for i in range(apis)]
    ops.emulator.create_resource_server({"identifier": "https://internal.example.com/audit", "name": "Internal"})
    token = ops.emulator.issue_token(M2M_CLIENT_ID, scopes=["create:clients"])
    for i, server in enumerate(servers[: enabled + without_obo]):
        profiles = [OBO] if i < enabled else ["custom_authentication"]
        response = requests.post(f"{ops.emulator.base_url}/api/v2/clients", timeout=5,
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"name": f"API {i} (token exchange)", "app_type": "resource_server",
                                       "resource_server_identifier": server["identifier"],
                                       "token_exchange": {"allow_any_profile_of_type": profiles}})
        assert response.status_code == 201, response.text
    return servers


def test_a_sweep_over_several_pages_reads_each_api_to_fix_under_its_lock_and_the_second_writes_nothing(ops):
    servers = seed(ops, apis=130, enabled=30, without_obo=10)
    calls_before = ops.emulator.management_calls
    result = ops.cli("reconcile", "--per-page", "50", "--json", SKIP_IDENTIFIER_PATTERNS=SKIP)
    assert result.code == 0, result.err
    report = result.json
    # 132 resource servers: 130 APIs, the excluded one and the Management API itself.
    assert (report["apis"], report["already_enabled"], report["enabled"], report["skipped"], report["failed"]) == (
        132, 30, 100, 2, 0)
    # 3 pages of resource servers + 1 page of Custom API clients, then under each API's lock a fresh
    # read: 90 x (GET the API + POST its client) + 10 x (GET the API + GET its client + PATCH).
    assert report["management_calls"] == ops.emulator.management_calls - calls_before == 3 + 1 + 90 * 2 + 10 * 3
    counters = ops.emulator.counters
    assert counters["POST /api/v2/clients"] == 40 + 90 and counters["PATCH /api/v2/clients/{id}"] == 10
    skipped = {item["identifier"]: item["reason"] for item in report["items"] if item["status"] == "skipped"}
    assert skipped["https://internal.example.com/audit"] == "identifier matches skip pattern 'https://internal.*'"
    assert skipped[ops.emulator.system_api["identifier"]].startswith("system API")
    for i, server in enumerate(servers):
        (client,) = ops.custom_clients(server["identifier"])
        profiles = client["token_exchange"]["allow_any_profile_of_type"]
        assert OBO in profiles
        if 30 <= i < 40:
            assert profiles == ["custom_authentication", OBO]  # merged, nothing dropped
    assert ops.custom_clients("https://internal.example.com/audit") == []

    writes, calls_before = ops.writes(), ops.emulator.management_calls
    again = ops.cli("reconcile", "--per-page", "50", "--json", SKIP_IDENTIFIER_PATTERNS=SKIP)
    assert again.code == 0
    assert again.json["already_enabled"] == 130 and again.json["enabled"] == 0
    assert ops.writes() == writes  # the second run writes nothing
    assert again.json["management_calls"] == ops.emulator.management_calls - calls_before == 3 + 3  # 130 clients now


def test_dry_run_prints_the_plan_and_changes_nothing(ops):
    seed(ops, apis=12, enabled=5, without_obo=2)
    writes = ops.writes()
    result = ops.cli("reconcile", "--dry-run", SKIP_IDENTIFIER_PATTERNS=SKIP)
    assert result.code == 0 and ops.writes() == writes
    assert "would create its Custom API client with On-Behalf-Of enabled" in result.out
    assert "would enable On-Behalf-Of on Custom API client" in result.out
    assert "14 APIs (on_behalf_of, dry run): 5 already enabled, 7 planned, 2 skipped" in result.out
    plan = ops.cli("reconcile", "--dry-run", "--json", SKIP_IDENTIFIER_PATTERNS=SKIP).json
    actions = sorted(item["action"] for item in plan["items"] if item["status"] == "dry_run")
    assert actions == ["create_client"] * 5 + ["enable_on_client"] * 2
    assert plan["management_calls"] == 2  # one page of each listing


def test_legacy_mode_patches_only_resource_servers_without_the_field(ops):
    ops.emulator.legacy_token_exchange_field = True
    ops.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=LEGACY_SCOPES)
    legacy = {"token_exchange": [{"enabled_subject_token_types": "urn:ietf:params:oauth:token-type:access_token"}]}
    for i in range(20):
        extra = legacy if i < 5 else {}
        ops.emulator.create_resource_server({"identifier": f"https://legacy{i}.example.com", **extra})
    env = {"TOKEN_EXCHANGE_MODE": "legacy_resource_server"}
    result = ops.cli("reconcile", "--json", **env)
    assert result.code == 0, result.err
    assert (result.json["already_enabled"], result.json["enabled"], result.json["skipped"]) == (5, 15, 1)
    assert result.json["management_calls"] == 1 + 15
    assert ops.emulator.counters["PATCH /api/v2/resource-servers/{id}"] == 15
    again = ops.cli("reconcile", "--json", **env)
    assert again.json["already_enabled"] == 20 and again.json["management_calls"] == 1


def test_legacy_mode_on_a_current_tenant_stops_at_the_first_refusal(ops):
    ops.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=LEGACY_SCOPES)
    for i in range(10):
        ops.emulator.create_resource_server({"identifier": f"https://current{i}.example.com"})
    result = ops.cli("reconcile", "--json", TOKEN_EXCHANGE_MODE="legacy_resource_server")
    assert result.code == 2
    assert result.json["stopped"] == "configuration" and "TOKEN_EXCHANGE_MODE=on_behalf_of" in result.json["error"]
    assert ops.emulator.counters["PATCH /api/v2/resource-servers/{id}"] == 1  # not ten


def test_an_api_whose_lock_is_held_is_reported_busy_and_the_sweep_fails(ops):
    """Someone (the worker, an operator) holds the API's lock: the sweep does not race it, lists the
    API as not done and exits non-zero; once the lock is free, the next sweep finishes it."""
    first = ops.emulator.create_resource_server({"identifier": "https://racing.example.com"})
    ops.emulator.create_resource_server({"identifier": "https://quiet.example.com"})
    runtime = build_runtime(Config.from_env({**ops.env, "IDEMPOTENCY_TABLE_NAME": ops.stack.idempotency_table}))
    with runtime.enabler.locks.hold(lock_key("on_behalf_of", first["id"]), first["id"], 60):
        report = Reconciler(enabler=runtime.enabler).run()
        held = ops.cli("reconcile", "--json")
    status = {r.identifier: r.status for r in report.results}
    assert status["https://racing.example.com"] == Status.BUSY
    assert status["https://quiet.example.com"] == Status.ENABLED
    assert not report.ok
    assert ops.custom_clients("https://racing.example.com") == []  # the sweep did not race the holder
    assert held.code == 1 and held.json["busy"] == 1
    (busy,) = [item for item in held.json["items"] if item["status"] == "busy"]
    assert busy["identifier"] == "https://racing.example.com" and "lock" in busy["reason"]
    after = ops.cli("reconcile", "--json")
    assert after.code == 0 and after.json["enabled"] == 1
    assert len(ops.custom_clients("https://racing.example.com")) == 1


def test_without_a_lock_table_a_creation_rereads_the_api_first(ops):
    ops.emulator.create_resource_server({"identifier": "https://noTable.example.com"})
    result = ops.cli("reconcile", "--json", IDEMPOTENCY_TABLE_NAME=None)
    assert result.code == 0 and result.json["enabled"] == 1
    assert result.json["management_calls"] == 2 + 2  # the listings, then GET + POST
    assert ops.emulator.counters["GET /api/v2/resource-servers/{id}"] == 1


def test_auth0_unreachable_is_exit_code_3(ops):
    result = ops.cli("reconcile", AUTH0_BASE_URL="http://127.0.0.1:9", AUTH0_HTTP_TIMEOUT="1")
    assert result.code == 3, result.err
    assert "unreachable" in result.out


def test_the_pacer_spaces_calls_and_only_management_calls_are_paced():
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds

    pacer = Pacer(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert slept == [0.25, 0.25]

    class Session:
        def __init__(self):
            self.sent = []

        def request(self, method, url, *args, **kwargs):
            self.sent.append(url)

    session = Session()
    pace_management_calls(session, 1000)
    session.request("POST", "https://acme.eu.auth0.com/oauth/token")
    session.request("GET", "https://acme.eu.auth0.com/api/v2/clients")
    assert session.sent == ["https://acme.eu.auth0.com/oauth/token", "https://acme.eu.auth0.com/api/v2/clients"]
