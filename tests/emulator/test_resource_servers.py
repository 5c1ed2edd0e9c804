"""The resource-server routes: list, get, create, update, delete."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from local.auth0_emulator import ApiError, Auth0Emulator
from tests.conftest import load_sample

from .conftest import AUDIENCE, DOMAIN, assert_auth0_error, create_api, mgmt_for

NOT_FOUND = {
    "statusCode": 404,
    "error": "Not Found",
    "message": "The resource server does not exist",
    "errorCode": "inexistent_resource_server",
}


def test_tenant_starts_with_the_management_api_as_a_system_api(api, emu):
    apis = api.get("/api/v2/resource-servers").json()

    assert len(apis) == 1
    system = apis[0]
    assert system["name"] == "Auth0 Management API"
    assert system["identifier"] == AUDIENCE
    assert system["is_system"] is True
    assert re.fullmatch(r"[0-9a-f]{24}", system["id"])
    assert emu.system_api == system


def test_create_returns_201_with_the_recorded_shape(api):
    recording = load_sample("mgmt-api-post-resource-servers-201.go-auth0-recording.json")

    created = api.post("/api/v2/resource-servers", recording["request"]["body"])

    assert created.status_code == 201
    body = created.json()
    expected = recording["response"]["body"]
    assert list(body) == list(expected)
    assert {k: v for k, v in body.items() if k != "id"} == {k: v for k, v in expected.items() if k != "id"}
    assert re.fullmatch(r"[0-9a-f]{24}", body["id"])


def test_create_fills_auth0_defaults(api):
    body = create_api(api, "https://minimal.example.com/", name="Minimal")

    assert body == {
        "id": body["id"],
        "name": "Minimal",
        "identifier": "https://minimal.example.com/",
        "scopes": [],
        "signing_alg": "RS256",
        "allow_offline_access": False,
        "token_lifetime": 86400,
        "token_lifetime_for_web": 7200,
        "skip_consent_for_verifiable_first_party_clients": False,
    }
    assert "is_system" not in body  # Auth0 only sends it for system APIs


def test_create_validates_the_body(api):
    missing = api.post("/api/v2/resource-servers", {"name": "No identifier"})
    bad_name = api.post("/api/v2/resource-servers", {"identifier": "urn:x", "name": "a<b"})
    bad_scope = api.post(
        "/api/v2/resource-servers", {"identifier": "urn:x", "scopes": [{"description": "d"}]}
    )
    not_json = api.request(
        "POST", "/api/v2/resource-servers", data=b"{nope", headers={"Content-Type": "application/json"}
    )

    assert_auth0_error(
        missing, 400, "invalid_body", "Payload validation error: 'Missing required property: identifier'."
    )
    assert bad_name.json()["message"].startswith(
        "Payload validation error: 'String does not match pattern ^[^<>]+$: a<b' on property name"
    )
    assert bad_scope.json()["message"].startswith(
        "Payload validation error: 'Missing required property: value' on property scopes[0]"
    )
    assert_auth0_error(not_json, 400, "invalid_body", "Invalid request payload JSON format")
    assert len(api.emu.resource_servers) == 1


def test_duplicate_identifier_is_409(api):
    create_api(api)

    duplicate = api.post("/api/v2/resource-servers", {"identifier": "https://orders.example.com/"})

    assert_auth0_error(
        duplicate,
        409,
        "resource_server_conflict",
        "A resource server with the same identifier already exists",
    )


def test_get_by_id_by_identifier_and_404(api):
    created = create_api(api)

    by_id = api.get(f"/api/v2/resource-servers/{created['id']}")
    by_identifier = api.get(f"/api/v2/resource-servers/{quote(created['identifier'], safe='')}")
    missing = api.get("/api/v2/resource-servers/0123456789abcdef01234567")

    assert by_id.json() == created
    assert by_identifier.json() == created
    assert missing.status_code == 404
    assert missing.json() == NOT_FOUND


def test_list_pages_and_include_totals(api):
    for n in range(5):
        create_api(api, f"https://api{n}.example.com/")

    bare = api.get("/api/v2/resource-servers", params={"per_page": 2, "page": 1}).json()
    totals = api.get(
        "/api/v2/resource-servers", params={"per_page": 2, "page": 2, "include_totals": "true"}
    ).json()
    default = api.get("/api/v2/resource-servers", params={"include_totals": "false"}).json()

    assert [rs["identifier"] for rs in bare] == ["https://api1.example.com/", "https://api2.example.com/"]
    assert set(totals) == {"start", "limit", "total", "resource_servers"}
    assert (totals["start"], totals["limit"], totals["total"]) == (4, 2, 6)
    assert [rs["identifier"] for rs in totals["resource_servers"]] == [
        "https://api3.example.com/",
        "https://api4.example.com/",
    ]
    assert isinstance(default, list) and len(default) == 6


def test_list_filters_on_identifiers(api):
    for n in range(3):
        create_api(api, f"https://api{n}.example.com/")

    found = api.get(
        "/api/v2/resource-servers",
        params=[
            ("identifiers", "https://api0.example.com/"),
            ("identifiers", "https://api2.example.com/"),
            ("identifiers", "https://absent.example.com/"),
        ],
    ).json()
    too_many = api.get("/api/v2/resource-servers", params=[("identifiers", f"urn:{n}") for n in range(11)])

    assert [rs["identifier"] for rs in found] == ["https://api0.example.com/", "https://api2.example.com/"]
    assert_auth0_error(too_many, 400, "invalid_query_string")
    assert "Array is too long (11), maximum 10" in too_many.json()["message"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"per_page": 101}, "'Value 101 is greater than maximum 100' on property per_page"),
        ({"page": -1}, "'Value -1 is less than minimum 0' on property page"),
        (
            {"include_totals": "yes"},
            "'Expected type boolean but found type string' on property include_totals",
        ),
        (
            {"resource_server_identifier": "x"},
            "'Additional properties not allowed: resource_server_identifier'",
        ),
    ],
)
def test_list_rejects_bad_query_strings(api, params, fragment):
    response = api.get("/api/v2/resource-servers", params=params)

    body = assert_auth0_error(response, 400, "invalid_query_string")
    assert body["message"].startswith(f"Query validation error: {fragment}")


def test_patch_with_token_exchange_is_rejected_like_a_current_tenant(api):
    created = create_api(api)

    response = api.patch(
        f"/api/v2/resource-servers/{created['id']}",
        {
            "token_exchange": [
                {"enabled_subject_token_types": "urn:ietf:params:oauth:token-type:access_token"}
            ]
        },
    )

    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Payload validation error: 'Additional properties not allowed: token_exchange'.",
        "errorCode": "invalid_body",
    }
    assert "token_exchange" not in api.get(f"/api/v2/resource-servers/{created['id']}").json()


def test_legacy_switch_accepts_and_stores_token_exchange():
    with Auth0Emulator(domain=DOMAIN, legacy_token_exchange_field=True) as emu:
        api = mgmt_for(emu)
        created = create_api(api)
        setting = [{"enabled_subject_token_types": "urn:ietf:params:oauth:token-type:access_token"}]

        response = api.patch(f"/api/v2/resource-servers/{created['id']}", {"token_exchange": setting})

        assert response.status_code == 200
        assert response.json()["token_exchange"] == setting
        assert api.get(f"/api/v2/resource-servers/{created['id']}").json()["token_exchange"] == setting
        malformed = api.patch(f"/api/v2/resource-servers/{created['id']}", {"token_exchange": [{"other": 1}]})
        assert_auth0_error(malformed, 400, "invalid_body")


def test_patch_updates_fields_by_id_or_identifier(api):
    created = create_api(api)

    by_id = api.patch(
        f"/api/v2/resource-servers/{created['id']}", {"token_lifetime": 3600, "name": "Renamed"}
    )
    by_identifier = api.patch(
        f"/api/v2/resource-servers/{quote(created['identifier'], safe='')}", {"allow_offline_access": True}
    )
    missing = api.patch("/api/v2/resource-servers/0123456789abcdef01234567", {"name": "x"})

    assert by_id.status_code == 200
    assert by_id.json()["token_lifetime"] == 3600 and by_id.json()["name"] == "Renamed"
    assert by_identifier.json()["allow_offline_access"] is True
    assert missing.json() == NOT_FOUND


def test_patching_a_system_api_is_400_except_its_few_mutable_fields(api, emu):
    system_id = emu.system_api["id"]

    name = api.patch(f"/api/v2/resource-servers/{system_id}", {"name": "Mine"})
    token_exchange = api.patch(f"/api/v2/resource-servers/{system_id}", {"token_exchange": []})
    lifetime = api.patch(f"/api/v2/resource-servers/{system_id}", {"token_lifetime": 7200})

    assert_auth0_error(
        name, 400, "invalid_body", "Payload validation error: 'Additional properties not allowed: name'."
    )
    assert_auth0_error(
        token_exchange,
        400,
        "invalid_body",
        "Payload validation error: 'Additional properties not allowed: token_exchange'.",
    )
    assert lifetime.status_code == 200
    assert emu.system_api["name"] == "Auth0 Management API"


def test_delete_and_system_api_cannot_be_deleted(api, emu):
    created = create_api(api)

    deleted = api.delete(f"/api/v2/resource-servers/{created['id']}")
    system = api.delete(f"/api/v2/resource-servers/{emu.system_api['id']}")

    assert deleted.status_code == 204 and deleted.content == b""
    assert api.get(f"/api/v2/resource-servers/{created['id']}").status_code == 404
    assert_auth0_error(system, 400, "operation_not_supported", "System resource servers cannot be deleted.")


def test_seeding_helper_validates_like_the_api(emu):
    created = emu.create_resource_server({"identifier": "https://seeded.example.com/", "name": "Seeded"})
    extra_system = emu.create_resource_server(
        {"identifier": "https://acme/me/", "name": "My Account"}, is_system=True
    )

    assert created in emu.resource_servers
    assert extra_system["is_system"] is True
    with pytest.raises(ApiError) as excinfo:
        emu.create_resource_server({"name": "no identifier"})
    assert excinfo.value.status == 400
    assert emu.management_calls == 0
