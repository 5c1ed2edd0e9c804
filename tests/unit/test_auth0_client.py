"""The Auth0 HTTP client against the emulator over real HTTP (no patched requests)."""

from __future__ import annotations

import time

import pytest
from token_exchange_enabler.auth0 import (
    CallStats,
    ClientCredentials,
    CredentialsRejected,
    Deadline,
    Forbidden,
    InvalidId,
    ManagementApi,
    NotFound,
    RateLimited,
    ServerError,
    TokenEndpoint,
    Unreachable,
    segment,
)
from token_exchange_enabler.scopes import LEGACY_SCOPES, OBO_SCOPES

from local.auth0_emulator import Fault, RateLimit
from tests.conftest import AUTH0_DOMAIN as DOMAIN
from tests.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET


@pytest.fixture
def emulator_scopes() -> tuple[str, ...]:
    """The client here calls the routes of both modes (fixture ``emulator``: tests/conftest.py)."""
    return tuple(dict.fromkeys(OBO_SCOPES + LEGACY_SCOPES))


class Tokens:
    """A token source over the real token endpoint, without the shared cache."""

    def __init__(self, endpoint: TokenEndpoint):
        self.endpoint = endpoint
        self.token = None
        self.invalidated = 0

    def get(self):
        if self.token is None:
            self.token = self.endpoint.fetch()
        return self.token

    def invalidate(self, token):
        self.invalidated += 1
        self.token = None


def make_api(emulator, *, secret=M2M_CLIENT_SECRET, **kwargs):
    stats = CallStats()
    endpoint = TokenEndpoint(base_url=emulator.base_url, audience=f"https://{DOMAIN}/api/v2/",
                             credentials=lambda: ClientCredentials(M2M_CLIENT_ID, secret), stats=stats)
    tokens = Tokens(endpoint)
    return ManagementApi(base_url=emulator.base_url, tokens=tokens, stats=stats, **kwargs), tokens


def test_token_grant_returns_a_token_with_expiry(emulator):
    api, tokens = make_api(emulator)
    token = tokens.get()
    assert token.remaining(time.time()) > 86000
    assert "read:clients" in token.scope
    assert token.access_token not in repr(token)


def test_wrong_secret_is_a_configuration_error_without_the_secret(emulator):
    api, tokens = make_api(emulator, secret="wrong-secret-value")
    with pytest.raises(CredentialsRejected) as caught:
        tokens.get()
    assert caught.value.configuration
    assert "wrong-secret-value" not in str(caught.value)


def test_ids_are_percent_encoded_and_cannot_change_the_route(emulator):
    api, _ = make_api(emulator)
    for evil in ("../clients", "a/b", "x?y=1", "x#frag", "%2e%2e", "../", "./x", "...", "a/../../clients",
                 "é/ü", "\u2215clients", " ", "x\r\nHost: evil"):
        with pytest.raises(NotFound):
            api.get_resource_server(evil)
        with pytest.raises(NotFound):
            api.patch_client(evil, {"name": "x"})
    assert all("/clients" not in key for key in emulator.counters if key.startswith("GET"))
    assert set(emulator.counters) <= {"POST /oauth/token", "GET /api/v2/resource-servers/{id}",
                                      "PATCH /api/v2/clients/{id}"}
    assert segment("../a/b?c#d") == "..%2Fa%2Fb%3Fc%23d"


@pytest.mark.parametrize("evil", ["", ".", "..", "\ud800x"])
def test_ids_that_are_dot_segments_are_refused_before_any_request(emulator, evil):
    # quote() keeps dots, and requests resolves dot segments: ".." would call GET /api/v2/ and
    # "" or "." the list route. Such an id can name nothing, so nothing is sent; nor is an id
    # that is not valid Unicode (it cannot be encoded at all).
    api, _ = make_api(emulator)
    with pytest.raises(ValueError, match="cannot be an id"):
        segment(evil)
    for call in (api.get_resource_server, api.get_client, lambda i: api.patch_client(i, {"name": "x"}),
                 lambda i: api.patch_resource_server(i, {"name": "x"})):
        with pytest.raises(InvalidId) as caught:
            call(evil)
        assert not caught.value.retryable and caught.value.error == "invalid_id"
    assert emulator.management_calls == 0 and emulator.token_requests == 0


def test_identifier_lookup_and_pagination(emulator):
    for i in range(7):
        emulator.create_resource_server({"identifier": f"https://p{i}.example.com", "name": f"P{i}"})
    api, _ = make_api(emulator)
    assert api.get_resource_server("https://p3.example.com")["name"] == "P3"
    everything = list(api.iter_resource_servers(per_page=3))
    assert len(everything) == 8  # 7 + the system API
    assert emulator.counters["GET /api/v2/resource-servers"] == 3


def test_5xx_is_retried_with_backoff_then_raised(emulator):
    api, _ = make_api(emulator)
    emulator.inject(Fault("status", status=502, times=2, path_prefix="/api/v2/resource-servers"))
    assert api.get_resource_server(f"https://{DOMAIN}/api/v2/")["is_system"] is True
    emulator.inject(Fault("status", status=503, times=None, path_prefix="/api/v2/resource-servers"))
    with pytest.raises(ServerError) as caught:
        api.get_resource_server(f"https://{DOMAIN}/api/v2/")
    assert caught.value.retryable and caught.value.status == 503


def test_post_is_not_resent_after_a_5xx(emulator):
    api, _ = make_api(emulator)
    emulator.inject(Fault("status", status=500, times=1, path_prefix="/api/v2/clients", method="POST"))
    with pytest.raises(ServerError):
        api.create_client({"name": "once"})
    assert emulator.counters["POST /api/v2/clients"] == 1


def test_dropped_connections_are_retried_then_reported(emulator):
    api, _ = make_api(emulator)
    emulator.inject(Fault("drop", times=1, path_prefix="/api/v2/resource-servers"))
    assert api.get_resource_server(f"https://{DOMAIN}/api/v2/")
    emulator.inject(Fault("drop", times=None, path_prefix="/api/v2/resource-servers"))
    with pytest.raises(Unreachable) as caught:
        api.get_resource_server(f"https://{DOMAIN}/api/v2/")
    assert caught.value.retryable


def test_a_401_refreshes_the_token_once(emulator):
    api, tokens = make_api(emulator)
    api.get_resource_server(f"https://{DOMAIN}/api/v2/")
    emulator.inject(Fault("unauthorized", times=1))
    api.get_resource_server(f"https://{DOMAIN}/api/v2/")
    assert tokens.invalidated == 1
    assert emulator.token_requests == 2


def test_insufficient_scope_is_typed(emulator):
    emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=["read:resource_servers"])
    api, _ = make_api(emulator)
    with pytest.raises(Forbidden) as caught:
        api.create_client({"name": "x"})
    assert caught.value.error_code == "insufficient_scope" and caught.value.configuration


def test_429_waits_for_the_reset_when_it_fits(emulator):
    emulator.rate_limit = RateLimit(burst=2, per_second=5.0)
    api, _ = make_api(emulator)
    for _ in range(8):
        api.get_resource_server(f"https://{DOMAIN}/api/v2/")
    assert api.stats.management_calls >= 8


def test_429_that_does_not_fit_raises_rate_limited(emulator):
    emulator.rate_limit = RateLimit(burst=1, per_second=0.1)
    api, _ = make_api(emulator)
    api.deadline = Deadline(lambda: 3.0, margin=2.5)
    api.get_resource_server(f"https://{DOMAIN}/api/v2/")
    with pytest.raises(RateLimited) as caught:
        api.get_resource_server(f"https://{DOMAIN}/api/v2/")
    assert caught.value.retryable and caught.value.retry_after > 0.5
