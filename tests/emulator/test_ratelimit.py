"""The tenant's token bucket and Auth0's x-ratelimit-* headers."""

from __future__ import annotations

import time

import pytest

from local.auth0_emulator import Auth0Emulator, RateLimit
from local.auth0_emulator.ratelimit import UNLIMITED_HEADER_VALUE, TokenBucket

from .conftest import DOMAIN, assert_auth0_error, mgmt_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_presets_match_auth0s_published_limits():
    assert RateLimit.free() == RateLimit(burst=2, per_second=2.0)
    assert RateLimit.enterprise() == RateLimit(burst=50, per_second=16.0)
    assert RateLimit.enterprise_non_production() == RateLimit(burst=10, per_second=2.0)
    with pytest.raises(ValueError):
        RateLimit(burst=0, per_second=1)


def test_bucket_arithmetic_with_a_fake_clock():
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(burst=3, per_second=2.0), clock=clock, wall_clock=clock)

    decisions = [bucket.take() for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[0].reset == 1_001  # one token missing, refilled in 0.5 s -> rounded up
    assert decisions[3].reset == 1_000 + 2  # empty: full again after 1.5 s -> 1002
    assert decisions[3].retry_after == 1
    clock.now += 0.5
    assert bucket.take().allowed  # one token back after 1 / per_second
    assert not bucket.take().allowed


def test_every_response_carries_the_headers(api):
    ok = api.get("/api/v2/resource-servers")
    missing = api.get("/api/v2/resource-servers/0123456789abcdef01234567")
    unknown_route = api.get("/api/v2/users")

    for response in (ok, missing, unknown_route):
        assert response.headers["x-ratelimit-limit"] == str(UNLIMITED_HEADER_VALUE)
        assert int(response.headers["x-ratelimit-remaining"]) > 0
        assert abs(int(response.headers["x-ratelimit-reset"]) - time.time()) < 5


def test_tiny_bucket_sends_429_and_changes_nothing():
    with Auth0Emulator(domain=DOMAIN, rate_limit=RateLimit(burst=2, per_second=1.0)) as emu:
        api = mgmt_for(emu)
        start = time.time()
        responses = [api.post("/api/v2/resource-servers", {"identifier": f"urn:api:{n}"}) for n in range(3)]

        assert [r.status_code for r in responses] == [201, 201, 429]
        assert [r.headers["x-ratelimit-limit"] for r in responses] == ["2", "2", "2"]
        assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["1", "0", "0"]
        reset = int(responses[2].headers["x-ratelimit-reset"])
        assert start < reset <= time.time() + 3
        assert responses[2].json() == {
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Global limit has been reached",
            "errorCode": "too_many_requests",
        }
        assert [rs["identifier"] for rs in emu.resource_servers if not rs.get("is_system")] == [
            "urn:api:0",
            "urn:api:1",
        ]
        assert emu.rate_limited == 1
        assert emu.management_calls == 3
        assert len(emu.log_events) == 2

        time.sleep(1.05)
        assert api.get("/api/v2/resource-servers").status_code == 200


def test_rate_limit_applies_before_authentication():
    with Auth0Emulator(domain=DOMAIN, rate_limit=RateLimit(burst=1, per_second=0.5)) as emu:
        api = mgmt_for(emu)
        assert api.get("/api/v2/clients").status_code == 200

        limited = api.get("/api/v2/clients", headers={"Authorization": "Bearer garbage"})

        assert_auth0_error(limited, 429, "too_many_requests")


def test_limit_can_be_changed_and_reset_refills(emu):
    api = mgmt_for(emu)
    emu.set_rate_limit(RateLimit(burst=1, per_second=0.1))

    assert api.get("/api/v2/clients").status_code == 200
    assert api.get("/api/v2/clients").status_code == 429
    emu.reset()
    assert emu.rate_limited == 0
    assert api.get("/api/v2/clients").status_code == 200
    assert emu.rate_limit == RateLimit(burst=1, per_second=0.1)
