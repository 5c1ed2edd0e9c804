"""The client-grant routes, including user-delegated grants (subject_type "user") and allow_all_scopes.

Shapes follow recorded answers of real tenants (Terraform provider, TestAccClientGrant.yaml; go-auth0,
TestClientGrantManager_*.yaml): a grant carries only what was set plus id, scope and subject_type.
"""

from __future__ import annotations

import pytest

from .conftest import CLIENT_ID, assert_auth0_error, create_api, mgmt_for

BILLING = "https://billing.example.com/"


@pytest.fixture
def client_id(api):
    create_api(api, "https://orders.example.com/")
    create_api(api, BILLING, scopes=[{"value": "read:invoices"}, {"value": "pay:invoices"}])
    body = {
        "name": "Orders (Custom API)",
        "app_type": "resource_server",
        "resource_server_identifier": "https://orders.example.com/",
    }
    return api.post("/api/v2/clients", body).json()["client_id"]


def test_create_user_delegated_grant_has_the_recorded_shape(api, client_id):
    body = {"client_id": client_id, "audience": BILLING, "scope": ["read:invoices"], "subject_type": "user"}

    response = api.post("/api/v2/client-grants", body)

    assert response.status_code == 201
    grant = response.json()
    assert grant["id"].startswith("cgr_")
    assert list(grant) == ["id", "client_id", "audience", "scope", "subject_type"]
    assert {k: grant[k] for k in body} == body
    assert api.emu.client_grants == [grant]


def test_organization_fields_are_kept_in_the_recorded_order(api, client_id):
    body = {
        "client_id": client_id,
        "audience": BILLING,
        "scope": [],
        "allow_any_organization": True,
        "organization_usage": "allow",
    }

    grant = api.post("/api/v2/client-grants", body).json()

    assert list(grant) == [
        "id",
        "client_id",
        "audience",
        "scope",
        "organization_usage",
        "allow_any_organization",
        "subject_type",
    ]


def test_subject_type_defaults_to_client_and_duplicates_conflict(api, client_id):
    body = {"client_id": client_id, "audience": BILLING}

    first = api.post("/api/v2/client-grants", body)
    duplicate = api.post("/api/v2/client-grants", body)
    user_grant = api.post("/api/v2/client-grants", {**body, "subject_type": "user"})
    user_duplicate = api.post("/api/v2/client-grants", {**body, "subject_type": "user", "scope": ["x"]})

    assert first.json()["subject_type"] == "client"
    assert first.json()["scope"] == []
    assert_auth0_error(duplicate, 409, "client_grant_conflict")
    assert user_grant.status_code == 201  # one grant per subject type
    assert_auth0_error(user_duplicate, 409, "client_grant_conflict")


def test_allow_all_scopes_at_creation_leaves_scope_out(api, client_id):
    body = {"client_id": client_id, "audience": BILLING, "subject_type": "user", "allow_all_scopes": True}

    grant = api.post("/api/v2/client-grants", body).json()
    with_empty_scope = api.post(
        "/api/v2/client-grants",
        {"client_id": client_id, "audience": BILLING, "scope": [], "allow_all_scopes": True},
    )

    assert "scope" not in grant and grant["allow_all_scopes"] is True
    assert with_empty_scope.status_code == 201 and "scope" not in with_empty_scope.json()


@pytest.mark.parametrize(
    ("body", "status", "error_code"),
    [
        ({"client_id": "nope", "audience": BILLING}, 404, "inexistent_client"),
        ({"audience": "https://absent.example.com/"}, 400, "invalid_body"),
        (
            {"audience": "https://absent.example.com/", "client_id": CLIENT_ID},
            404,
            "inexistent_resource_server",
        ),
        ({"client_id": "x", "audience": BILLING, "subject_type": "robot"}, 400, "invalid_body"),
        ({"client_id": "x", "audience": BILLING, "scopes": ["a"]}, 400, "invalid_body"),
        ({"client_id": "x", "audience": BILLING, "allow_all_scopes": "yes"}, 400, "invalid_body"),
        (
            {"client_id": CLIENT_ID, "audience": BILLING, "scope": ["read:invoices"], "allow_all_scopes": True},
            400,
            "invalid_body",
        ),
    ],
)
def test_create_grant_errors(api, client_id, body, status, error_code):
    assert_auth0_error(api.post("/api/v2/client-grants", body), status, error_code)


@pytest.mark.parametrize("allow_all", [True, False])
def test_allow_all_scopes_is_refused_for_a_system_api(api, allow_all):
    body = {"client_id": CLIENT_ID, "audience": api.emu.audience, "scope": [], "allow_all_scopes": allow_all}

    response = api.post("/api/v2/client-grants", body)

    assert_auth0_error(
        response, 400, "invalid_body", "`allow_all_scopes` cannot be provided when `audience` is a system API"
    )


def test_patch_changes_scope_and_allow_all_scopes_as_recorded(api, client_id):
    body = {"client_id": client_id, "audience": BILLING, "scope": ["read:invoices"], "subject_type": "user"}
    grant_id = api.post("/api/v2/client-grants", body).json()["id"]
    path = f"/api/v2/client-grants/{grant_id}"

    rescoped = api.patch(path, {"scope": ["read:invoices", "pay:invoices"]})
    emptied = api.patch(path, {"scope": []})
    all_scopes = api.patch(path, {"allow_all_scopes": True})
    back = api.patch(path, {"allow_all_scopes": False, "scope": []})
    specific = api.patch(path, {"scope": ["pay:invoices"]})

    assert rescoped.status_code == 200
    assert rescoped.json()["scope"] == ["read:invoices", "pay:invoices"]
    assert emptied.json()["scope"] == []
    assert all_scopes.json() == {
        "id": grant_id,
        "client_id": client_id,
        "audience": BILLING,
        "subject_type": "user",
        "allow_all_scopes": True,
    }
    assert back.json()["scope"] == [] and back.json()["allow_all_scopes"] is False
    assert specific.json()["scope"] == ["pay:invoices"] and specific.json()["allow_all_scopes"] is False
    assert api.get(path).json() == specific.json()
    assert [r["data"]["description"] for r in api.emu.log_events[-5:]] == ["Update client grant"] * 5


def test_allow_all_scopes_replaces_a_scope_the_grant_had(api, client_id):
    body = {"client_id": client_id, "audience": BILLING, "scope": ["read:invoices"], "subject_type": "user"}
    grant_id = api.post("/api/v2/client-grants", body).json()["id"]

    patched = api.patch(f"/api/v2/client-grants/{grant_id}", {"allow_all_scopes": True})

    assert patched.status_code == 200
    assert "scope" not in patched.json() and patched.json()["allow_all_scopes"] is True


def test_patch_errors(api, client_id):
    grant_id = api.post(
        "/api/v2/client-grants", {"client_id": client_id, "audience": BILLING, "allow_all_scopes": True}
    ).json()["id"]
    path = f"/api/v2/client-grants/{grant_id}"

    assert_auth0_error(api.patch(path, {}), 400, "invalid_body")
    assert_auth0_error(api.patch(path, {"audience": "https://x/"}), 400, "invalid_body")
    assert_auth0_error(api.patch(path, {"subject_type": "user"}), 400, "invalid_body")
    assert_auth0_error(api.patch(path, {"scope": ["read:invoices"]}), 400, "invalid_body")  # still allow-all
    assert_auth0_error(
        api.patch(path, {"scope": ["read:invoices"], "allow_all_scopes": True}), 400, "invalid_body"
    )
    assert_auth0_error(
        api.patch("/api/v2/client-grants/cgr_missing", {"scope": []}),
        404,
        "inexistent_client_grant",
        "The client grant does not exist.",
    )
    assert_auth0_error(
        api.get("/api/v2/client-grants/cgr_missing"), 404, "inexistent_client_grant", "The grant does not exist."
    )


def test_each_route_needs_its_scope(api, client_id):
    grant_id = api.post("/api/v2/client-grants", {"client_id": client_id, "audience": BILLING}).json()["id"]
    reader = mgmt_for(api.emu, ["read:client_grants"], client_id="reader")

    assert reader.get("/api/v2/client-grants").status_code == 200
    assert reader.get(f"/api/v2/client-grants/{grant_id}").status_code == 200
    assert_auth0_error(
        reader.post("/api/v2/client-grants", {"client_id": client_id, "audience": BILLING}),
        403,
        "insufficient_scope",
    )
    assert_auth0_error(
        reader.patch(f"/api/v2/client-grants/{grant_id}", {"scope": []}),
        403,
        "insufficient_scope",
        "Insufficient scope, expected any of: update:client_grants",
    )


def test_list_filters_and_pages(api, client_id):
    api.post("/api/v2/client-grants", {"client_id": client_id, "audience": BILLING, "subject_type": "user"})
    api.post("/api/v2/client-grants", {"client_id": client_id, "audience": "https://orders.example.com/"})

    users = api.get("/api/v2/client-grants", params={"subject_type": "user"}).json()
    by_audience = api.get(
        "/api/v2/client-grants", params={"audience": "https://orders.example.com/", "client_id": client_id}
    ).json()
    any_org = api.get("/api/v2/client-grants", params={"allow_any_organization": "true"}).json()
    false_filter = api.get("/api/v2/client-grants", params={"allow_any_organization": "false"})
    totals = api.get("/api/v2/client-grants", params={"include_totals": "true", "per_page": 1}).json()
    checkpoint = api.get("/api/v2/client-grants", params={"take": 1}).json()
    bad = api.get("/api/v2/client-grants", params={"subject_type": "robot"})

    assert [g["audience"] for g in users] == [BILLING]
    assert [g["subject_type"] for g in by_audience] == ["client"]
    assert any_org == []  # no grant has the field: they were created without it
    assert_auth0_error(false_filter, 400, "invalid_query_string")  # the spec's enum is [true]
    assert (totals["total"], len(totals["client_grants"])) == (2, 1)
    assert len(checkpoint["client_grants"]) == 1 and "next" in checkpoint
    assert_auth0_error(bad, 400, "invalid_query_string")


def test_delete_grant_is_204_even_when_already_gone(api, client_id):
    grant = api.post("/api/v2/client-grants", {"client_id": client_id, "audience": BILLING})
    path = f"/api/v2/client-grants/{grant.json()['id']}"

    assert api.delete(path).status_code == 204
    assert api.delete(path).status_code == 204  # as recorded twice: no 404 for a grant already deleted
    assert api.emu.client_grants == []
    assert [r["data"]["description"] for r in api.emu.log_events[-2:]] == ["Delete client grant"] * 2
