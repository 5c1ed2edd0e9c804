"""The vendored OpenAPI excerpt and the translation of validation errors into Auth0's words."""

from __future__ import annotations

import json

import pytest

from local.auth0_emulator import ApiError, schemas
from tests.conftest import load_sample


def test_vendored_excerpt_matches_the_repository_samples():
    clients = load_sample("mgmt-api-oas-excerpt-clients.json")
    grants = load_sample("mgmt-api-oas-excerpt-client-grants.json")
    resource_servers = load_sample("mgmt-api-oas-excerpt-resource-servers.json")
    vendored = json.loads(schemas.OAS_EXCERPT_PATH.read_text(encoding="utf-8"))

    expected = dict(clients["components"]["schemas"])
    expected["UpdateResourceServerRequestContent"] = resource_servers["components"][
        "UpdateResourceServerRequestContent"
    ]
    expected.update(grants["components"]["schemas"])
    assert vendored["schemas"] == expected
    routes = set()
    for excerpt in (clients, grants):
        for path, operations in excerpt["paths"].items():
            for method, operation in operations.items():
                query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
                routes.add(f"{method.upper()} /api/v2{path}")
                assert vendored["query_parameters"][f"{method.upper()} /api/v2{path}"] == query
    assert set(vendored["query_parameters"]) == routes


def test_client_grant_update_schema_is_the_official_one():
    update = schemas.schema("UpdateClientGrantRequestContent")

    assert update["additionalProperties"] is False and update["minProperties"] == 1
    assert set(update["properties"]) == {
        "scope",
        "organization_usage",
        "allow_any_organization",
        "authorization_details_types",
        "allow_all_scopes",
    }
    schemas.validate_body("update_client_grant", {"allow_all_scopes": None, "scope": None})


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"n": 1}, "'Expected type string but found type integer' on property client_metadata.n"),
        ({"n": "x" * 256}, "'String is too long (256 chars), maximum 255' on property client_metadata.n"),
        ({f"k{i}": "v" for i in range(11)}, "'Too many properties defined (11), maximum 10' on property"),
    ],
)
def test_client_metadata_holds_at_most_ten_short_strings(metadata, message):
    schemas.validate_body("create_client", {"name": "x", "client_metadata": {"managed_by": "me"}})
    with pytest.raises(ApiError) as excinfo:
        schemas.validate_body("create_client", {"name": "x", "client_metadata": metadata})

    assert excinfo.value.error_code == "invalid_body"
    assert excinfo.value.message.startswith(f"Payload validation error: {message}")


def test_missing_references_are_listed_and_permissive():
    missing = schemas.missing_schemas()

    assert "SigningAlgorithmEnum" in missing and "ClientJwtConfiguration" in missing
    assert "ResourceServerScope" not in missing
    schemas.validate_body("create_client", {"name": "x", "jwt_configuration": {"anything": ["goes"]}})


@pytest.mark.parametrize(
    ("key", "body", "message"),
    [
        (
            "update_resource_server",
            {"token_exchange": []},
            "Payload validation error: 'Additional properties not allowed: token_exchange'.",
        ),
        (
            "update_resource_server",
            [],
            "Payload validation error: 'Expected type object but found type array'.",
        ),
        (
            "update_resource_server",
            {"token_lifetime": "1"},
            "Payload validation error: 'Expected type integer but found type string' "
            "on property token_lifetime.",
        ),
        (
            "update_resource_server",
            {"token_lifetime": 2592001},
            "Payload validation error: 'Value 2592001 is greater than maximum 2592000' "
            "on property token_lifetime.",
        ),
        ("update_client", {}, "Payload validation error: 'Too few properties defined (0), minimum 1'."),
        ("create_client_grant", {}, "Payload validation error: 'Missing required property: audience'."),
    ],
)
def test_messages_use_auth0s_wording(key, body, message):
    with pytest.raises(ApiError) as excinfo:
        schemas.validate_body(key, body)

    assert excinfo.value.status == 400
    assert excinfo.value.body() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": message,
        "errorCode": "invalid_body",
    }


def test_property_descriptions_are_appended():
    with pytest.raises(ApiError) as excinfo:
        schemas.validate_body("update_client", {"description": "x" * 141})

    assert excinfo.value.message.startswith(
        "Payload validation error: 'String is too long (141 chars), maximum 140' "
        "on property description (Free text"
    )


def test_legacy_and_system_variants():
    schemas.validate_body(
        "update_resource_server_legacy", {"token_exchange": [{"enabled_subject_token_types": "x"}]}
    )
    schemas.validate_body("update_system_resource_server", {"token_lifetime": 60})
    with pytest.raises(ApiError):
        schemas.validate_body("update_system_resource_server", {"signing_alg": "RS256"})


def test_query_coercion():
    parsed = schemas.parse_query(
        "GET /api/v2/clients", {"page": ["2"], "include_totals": ["true"], "app_type": ["spa"]}
    )

    assert parsed == {"page": 2, "include_totals": True, "app_type": "spa"}
    with pytest.raises(ApiError) as excinfo:
        schemas.parse_query("GET /api/v2/clients", {"page": ["1", "2"]})
    assert excinfo.value.error_code == "invalid_query_string"
    with pytest.raises(ApiError):
        schemas.parse_query("PATCH /api/v2/resource-servers/{id}", {"anything": ["1"]})
