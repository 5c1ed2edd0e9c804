"""POST /oauth/token and the Management API's authentication and scopes."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
import requests

from local.auth0_emulator import Auth0Emulator, RateLimit

from .conftest import (
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    DOMAIN,
    Mgmt,
    assert_auth0_error,
    fetch_token,
    mgmt_for,
)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_client_credentials_token_has_auth0_shape(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET, scopes=["read:resource_servers", "read:clients"])

    response = fetch_token(emu)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "read:resource_servers read:clients"
    assert emu.token_requests == 1
    assert emu.tokens_issued == 1
    assert emu.counters == {"POST /oauth/token": 1}


def test_form_encoded_body_and_http_basic_client_authentication(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "audience": AUDIENCE,
    }
    assert requests.post(f"{emu.base_url}/oauth/token", data=form, timeout=5).status_code == 200

    basic = requests.post(
        f"{emu.base_url}/oauth/token",
        data={"grant_type": "client_credentials", "audience": AUDIENCE},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert basic.status_code == 200


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [(CLIENT_ID, "wrong-secret"), ("unknown-client", CLIENT_SECRET), (CLIENT_ID, None)],
)
def test_bad_client_credentials_are_401_access_denied(emu, client_id, secret):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)
    body = {"grant_type": "client_credentials", "client_id": client_id, "audience": AUDIENCE}
    if secret is not None:
        body["client_secret"] = secret

    response = requests.post(f"{emu.base_url}/oauth/token", json=body, timeout=5)

    assert response.status_code == 401
    assert response.json() == {"error": "access_denied", "error_description": "Unauthorized"}
    assert emu.tokens_issued == 0


@pytest.mark.parametrize(
    ("audience", "description"),
    [
        ("https://other.example.com/", "Service not enabled within domain: https://other.example.com/"),
        (f"https://{DOMAIN}/api/v2", f"Service not enabled within domain: https://{DOMAIN}/api/v2"),
        (None, "No audience parameter was provided, and no default audience has been configured"),
    ],
)
def test_wrong_audience_is_403_access_denied(emu, audience, description):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)

    response = fetch_token(emu, audience=audience)

    assert response.status_code == 403
    assert response.json() == {"error": "access_denied", "error_description": description}


def test_audience_of_a_tenant_api_needs_a_client_grant(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)
    emu.create_resource_server({"identifier": "https://orders.example.com/"})

    response = fetch_token(emu, audience="https://orders.example.com/")

    assert response.status_code == 403
    assert response.json()["error_description"].startswith(
        'Client is not authorized to access "https://orders'
    )


def test_grant_type_is_required_and_only_client_credentials_is_supported(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)

    missing = fetch_token(emu, grant_type=None)
    password = fetch_token(emu, grant_type="password")

    assert missing.status_code == 400
    assert missing.json() == {
        "error": "invalid_request",
        "error_description": "Missing required parameter: grant_type",
    }
    assert password.status_code == 400
    assert password.json()["error"] == "unsupported_grant_type"


def test_requested_scope_narrows_the_token_and_ungranted_scope_is_refused(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET, scopes=["read:clients", "update:clients"])

    narrowed = fetch_token(emu, scope="read:clients")
    refused = fetch_token(emu, scope="read:clients create:clients")

    assert narrowed.json()["scope"] == "read:clients"
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "access_denied",
        "error_description": "Client has not been granted scopes: create:clients",
    }


@pytest.mark.parametrize("token_format", ["opaque", "jwt"])
def test_tokens_really_expire(token_format):
    with Auth0Emulator(domain=DOMAIN, token_lifetime=1, token_format=token_format) as emu:
        api = mgmt_for(emu)
        assert api.get("/api/v2/resource-servers").status_code == 200

        time.sleep(1.05)
        expired = api.get("/api/v2/resource-servers")

        body = assert_auth0_error(expired, 401, None, "Expired token received for JSON Web Token validation")
        assert body["attributes"] == {"error": body["message"]}
        assert fetch_token(emu).json()["expires_in"] == 1


def test_jwt_tokens_carry_standard_claims_and_an_hs256_signature():
    with Auth0Emulator(domain=DOMAIN, token_format="jwt", token_lifetime=600) as emu:
        emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET, scopes=["read:clients"])
        before = time.time()
        token = fetch_token(emu).json()["access_token"]

    header, claims, signature = token.split(".")
    assert json.loads(_b64decode(header))["alg"] == "HS256"
    payload = json.loads(_b64decode(claims))
    assert payload["iss"] == f"https://{DOMAIN}/"
    assert payload["aud"] == AUDIENCE
    assert payload["sub"] == f"{CLIENT_ID}@clients"
    assert payload["scope"] == "read:clients"
    assert before + 599 <= payload["exp"] <= time.time() + 601
    assert len(_b64decode(signature)) == hashlib.sha256().digest_size


def test_tampered_jwt_is_rejected():
    with Auth0Emulator(domain=DOMAIN, token_format="jwt") as emu:
        token = mgmt_for(emu).session.headers["Authorization"].split()[1]
        header, claims, signature = token.split(".")
        payload = json.loads(_b64decode(claims))
        payload["scope"] += " delete:everything"
        forged_claims = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()

        response = Mgmt(emu, f"{header}.{forged_claims}.{signature}").get("/api/v2/resource-servers")

        assert_auth0_error(response, 401, None, "Invalid signature received for JSON Web Token validation")


def test_missing_unknown_and_malformed_authorization(api, emu):
    missing = Mgmt(emu).get("/api/v2/resource-servers")
    unknown = Mgmt(emu, "not-a-token").get("/api/v2/resource-servers")
    basic = Mgmt(emu).get("/api/v2/resource-servers", headers={"Authorization": "Basic abc"})

    assert assert_auth0_error(missing, 401, None, "Missing authentication") == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "Missing authentication",
    }
    assert_auth0_error(unknown, 401, None, "Invalid token")
    assert_auth0_error(basic, 400, "Bearer", "Bad HTTP authentication header format")
    assert missing.headers["x-ratelimit-limit"]


def test_insufficient_scope_is_403_naming_the_scope(emu):
    api = mgmt_for(emu, scopes=["read:resource_servers"])

    response = api.get("/api/v2/clients")

    assert response.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "Insufficient scope, expected any of: read:clients",
        "errorCode": "insufficient_scope",
    }
    assert api.get("/api/v2/resource-servers").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/api/v2/resource-servers", "create:resource_servers"),
        ("PATCH", "/api/v2/resource-servers/x", "update:resource_servers"),
        ("POST", "/api/v2/clients", "create:clients"),
        ("PATCH", "/api/v2/clients/x", "update:clients"),
        ("GET", "/api/v2/client-grants", "read:client_grants"),
        ("POST", "/api/v2/client-grants", "create:client_grants"),
    ],
)
def test_every_route_checks_its_scope_before_anything_else(emu, method, path, scope):
    api = mgmt_for(emu, scopes=["read:resource_servers"])

    response = api.request(method, path, json={"unknown": True})

    assert_auth0_error(response, 403, "insufficient_scope", f"Insufficient scope, expected any of: {scope}")


def test_rotating_the_signing_key_invalidates_issued_tokens(api, emu):
    assert api.get("/api/v2/clients").status_code == 200

    emu.rotate_signing_key()

    assert_auth0_error(
        api.get("/api/v2/clients"), 401, None, "Invalid signature received for JSON Web Token validation"
    )
    assert mgmt_for(emu).get("/api/v2/clients").status_code == 200


def test_issue_token_helper_skips_http(emu):
    emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET, scopes=["read:clients"])

    token = emu.issue_token(CLIENT_ID)

    assert Mgmt(emu, token).get("/api/v2/clients").status_code == 200
    assert emu.token_requests == 0
    with pytest.raises(KeyError):
        emu.issue_token("nobody")


def test_token_endpoint_has_its_own_bucket_with_retry_after():
    with Auth0Emulator(domain=DOMAIN, token_rate_limit=RateLimit(burst=2, per_second=0.5)) as emu:
        emu.add_m2m_client(CLIENT_ID, CLIENT_SECRET)
        statuses = [fetch_token(emu) for _ in range(3)]

        assert [r.status_code for r in statuses] == [200, 200, 429]
        limited = statuses[-1]
        assert limited.json()["error"] == "too_many_requests"
        assert 1 <= int(limited.headers["Retry-After"]) <= 2
        assert emu.rate_limited == 1
        assert emu.token_requests == 3
        assert emu.tokens_issued == 2
