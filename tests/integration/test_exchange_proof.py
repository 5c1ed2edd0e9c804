"""Proof that "enabled" means an On-Behalf-Of exchange works, and that downstream grants grant.

A user's access token for a new API is exchanged by that API's Custom API client for a token to a
downstream API configured in DOWNSTREAM_GRANTS — refused before the worker handled the API, issued
after — against the emulator's implementation of the exchange, over HTTP.
"""

from __future__ import annotations

import json

import pytest
import requests
from token_exchange_enabler.config import MODE_ON_BEHALF_OF
from token_exchange_enabler.scopes import required_scopes

from local.auth0_emulator import EntityLimits
from local.exchange_proof import exchange
from tests.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET

pytestmark = pytest.mark.integration

ORDERS = "https://orders.example.com"  # the downstream API
FRONT = "https://front.example.com"  # the new API, whose service calls ORDERS on the user's behalf
USER = "auth0|alice"
OBO = "on_behalf_of_token_exchange"


@pytest.fixture
def tenant(stack, monkeypatch):
    """A downstream API with scopes that lets first-party clients skip consent, a user with
    permissions on both APIs, and the grant scopes for the worker's application."""
    emulator = stack.emulator
    emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=required_scopes(MODE_ON_BEHALF_OF, True))
    emulator.create_resource_server({
        "identifier": ORDERS, "name": "Orders",
        "scopes": [{"value": "read:orders"}, {"value": "write:orders"}, {"value": "admin:orders"}],
        "skip_consent_for_verifiable_first_party_clients": True,
    })
    emulator.add_user(USER, permissions={FRONT: ["call:front"], ORDERS: ["read:orders", "write:orders"]})
    monkeypatch.setenv("DOWNSTREAM_GRANTS", json.dumps({ORDERS: ["read:orders"]}))
    return emulator


def admin(emulator, path: str, body: dict) -> dict:
    """What an administrator (or Terraform) does, over the Management API."""
    token = emulator.issue_token(M2M_CLIENT_ID, scopes=["create:clients", "create:client_grants"])
    answer = requests.post(f"{emulator.base_url}/api/v2{path}", json=body, timeout=5,
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def custom_client(emulator, identifier: str) -> dict:
    (client,) = [c for c in emulator.clients
                 if c.get("app_type") == "resource_server" and c.get("resource_server_identifier") == identifier]
    return client


def attempt(emulator, client: dict, scope: str = "read:orders"):
    token = emulator.issue_user_token(USER, FRONT)
    return exchange(emulator.base_url, client_id=client["client_id"], client_secret=client["client_secret"],
                    subject_token=token, audience=ORDERS, scope=scope)


def test_the_exchange_is_refused_before_the_worker_and_works_after(stack, tenant, invoke):
    # The API as Terraform would make it: with its Custom API client, but without On-Behalf-Of.
    event = stack.create_api(FRONT, "Front", scopes=[{"value": "call:front"}])
    admin(tenant, "/clients", {"name": "Front (terraform)", "app_type": "resource_server",
                               "resource_server_identifier": FRONT,
                               "token_exchange": {"allow_any_profile_of_type": ["custom_authentication"]}})
    client = custom_client(tenant, FRONT)
    before = attempt(tenant, client)
    assert not before.ok and before.status == 403 and "unauthorized_client" in (before.error or "")

    assert invoke(stack.sqs_event([event])) == {"batchItemFailures": []}
    after = attempt(tenant, custom_client(tenant, FRONT))
    assert after.ok, after.error
    # The grant limits what the service gets: read:orders only, though the user may also write.
    wider = attempt(tenant, custom_client(tenant, FRONT), scope="read:orders write:orders")
    assert wider.ok and wider.scope == "read:orders"


def test_an_empty_grant_would_have_allowed_nothing(stack, tenant, invoke):
    """What DOWNSTREAM_GRANT_AUDIENCES made ("scope": []): the exchange for any scope is refused.
    The worker brings that grant to the configured scopes, and the exchange works."""
    event = stack.create_api(FRONT, "Front", scopes=[{"value": "call:front"}])
    created = admin(tenant, "/clients", {"name": "Front", "app_type": "resource_server",
                                         "resource_server_identifier": FRONT,
                                         "token_exchange": {"allow_any_profile_of_type": [OBO]}})
    admin(tenant, "/client-grants", {"client_id": created["client_id"], "audience": ORDERS, "scope": [],
                                     "subject_type": "user"})
    assert not attempt(tenant, custom_client(tenant, FRONT)).ok
    assert invoke(stack.sqs_event([event])) == {"batchItemFailures": []}
    (grant,) = [g for g in tenant.client_grants if g["client_id"] == created["client_id"]]
    assert grant["scope"] == ["read:orders"]
    assert attempt(tenant, custom_client(tenant, FRONT)).ok


def test_a_tenant_at_its_application_limit_dead_letters_the_record_once_with_what_to_do(stack, tenant, invoke):
    events = [stack.create_api(f"https://limit{i}.example.com", f"Limit {i}") for i in range(5)]
    # Room for two more applications: the tenant reaches its plan's limit in the middle of the batch.
    tenant.entity_limits = EntityLimits(applications=len(tenant.clients) + 1 + 2)  # + the M2M credentials
    creates_before = tenant.counters.get("POST /api/v2/clients", 0)
    assert invoke(stack.sqs_event(events)) == {"batchItemFailures": []}  # nothing left to retry in a storm
    letters = stack.dead_letters()
    assert len(letters) == 3
    assert tenant.counters.get("POST /api/v2/clients", 0) - creates_before == 5  # one create each, no retry
    for letter in letters:
        attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
        assert attributes["ERROR_KIND"] == "configuration"
        assert "plan's entity limit" in attributes["ERROR_REASON"]
