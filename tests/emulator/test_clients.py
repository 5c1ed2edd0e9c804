"""The client routes: Custom API clients, token_exchange, pagination and PATCH semantics."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_auth0_error, create_api, mgmt_for

OBO = {"allow_any_profile_of_type": ["on_behalf_of_token_exchange"]}


def create_client(api, **fields):
    response = api.post("/api/v2/clients", {"name": "Client", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def create_custom_api_client(api, identifier="https://orders.example.com/", **fields):
    return create_client(
        api,
        name="Orders (Custom API)",
        app_type="resource_server",
        resource_server_identifier=identifier,
        **fields,
    )


def test_create_custom_api_client_with_token_exchange_links_the_api(api):
    rs = create_api(api)

    client = create_custom_api_client(api, token_exchange=OBO)

    assert re.fullmatch(r"[A-Za-z0-9]{32}", client["client_id"])
    assert len(client["client_secret"]) >= 32
    assert client["app_type"] == "resource_server"
    assert client["resource_server_identifier"] == rs["identifier"]
    assert client["token_exchange"] == OBO
    assert client["grant_types"] == []
    linked = api.get(f"/api/v2/resource-servers/{rs['id']}").json()
    assert linked["client_id"] == client["client_id"]
    assert list(linked)[:4] == ["id", "name", "identifier", "client_id"]
    assert api.emu.clients == [client]


def test_a_second_custom_api_client_is_allowed_but_does_not_take_the_link(api):
    rs = create_api(api)
    first = create_custom_api_client(api)

    second = create_custom_api_client(api)

    assert second["client_id"] != first["client_id"]
    assert api.get(f"/api/v2/resource-servers/{rs['id']}").json()["client_id"] == first["client_id"]


@pytest.mark.parametrize(
    ("body", "error_code", "fragment"),
    [
        (
            {
                "name": "x",
                "app_type": "resource_server",
                "resource_server_identifier": "https://absent.example.com/",
            },
            "inexistent_resource_server",
            "https://absent.example.com/",
        ),
        (
            {"name": "x", "app_type": "resource_server"},
            "invalid_body",
            "resource_server_identifier is required",
        ),
        (
            {
                "name": "x",
                "app_type": "non_interactive",
                "resource_server_identifier": "https://orders.example.com/",
            },
            "invalid_body",
            "can only be set when app_type is resource_server",
        ),
        ({"name": "a<b>"}, "invalid_body", "String does not match pattern ^[^<>]+$: a<b>"),
        ({"app_type": "spa"}, "invalid_body", "Missing required property: name"),
        (
            {"name": "x", "resource_server_id": "y"},
            "invalid_body",
            "Additional properties not allowed: resource_server_id",
        ),
        (
            {"name": "x", "token_exchange": {"allow_any_profile_of_type": ["impersonation"]}},
            "invalid_body",
            'No enum match for: "impersonation"\' on property token_exchange.allow_any_profile_of_type[0]',
        ),
        (
            {"name": "x", "app_type": "mainframe"},
            "invalid_body",
            'No enum match for: "mainframe"\' on property app_type',
        ),
    ],
)
def test_create_client_rejects_invalid_bodies(api, body, error_code, fragment):
    create_api(api)

    response = api.post("/api/v2/clients", body)

    assert_auth0_error(response, 400, error_code)
    assert fragment in response.json()["message"]
    assert api.emu.clients == []


def test_a_client_cannot_be_linked_to_a_system_api(api, emu):
    response = api.post(
        "/api/v2/clients",
        {"name": "x", "app_type": "resource_server", "resource_server_identifier": emu.audience},
    )

    assert_auth0_error(response, 400, "operation_not_supported")


def test_patch_replaces_token_exchange_as_a_whole(api):
    create_api(api)
    rs_client = create_custom_api_client(
        api, token_exchange={"allow_any_profile_of_type": ["custom_authentication"]}
    )
    client_id = rs_client["client_id"]

    replaced = api.patch(f"/api/v2/clients/{client_id}", {"token_exchange": OBO})

    assert replaced.status_code == 200
    assert replaced.json()["token_exchange"] == OBO  # custom_authentication is gone: callers must merge
    merged = {"allow_any_profile_of_type": ["custom_authentication", "on_behalf_of_token_exchange"]}
    assert (
        api.patch(f"/api/v2/clients/{client_id}", {"token_exchange": merged}).json()["token_exchange"]
        == merged
    )
    cleared = api.patch(f"/api/v2/clients/{client_id}", {"token_exchange": None}).json()
    assert "token_exchange" not in cleared
    assert cleared["name"] == rs_client["name"]  # other fields untouched


def test_patch_client_validation(api):
    create_api(api)
    client_id = create_custom_api_client(api)["client_id"]

    empty = api.patch(f"/api/v2/clients/{client_id}", {})
    relink = api.patch(f"/api/v2/clients/{client_id}", {"resource_server_identifier": "https://other/"})
    bad = api.patch(f"/api/v2/clients/{client_id}", {"token_exchange": {"allow_any_profile_of_type": "x"}})
    missing = api.patch("/api/v2/clients/doesnotexist", {"name": "x"})
    app_type = api.patch(f"/api/v2/clients/{client_id}", {"app_type": "spa"})

    assert_auth0_error(
        empty, 400, "invalid_body", "Payload validation error: 'Too few properties defined (0), minimum 1'."
    )
    assert_auth0_error(
        relink,
        400,
        "invalid_body",
        "Payload validation error: 'Additional properties not allowed: resource_server_identifier'.",
    )
    assert "Expected type array but found type string" in bad.json()["message"]
    assert_auth0_error(missing, 404, "inexistent_client", "The client does not exist")
    assert_auth0_error(app_type, 400, "operation_not_supported")


def test_get_client_and_secret_visibility(emu):
    admin = mgmt_for(emu)
    client = create_client(admin, app_type="non_interactive")
    reader = mgmt_for(emu, scopes=["read:clients"], client_id="reader")

    with_keys = admin.get(f"/api/v2/clients/{client['client_id']}").json()
    without_keys = reader.get(f"/api/v2/clients/{client['client_id']}").json()

    assert with_keys == client
    assert "client_secret" not in without_keys
    assert without_keys["name"] == client["name"]


def test_list_filters_on_app_type_and_pages(api):
    create_api(api)
    create_custom_api_client(api)
    for n in range(3):
        create_client(api, name=f"spa {n}", app_type="spa")
    create_client(api, name="m2m", app_type="non_interactive")

    rs_only = api.get("/api/v2/clients", params={"app_type": "resource_server"}).json()
    several = api.get("/api/v2/clients", params={"app_type": "resource_server,non_interactive"}).json()
    totals = api.get(
        "/api/v2/clients", params={"app_type": "spa", "per_page": 2, "page": 1, "include_totals": "true"}
    ).json()

    assert [c["app_type"] for c in rs_only] == ["resource_server"]
    assert [c["app_type"] for c in several] == ["resource_server", "non_interactive"]
    assert set(totals) == {"start", "limit", "total", "clients"}
    assert (totals["start"], totals["limit"], totals["total"]) == (2, 2, 3)
    assert [c["name"] for c in totals["clients"]] == ["spa 2"]


def test_list_checkpoint_pagination(api):
    names = [create_client(api, name=f"c{n}")["name"] for n in range(5)]

    seen, params = [], {"take": 2}
    while True:
        page = api.get("/api/v2/clients", params=params).json()
        assert set(page) <= {"clients", "next"}
        seen += [c["name"] for c in page["clients"]]
        if "next" not in page:
            break
        params = {"take": 2, "from": page["next"]}

    assert seen == names
    assert_auth0_error(api.get("/api/v2/clients", params={"from": "%%%"}), 400, "invalid_query_string")


def test_list_fields_projection(api):
    create_client(api, name="one", app_type="spa")

    included = api.get(
        "/api/v2/clients", params={"fields": "client_id,name", "include_fields": "true"}
    ).json()
    excluded = api.get(
        "/api/v2/clients", params={"fields": "client_secret,signing_keys", "include_fields": "false"}
    ).json()

    assert set(included[0]) == {"client_id", "name"}
    assert "client_secret" not in excluded[0] and "signing_keys" not in excluded[0] and "name" in excluded[0]


@pytest.mark.parametrize("param", ["resource_server_identifier", "identifier", "audience"])
def test_list_clients_has_no_resource_server_filter(api, param):
    response = api.get("/api/v2/clients", params={param: "https://orders.example.com/"})

    body = assert_auth0_error(response, 400, "invalid_query_string")
    assert body["message"] == f"Query validation error: 'Additional properties not allowed: {param}'."


def test_delete_client_unlinks_its_api(api):
    rs = create_api(api)
    client = create_custom_api_client(api)

    assert api.delete(f"/api/v2/clients/{client['client_id']}").status_code == 204

    assert "client_id" not in api.get(f"/api/v2/resource-servers/{rs['id']}").json()
    assert api.get(f"/api/v2/clients/{client['client_id']}").status_code == 404


def test_updating_client_secret_needs_update_client_keys(emu):
    admin = mgmt_for(emu)
    client = create_client(admin)
    updater = mgmt_for(emu, scopes=["update:clients"], client_id="updater")

    response = updater.patch(f"/api/v2/clients/{client['client_id']}", {"client_secret": "x" * 40})

    assert_auth0_error(response, 403, "insufficient_scope")
    assert updater.patch(f"/api/v2/clients/{client['client_id']}", {"name": "ok"}).status_code == 200


def test_create_body_as_auth0_tools_send_it_is_accepted_and_returned(api):
    create_api(api)
    body = {
        "name": "Orders (Custom API)",
        "app_type": "resource_server",
        "resource_server_identifier": "https://orders.example.com/",
        "oidc_conformant": True,
        "is_first_party": True,
        "token_exchange": OBO,
        "client_metadata": {"managed_by": "token-exchange-enabler"},
    }

    client = create_client(api, **body)
    fetched = api.get(f"/api/v2/clients/{client['client_id']}").json()

    assert {k: client[k] for k in body} == body
    assert {k: fetched[k] for k in body} == body
    record = api.emu.log_events[-1]["data"]
    assert record["details"]["request"]["body"]["client_metadata"] == body["client_metadata"]


@pytest.mark.parametrize(
    ("fields", "oidc_conformant"),
    [
        ({}, False),  # go-auth0 TestClient_Create: a client created without it answers false
        ({"app_type": "non_interactive"}, False),
        ({"app_type": "resource_server", "resource_server_identifier": "https://orders.example.com/"}, True),
        ({"oidc_conformant": True}, True),
    ],
)
def test_oidc_conformant_defaults_as_recorded(api, fields, oidc_conformant):
    create_api(api)

    client = create_client(api, **fields)

    assert client["oidc_conformant"] is oidc_conformant
    assert client["is_first_party"] is True


def test_first_party_flag_and_metadata_can_be_changed(api):
    client = create_client(api, client_metadata={"a": "1"})

    patched = api.patch(
        f"/api/v2/clients/{client['client_id']}", {"is_first_party": False, "client_metadata": {"b": "2"}}
    )

    assert patched.status_code == 200
    assert patched.json()["is_first_party"] is False
    assert patched.json()["client_metadata"] == {"b": "2"}  # replaced as a whole, like every field


@pytest.mark.parametrize(
    "metadata",
    [{"n": 1}, {"n": "x" * 256}, {f"k{i}": "v" for i in range(11)}, ["managed_by"]],
)
def test_client_metadata_must_be_at_most_ten_short_strings(api, metadata):
    response = api.post("/api/v2/clients", {"name": "x", "client_metadata": metadata})

    assert_auth0_error(response, 400, "invalid_body")
    assert "client_metadata" in response.json()["message"]
