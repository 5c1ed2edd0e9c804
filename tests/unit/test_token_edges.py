"""Edges of the shared Management API token: waiting for another instance's refresh within the
caller's deadline, a cached token that cannot be sent, and a token refused for a missing scope.

Several (TokenProvider, ManagementApi) pairs stand for warm Lambda instances; they share moto's
Secrets Manager (server mode) and the Auth0 emulator, both over real HTTP.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from token_exchange_enabler.auth0 import (
    CallStats,
    ClientCredentials,
    Deadline,
    Forbidden,
    ManagementApi,
    TokenEndpoint,
)
from token_exchange_enabler.token_cache import Token, TokenProvider

from local.auth0_emulator import Auth0Emulator, Fault
from tests.unit.edge_support import CLIENT_ID, CLIENT_SECRET, DOMAIN, SYSTEM_API, WITHOUT_CREATE

SECRET_ID = "token-exchange-enabler/management-api-token"


@pytest.fixture
def tenant():
    with Auth0Emulator(domain=DOMAIN) as emu:
        emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)  # every scope
        yield emu


@pytest.fixture
def sm(aws: Any) -> Any:
    client = boto3.client("secretsmanager")
    client.create_secret(Name=SECRET_ID, SecretString="{}")
    return client


def cached(sm: Any) -> dict[str, Any]:
    return json.loads(sm.get_secret_value(SecretId=SECRET_ID)["SecretString"])


class Instance:
    """One warm Lambda instance: its own token provider (memory), Secrets Manager client and API."""

    def __init__(self, tenant: Auth0Emulator, **provider_options: Any) -> None:
        self.stats = CallStats()
        self.endpoint = TokenEndpoint(base_url=tenant.base_url, audience=SYSTEM_API, stats=self.stats,
                                      credentials=lambda: ClientCredentials(CLIENT_ID, CLIENT_SECRET))
        provider_options.setdefault("fetch", self.endpoint.fetch)
        self.tokens = TokenProvider(cache_secret_id=SECRET_ID, secrets_client=boto3.client("secretsmanager"),
                                    **provider_options)
        self.api = ManagementApi(base_url=tenant.base_url, tokens=self.tokens, stats=self.stats)


def lambda_deadline(seconds: float) -> Deadline:
    """What the worker sets per invocation: Lambda's time left, with the default 5 s margin."""
    ends = time.monotonic() + seconds
    return Deadline(lambda: ends - time.monotonic())


# -- waiting for another instance's refresh --------------------------------------------------------


def test_cold_instances_wait_for_a_slow_refresh_within_their_deadline(tenant, sm):
    # The token endpoint takes 3.5 s. Waiting used to stop after a fixed 3 s: every cold
    # instance then fetched a token of its own (10 instances, 10 token requests).
    tenant.inject(Fault("latency", delay=3.5, times=None, path_prefix="/oauth/token"))
    instances = [Instance(tenant) for _ in range(10)]
    for instance in instances:
        instance.api.deadline = lambda_deadline(30.0)  # as the worker does; handed to the provider
        assert instance.tokens.deadline is instance.api.deadline
    start = threading.Barrier(len(instances))

    def first_call(instance: Instance) -> dict:
        start.wait()
        return instance.api.get_resource_server(SYSTEM_API)

    with ThreadPoolExecutor(len(instances)) as pool:
        results = list(pool.map(first_call, instances))

    assert all(result["is_system"] for result in results)
    assert tenant.token_requests == 1
    assert sum(instance.tokens.fetch_count for instance in instances) == 1


class FakeWait:
    """A sleep that only counts, and a deadline that such sleeps use up."""

    def __init__(self, seconds_left: float | None) -> None:
        self.seconds_left = seconds_left
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def time_left(self) -> float | None:
        return None if self.seconds_left is None else self.seconds_left - sum(self.slept)


def a_claimant_that_never_delivers(sm: Any) -> None:
    """Another instance claims the refresh of the empty cache and dies fetching."""

    def fail() -> Token:
        raise RuntimeError("token endpoint unreachable")

    with pytest.raises(RuntimeError):
        TokenProvider(fetch=fail, cache_secret_id=SECRET_ID, secrets_client=sm).get()


@pytest.mark.parametrize("seconds_left", [1.0, 7.5])
def test_the_wait_for_another_refresh_lasts_as_long_as_the_deadline_allows(sm, seconds_left):
    a_claimant_that_never_delivers(sm)
    wait = FakeWait(seconds_left)
    fetched: list[Token] = []

    def fetch() -> Token:
        fetched.append(Token(access_token=f"eyJ-own-{len(fetched)}", expires_at=time.time() + 3600))
        return fetched[-1]

    provider = TokenProvider(fetch=fetch, cache_secret_id=SECRET_ID, secrets_client=sm, sleep=wait.sleep,
                             poll_interval=0.25, deadline=wait)

    assert provider.get() == fetched[0]  # no delivery in time: its own fetch, not a failure
    assert sum(wait.slept) == pytest.approx(seconds_left)  # neither a fixed 3 s nor beyond the deadline


def test_without_a_deadline_the_wait_lasts_at_most_the_claim_lease(sm):
    a_claimant_that_never_delivers(sm)
    wait = FakeWait(None)
    provider = TokenProvider(fetch=lambda: Token(access_token="eyJ-own", expires_at=time.time() + 3600),
                             cache_secret_id=SECRET_ID, secrets_client=sm, sleep=wait.sleep,
                             clock=lambda: 1_750_000_000.0, claim_lease=30.0, poll_interval=0.5)

    assert provider.get().access_token == "eyJ-own"
    assert sum(wait.slept) == pytest.approx(30.0)  # the claimant delivers or lapses by then


# -- a cached token that cannot be sent --------------------------------------------------------------


def test_a_cached_token_that_cannot_be_sent_is_replaced_once_for_every_instance(tenant, sm, caplog):
    broken = "eyJ-cached-token\nX-Injected: 1"
    sm.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(
        {"access_token": broken, "expires_at": time.time() + 80000, "fetched_at": time.time() - 6400}))
    first, second = Instance(tenant), Instance(tenant)

    assert first.api.get_resource_server(SYSTEM_API)["is_system"]  # used to fail until expiry

    assert tenant.token_requests == 1 and first.stats.unusable_tokens == 1
    fresh = cached(sm)["access_token"]
    assert fresh != broken and fresh in tenant.issued_tokens  # the shared copy was replaced
    assert second.api.get_resource_server(SYSTEM_API)["is_system"]  # another instance: no fetch
    assert first.api.get_resource_server(SYSTEM_API)["is_system"]
    assert tenant.token_requests == 1 and second.stats.unusable_tokens == 0
    assert "eyJ-cached-token" not in caplog.text


# -- a token refused for a missing scope -----------------------------------------------------------


def test_a_403_insufficient_scope_drops_the_shared_token_too(tenant, sm):
    tenant.add_m2m_client(CLIENT_ID, CLIENT_SECRET, scopes=WITHOUT_CREATE)
    first, second = Instance(tenant), Instance(tenant)
    assert first.api.get_resource_server(SYSTEM_API)  # a token without create:clients, shared
    assert second.api.get_resource_server(SYSTEM_API)
    assert tenant.token_requests == 1
    tenant.add_m2m_client(CLIENT_ID, CLIENT_SECRET, scopes=WITHOUT_CREATE + ["create:clients"])  # the operator

    created = first.api.create_client({"name": "created after the grant"})  # e.g. a replayed record

    assert created["name"] == "created after the grant"
    assert tenant.token_requests == 2 and first.stats.scope_refreshes == 1
    assert cached(sm)["access_token"] == tenant.issued_tokens[-1]  # the shared copy was replaced
    # Another instance that meets the same 403 with its old token refreshes from the cache.
    assert second.api.create_client({"name": "another"})["name"] == "another"
    assert tenant.token_requests == 2 and second.stats.scope_refreshes == 1


def test_a_rejected_token_no_longer_in_the_shared_cache_leaves_it_alone(tenant, sm):
    first, second = Instance(tenant), Instance(tenant)
    old = first.tokens.get()
    first.tokens.invalidate(old)
    new = first.tokens.get()
    before = sm.get_secret_value(SecretId=SECRET_ID)["VersionId"]

    second.tokens.invalidate(old)  # a late rejection of the old token, on another instance

    assert sm.get_secret_value(SecretId=SECRET_ID)["VersionId"] == before
    assert second.tokens.get() == new
    assert tenant.token_requests == 2


def test_a_403_with_the_scope_still_missing_raises_after_one_fresh_token(tenant, sm):
    tenant.add_m2m_client(CLIENT_ID, CLIENT_SECRET, scopes=WITHOUT_CREATE)
    instance = Instance(tenant)

    with pytest.raises(Forbidden) as raised:
        instance.api.create_client({"name": "x"})

    assert raised.value.configuration and "create:clients" in str(raised.value)
    assert tenant.token_requests == 2 and instance.stats.scope_refreshes == 1
    assert not any(token in str(raised.value) for token in tenant.issued_tokens)
