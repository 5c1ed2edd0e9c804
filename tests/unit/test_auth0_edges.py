"""Edges of the Auth0 client: 429 waits (floor, Retry-After, the deadline, on both the Management
API and the token endpoint), a 403 ``insufficient_scope`` after a scope was granted, and a token
that cannot be sent. Against the emulator over real HTTP; the time the client sleeps is a fake
clock (``FakeTime``), so long waits cost no real time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from typing import Any

import pytest
import requests
from token_exchange_enabler.auth0 import (
    FALLBACK_RATE_LIMIT_WAIT,
    CallStats,
    ClientCredentials,
    Deadline,
    Forbidden,
    ManagementApi,
    RateLimited,
    TokenEndpoint,
    TokenSource,
    UnusableToken,
    _backoff_after_429,
    _rate_limit_wait,
)
from token_exchange_enabler.token_cache import Token, TokenProvider

from local.auth0_emulator import Auth0Emulator, Fault, RateLimit
from tests.unit.edge_support import CLIENT_ID, CLIENT_SECRET, DOMAIN, SYSTEM_API, WITHOUT_CREATE

GET_RESOURCE_SERVER = "GET /api/v2/resource-servers/{id}"


@contextmanager
def started_tenant(**options: Any) -> Iterator[Auth0Emulator]:
    with Auth0Emulator(domain=DOMAIN, **options) as emu:
        emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)  # every scope
        yield emu


@pytest.fixture
def tenant() -> Iterator[Auth0Emulator]:
    with started_tenant() as emu:
        yield emu


@pytest.fixture
def drained_tenant() -> Iterator[Auth0Emulator]:
    """The token endpoint's bucket (burst 1, a token every 10 s) just used up: Retry-After ~10."""
    with started_tenant(token_rate_limit=RateLimit(burst=1, per_second=0.1)) as emu:
        make_endpoint(emu).fetch()
        yield emu


class FakeTime:
    """The client's clock and sleep: sleeping advances the clock instead of waiting.

    ``skew`` puts the client's clock ahead of the emulator's (a reset then looks past);
    :meth:`deadline` is a Lambda deadline that the fake sleeps use up.
    """

    def __init__(self, skew: float = 0.0) -> None:
        self.skew = skew
        self.slept: list[float] = []
        self._start = time.time()

    def clock(self) -> float:
        return time.time() + self.skew + sum(self.slept)

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)

    def deadline(self, seconds: float, *, margin: float) -> Deadline:
        return Deadline(lambda: seconds - (time.time() - self._start) - sum(self.slept), margin=margin)


def make_endpoint(tenant: Auth0Emulator, fake: FakeTime | None = None, **options) -> TokenEndpoint:
    if fake is not None:
        options.update(clock=fake.clock, sleep=fake.sleep)
    return TokenEndpoint(base_url=tenant.base_url, audience=SYSTEM_API,
                         credentials=lambda: ClientCredentials(CLIENT_ID, CLIENT_SECRET), **options)


def make_api(tenant: Auth0Emulator, tokens: TokenSource, fake: FakeTime | None = None, **options) -> ManagementApi:
    if fake is not None:
        options.update(clock=fake.clock, sleep=fake.sleep)
    return ManagementApi(base_url=tenant.base_url, tokens=tokens, **options)


def memory_tokens(endpoint: TokenEndpoint) -> TokenProvider:
    return TokenProvider(fetch=endpoint.fetch, cache_secret_id=None)


def answer(status: int = 429, **headers: str) -> requests.Response:
    """A response as the client sees one (for the header arithmetic alone)."""
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return response


# -- 429: every wait has a floor -----------------------------------------------------------------


def test_a_429_with_a_reset_in_the_past_waits_a_second_or_more_and_stops_at_the_deadline(tenant):
    # The client's clock runs 10 s ahead: every x-ratelimit-reset looks past. That used to be a
    # wait of 0, i.e. 101 requests in a row for one call.
    fake = FakeTime(skew=10.0)
    stats = CallStats()
    api = make_api(tenant, memory_tokens(make_endpoint(tenant)), fake, stats=stats)
    api.deadline = fake.deadline(20.0, margin=2.0)
    tenant.inject(Fault("status", status=429, times=None, path_prefix="/api/v2/resource-servers"))

    with pytest.raises(RateLimited) as raised:
        api.get_resource_server(SYSTEM_API)

    assert raised.value.retryable
    assert fake.slept and min(fake.slept) >= FALLBACK_RATE_LIMIT_WAIT
    assert sum(fake.slept) <= 18.0  # every wait fitted in the time left
    # At most 18 waits of 1 s or more fit in 18 s (the jittered growth makes it ~9), not 101.
    assert tenant.counters[GET_RESOURCE_SERVER] <= 19
    assert stats.rate_limited == tenant.counters[GET_RESOURCE_SERVER]


@pytest.mark.parametrize(
    "headers",
    [
        {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "nan"},
        {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"},  # 1970
        {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "soon"},
        {"x-ratelimit-limit": "ten", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "-5"},
        # A full bucket answering 429 contradicts itself.
        {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "10", "x-ratelimit-reset": "+5"},
        {"Retry-After": "0"},
        {"Retry-After": "-3"},
        {"Retry-After": "whenever"},
        {},
    ],
)
def test_headers_that_tell_nothing_usable_give_a_growing_wait_of_a_second_or_more(headers):
    now = time.time()
    if headers.get("x-ratelimit-reset") == "+5":
        headers = {**headers, "x-ratelimit-reset": str(int(now) + 5)}
    response = answer(**headers)

    assert _rate_limit_wait(response, now) == FALLBACK_RATE_LIMIT_WAIT
    waits = [_backoff_after_429(response, now, attempt) for attempt in range(8) for _ in range(20)]
    assert min(waits) >= FALLBACK_RATE_LIMIT_WAIT
    assert max(waits) <= 30.0
    assert max(_backoff_after_429(response, now, 7) for _ in range(50)) > 4 * FALLBACK_RATE_LIMIT_WAIT


def test_retry_after_is_honoured_in_seconds_and_as_a_date():
    now = time.time()
    in_seconds = answer(**{"Retry-After": "7"})
    as_date = answer(**{"Retry-After": formatdate(now + 12, usegmt=True)})
    with_reset = answer(**{"Retry-After": "3", "x-ratelimit-limit": "30", "x-ratelimit-remaining": "0",
                           "x-ratelimit-reset": str(int(now) + 4)})

    assert all(7.0 <= _backoff_after_429(in_seconds, now, n) <= 7.0 * 1.25 for n in range(5))
    assert _rate_limit_wait(as_date, now) >= 10.0  # an HTTP date is whole seconds
    assert all(3.0 <= _backoff_after_429(with_reset, now, n) <= 4.0 for n in range(5))


def test_a_consistent_bucket_still_waits_for_one_token_not_a_second():
    # The floor must not slow a fast bucket down: one token of Enterprise's 16/s is ~0.06 s.
    now = float(int(time.time()))
    response = answer(**{"x-ratelimit-limit": "50", "x-ratelimit-remaining": "0",
                         "x-ratelimit-reset": str(int(now) + 4)})

    assert 0.05 <= _rate_limit_wait(response, now) <= 0.1


# -- 429 on the token endpoint: the deadline -----------------------------------------------------------


def test_the_token_endpoints_429_waits_fit_in_the_deadline_of_the_call_it_serves(drained_tenant):
    # The 30 s function with 12 s left: the token endpoint asks for ~10 s, which leaves less than
    # the 5 s margin. It used to sleep three times ~10 s (30.5 s inside a 30 s function).
    tenant = drained_tenant
    fake = FakeTime()
    stats = CallStats()
    endpoint = make_endpoint(tenant, fake, stats=stats)
    api = make_api(tenant, memory_tokens(endpoint), fake, stats=stats)
    api.deadline = fake.deadline(12.0, margin=5.0)

    with pytest.raises(RateLimited) as raised:
        api.get_resource_server(SYSTEM_API)

    assert fake.slept == []
    assert raised.value.retryable and raised.value.retry_after >= 5.0
    assert tenant.token_requests == 2 and tenant.management_calls == 0
    assert stats.rate_limited == 1


def test_the_token_endpoint_takes_a_deadline_of_its_own(drained_tenant):
    tenant = drained_tenant
    fake = FakeTime()
    endpoint = make_endpoint(tenant, fake, deadline=fake.deadline(12.0, margin=5.0))

    with pytest.raises(RateLimited):
        endpoint.fetch()
    assert fake.slept == []

    endpoint.deadline = fake.deadline(60.0, margin=5.0)  # ~10 s fits now: waited, at least Retry-After
    with pytest.raises(RateLimited):
        endpoint.fetch()  # the fake sleeps do not refill the bucket: three waits, then raised
    assert len(fake.slept) == 3 and min(fake.slept) >= 9.0
    assert sum(fake.slept) <= 55.0


def test_a_token_endpoint_429_that_fits_is_waited_out():
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    # A token every 2 s: the second fetch meets a 429 even on a slow machine (Retry-After: 1 or 2).
    with started_tenant(token_rate_limit=RateLimit(burst=1, per_second=0.5)) as tenant:
        make_endpoint(tenant).fetch()
        endpoint = make_endpoint(tenant, sleep=sleep, deadline=Deadline(lambda: 30.0, margin=5.0))

        assert endpoint.fetch().access_token
    # At least Retry-After (whole seconds: 1 or 2); at most until the bucket is full again, which the
    # answer's x-ratelimit-reset names as a whole Unix second: within 2 s, rounded up, so within 3 s.
    assert len(slept) == 1 and 1.0 <= slept[0] <= 3.0


# -- 403 insufficient_scope ---------------------------------------------------------------------------


def test_a_scope_granted_after_a_403_is_used_on_the_next_call(tenant, caplog):
    tenant.add_m2m_client(CLIENT_ID, CLIENT_SECRET, scopes=WITHOUT_CREATE)
    stats = CallStats()
    tokens = memory_tokens(make_endpoint(tenant, stats=stats))
    api = make_api(tenant, tokens, stats=stats)

    with pytest.raises(Forbidden) as raised:
        api.create_client({"name": "needs create:clients"})
    # Dropped and fetched once more, in case the scope was granted meanwhile; still missing.
    assert raised.value.configuration and raised.value.error_code == "insufficient_scope"
    assert "create:clients" in str(raised.value)  # the missing scope, as Auth0 named it
    assert tenant.token_requests == 2 and stats.scope_refreshes == 1
    assert tenant.counters["POST /api/v2/clients"] == 2

    tenant.add_m2m_client(CLIENT_ID, CLIENT_SECRET, scopes=WITHOUT_CREATE + ["create:clients"])  # the operator
    created = api.create_client({"name": "needs create:clients"})  # e.g. the replayed record

    assert created["name"] == "needs create:clients"
    assert tenant.token_requests == 3 and stats.scope_refreshes == 2
    api.get_client(created["client_id"])  # the new token is kept
    assert tenant.token_requests == 3
    shown = str(raised.value) + repr(raised.value) + caplog.text
    assert not any(token in shown for token in tenant.issued_tokens)


def test_another_403_is_raised_without_a_new_token(tenant):
    tokens = memory_tokens(make_endpoint(tenant))
    stats = CallStats()
    api = make_api(tenant, tokens, stats=stats)
    tenant.inject(Fault("status", status=403, times=1, path_prefix="/api/v2/resource-servers"))

    with pytest.raises(Forbidden):
        api.get_resource_server(SYSTEM_API)
    assert tenant.token_requests == 1 and stats.scope_refreshes == 0


# -- a token that cannot be sent -------------------------------------------------------------------------


class BrokenTokens:
    """A token source whose tokens cannot be sent (a line break), counting what it is asked."""

    def __init__(self) -> None:
        self.issued: list[Token] = []
        self.invalidated: list[Token] = []

    def get(self) -> Token:
        if not self.issued or self.issued[-1] in self.invalidated:
            self.issued.append(Token(access_token=f"eyJ-broken-{len(self.issued)}\r\nX-Injected: 1",
                                     expires_at=time.time() + 3600))
        return self.issued[-1]

    def invalidate(self, token: Token) -> None:
        self.invalidated.append(token)


def test_a_token_that_cannot_be_sent_twice_is_a_clear_error_without_the_token(tenant):
    tokens = BrokenTokens()
    stats = CallStats()
    api = make_api(tenant, tokens, stats=stats)

    with pytest.raises(UnusableToken) as raised:
        api.get_resource_server(SYSTEM_API)

    assert tokens.invalidated == tokens.issued and len(tokens.issued) == 2  # dropped, fetched once more
    assert tenant.management_calls == 0 and stats.management_calls == 0  # nothing was sent
    assert stats.unusable_tokens == 2 and raised.value.retryable
    assert "Authorization header" in str(raised.value)
    assert not any(t.access_token in str(raised.value) or "eyJ-broken" in repr(raised.value) for t in tokens.issued)
