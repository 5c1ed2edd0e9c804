"""Auth0's official Python SDK (auth0-python 6.x) against the emulator: proof of wire compatibility.

The SDK is pointed at the emulator through its own supported overrides, with no patching:
``GetToken(..., protocol="http")`` for the token endpoint and the generated client's
``Auth0(base_url=...)`` for the Management API (``ManagementClient`` always builds ``https://`` URLs).
"""

from __future__ import annotations

import pytest

from .conftest import CLIENT_ID, CLIENT_SECRET

auth0_authentication = pytest.importorskip("auth0.authentication")
auth0_management = pytest.importorskip("auth0.management")


def test_official_sdk_round_trip(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)
    emu.create_resource_server({"identifier": "https://orders.example.com/", "name": "Orders"})

    token = auth0_authentication.GetToken(
        emu.base_url.removeprefix("http://"), CLIENT_ID, client_secret=CLIENT_SECRET, protocol="http"
    ).client_credentials(audience=emu.audience)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86400

    api = auth0_management.Auth0(
        base_url=f"{emu.base_url}/api/v2", token=token["access_token"], max_retries=0
    )

    apis = list(api.resource_servers.list(per_page=1))  # the SDK's pager walks page after page
    assert [rs.identifier for rs in apis] == [emu.audience, "https://orders.example.com/"]
    assert apis[0].is_system is True

    client = api.clients.create(
        name="Orders (Custom API)",
        app_type="resource_server",
        resource_server_identifier="https://orders.example.com/",
        token_exchange={"allow_any_profile_of_type": ["custom_authentication"]},
    )
    assert client.app_type == "resource_server"
    assert api.resource_servers.get("https://orders.example.com/").client_id == client.client_id

    updated = api.clients.update(
        client.client_id,
        token_exchange={
            "allow_any_profile_of_type": ["custom_authentication", "on_behalf_of_token_exchange"]
        },
    )
    assert updated.token_exchange.allow_any_profile_of_type == [
        "custom_authentication",
        "on_behalf_of_token_exchange",
    ]

    with pytest.raises(auth0_management.BadRequestError) as excinfo:
        api.resource_servers.update("https://orders.example.com/", name="a<b")
    assert excinfo.value.body["errorCode"] == "invalid_body"

    assert emu.counters["POST /oauth/token"] == 1
    assert emu.counters["GET /api/v2/resource-servers"] == 3
    assert emu.counters["POST /api/v2/clients"] == 1
    assert emu.counters["PATCH /api/v2/clients/{id}"] == 1
    sdk_record = emu.log_events[-1]["data"]
    assert sdk_record["description"] == "Update a client"
    assert sdk_record["auth0_client"]["name"] == "auth0-python"
