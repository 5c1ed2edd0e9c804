"""Fault injection: status, latency, drop and unauthorized, on /api/v2 and /oauth/token."""

from __future__ import annotations

import time

import pytest
import requests

from local.auth0_emulator import Fault

from .conftest import CLIENT_ID, CLIENT_SECRET, assert_auth0_error, create_api, fetch_token


@pytest.mark.parametrize(
    ("status", "error"), [(500, "Internal Server Error"), (502, "Bad Gateway"), (503, "Service Unavailable")]
)
def test_status_fault_answers_an_auth0_style_error_once(api, emu, status, error):
    emu.inject(Fault("status", status=status))

    faulted = api.get("/api/v2/resource-servers")
    after = api.get("/api/v2/resource-servers")

    assert faulted.status_code == status
    assert faulted.json() == {"statusCode": status, "error": error, "message": error}
    assert after.status_code == 200
    assert emu.counters["GET /api/v2/resource-servers"] == 2
    assert emu.management_calls == 2


def test_status_fault_does_not_change_state_and_429_fault_counts_as_rate_limited(api, emu):
    emu.inject(Fault("status", status=429, method="POST"))

    response = api.post("/api/v2/resource-servers", {"identifier": "urn:x"})

    assert_auth0_error(response, 429, "too_many_requests")
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert emu.rate_limited == 1
    assert len(emu.resource_servers) == 1
    assert emu.log_events == []


def test_fault_matches_method_and_path_prefix(api, emu):
    emu.inject(Fault("status", status=500, method="PATCH", path_prefix="/api/v2/clients"))

    assert api.get("/api/v2/clients").status_code == 200
    assert api.patch("/api/v2/resource-servers/x", {"name": "x"}).status_code == 404
    assert api.patch("/api/v2/clients/x", {"name": "x"}).status_code == 500
    assert emu.faults == []


def test_times_counts_down_and_none_lasts_until_cleared(api, emu):
    emu.inject(Fault("status", status=503, times=2))
    assert [api.get("/api/v2/clients").status_code for _ in range(3)] == [503, 503, 200]

    emu.inject(Fault("status", status=502, times=None))
    assert [api.get("/api/v2/clients").status_code for _ in range(4)] == [502] * 4
    emu.clear_faults()
    assert api.get("/api/v2/clients").status_code == 200


def test_latency_fault_delays_then_handles_normally(api, emu):
    emu.inject(Fault("latency", delay=0.3))

    start = time.perf_counter()
    response = api.post("/api/v2/resource-servers", {"identifier": "urn:slow"})

    assert time.perf_counter() - start >= 0.3
    assert response.status_code == 201


def test_drop_fault_closes_the_connection_without_a_response(api, emu):
    emu.inject(Fault("drop", method="POST"))

    with pytest.raises(requests.ConnectionError):
        api.post("/api/v2/resource-servers", {"identifier": "urn:dropped"})

    assert len(emu.resource_servers) == 1
    assert emu.counters["POST /api/v2/resource-servers"] == 1
    create_api(api)  # the client reconnects and the emulator serves it


def test_unauthorized_fault_rejects_a_valid_token(api, emu):
    emu.inject(Fault("unauthorized"))

    rejected = api.get("/api/v2/resource-servers")

    assert_auth0_error(rejected, 401, None, "Invalid signature received for JSON Web Token validation")
    assert rejected.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get("/api/v2/resource-servers").status_code == 200


def test_faults_apply_to_the_token_endpoint_when_the_prefix_matches(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)
    emu.inject(Fault("status", status=503, path_prefix="/oauth/token"))
    emu.inject(Fault("unauthorized", path_prefix="/oauth/token"))
    emu.inject(Fault("drop", path_prefix="/oauth/token"))

    unavailable = fetch_token(emu)
    unauthorized = fetch_token(emu)
    with pytest.raises(requests.ConnectionError):
        fetch_token(emu)

    assert unavailable.status_code == 503
    assert unavailable.json() == {"error": "server_error", "error_description": "Service Unavailable"}
    assert unauthorized.status_code == 401
    assert unauthorized.json() == {"error": "access_denied", "error_description": "Unauthorized"}
    assert fetch_token(emu).status_code == 200
    assert emu.token_requests == 4
    assert emu.tokens_issued == 1


def test_default_prefix_leaves_the_token_endpoint_alone(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)
    emu.inject(Fault("status", status=500))

    assert fetch_token(emu).status_code == 200
    assert len(emu.faults) == 1


def test_fault_arguments_are_checked():
    with pytest.raises(ValueError):
        Fault("explode")
    with pytest.raises(ValueError):
        Fault("status", status=200)
    with pytest.raises(ValueError):
        Fault("status", times=0)
