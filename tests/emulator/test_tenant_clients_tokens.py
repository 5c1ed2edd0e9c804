"""Client credentials for the tenant's own clients (POST /clients), not only add_m2m_client's.

Sources: Auth0's "Application Grant Types" page (a confidential application — Regular Web or
Machine-to-Machine — gets ``client_credentials`` among its default grant types); the token
endpoint's answers reported by SDK users: 403 ``access_denied`` "Client is not authorized to access
..." without a client grant (auth0/auth0-python#173), 403 ``unauthorized_client`` "Grant type
'client_credentials' not allowed for the client." (auth0/ruby-auth0#190, auth0/auth0-java#165).
"""

from __future__ import annotations

from typing import Any

import requests

from local.auth0_emulator import known_secrets

from .conftest import AUDIENCE, CLIENT_SECRET, Mgmt, assert_auth0_error, create_api


def new_client(api: Mgmt, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/v2/clients", {"name": "Reporting service", "app_type": "non_interactive", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def grant(api: Mgmt, client_id: str, audience: str = AUDIENCE, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/v2/client-grants", {"client_id": client_id, "audience": audience, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def token_request(emu, client: dict[str, Any], audience: str = AUDIENCE, **extra: Any) -> requests.Response:
    body = {
        "grant_type": "client_credentials",
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "audience": audience,
        **extra,
    }
    return requests.post(f"{emu.base_url}/oauth/token", json=body, timeout=5)


def oauth_error(response: requests.Response, status: int, error: str, description: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    if description is not None:
        assert body["error_description"] == description


def test_a_new_non_interactive_client_may_use_client_credentials(api):
    client = new_client(api)
    assert "client_credentials" in client["grant_types"]


def test_a_client_with_a_grant_gets_a_management_api_token_with_the_grants_scopes(api, emu):
    client = new_client(api)
    grant(api, client["client_id"], scope=["read:clients", "read:log_streams"])

    response = token_request(emu, client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "read:clients read:log_streams" and body["token_type"] == "Bearer"
    assert body["expires_in"] == int(emu.token_lifetime)
    assert body["access_token"] in known_secrets()
    claims = emu.token_claims(body["access_token"])
    assert claims["sub"] == f"{client['client_id']}@clients" and claims["aud"] == AUDIENCE
    assert claims["gty"] == "client-credentials" and claims["azp"] == client["client_id"]

    own = Mgmt(emu, body["access_token"])
    assert own.get("/api/v2/clients").status_code == 200
    assert own.get("/api/v2/log-streams").status_code == 200
    assert_auth0_error(own.get("/api/v2/resource-servers"), 403, "insufficient_scope")


def test_http_basic_authentication_and_a_subset_of_the_scopes(api, emu):
    client = new_client(api)
    grant(api, client["client_id"], scope=["read:clients", "create:resource_servers"])

    response = requests.post(
        f"{emu.base_url}/oauth/token",
        data={"grant_type": "client_credentials", "audience": AUDIENCE, "scope": "create:resource_servers"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "create:resource_servers"

    too_much = token_request(emu, client, scope="read:clients delete:clients")
    oauth_error(too_much, 403, "access_denied", "Client has not been granted scopes: delete:clients")


def test_writes_with_such_a_token_are_attributed_to_the_client(api, emu):
    client = new_client(api)
    grant(api, client["client_id"], scope=["create:resource_servers"])
    own = Mgmt(emu, token_request(emu, client).json()["access_token"])
    records: list[dict[str, Any]] = []
    emu.on_log_event = records.append

    create_api(own)

    (record,) = records
    assert record["data"]["client_id"] == client["client_id"]
    assert record["data"]["details"]["request"]["auth"]["credentials"]["scopes"] == ["create:resource_servers"]


def test_without_a_grant_the_client_is_not_authorized(api, emu):
    client = new_client(api)

    oauth_error(
        token_request(emu, client),
        403,
        "access_denied",
        f'Client is not authorized to access "{AUDIENCE}". You need to create a "client-grant" associated to '
        "this API.",
    )
    grant(api, client["client_id"], subject_type="user")  # a user-delegated grant does not count
    oauth_error(token_request(emu, client), 403, "access_denied")


def test_a_wrong_secret_or_an_unknown_or_deleted_client_is_unauthorized(api, emu):
    client = new_client(api)
    grant(api, client["client_id"], scope=["read:clients"])

    oauth_error(token_request(emu, {**client, "client_secret": "not-" + client["client_secret"]}), 401, "access_denied")
    oauth_error(token_request(emu, {**client, "client_id": "nosuchclient"}), 401, "access_denied", "Unauthorized")
    assert api.delete(f"/api/v2/clients/{client['client_id']}").status_code == 204
    oauth_error(token_request(emu, client), 401, "access_denied", "Unauthorized")


def test_a_client_without_the_client_credentials_grant_type_is_refused(api, emu):
    client = new_client(api, app_type="regular_web", grant_types=["authorization_code", "refresh_token"])
    grant(api, client["client_id"], scope=["read:clients"])

    oauth_error(
        token_request(emu, client),
        403,
        "unauthorized_client",
        "Grant type 'client_credentials' not allowed for the client.",
    )
    api.patch(f"/api/v2/clients/{client['client_id']}", {"grant_types": ["client_credentials"]})
    assert token_request(emu, client).status_code == 200


def test_scope_changes_apply_to_tokens_issued_afterwards(api, emu):
    client = new_client(api)
    granted = grant(api, client["client_id"], scope=["read:clients"])
    old = token_request(emu, client).json()["access_token"]

    api.patch(f"/api/v2/client-grants/{granted['id']}", {"scope": ["read:resource_servers"]})
    new = token_request(emu, client).json()

    assert new["scope"] == "read:resource_servers"
    assert Mgmt(emu, old).get("/api/v2/clients").status_code == 200  # an issued token keeps its scopes
    assert_auth0_error(Mgmt(emu, new["access_token"]).get("/api/v2/clients"), 403, "insufficient_scope")
    assert Mgmt(emu, new["access_token"]).get("/api/v2/resource-servers").status_code == 200


def test_a_rotated_secret_is_honoured_at_once(api, emu):
    client = new_client(api)
    grant(api, client["client_id"], scope=["read:clients"])

    rotated = api.post(f"/api/v2/clients/{client['client_id']}/rotate-secret").json()

    oauth_error(token_request(emu, client), 401, "access_denied", "Unauthorized")
    assert token_request(emu, rotated).status_code == 200


def test_tokens_for_another_api_of_the_tenant(api, emu):
    orders = create_api(
        api,
        scopes=[{"value": "read:orders"}, {"value": "write:orders"}],
        token_lifetime=600,
    )
    client = new_client(api)
    oauth_error(
        token_request(emu, client, audience="https://nowhere.example.com/"),
        403,
        "access_denied",
        "Service not enabled within domain: https://nowhere.example.com/",
    )
    grant(api, client["client_id"], audience=orders["identifier"], allow_all_scopes=True)

    response = token_request(emu, client, audience=orders["identifier"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "read:orders write:orders" and body["expires_in"] == 600
    claims = emu.token_claims(body["access_token"])
    assert claims["aud"] == orders["identifier"] and claims["gty"] == "client-credentials"
    # A token for another API is no Management API token.
    assert_auth0_error(Mgmt(emu, body["access_token"]).get("/api/v2/clients"), 401, None, "Invalid token")


def test_the_audience_is_required(api, emu):
    client = new_client(api)
    response = token_request(emu, client, audience="")
    oauth_error(
        response,
        403,
        "access_denied",
        "No audience parameter was provided, and no default audience has been configured",
    )


def test_add_m2m_client_credentials_take_precedence(api, emu):
    client = new_client(api)
    grant(api, client["client_id"], scope=["read:clients"])
    emu.add_m2m_client(client["client_id"], CLIENT_SECRET, scopes=["read:resource_servers"])

    oauth_error(token_request(emu, client), 401, "access_denied", "Unauthorized")
    response = token_request(emu, {**client, "client_secret": CLIENT_SECRET})
    assert response.status_code == 200 and response.json()["scope"] == "read:resource_servers"
