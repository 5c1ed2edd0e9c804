"""Plan entity limits: Auth0's published maximums of applications, APIs and client grants per plan."""

from __future__ import annotations

import pytest

from local.auth0_emulator import PLANS, ApiError, Auth0Emulator, EntityLimits

from .conftest import DOMAIN, assert_auth0_error, create_api, mgmt_for

TOO_MANY = "You reached the limit of entities of this type for this tenant."


def test_published_limits_per_plan():
    assert PLANS == {
        "free": EntityLimits(applications=10, resource_servers=10, client_grants=100),
        "essentials": EntityLimits(applications=100, resource_servers=100, client_grants=10_000),
        "professional": EntityLimits(applications=100, resource_servers=100, client_grants=10_000),
        "enterprise": EntityLimits(applications=100_000, resource_servers=100_000, client_grants=100_000),
    }


def test_default_is_unlimited_and_unknown_plans_are_refused(emu):
    assert emu.plan is None and emu.entity_limits == EntityLimits()
    with pytest.raises(ValueError, match="free, essentials, professional, enterprise"):
        Auth0Emulator(plan="developer")


def test_free_plan_counts_every_application_and_the_admin_credentials():
    with Auth0Emulator(domain=DOMAIN, plan="free") as emu:
        api = mgmt_for(emu)  # the admin M2M application: 1 of 10
        create_api(api)
        custom = api.post(
            "/api/v2/clients",
            {"name": "Orders", "app_type": "resource_server", "resource_server_identifier": "https://orders.example.com/"},
        )
        assert custom.status_code == 201  # a Custom API client counts as an application: 2 of 10
        for i in range(8):
            assert api.post("/api/v2/clients", {"name": f"app {i}"}).status_code == 201

        refused = api.post("/api/v2/clients", {"name": "one too many"})

        assert_auth0_error(refused, 403, "too_many_entities", TOO_MANY)
        assert len(emu.clients) == 9
        assert emu.log_events[-1]["data"]["description"] == "Create a client"  # the refusal is not streamed
        api.delete(f"/api/v2/clients/{custom.json()['client_id']}")
        assert api.post("/api/v2/clients", {"name": "room again"}).status_code == 201


def test_api_and_grant_limits(emu):
    emu.entity_limits = EntityLimits(resource_servers=2, client_grants=1)
    api = mgmt_for(emu)
    create_api(api, "https://a.example.com/")
    create_api(api, "https://b.example.com/")  # the system API does not count

    assert_auth0_error(
        api.post("/api/v2/resource-servers", {"identifier": "https://c.example.com/"}), 403, "too_many_entities"
    )
    with pytest.raises(ApiError) as excinfo:
        emu.create_resource_server({"identifier": "https://d.example.com/"})  # the Dashboard is limited too
    assert excinfo.value.status == 403

    first = api.post("/api/v2/client-grants", {"client_id": "m2m-client-id", "audience": "https://a.example.com/"})
    second = api.post("/api/v2/client-grants", {"client_id": "m2m-client-id", "audience": "https://b.example.com/"})
    assert first.status_code == 201
    assert_auth0_error(second, 403, "too_many_entities", TOO_MANY)


def test_plan_can_change_while_running(emu):
    api = mgmt_for(emu)
    emu.plan = "free"
    assert emu.entity_limits == PLANS["free"]
    for i in range(9):
        api.post("/api/v2/clients", {"name": f"app {i}"})
    assert_auth0_error(api.post("/api/v2/clients", {"name": "x"}), 403, "too_many_entities")

    emu.plan = "essentials"

    assert api.post("/api/v2/clients", {"name": "x"}).status_code == 201
    emu.reset()
    assert emu.plan == "essentials"  # reset keeps the plan
