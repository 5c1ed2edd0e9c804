"""Fixtures for the emulator's own tests: a started emulator and a Management API session on it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.auth0_emulator import Auth0Emulator
from tests.conftest import AUTH0_DOMAIN as DOMAIN

CLIENT_ID = "m2m-client-id"
CLIENT_SECRET = "m2m-client-secret"
AUDIENCE = f"https://{DOMAIN}/api/v2/"


class Mgmt:
    """A ``requests`` session holding a Management API token for one emulator."""

    def __init__(self, emu: Auth0Emulator, token: str | None = None) -> None:
        self.emu = emu
        self.base = emu.base_url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def fetch_token(
    emu: Auth0Emulator, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET, **extra: Any
):
    """``POST /oauth/token`` with client credentials; the raw response."""
    body = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
        "audience": AUDIENCE,
        **extra,
    }
    return requests.post(f"{emu.base_url}/oauth/token", json=body, timeout=5)


def mgmt_for(emu: Auth0Emulator, scopes: list[str] | None = None, client_id: str = CLIENT_ID) -> Mgmt:
    """A session whose token carries ``scopes`` (every scope when ``None``)."""
    emu.add_m2m_client(client_id, CLIENT_SECRET, scopes=scopes)
    response = fetch_token(emu, client_id=client_id)
    assert response.status_code == 200, response.text
    return Mgmt(emu, response.json()["access_token"])


@pytest.fixture
def emu() -> Iterator[Auth0Emulator]:
    """A started emulator with default settings."""
    with Auth0Emulator(domain=DOMAIN) as emulator:
        yield emulator


@pytest.fixture
def api(emu: Auth0Emulator) -> Mgmt:
    """A Management API session with every scope."""
    return mgmt_for(emu)


def create_api(api: Mgmt, identifier: str = "https://orders.example.com/", **fields: Any) -> dict[str, Any]:
    """Create a resource server over HTTP and return it."""
    response = api.post("/api/v2/resource-servers", {"identifier": identifier, "name": "Orders", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def assert_auth0_error(
    response: requests.Response, status: int, error_code: str | None, message: str | None = None
):
    """The response is Auth0's ``{"statusCode", "error", "message", "errorCode"}`` error."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["statusCode"] == status
    assert isinstance(body["error"], str) and body["error"]
    if error_code is None:
        assert "errorCode" not in body
    else:
        assert body["errorCode"] == error_code
    if message is not None:
        assert body["message"] == message
    return body
