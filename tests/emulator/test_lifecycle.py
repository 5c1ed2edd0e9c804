"""Starting, stopping, resetting, counting and concurrency."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from local.auth0_emulator import Auth0Emulator, Fault, RateLimit

from .conftest import CLIENT_ID, Mgmt, create_api, fetch_token, mgmt_for


def test_start_and_stop_are_fast_and_idempotent():
    emu = Auth0Emulator()
    started = time.perf_counter()
    base_url = emu.start()
    start_seconds = time.perf_counter() - started

    assert base_url.startswith("http://127.0.0.1:")
    assert emu.start() == base_url == emu.base_url
    assert requests.get(f"{base_url}/api/v2/clients", timeout=5).status_code == 401

    stopping = time.perf_counter()
    emu.stop()
    stop_seconds = time.perf_counter() - stopping
    emu.stop()

    assert start_seconds < 0.05 and stop_seconds < 0.05
    assert not emu.running
    with pytest.raises(RuntimeError):
        _ = emu.base_url


def test_stop_closes_kept_alive_connections():
    with Auth0Emulator() as emu:
        api = mgmt_for(emu)
        assert api.get("/api/v2/clients").status_code == 200  # leaves a pooled keep-alive connection

    with pytest.raises(requests.ConnectionError):
        api.get("/api/v2/clients")


def test_state_survives_a_restart_on_a_new_port(emu):
    api = mgmt_for(emu)
    create_api(api)
    emu.stop()

    emu.start()

    again = mgmt_for(emu)
    assert len(again.get("/api/v2/resource-servers").json()) == 2


def test_counters_use_route_templates(api, emu):
    rs = create_api(api)
    api.get(f"/api/v2/resource-servers/{rs['id']}")
    api.get("/api/v2/resource-servers/unknown")
    api.get("/api/v2/clients", headers={"Authorization": "Bearer nope"})
    api.get("/api/v2/nothing-here")

    assert emu.counters == {
        "POST /oauth/token": 1,
        "POST /api/v2/resource-servers": 1,
        "GET /api/v2/resource-servers/{id}": 2,
        "GET /api/v2/clients": 1,
        "GET (unmatched)": 1,
    }
    assert emu.management_calls == 5
    assert emu.token_requests == 1


def test_reset_keeps_server_credentials_and_the_system_api(api, emu):
    system = emu.system_api
    rs = create_api(api)
    api.post("/api/v2/clients", {"name": "c"})
    assert api.patch(f"/api/v2/resource-servers/{system['id']}", {"token_lifetime": 60}).status_code == 200
    emu.inject(Fault("status", times=None))
    api.get("/api/v2/clients")

    emu.reset()

    assert emu.resource_servers == [system]
    assert emu.clients == [] and emu.client_grants == [] and emu.faults == []
    assert emu.counters == {} and emu.management_calls == 0 and emu.token_requests == 0
    assert fetch_token(emu).status_code == 200  # the M2M credentials are kept
    assert api.get(f"/api/v2/resource-servers/{rs['id']}").status_code == 404  # the old token still works


def test_concurrent_writes_are_consistent(emu):
    api = mgmt_for(emu)
    token = api.session.headers["Authorization"].split()[1]

    def create(n: int) -> int:
        worker = Mgmt(emu, token)
        return worker.post("/api/v2/resource-servers", {"identifier": f"urn:api:{n % 20}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create, range(60)))

    assert statuses.count(201) == 20
    assert statuses.count(409) == 40
    assert len(emu.resource_servers) == 21
    assert len({rs["id"] for rs in emu.resource_servers}) == 21
    assert len(emu.log_events) == 20
    assert emu.counters["POST /api/v2/resource-servers"] == 60


def test_m2m_credentials_are_not_tenant_clients(emu):
    emu.add_m2m_client(CLIENT_ID, "secret")

    assert emu.clients == []


def test_settings_can_change_while_running(emu):
    api = mgmt_for(emu)
    rs = create_api(api)

    emu.legacy_token_exchange_field = True
    emu.token_lifetime = 1
    emu.token_format = "jwt"
    emu.rate_limit = RateLimit.free()

    setting = [{"enabled_subject_token_types": "urn:ietf:params:oauth:token-type:access_token"}]
    assert api.patch(f"/api/v2/resource-servers/{rs['id']}", {"token_exchange": setting}).status_code == 200
    token = fetch_token(emu).json()
    assert token["expires_in"] == 1 and token["access_token"].count(".") == 2
    assert (
        api.get("/api/v2/clients").headers["x-ratelimit-limit"] == "2"
    )  # the older opaque token still works
    with pytest.raises(ValueError):
        emu.token_format = "saml"
