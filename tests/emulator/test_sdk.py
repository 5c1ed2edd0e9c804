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


def _sdk_session(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)
    token = auth0_authentication.GetToken(
        emu.base_url.removeprefix("http://"), CLIENT_ID, client_secret=CLIENT_SECRET, protocol="http"
    ).client_credentials(audience=emu.audience)
    return auth0_management.Auth0(base_url=f"{emu.base_url}/api/v2", token=token["access_token"], max_retries=0)


def test_official_sdk_client_grants(emu):
    """auth0-python's ClientGrants create/get/update/list/delete, allow_all_scopes included."""
    api = _sdk_session(emu)
    api.resource_servers.create(
        identifier="https://orders.example.com/", name="Orders", scopes=[{"value": "read:orders"}]
    )
    api.resource_servers.create(
        identifier="https://billing.example.com/",
        name="Billing",
        scopes=[{"value": "read:invoices"}, {"value": "pay:invoices"}],
    )
    client = api.clients.create(
        name="Orders (Custom API)",
        app_type="resource_server",
        resource_server_identifier="https://orders.example.com/",
        oidc_conformant=True,
        is_first_party=True,
        client_metadata={"managed_by": "token-exchange-enabler"},
    )
    assert client.client_metadata == {"managed_by": "token-exchange-enabler"} and client.oidc_conformant is True

    grant = api.client_grants.create(
        client_id=client.client_id,
        audience="https://billing.example.com/",
        scope=["read:invoices"],
        subject_type="user",
    )
    assert (grant.scope, grant.subject_type) == (["read:invoices"], "user")
    everything = api.client_grants.update(grant.id, allow_all_scopes=True)
    assert everything.allow_all_scopes is True and not everything.scope
    narrowed = api.client_grants.update(grant.id, allow_all_scopes=False, scope=["pay:invoices"])
    assert narrowed.scope == ["pay:invoices"]
    assert api.client_grants.get(grant.id).scope == ["pay:invoices"]

    listed = list(api.client_grants.list(client_id=client.client_id, subject_type="user"))  # checkpoint pages
    assert [g.id for g in listed] == [grant.id]
    with pytest.raises(auth0_management.ConflictError):
        api.client_grants.create(
            client_id=client.client_id, audience="https://billing.example.com/", subject_type="user"
        )
    with pytest.raises(auth0_management.NotFoundError):
        api.client_grants.create(client_id=client.client_id, audience="https://absent.example.com/")
    api.client_grants.delete(grant.id)
    api.client_grants.delete(grant.id)  # 204 again, as recorded
    assert emu.client_grants == []


def test_official_sdk_token_exchange(emu):
    """auth0-python 6.8.0 has no On-Behalf-Of helper: GetToken.authenticated_post sends the exchange."""
    api = _sdk_session(emu)
    api.resource_servers.create(identifier="https://orders.example.com/", name="Orders")
    api.resource_servers.create(
        identifier="https://billing.example.com/",
        name="Billing",
        scopes=[{"value": "read:invoices"}],
        skip_consent_for_verifiable_first_party_clients=True,
    )
    client = api.clients.create(
        name="Orders (Custom API)",
        app_type="resource_server",
        resource_server_identifier="https://orders.example.com/",
        token_exchange={"allow_any_profile_of_type": ["on_behalf_of_token_exchange"]},
    )
    api.client_grants.create(
        client_id=client.client_id,
        audience="https://billing.example.com/",
        scope=["read:invoices"],
        subject_type="user",
    )
    emu.add_user("auth0|alice", {"https://billing.example.com/": ["read:invoices"]})
    user_token = emu.issue_user_token("auth0|alice", "https://orders.example.com/")
    get_token = auth0_authentication.GetToken(
        emu.base_url.removeprefix("http://"), client.client_id, client_secret=client.client_secret, protocol="http"
    )
    form = {
        "client_id": client.client_id,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": user_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "audience": "https://billing.example.com/",
    }

    exchanged = get_token.authenticated_post(f"{emu.base_url}/oauth/token", data={**form, "scope": "read:invoices"})

    assert exchanged["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert emu.token_claims(exchanged["access_token"])["sub"] == "auth0|alice"
    with pytest.raises(auth0_authentication.exceptions.Auth0Error) as excinfo:
        get_token.authenticated_post(f"{emu.base_url}/oauth/token", data={**form, "scope": "pay:invoices"})
    assert (excinfo.value.status_code, excinfo.value.error_code) == (403, "access_denied")
