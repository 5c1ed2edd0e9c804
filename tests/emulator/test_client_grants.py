"""The client-grant routes, including user-delegated grants (subject_type "user")."""

from __future__ import annotations

import pytest

from .conftest import CLIENT_ID, assert_auth0_error, create_api


@pytest.fixture
def client_id(api):
    create_api(api, "https://orders.example.com/")
    create_api(api, "https://billing.example.com/")
    body = {
        "name": "Orders (Custom API)",
        "app_type": "resource_server",
        "resource_server_identifier": "https://orders.example.com/",
    }
    return api.post("/api/v2/clients", body).json()["client_id"]


def test_create_user_delegated_grant(api, client_id):
    body = {
        "client_id": client_id,
        "audience": "https://billing.example.com/",
        "scope": ["read:invoices"],
        "subject_type": "user",
    }

    response = api.post("/api/v2/client-grants", body)

    assert response.status_code == 201
    grant = response.json()
    assert grant["id"].startswith("cgr_")
    assert {k: grant[k] for k in body} == body
    assert grant["allow_any_organization"] is False and grant["is_system"] is False
    assert api.emu.client_grants == [grant]


def test_subject_type_defaults_to_client_and_duplicates_conflict(api, client_id):
    body = {"client_id": client_id, "audience": "https://billing.example.com/"}

    first = api.post("/api/v2/client-grants", body)
    duplicate = api.post("/api/v2/client-grants", body)
    user_grant = api.post("/api/v2/client-grants", {**body, "subject_type": "user"})

    assert first.json()["subject_type"] == "client"
    assert first.json()["scope"] == []
    assert_auth0_error(duplicate, 409, "client_grant_conflict")
    assert user_grant.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "error_code"),
    [
        ({"client_id": "nope", "audience": "https://billing.example.com/"}, 404, "inexistent_client"),
        ({"audience": "https://absent.example.com/"}, 400, "invalid_body"),
        (
            {"audience": "https://absent.example.com/", "client_id": CLIENT_ID},
            404,
            "inexistent_resource_server",
        ),
        (
            {"client_id": "x", "audience": "https://billing.example.com/", "subject_type": "robot"},
            400,
            "invalid_body",
        ),
        (
            {"client_id": "x", "audience": "https://billing.example.com/", "scopes": ["a"]},
            400,
            "invalid_body",
        ),
    ],
)
def test_create_grant_errors(api, client_id, body, status, error_code):
    assert_auth0_error(api.post("/api/v2/client-grants", body), status, error_code)


def test_list_filters_and_pages(api, client_id):
    api.post(
        "/api/v2/client-grants",
        {"client_id": client_id, "audience": "https://billing.example.com/", "subject_type": "user"},
    )
    api.post("/api/v2/client-grants", {"client_id": client_id, "audience": "https://orders.example.com/"})

    users = api.get("/api/v2/client-grants", params={"subject_type": "user"}).json()
    by_audience = api.get(
        "/api/v2/client-grants", params={"audience": "https://orders.example.com/", "client_id": client_id}
    ).json()
    totals = api.get("/api/v2/client-grants", params={"include_totals": "true", "per_page": 1}).json()
    checkpoint = api.get("/api/v2/client-grants", params={"take": 1}).json()
    bad = api.get("/api/v2/client-grants", params={"subject_type": "robot"})

    assert [g["audience"] for g in users] == ["https://billing.example.com/"]
    assert [g["subject_type"] for g in by_audience] == ["client"]
    assert (totals["total"], len(totals["client_grants"])) == (2, 1)
    assert len(checkpoint["client_grants"]) == 1 and "next" in checkpoint
    assert_auth0_error(bad, 400, "invalid_query_string")


def test_delete_grant(api, client_id):
    grant = api.post(
        "/api/v2/client-grants", {"client_id": client_id, "audience": "https://billing.example.com/"}
    )

    assert api.delete(f"/api/v2/client-grants/{grant.json()['id']}").status_code == 204
    assert_auth0_error(
        api.delete(f"/api/v2/client-grants/{grant.json()['id']}"), 404, "inexistent_client_grant"
    )
    assert api.emu.client_grants == []
