"""MANAGEMENT_API_RATE_SHARE: the product keeps (1 - share) of the tenant's bucket for the tenant's
other clients, reading nothing but Auth0's x-ratelimit-* headers."""

from __future__ import annotations

import threading

import pytest
import requests
from token_exchange_enabler.auth0 import FALLBACK_RATE_LIMIT_WAIT, ManagementApi, _reserve_wait

from local.auth0_emulator import Auth0Emulator, RateLimit
from tests.unit.edge_support import CLIENT_ID, CLIENT_SECRET, DOMAIN
from tests.unit.test_auth0_edges import make_api, make_endpoint, memory_tokens

NOW = 1_800_000_000.0


def headers(limit: int, remaining: int, reset_in: float | None) -> dict[str, str]:
    found = {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(remaining)}
    if reset_in is not None:
        found["x-ratelimit-reset"] = str(int(NOW + reset_in))
    return found


@pytest.mark.parametrize("remaining", [50, 30, 26])
def test_above_the_reserve_calls_go_at_once(remaining):
    assert _reserve_wait(headers(50, remaining, 2), NOW, 0.5) == 0.0


def test_at_the_reserve_the_wait_is_one_token_per_missing_token_to_stay_above_it():
    # 25 of 50 left, full again in 2.5 s (+0.5 for the whole-second header): 0.1 s a token. Keeping
    # 25 back after one more call needs one token first.
    assert _reserve_wait(headers(50, 25, 3), NOW, 0.5) == pytest.approx(0.1)
    # 20 left: 6 tokens to come back.
    assert _reserve_wait(headers(50, 20, 3), NOW, 0.5) == pytest.approx(6 * 2.5 / 30)


def test_with_the_whole_bucket_a_headroom_of_a_few_tokens_keeps_instances_from_colliding():
    # A tenth of the bucket, at most 5 tokens: instances reading "1 left" at once would all spend it.
    assert _reserve_wait(headers(50, 6, 3), NOW, 1.0) == 0.0
    assert _reserve_wait(headers(50, 5, 3), NOW, 1.0) == pytest.approx(2.5 / 45)
    assert _reserve_wait(headers(50, 0, 4), NOW, 1.0) == pytest.approx(6 * 3.5 / 50)
    # The Free bucket (2): a headroom of 0.2 tokens holds a call only when it is empty.
    assert _reserve_wait(headers(2, 1, 1), NOW, 1.0) == 0.0
    assert _reserve_wait(headers(2, 0, 2), NOW, 1.0) == pytest.approx(0.75)


@pytest.mark.parametrize("given", [
    {},  # no headers
    {"x-ratelimit-limit": "many", "x-ratelimit-remaining": "3"},
])
def test_headers_that_say_nothing_hold_nothing(given):
    assert _reserve_wait(given, NOW, 0.5) == 0.0


def test_an_empty_bucket_with_an_unusable_reset_waits_the_fallback():
    assert _reserve_wait(headers(50, 0, None), NOW, 0.5) == FALLBACK_RATE_LIMIT_WAIT
    assert _reserve_wait(headers(50, 10, -5), NOW, 0.5) == 0.0  # reset in the past: only an empty bucket waits


def test_a_neighbour_at_40_percent_of_the_rate_never_meets_a_429():
    """Against the emulator's token bucket (burst 20, 20/s): the product makes 60 calls with share
    0.5 while another client of the tenant sends a steady 8 calls a second. The neighbour is never
    refused; the product, reading the headers, is (almost) never refused either."""
    with Auth0Emulator(domain=DOMAIN, rate_limit=RateLimit(burst=20, per_second=20.0)) as tenant:
        tenant.add_m2m_client(CLIENT_ID, CLIENT_SECRET)
        api = make_api(tenant, memory_tokens(make_endpoint(tenant)), rate_share=0.5)
        neighbour_token = tenant.issue_token(CLIENT_ID, scopes=["read:resource_servers"])
        stop, refused, served = threading.Event(), [], []

        def neighbour() -> None:
            session = requests.Session()
            while not stop.is_set():
                answer = session.get(f"{tenant.base_url}/api/v2/resource-servers", timeout=5,
                                     headers={"Authorization": f"Bearer {neighbour_token}"})
                (refused if answer.status_code == 429 else served).append(answer.status_code)
                stop.wait(1 / 8)

        thread = threading.Thread(target=neighbour)
        thread.start()
        try:
            for _ in range(60):
                api.get_resource_server(f"https://{DOMAIN}/api/v2/")
        finally:
            stop.set()
            thread.join(10)
    assert served and refused == []
    assert api.stats.rate_limited <= 2
    assert api.stats.paced > 0  # it did hold calls back


@pytest.mark.parametrize("share", [0.0, -1.0, 1.5])
def test_the_management_api_refuses_a_share_outside_0_to_1(share):
    with pytest.raises(ValueError, match="rate_share"):
        ManagementApi(base_url="https://acme.eu.auth0.com", tokens=None, rate_share=share)
