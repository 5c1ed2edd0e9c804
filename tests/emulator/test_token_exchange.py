"""On-Behalf-Of token exchange at POST /oauth/token, users and their tokens, and the exchange log records.

The set-up is the one Auth0's On-Behalf-Of page describes: a user logs in to an application and gets a
token for the Orders API; the Orders API's Custom API client (token exchange enabled) exchanges it for
a token for the same user to the Billing API, through a user-delegated client grant.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
import requests

from local.auth0_emulator import ApiError, Auth0Emulator
from tests.conftest import load_sample

from .conftest import DOMAIN, Mgmt, assert_auth0_error, create_api, fetch_token, mgmt_for

ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/"
LEDGER = "https://ledger.example.com/"
ALICE = "auth0|alice"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
OBO = {"allow_any_profile_of_type": ["on_behalf_of_token_exchange"]}


def scopes(*values: str) -> list[dict[str, str]]:
    return [{"value": v, "description": v} for v in values]


def custom_api_client(api: Mgmt, identifier: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": f"{identifier} (Custom API)",
        "app_type": "resource_server",
        "resource_server_identifier": identifier,
        "token_exchange": OBO,
        **fields,
    }
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post("/api/v2/clients", body)
    assert response.status_code == 201, response.text
    return response.json()


def user_grant(api: Mgmt, client_id: str, audience: str, **fields: Any) -> dict[str, Any]:
    body = {"client_id": client_id, "audience": audience, "subject_type": "user", **fields}
    response = api.post("/api/v2/client-grants", body)
    assert response.status_code == 201, response.text
    return response.json()


class Tenant:
    """The emulator with Orders (middle tier) and Billing (downstream), a client, a grant and a user."""

    def __init__(self, emu: Auth0Emulator) -> None:
        self.emu = emu
        self.api = mgmt_for(emu)
        create_api(self.api, ORDERS, scopes=scopes("read:orders"))
        create_api(
            self.api,
            BILLING,
            scopes=scopes("read:invoices", "pay:invoices"),
            skip_consent_for_verifiable_first_party_clients=True,
            token_lifetime=3600,
        )
        self.client = custom_api_client(self.api, ORDERS)
        self.grant = user_grant(self.api, self.client["client_id"], BILLING, scope=["read:invoices", "pay:invoices"])
        emu.add_user(ALICE, {ORDERS: ["read:orders"], BILLING: ["read:invoices"]}, email="alice@example.com")
        self.user_token = emu.issue_user_token(ALICE, ORDERS, ["read:orders"])

    def exchange(self, client: dict[str, Any] | None = None, **overrides: Any) -> requests.Response:
        client = client or self.client
        form = {
            "grant_type": EXCHANGE,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "subject_token": self.user_token,
            "subject_token_type": ACCESS_TOKEN,
            "requested_token_type": ACCESS_TOKEN,
            "audience": BILLING,
            **overrides,
        }
        form = {k: v for k, v in form.items() if v is not None}
        return requests.post(f"{self.emu.base_url}/oauth/token", data=form, timeout=5)


@pytest.fixture
def tenant(emu) -> Tenant:
    return Tenant(emu)


@pytest.fixture(scope="module")
def validators() -> dict[str, jsonschema.Draft7Validator]:
    return {
        kind: jsonschema.Draft7Validator(
            load_sample(f"auth0-log-schema-{kind}_on_behalf_of_token_exchange.schema.json"),
            format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
        )
        for kind in ("success", "failed")
    }


def assert_valid_record(validators, record: dict[str, Any], kind: str) -> dict[str, Any]:
    data = record["data"]
    assert data["type"] == f"{kind}_on_behalf_of_token_exchange"
    assert record["log_id"] == data["log_id"]
    errors = sorted(validators[kind].iter_errors(data), key=str)
    assert not errors, [e.message for e in errors]
    return data


def assert_oauth_error(response: requests.Response, status: int, error: str, description: str | None = None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    if description is not None:
        assert body["error_description"] == description
    return body


# -- the seeding helpers: users and the tokens a login gives them ------------------------------------


def test_issue_user_token_is_what_a_login_with_rbac_gives(emu):
    api = mgmt_for(emu)
    create_api(api, ORDERS, scopes=scopes("read:orders", "write:orders"), token_lifetime=600)
    emu.add_user(ALICE, {ORDERS: ["read:orders", "delete:orders"]})
    issued, requests_made = emu.tokens_issued, emu.token_requests

    token = emu.issue_user_token(ALICE, ORDERS, ["read:orders", "write:orders"], client_id="spa-client")
    every = emu.issue_user_token(ALICE, ORDERS)

    claims = emu.token_claims(token)
    assert claims["sub"] == ALICE and claims["aud"] == ORDERS and claims["azp"] == "spa-client"
    assert claims["scope"] == "read:orders"  # write: not the user's; delete: not the API's
    assert claims["exp"] - claims["iat"] in (600, 601)
    assert "gty" not in claims and "act" not in claims
    assert emu.token_claims(every)["scope"] == "read:orders"
    assert emu.token_claims(every)["azp"] == emu.login_client_id
    assert emu.users == [{"user_id": ALICE, "permissions": {ORDERS: ["read:orders", "delete:orders"]}}]
    assert (emu.tokens_issued, emu.token_requests) == (issued, requests_made)  # no HTTP round trip


def test_issue_user_token_refuses_unknown_users_and_apis(emu):
    emu.add_user(ALICE)

    with pytest.raises(KeyError):
        emu.issue_user_token("auth0|nobody", ORDERS)
    with pytest.raises(ValueError, match="no API"):
        emu.issue_user_token(ALICE, ORDERS)
    with pytest.raises(ValueError, match="system API"):
        emu.issue_user_token(ALICE, emu.audience)
    with pytest.raises(ValueError):
        emu.add_user("")


def test_user_tokens_are_not_management_api_tokens(tenant):
    session = Mgmt(tenant.emu, tenant.user_token)

    assert_auth0_error(session.get("/api/v2/clients"), 401, None, "Invalid token")


def test_jwt_user_tokens_carry_the_claims(emu):
    emu.token_format = "jwt"
    tenant = Tenant(emu)

    payload = tenant.user_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    assert claims == emu.token_claims(tenant.user_token)
    assert claims["iss"] == f"https://{DOMAIN}/"


# -- the exchange ---------------------------------------------------------------------------------------


def test_exchange_gives_the_same_user_a_token_for_the_downstream_api(tenant, validators):
    response = tenant.exchange(scope="read:invoices")

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert list(body) == ["access_token", "expires_in", "token_type", "issued_token_type"]  # scope as requested
    assert body["token_type"] == "Bearer" and body["issued_token_type"] == ACCESS_TOKEN
    assert body["expires_in"] == 3600  # the downstream API's token_lifetime
    claims = tenant.emu.token_claims(body["access_token"])
    assert claims["sub"] == ALICE and claims["aud"] == BILLING
    assert claims["azp"] == tenant.client["client_id"]
    assert claims["act"] == {"sub": tenant.client["client_id"], "act": {"sub": tenant.emu.login_client_id}}
    assert claims["scope"] == "read:invoices"
    assert tenant.emu.tokens_issued == 2  # the admin's Management API token and this one
    data = assert_valid_record(validators, tenant.emu.log_events[-1], "success")
    assert data["audience"] == BILLING and data["scope"] == "read:invoices"
    assert data["client_id"] == tenant.client["client_id"] and data["client_name"] == tenant.client["name"]
    assert data["user_id"] == ALICE and data["user_name"] == "alice@example.com"
    assert data["details"]["actor"] == claims["act"]
    assert data["details"]["access_token_jti"] == claims["jti"]
    assert data["details"]["subject_token_type"] == data["details"]["requested_token_type"] == ACCESS_TOKEN


@pytest.mark.parametrize(
    ("requested", "issued"),
    [
        (None, "read:invoices"),  # nothing requested: everything the user may have, and said so
        ("read:invoices pay:invoices", "read:invoices"),  # the user lacks pay:invoices
    ],
)
def test_issued_scopes_are_the_intersection_and_reported_when_they_differ(tenant, requested, issued):
    body = tenant.exchange(scope=requested).json()

    assert body["scope"] == issued
    assert tenant.emu.token_claims(body["access_token"])["scope"] == issued


def test_grant_scopes_bound_what_the_user_may_have(tenant):
    tenant.emu.add_user(ALICE, {ORDERS: ["read:orders"], BILLING: ["read:invoices", "pay:invoices"]})
    tenant.api.patch(f"/api/v2/client-grants/{tenant.grant['id']}", {"scope": ["pay:invoices"]})

    body = tenant.exchange().json()

    assert body["scope"] == "pay:invoices"


def test_allow_all_scopes_follows_the_api_scopes_of_the_moment(tenant):
    tenant.api.patch(f"/api/v2/client-grants/{tenant.grant['id']}", {"allow_all_scopes": True})
    billing = tenant.api.get(f"/api/v2/resource-servers/{quote(BILLING, safe='')}").json()
    tenant.api.patch(
        f"/api/v2/resource-servers/{billing['id']}",
        {"scopes": scopes("read:invoices", "pay:invoices", "refund:invoices")},
    )
    tenant.emu.add_user(ALICE, {ORDERS: ["read:orders"], BILLING: ["read:invoices", "refund:invoices"]})

    body = tenant.exchange().json()

    assert body["scope"] == "read:invoices refund:invoices"


def test_http_basic_client_authentication(tenant):
    client = tenant.client
    response = requests.post(
        f"{tenant.emu.base_url}/oauth/token",
        data={
            "grant_type": EXCHANGE,
            "subject_token": tenant.user_token,
            "subject_token_type": ACCESS_TOKEN,
            "requested_token_type": ACCESS_TOKEN,
            "audience": BILLING,
        },
        auth=(client["client_id"], client["client_secret"]),
        timeout=5,
    )

    assert response.status_code == 200, response.text


def test_the_delegation_chain_grows_and_stops_after_four_levels(tenant, validators):
    api, emu = tenant.api, tenant.emu
    create_api(api, LEDGER, scopes=scopes("read:ledger"), skip_consent_for_verifiable_first_party_clients=True)
    billing_client = custom_api_client(api, BILLING)
    ledger_client = custom_api_client(api, LEDGER)
    user_grant(api, billing_client["client_id"], LEDGER, allow_all_scopes=True)
    user_grant(api, ledger_client["client_id"], BILLING, allow_all_scopes=True)
    emu.add_user(ALICE, {ORDERS: ["read:orders"], BILLING: ["read:invoices"], LEDGER: ["read:ledger"]})

    token_b = tenant.exchange().json()["access_token"]  # orders -> billing: 2 act levels
    hops = [(billing_client, LEDGER), (ledger_client, BILLING)]  # then billing -> ledger -> billing ...
    token, depths = token_b, []
    for client, audience in hops:
        response = tenant.exchange(client, subject_token=token, audience=audience)
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        act, depth = emu.token_claims(token)["act"], 0
        while act:
            depth, act = depth + 1, act.get("act")
        depths.append(depth)
    refused = tenant.exchange(billing_client, subject_token=token, audience=LEDGER)

    assert depths == [3, 4]
    claims = emu.token_claims(token)
    assert claims["act"]["sub"] == ledger_client["client_id"]
    assert claims["act"]["act"]["act"]["sub"] == tenant.client["client_id"]
    assert claims["sub"] == ALICE
    assert_oauth_error(
        refused,
        400,
        "invalid_request",
        "Delegation chain (`act` claim) depth exceeds the maximum allowed limit of 4",
    )
    assert_valid_record(validators, emu.log_events[-1], "failed")


def test_an_expired_subject_token_is_refused(tenant):
    tenant.user_token = tenant.emu.issue_user_token(ALICE, ORDERS, lifetime=0.2)
    time.sleep(0.3)

    assert_oauth_error(tenant.exchange(), 401, "invalid_grant", "Subject token has expired")


def test_a_rotated_signing_key_invalidates_subject_tokens(tenant):
    tenant.emu.rotate_signing_key()

    assert_oauth_error(tenant.exchange(), 401, "invalid_grant", "Invalid subject token")


def _setup_other_client(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    """A second, differently configured client for the Orders API."""
    return custom_api_client(tenant.api, ORDERS, **fields)


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("missing subject_token", 400, "invalid_request"),
        ("missing requested_token_type", 400, "invalid_request"),
        ("other requested_token_type", 400, "invalid_request"),
        ("missing audience", 400, "invalid_request"),
        ("wrong secret", 401, "access_denied"),
        ("unknown client", 401, "access_denied"),
        ("not a Custom API client", 403, "unauthorized_client"),
        ("token exchange not enabled", 403, "unauthorized_client"),
        ("only custom_authentication", 403, "unauthorized_client"),
        ("admin M2M credentials", 403, "unauthorized_client"),
        ("garbage subject token", 401, "invalid_grant"),
        ("client-credentials subject token", 401, "invalid_grant"),
        ("subject token for another API", 403, "access_denied"),
        ("unknown downstream API", 403, "access_denied"),
        ("system API downstream", 403, "access_denied"),
        ("no user-delegated grant", 403, "access_denied"),
        ("only a client-credentials grant", 403, "access_denied"),
        ("user access denied by policy", 403, "access_denied"),
        ("consent cannot be skipped", 403, "consent_required"),
        ("third-party client", 403, "consent_required"),
        ("no requested scope allowed", 403, "access_denied"),
    ],
)
def test_refusals(tenant, validators, case, status, error):
    api, emu = tenant.api, tenant.emu
    overrides: dict[str, Any] = {}
    client = None
    if case == "missing subject_token":
        overrides["subject_token"] = None
    elif case == "missing requested_token_type":
        overrides["requested_token_type"] = None
    elif case == "other requested_token_type":
        overrides["requested_token_type"] = "urn:ietf:params:oauth:token-type:id_token"
    elif case == "missing audience":
        overrides["audience"] = None
    elif case == "wrong secret":
        overrides["client_secret"] = "wrong"
    elif case == "unknown client":
        overrides["client_id"] = "nobody"
    elif case == "not a Custom API client":
        client = api.post("/api/v2/clients", {"name": "M2M app", "app_type": "non_interactive"}).json()
    elif case == "token exchange not enabled":
        client = custom_api_client(api, ORDERS, token_exchange=None)
    elif case == "only custom_authentication":
        client = _setup_other_client(tenant, token_exchange={"allow_any_profile_of_type": ["custom_authentication"]})
    elif case == "admin M2M credentials":
        overrides.update(client_id="m2m-client-id", client_secret="m2m-client-secret")
    elif case == "garbage subject token":
        overrides["subject_token"] = "not-a-token"
    elif case == "client-credentials subject token":
        overrides["subject_token"] = fetch_token(emu).json()["access_token"]
    elif case == "subject token for another API":
        overrides["subject_token"] = emu.issue_user_token(ALICE, BILLING)
    elif case == "unknown downstream API":
        overrides["audience"] = "https://absent.example.com/"
    elif case == "system API downstream":
        overrides["audience"] = emu.audience
    elif case == "no user-delegated grant":
        api.delete(f"/api/v2/client-grants/{tenant.grant['id']}")
    elif case == "only a client-credentials grant":
        api.delete(f"/api/v2/client-grants/{tenant.grant['id']}")
        api.post("/api/v2/client-grants", {"client_id": tenant.client["client_id"], "audience": BILLING})
    elif case == "user access denied by policy":
        billing = api.get(f"/api/v2/resource-servers/{quote(BILLING, safe='')}").json()
        policy = {"user": {"policy": "deny_all"}, "client": {"policy": "require_client_grant"}}
        assert api.patch(
            f"/api/v2/resource-servers/{billing['id']}", {"subject_type_authorization": policy}
        ).status_code in (200, 201)
    elif case == "consent cannot be skipped":
        billing = api.get(f"/api/v2/resource-servers/{quote(BILLING, safe='')}").json()
        api.patch(
            f"/api/v2/resource-servers/{billing['id']}", {"skip_consent_for_verifiable_first_party_clients": False}
        )
    elif case == "third-party client":
        api.patch(f"/api/v2/clients/{tenant.client['client_id']}", {"is_first_party": False})
    elif case == "no requested scope allowed":
        overrides["scope"] = "pay:invoices"

    response = tenant.exchange(client, **overrides)

    body = assert_oauth_error(response, status, error)
    record = emu.log_events[-1]
    data = assert_valid_record(validators, record, "failed")
    assert data["description"] == body["error_description"]
    assert not any(r["data"]["type"].startswith("success") for r in emu.log_events)


def test_a_refused_exchange_issues_nothing(tenant):
    before = tenant.emu.tokens_issued

    tenant.exchange(scope="pay:invoices")

    assert tenant.emu.tokens_issued == before


@pytest.mark.parametrize(
    ("overrides", "description"),
    [
        ({"subject_token_type": None}, "Missing required parameter: subject_token_type"),
        (
            {"subject_token_type": "urn:acme:legacy-token"},
            "Unsupported subject_token_type: urn:acme:legacy-token",
        ),
    ],
)
def test_other_token_exchanges_are_not_emulated(tenant, overrides, description):
    records = len(tenant.emu.log_events)

    response = tenant.exchange(**overrides)

    assert_oauth_error(response, 400, "invalid_request", description)
    assert len(tenant.emu.log_events) == records  # not an On-Behalf-Of attempt: no exchange record


def test_reset_forgets_users(tenant):
    tenant.emu.reset()

    assert tenant.emu.users == []
    with pytest.raises(KeyError):
        tenant.emu.issue_user_token(ALICE, ORDERS)


def test_token_claims_of_an_unknown_token(emu):
    with pytest.raises(ApiError) as excinfo:
        emu.token_claims("nope")

    assert excinfo.value.status == 401
