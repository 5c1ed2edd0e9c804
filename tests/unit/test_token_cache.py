"""TokenProvider against moto's Secrets Manager in server mode, over real HTTP.

Several providers stand for several warm Lambda instances: each has its own memory and
instance id, and they meet only in the shared cache secret. Time is a fake clock; the only real
waits are the short polls of an instance waiting for another one's refresh.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from token_exchange_enabler import token_cache
from token_exchange_enabler.token_cache import CLAIM_STAGE, Token, TokenProvider

SECRET_ID = "token-exchange-enabler/management-api-token"
LIFETIME = 3600.0  # tokens minted by the fake endpoint
# With refresh_ahead=0.1 the refresh window opens when 360 s are left; min_remaining=60.
IN_REFRESH_WINDOW = LIFETIME - 300  # still usable, due for refresh
PAST_EXPIRY = LIFETIME + 1


class FakeClock:
    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTokenEndpoint:
    """The client-credentials fetch: mints a distinct token per call and counts the calls."""

    _serial = itertools.count(1)

    def __init__(self, clock: FakeClock, lifetime: float = LIFETIME, delay: float = 0.0) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._delay = delay
        self._lock = threading.Lock()
        self.failures: deque[Exception] = deque()
        self.issued: list[Token] = []

    @property
    def calls(self) -> int:
        return len(self.issued)

    def __call__(self) -> Token:
        with self._lock:
            failure = self.failures.popleft() if self.failures else None
        if self._delay:
            time.sleep(self._delay)
        if failure is not None:
            raise failure
        token = Token(
            access_token=f"eyJ-secret-token-{next(self._serial):04d}",
            expires_at=self._clock() + self._lifetime,
            scope="read:clients update:clients",
        )
        with self._lock:
            self.issued.append(token)
        return token


class GatedFetch:
    """A fetch that signals when it starts and returns only once released (a slow refresher)."""

    def __init__(self, endpoint: FakeTokenEndpoint) -> None:
        self._endpoint = endpoint
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> Token:
        self.started.set()
        assert self.release.wait(5), "never released"
        return self._endpoint()


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected wait of {seconds} s")


def inject_error(client: Any, operation: str, code: str) -> None:
    """Make ``operation`` on ``client`` answer with an AWS error, as the service would."""

    def respond(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        parsed = {
            "Error": {"Code": code, "Message": "simulated"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://secretsmanager.invalid/", 400, {}, None), parsed

    client.meta.events.register(f"before-call.secrets-manager.{operation}", respond)


def versions(client: Any) -> list[dict[str, Any]]:
    return client.list_secret_version_ids(SecretId=SECRET_ID, IncludeDeprecated=True)["Versions"]


def current_value(client: Any) -> dict[str, Any]:
    return json.loads(client.get_secret_value(SecretId=SECRET_ID)["SecretString"])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def endpoint(clock: FakeClock) -> FakeTokenEndpoint:
    return FakeTokenEndpoint(clock)


@pytest.fixture
def sm(aws: Any) -> Any:
    """A Secrets Manager client (moto server) and the cache secret, holding an empty JSON object."""
    client = boto3.client("secretsmanager")
    client.create_secret(Name=SECRET_ID, SecretString="{}")
    return client


@pytest.fixture
def new_instance(sm: Any, clock: FakeClock, endpoint: FakeTokenEndpoint) -> Callable[..., TokenProvider]:
    """A factory of providers ("instances") sharing the cache secret, the clock and the endpoint."""

    def make(**options: Any) -> TokenProvider:
        options.setdefault("fetch", endpoint)
        options.setdefault("cache_secret_id", SECRET_ID)
        options.setdefault("secrets_client", sm)
        options.setdefault("clock", clock)
        options.setdefault("wait_timeout", 1.0)
        options.setdefault("poll_interval", 0.02)
        return TokenProvider(**options)

    return make


@pytest.fixture
def sm_calls(sm: Any) -> list[str]:
    """Names of the Secrets Manager operations the ``sm`` client sends."""
    calls: list[str] = []
    # provide-client-params comes before before-call, where inject_error answers instead of moto.
    sm.meta.events.register(
        "provide-client-params.secrets-manager", lambda event_name, **_: calls.append(event_name)
    )
    return calls


# -- Token ------------------------------------------------------------------------------------


def test_token_repr_and_str_hide_the_access_token() -> None:
    token = Token(access_token="eyJ-very-secret", expires_at=100.0, scope="read:clients")

    assert "eyJ-very-secret" not in repr(token)
    assert "eyJ-very-secret" not in str(token)
    assert "expires_at=100.0" in repr(token)
    assert token.remaining(now=40.0) == 60.0


@pytest.mark.parametrize(
    ("access_token", "expires_at"),
    [
        ("", 1.0),
        (None, 1.0),
        ("eyJ-very-secret", float("nan")),
        ("eyJ-very-secret", "soon"),
        ("eyJ-very-secret", True),
    ],
)
def test_token_rejects_bad_values_without_echoing_them(access_token: Any, expires_at: Any) -> None:
    with pytest.raises(ValueError) as raised:
        Token(access_token=access_token, expires_at=expires_at)

    assert "eyJ-very-secret" not in str(raised.value)


def test_provider_rejects_nonsensical_options(clock: FakeClock, endpoint: FakeTokenEndpoint) -> None:
    for options in ({"refresh_ahead": 1.0}, {"min_remaining": -1}, {"poll_interval": 0}, {"claim_lease": 0}):
        with pytest.raises(ValueError):
            TokenProvider(fetch=endpoint, cache_secret_id=None, clock=clock, **options)


# -- the two cache levels ------------------------------------------------------------------------


def test_first_get_fetches_and_writes_the_shared_cache(new_instance, endpoint, sm, clock) -> None:
    events: list[str] = []
    provider = new_instance(on_event=events.append, instance_id="instance-a")

    token = provider.get()

    assert token == endpoint.issued[0]
    assert provider.fetch_count == 1
    assert events == ["fetched", "cache_write"]
    cached = current_value(sm)
    assert cached["access_token"] == token.access_token
    assert cached["expires_at"] == token.expires_at
    assert cached["scope"] == token.scope
    assert cached["token_type"] == "Bearer"
    assert cached["fetched_at"] == clock.now
    assert cached["fetched_by"] == "instance-a"
    assert cached["generation"] == sm.get_secret_value(SecretId=SECRET_ID)["VersionId"]


def test_another_instance_reads_the_shared_cache_without_fetching(new_instance, endpoint) -> None:
    first = new_instance().get()
    events: list[str] = []
    second = new_instance(on_event=events.append)

    assert second.get() == first
    assert second.fetch_count == 0
    assert endpoint.calls == 1
    assert events == ["cache_hit_shared"]


def test_a_memory_hit_makes_no_secrets_manager_call(new_instance, sm_calls) -> None:
    events: list[str] = []
    provider = new_instance(on_event=events.append)
    token = provider.get()
    sm_calls.clear()

    assert [provider.get() for _ in range(20)] == [token] * 20
    assert sm_calls == []
    assert events[-20:] == ["cache_hit_memory"] * 20


def test_refreshes_ahead_of_expiry_and_others_follow(new_instance, endpoint, clock) -> None:
    provider = new_instance()
    old = provider.get()

    clock.advance(LIFETIME - 400)  # 400 s left: still outside the 360 s refresh window
    assert provider.get() == old
    assert endpoint.calls == 1

    clock.advance(100)  # 300 s left: refresh
    new = provider.get()
    assert new != old
    assert new == endpoint.issued[1]
    assert new_instance().get() == new  # the refreshed token is shared
    assert endpoint.calls == 2


def test_a_cached_token_is_never_handed_out_with_less_than_min_remaining(new_instance, clock, sm) -> None:
    provider = new_instance(refresh_ahead=0.0, min_remaining=60.0)
    old = provider.get()

    clock.advance(LIFETIME - 61)
    assert provider.get() == old  # 61 s left
    clock.advance(2)
    assert provider.get() != old  # 59 s left

    nearly_expired = {
        "access_token": "eyJ-nearly-expired",
        "expires_at": clock.now + 59,
        "fetched_at": clock.now - 900,
    }
    sm.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(nearly_expired))
    assert new_instance(refresh_ahead=0.0).get().access_token != "eyJ-nearly-expired"


def test_a_short_lived_token_is_cached_for_half_its_lifetime(new_instance, clock) -> None:
    # min_remaining (60 s) exceeds this token's whole lifetime; it is capped at half of it.
    provider = new_instance(fetch=FakeTokenEndpoint(clock, lifetime=40.0), refresh_ahead=0.0)
    token = provider.get()

    clock.advance(19)
    assert provider.get() == token
    clock.advance(2)
    assert provider.get() != token
    assert provider.fetch_count == 2


def test_without_a_cache_secret_the_memory_cache_still_works(endpoint, clock) -> None:
    provider = TokenProvider(fetch=endpoint, cache_secret_id=None, clock=clock)

    token = provider.get()
    assert provider.get() == token
    clock.advance(IN_REFRESH_WINDOW)
    assert provider.get() != token
    assert endpoint.calls == 2


def test_the_secrets_manager_client_is_created_on_first_use(sm, endpoint, clock) -> None:
    provider = TokenProvider(fetch=endpoint, cache_secret_id=SECRET_ID, clock=clock)  # AWS_ENDPOINT_URL: moto

    token = provider.get()

    assert current_value(sm)["access_token"] == token.access_token


def test_importing_the_module_does_not_import_boto3() -> None:
    """boto3 costs a Lambda cold start ~150 ms; it is imported when the cache is first used."""
    probe = "import sys, token_exchange_enabler.token_cache; print('boto3' in sys.modules)"
    library = Path(token_cache.__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": str(library)}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )

    assert result.stdout.strip() == "False"


def test_threads_of_one_instance_share_one_fetch(new_instance, clock) -> None:
    slow = FakeTokenEndpoint(clock, delay=0.05)
    provider = new_instance(fetch=slow)

    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: provider.get(), range(16)))

    assert tokens == {slow.issued[0]}
    assert provider.fetch_count == 1


def test_threads_keep_the_current_token_while_one_of_them_refreshes(new_instance, endpoint, clock) -> None:
    gated = GatedFetch(endpoint)
    provider = new_instance(fetch=gated)
    gated.release.set()
    old = provider.get()
    gated.release.clear()
    clock.advance(IN_REFRESH_WINDOW)

    with ThreadPoolExecutor(1) as pool:
        refreshed = pool.submit(provider.get)
        assert gated.started.wait(5)
        # The refreshing thread holds the refresh; other threads are not blocked by it.
        assert provider.get() == old
        gated.release.set()
        assert refreshed.result() == endpoint.issued[1]
    assert provider.get() == endpoint.issued[1]


# -- one refresher across instances --------------------------------------------------------------


def test_moto_server_enforces_client_request_token_idempotency(sm) -> None:
    """The claim relies on this documented Secrets Manager behaviour; check moto mirrors it."""
    version_id = "0f0e0d0c-0b0a-4090-8070-605040302010"
    sm.put_secret_value(
        SecretId=SECRET_ID, ClientRequestToken=version_id, SecretString="a", VersionStages=["X"]
    )

    # Same id, same content: succeeds and changes nothing.
    sm.put_secret_value(
        SecretId=SECRET_ID, ClientRequestToken=version_id, SecretString="a", VersionStages=["X"]
    )
    assert len(versions(sm)) == 2
    # Same id, other content: refused.
    with pytest.raises(ClientError) as refused:
        sm.put_secret_value(
            SecretId=SECRET_ID, ClientRequestToken=version_id, SecretString="b", VersionStages=["X"]
        )
    assert refused.value.response["Error"]["Code"] == "ResourceExistsException"
    # A custom staging label leaves AWSCURRENT where it was.
    assert sm.get_secret_value(SecretId=SECRET_ID)["SecretString"] == "{}"


def test_eight_instances_in_the_refresh_window_fetch_exactly_once(new_instance, clock, aws) -> None:
    slow = FakeTokenEndpoint(clock, delay=0.05)
    old = new_instance(fetch=slow).get()
    # Each instance with its own client, as in separate Lambda execution environments.
    instances = [new_instance(fetch=slow, secrets_client=boto3.client("secretsmanager")) for _ in range(8)]
    assert all(instance.get() == old for instance in instances)
    clock.advance(IN_REFRESH_WINDOW)
    start = threading.Barrier(len(instances))

    def get_together(instance: TokenProvider) -> Token:
        start.wait()
        return instance.get()

    with ThreadPoolExecutor(len(instances)) as pool:
        tokens = list(pool.map(get_together, instances))

    assert slow.calls == 2
    new = slow.issued[1]
    assert set(tokens) <= {old, new}  # the losers keep the old, still valid, token
    assert sum(instance.fetch_count for instance in instances) == 1
    clock.advance(5)  # the losers look at the shared cache again and converge
    assert {instance.get() for instance in instances} == {new}
    assert slow.calls == 2


@pytest.mark.parametrize("initial", ["no value", "{}"])
def test_cold_instances_on_an_empty_cache_fetch_exactly_once(initial, new_instance, clock, sm) -> None:
    if initial == "no value":  # a secret created without a value: the first claim becomes AWSCURRENT
        sm.delete_secret(SecretId=SECRET_ID, ForceDeleteWithoutRecovery=True)
        sm.create_secret(Name=SECRET_ID)
    slow = FakeTokenEndpoint(clock, delay=0.05)
    instances = [new_instance(fetch=slow, secrets_client=boto3.client("secretsmanager")) for _ in range(6)]
    start = threading.Barrier(len(instances))

    def get_together(instance: TokenProvider) -> Token:
        start.wait()
        return instance.get()

    with ThreadPoolExecutor(len(instances)) as pool:
        tokens = set(pool.map(get_together, instances))

    assert tokens == {slow.issued[0]}
    assert slow.calls == 1
    assert current_value(sm)["access_token"] == slow.issued[0].access_token


def test_an_expired_token_and_a_lost_claim_wait_for_the_winner(new_instance, endpoint, clock) -> None:
    new_instance().get()
    clock.advance(PAST_EXPIRY)
    gated = GatedFetch(endpoint)
    winner = new_instance(fetch=gated)
    events: list[str] = []
    loser = new_instance(on_event=events.append, wait_timeout=3.0)

    with ThreadPoolExecutor(1) as pool:
        winning = pool.submit(winner.get)
        assert gated.started.wait(5)  # the winner holds the claim and is fetching
        release = threading.Timer(0.15, gated.release.set)
        release.start()
        token = loser.get()
        release.join()

    assert token == winning.result() == endpoint.issued[1]
    assert loser.fetch_count == 0
    assert events == ["cache_write_lost", "cache_hit_shared"]


def test_after_a_dead_claimants_lease_another_instance_refreshes(new_instance, endpoint, clock) -> None:
    old = new_instance().get()
    survivor = new_instance(claim_lease=30.0, recheck_interval=5.0, sleep=no_sleep)
    assert survivor.get() == old
    clock.advance(IN_REFRESH_WINDOW)
    endpoint.failures.append(RuntimeError("token endpoint unreachable"))
    with pytest.raises(RuntimeError):
        new_instance().get()  # claims the refresh, then dies without writing a token

    assert survivor.get() == old  # the claim is live: keep the valid token, no fetch, no wait
    clock.advance(10)
    assert survivor.get() == old  # rechecked after 5 s: still claimed
    assert survivor.fetch_count == 0

    clock.advance(25)  # the lease ran out
    new = survivor.get()
    assert new != old
    assert survivor.fetch_count == 1
    assert new_instance().get() == new


def test_a_claimant_that_never_writes_costs_one_fetch_not_a_failure(
    new_instance, endpoint, clock, sm
) -> None:
    new_instance().get()
    clock.advance(PAST_EXPIRY)
    endpoint.failures.append(RuntimeError("token endpoint unreachable"))
    with pytest.raises(RuntimeError):
        new_instance().get()  # claims, dies
    sleeps: list[float] = []
    events: list[str] = []
    waiting = new_instance(wait_timeout=0.2, poll_interval=0.05, sleep=sleeps.append, on_event=events.append)

    token = waiting.get()

    assert sum(sleeps) == pytest.approx(0.2)  # a bounded wait...
    assert waiting.fetch_count == 1  # ...then its own fetch
    assert events == ["cache_write_lost", "fetched", "cache_write"]
    assert current_value(sm)["access_token"] == token.access_token


def test_an_instance_retries_its_own_live_claim_without_waiting(new_instance, endpoint) -> None:
    provider = new_instance(sleep=no_sleep)
    endpoint.failures.append(RuntimeError("token endpoint unreachable"))
    with pytest.raises(RuntimeError):
        provider.get()

    assert provider.get() == endpoint.issued[0]


def test_a_late_writer_cannot_replace_the_successor_of_a_generation(
    new_instance, endpoint, clock, sm
) -> None:
    new_instance().get()
    clock.advance(PAST_EXPIRY)
    gated = GatedFetch(endpoint)
    events: list[str] = []
    slow_claimant = new_instance(fetch=gated, on_event=events.append)

    with ThreadPoolExecutor(1) as pool:
        claimed = pool.submit(slow_claimant.get)
        assert gated.started.wait(5)
        successor = new_instance(wait_timeout=0.0).get()  # gave up waiting: fetched, wrote the successor
        gated.release.set()
        late_token = claimed.result()

    assert late_token != successor  # the late claimant keeps its own valid token...
    assert events == ["fetched", "cache_write_lost"]  # ...but cannot overwrite the successor
    assert current_value(sm)["access_token"] == successor.access_token
    assert new_instance().get() == successor


# -- invalidate (after a 401) -------------------------------------------------------------------------


def test_invalidate_never_returns_the_same_token_again(new_instance, endpoint, sm) -> None:
    events: list[str] = []
    provider = new_instance(on_event=events.append)
    rejected = provider.get()

    provider.invalidate(rejected)
    # The shared copy is retired too: a tombstone, an empty cache to every instance.
    assert current_value(sm) == {"invalidated": True, "replaces": sm.get_secret_value(
        SecretId=SECRET_ID, VersionStage="AWSPREVIOUS")["VersionId"]}
    replacement = provider.get()

    assert replacement != rejected
    assert provider.get() == replacement
    assert current_value(sm)["access_token"] == replacement.access_token
    assert events[-4:] == ["invalidated", "fetched", "cache_write", "cache_hit_memory"]


def test_instances_hit_by_the_same_401_refresh_once(new_instance, clock) -> None:
    slow = FakeTokenEndpoint(clock, delay=0.05)
    rejected = new_instance(fetch=slow).get()
    instances = [new_instance(fetch=slow, secrets_client=boto3.client("secretsmanager")) for _ in range(5)]
    assert all(instance.get() == rejected for instance in instances)
    start = threading.Barrier(len(instances))

    def on_401(instance: TokenProvider) -> Token:
        instance.invalidate(rejected)
        start.wait()
        return instance.get()

    with ThreadPoolExecutor(len(instances)) as pool:
        tokens = set(pool.map(on_401, instances))

    assert tokens == {slow.issued[1]}
    assert slow.calls == 2


def test_invalidating_an_older_token_keeps_the_current_one(new_instance, endpoint, clock) -> None:
    provider = new_instance()
    old = provider.get()
    clock.advance(IN_REFRESH_WINDOW)
    current = provider.get()

    provider.invalidate(old)  # a late 401 for a request made with the old token

    assert provider.get() == current
    assert endpoint.calls == 2


# -- a corrupt, missing or unreadable cache -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        '["a", "list"]',
        '{"access_token": "", "expires_at": 1}',
        '{"access_token": "eyJ-x", "expires_at": "tomorrow"}',
        '{"access_token": 42, "expires_at": 1}',
        '{"expires_at": 4102444800}',
        '{"access_token": "eyJ-x", "expires_at": 4102444800, "scope": ["a"]}',
    ],
)
def test_a_corrupt_value_is_replaced_by_a_fetched_token(value, new_instance, sm) -> None:
    sm.put_secret_value(SecretId=SECRET_ID, SecretString=value)
    events: list[str] = []
    provider = new_instance(on_event=events.append)

    token = provider.get()

    assert provider.fetch_count == 1
    assert events == ["cache_error", "fetched", "cache_write"]
    assert current_value(sm)["access_token"] == token.access_token


@pytest.mark.parametrize("value", ["{}", "   "])
def test_an_empty_value_is_filled_without_an_error(value, new_instance, sm) -> None:
    sm.put_secret_value(SecretId=SECRET_ID, SecretString=value)
    events: list[str] = []

    new_instance(on_event=events.append).get()

    assert events == ["fetched", "cache_write"]


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "AccessDeniedException", "DecryptionFailure", "InternalServiceError"]
)
def test_secrets_manager_errors_fall_back_to_fetching(code, new_instance, sm) -> None:
    inject_error(sm, "GetSecretValue", code)
    inject_error(sm, "PutSecretValue", code)
    events: list[str] = []
    provider = new_instance(on_event=events.append)

    token = provider.get()

    assert provider.fetch_count == 1
    assert events == ["cache_error", "fetched", "cache_error"]  # the read, then the best-effort write
    assert provider.get() == token  # served from memory afterwards


@pytest.mark.parametrize("deletion", ["forced", "scheduled"])
def test_a_deleted_secret_falls_back_to_fetching(deletion, new_instance, sm) -> None:
    if deletion == "forced":
        sm.delete_secret(SecretId=SECRET_ID, ForceDeleteWithoutRecovery=True)
    else:
        sm.delete_secret(SecretId=SECRET_ID, RecoveryWindowInDays=7)
    events: list[str] = []
    provider = new_instance(on_event=events.append)

    provider.get()

    assert provider.fetch_count == 1
    # Then the best-effort write fails too ("scheduled": on AWS; moto accepts that put).
    assert events[:2] == ["cache_error", "fetched"]
    assert sm.list_secrets()["SecretList"] == []  # never re-created from here


def test_an_unreachable_secrets_manager_falls_back_to_fetching(new_instance) -> None:
    unreachable = boto3.client(
        "secretsmanager",
        endpoint_url="http://127.0.0.1:9",
        config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
    )
    events: list[str] = []
    provider = new_instance(secrets_client=unreachable, on_event=events.append)

    provider.get()

    assert provider.fetch_count == 1
    assert events == ["cache_error", "fetched", "cache_error"]


def test_an_error_with_a_usable_token_keeps_it_and_rechecks_later(new_instance, sm, clock, sm_calls) -> None:
    provider = new_instance(recheck_interval=5.0)
    token = provider.get()
    clock.advance(IN_REFRESH_WINDOW)
    inject_error(sm, "GetSecretValue", "ThrottlingException")
    sm_calls.clear()

    assert provider.get() == token  # due for refresh, but still usable: no fetch
    assert provider.get() == token  # and no second Secrets Manager call before the recheck
    assert sm_calls == ["provide-client-params.secrets-manager.GetSecretValue"]
    clock.advance(6)
    assert provider.get() == token
    assert len(sm_calls) == 2
    assert provider.fetch_count == 1


def test_a_read_only_cache_still_shares_nothing_but_never_fails(new_instance, sm) -> None:
    inject_error(sm, "PutSecretValue", "AccessDeniedException")
    events: list[str] = []
    provider = new_instance(on_event=events.append)

    token = provider.get()  # the claim is refused: fetch directly

    assert token == provider.get()
    assert events == ["cache_error", "fetched", "cache_error", "cache_hit_memory"]


def test_fetch_errors_propagate_unchanged(new_instance, endpoint) -> None:
    failure = RuntimeError("token endpoint answered 503")
    endpoint.failures.append(failure)

    with pytest.raises(RuntimeError) as raised:
        new_instance().get()

    assert raised.value is failure


def test_a_fetch_returning_something_else_than_a_token_is_a_type_error(new_instance) -> None:
    with pytest.raises(TypeError, match="must return a Token"):
        new_instance(fetch=lambda: {"access_token": "eyJ-x"}).get()


def test_a_failing_event_hook_costs_nothing(new_instance) -> None:
    def broken_hook(event: str) -> None:
        raise RuntimeError("metrics backend down")

    provider = new_instance(on_event=broken_hook)

    assert provider.get() == provider.get()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
cache_like_documents = st.fixed_dictionaries(
    {},
    optional={
        key: json_values | st.just(good)
        for key, good in {
            "access_token": "eyJ-cached",
            "expires_at": 4_000_000_000,
            "fetched_at": 1_700_000_000,
            "scope": "",
            "token_type": "Bearer",
            "claim": "other-instance",
            "replaces": "none",
            "lease_until": 4_000_000_000,
        }.items()
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=json_values | cache_like_documents)
def test_no_cache_value_makes_get_fail(document, new_instance, sm, endpoint) -> None:
    sm.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(document))

    token = new_instance(wait_timeout=0.0).get()

    assert token in endpoint.issued or token.access_token == "eyJ-cached"


# -- secrecy ------------------------------------------------------------------------------------------


def test_tokens_never_appear_in_logs_output_or_errors(
    new_instance, endpoint, sm, clock, caplog, capsys
) -> None:
    caplog.set_level(logging.DEBUG, logger=token_cache.logger.name)
    caplog.set_level(logging.DEBUG, logger="aws_lambda_powertools")
    provider = new_instance()
    provider.get()
    sm.put_secret_value(SecretId=SECRET_ID, SecretString="not json " + endpoint.issued[0].access_token)
    clock.advance(PAST_EXPIRY)
    provider.get()  # corrupt value
    inject_error(sm, "GetSecretValue", "ThrottlingException")
    provider.invalidate(endpoint.issued[1])
    provider.get()  # unavailable cache
    endpoint.failures.append(RuntimeError("token endpoint answered 503"))
    clock.advance(PAST_EXPIRY)
    with pytest.raises(RuntimeError) as raised:
        provider.get()

    printed = capsys.readouterr()
    seen = [caplog.text, printed.out, printed.err, repr(provider), str(raised.value), repr(raised.value)]
    seen += [repr(record.__dict__) for record in caplog.records]
    assert len(caplog.records) >= 2  # the corrupt value and the unavailable cache were logged
    for token in endpoint.issued:
        assert token.access_token not in "\n".join(seen)


# -- growth of the secret -----------------------------------------------------------------------------


def test_fifty_refreshes_leave_three_labelled_versions(new_instance, sm, clock) -> None:
    provider = new_instance()
    for _ in range(50):
        provider.get()
        clock.advance(IN_REFRESH_WINDOW)

    all_versions = versions(sm)
    labelled = {
        tuple(sorted(version["VersionStages"])) for version in all_versions if version["VersionStages"]
    }
    # Each refresh adds a claim and a token, and each moves a label off an older version.
    # Secrets Manager deletes the unlabelled ones (past 100 versions, once a day old); moto
    # keeps them, so count them instead: nothing beyond the two per refresh.
    assert labelled == {("AWSCURRENT",), ("AWSPREVIOUS",), (CLAIM_STAGE,)}
    assert len(all_versions) == 1 + 2 * 50


@pytest.mark.parametrize("lifetime,ceiling", [(86400.0, 1.1), (3600.0, 1.1), (60.0, 1.16), (30.0, 1.16)])
def test_the_workers_refresh_settings_fetch_about_once_per_lifetime(lifetime, ceiling):
    from token_exchange_enabler.bootstrap import TOKEN_REFRESH

    now = [1_000_000.0]
    fetched = []

    def fetch():
        fetched.append(now[0])
        return Token(access_token=f"t{len(fetched)}", expires_at=now[0] + lifetime)

    provider = TokenProvider(fetch=fetch, cache_secret_id=None, clock=lambda: now[0], **TOKEN_REFRESH)
    lifetimes = 20
    step = lifetime / 200
    for _ in range(200 * lifetimes):
        token = provider.get()
        assert token.expires_at - now[0] > 0  # never an expired token
        now[0] += step
    assert 1.0 <= len(fetched) / lifetimes <= ceiling
