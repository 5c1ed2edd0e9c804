"""The two strategies against an in-memory Management API (the HTTP side is tested with the emulator)."""

from __future__ import annotations

import copy

import pytest
from token_exchange_enabler.auth0 import BadRequest, Forbidden, NotFound, ServerError
from token_exchange_enabler.config import Config
from token_exchange_enabler.enablers import (
    LEGACY_BODY,
    OBO_PROFILE,
    ApiRef,
    LegacyResourceServerEnabler,
    OnBehalfOfEnabler,
    PermanentFailure,
    client_name,
)

API_ID = "5f9a0b1c2d3e4f5a6b7c8d9e"


def config(**overrides):
    env = {
        "AUTH0_DOMAIN": "acme.eu.auth0.com",
        "AUTH0_CREDENTIALS_SECRET_ID": "c",
        "TOKEN_CACHE_SECRET_ID": "t",
        **overrides,
    }
    return Config.from_env(env)


class FakeApi:
    """Just enough of ManagementApi, with Auth0's linking of a Custom API client."""

    def __init__(self):
        self.servers = {API_ID: {"id": API_ID, "identifier": "https://orders.example.com", "name": "Orders"}}
        self.clients: dict[str, dict] = {}
        self.grants: list[dict] = []
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}

    def _enter(self, name):
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]

    def get_resource_server(self, id_or_identifier):
        self._enter("get_resource_server")
        for server in self.servers.values():
            if id_or_identifier in (server["id"], server["identifier"]):
                return copy.deepcopy(server)
        raise NotFound("The resource server does not exist", status=404, error_code="inexistent_resource_server")

    def patch_resource_server(self, api_id, body):
        self._enter("patch_resource_server")
        self.servers[api_id].update(body)
        return self.servers[api_id]

    def get_client(self, client_id):
        self._enter("get_client")
        if client_id not in self.clients:
            raise NotFound("The client does not exist", status=404)
        return copy.deepcopy(self.clients[client_id])

    def iter_clients(self, app_type=None, fields=None):
        self._enter("iter_clients")
        return iter([copy.deepcopy(c) for c in self.clients.values() if c.get("app_type") == app_type])

    def create_client(self, body):
        self._enter("create_client")
        client_id = f"client{len(self.clients)}"
        self.clients[client_id] = {"client_id": client_id, **copy.deepcopy(body)}
        for server in self.servers.values():
            if server["identifier"] == body.get("resource_server_identifier"):
                server["client_id"] = client_id
        return copy.deepcopy(self.clients[client_id])

    def patch_client(self, client_id, body):
        self._enter("patch_client")
        self.clients[client_id].update(copy.deepcopy(body))
        return copy.deepcopy(self.clients[client_id])

    def create_client_grant(self, body):
        self._enter("create_client_grant")
        self.grants.append(body)
        return body


REF = ApiRef(api_id=API_ID, identifier="https://orders.example.com", name="Orders")


def test_new_api_gets_a_custom_api_client_with_obo_in_two_calls():
    api = FakeApi()
    outcome = OnBehalfOfEnabler(api, config()).enable(REF)
    assert outcome.status == "enabled" and outcome.created_client
    assert api.calls == ["get_resource_server", "create_client"]
    (client,) = api.clients.values()
    assert client["app_type"] == "resource_server"
    assert client["resource_server_identifier"] == "https://orders.example.com"
    assert client["token_exchange"] == {"allow_any_profile_of_type": [OBO_PROFILE]}
    assert client["name"] == "Orders (token exchange)"


def test_second_run_writes_nothing():
    api = FakeApi()
    enabler = OnBehalfOfEnabler(api, config())
    enabler.enable(REF)
    api.calls.clear()
    outcome = enabler.enable(REF)
    assert outcome.status == "already_enabled"
    assert api.calls == ["get_resource_server", "get_client"]
    assert len(api.clients) == 1


def test_existing_client_is_merged_not_overwritten():
    api = FakeApi()
    api.clients["c1"] = {"client_id": "c1", "app_type": "resource_server",
                         "resource_server_identifier": "https://orders.example.com",
                         "token_exchange": {"allow_any_profile_of_type": ["custom_authentication"]}}
    api.servers[API_ID]["client_id"] = "c1"
    outcome = OnBehalfOfEnabler(api, config()).enable(REF)
    assert outcome.status == "enabled" and not outcome.created_client
    assert api.clients["c1"]["token_exchange"]["allow_any_profile_of_type"] == ["custom_authentication", OBO_PROFILE]


def test_linked_client_gone_falls_back_to_matching_the_identifier():
    api = FakeApi()
    api.servers[API_ID]["client_id"] = "deleted"
    api.clients["c2"] = {"client_id": "c2", "app_type": "resource_server",
                         "resource_server_identifier": "https://orders.example.com"}
    outcome = OnBehalfOfEnabler(api, config()).enable(REF)
    assert outcome.client_id == "c2" and outcome.status == "enabled"
    assert "create_client" not in api.calls


@pytest.mark.parametrize("ref,reason", [
    (ApiRef(API_ID, "https://acme.eu.auth0.com/api/v2/", "Auth0 Management API", True), "system API"),
    (ApiRef(API_ID, "urn:internal:orders", "Orders"), "skip pattern 'urn:internal:*'"),
])
def test_skips_cost_no_call(ref, reason):
    api = FakeApi()
    outcome = OnBehalfOfEnabler(api, config(SKIP_IDENTIFIER_PATTERNS="urn:internal:*")).enable(ref)
    assert outcome.status == "skipped" and reason in outcome.reason
    assert api.calls == []


def test_system_flag_read_from_auth0_is_respected():
    api = FakeApi()
    api.servers[API_ID]["is_system"] = True
    outcome = OnBehalfOfEnabler(api, config()).enable(REF)
    assert outcome.status == "skipped" and api.calls == ["get_resource_server"]


def test_deleted_api_is_skipped():
    api = FakeApi()
    outcome = OnBehalfOfEnabler(api, config()).enable(ApiRef("0" * 24, "https://gone.example.com"))
    assert outcome.status == "skipped" and "no longer exists" in outcome.reason


def test_dry_run_writes_nothing():
    api = FakeApi()
    outcome = OnBehalfOfEnabler(api, config(DRY_RUN="true")).enable(REF)
    assert outcome.status == "dry_run" and api.clients == {}


def test_insufficient_scope_is_a_permanent_configuration_failure():
    api = FakeApi()
    api.fail["create_client"] = Forbidden("Insufficient scope, expected any of: create:clients", status=403,
                                          error="Forbidden", error_code="insufficient_scope")
    with pytest.raises(PermanentFailure) as caught:
        OnBehalfOfEnabler(api, config()).enable(REF)
    assert caught.value.configuration
    assert "create:clients" in caught.value.reason and "README" in caught.value.reason


def test_transient_errors_propagate_for_a_retry():
    api = FakeApi()
    api.fail["create_client"] = ServerError("Service Unavailable", status=503)
    with pytest.raises(ServerError):
        OnBehalfOfEnabler(api, config()).enable(REF)


def test_downstream_grants_are_created_for_the_new_client():
    api = FakeApi()
    OnBehalfOfEnabler(api, config(DOWNSTREAM_GRANT_AUDIENCES="https://a.example.com,https://b.example.com")).enable(REF)
    assert [g["audience"] for g in api.grants] == ["https://a.example.com", "https://b.example.com"]
    assert all(g["subject_type"] == "user" for g in api.grants)


def test_legacy_mode_sends_the_original_patch_verbatim():
    api = FakeApi()
    outcome = LegacyResourceServerEnabler(api, config(TOKEN_EXCHANGE_MODE="legacy_resource_server")).enable(REF)
    assert outcome.status == "enabled"
    assert api.calls == ["patch_resource_server"]
    assert api.servers[API_ID]["token_exchange"] == LEGACY_BODY["token_exchange"]


def test_legacy_mode_400_on_the_field_says_use_on_behalf_of():
    api = FakeApi()
    api.fail["patch_resource_server"] = BadRequest(
        "Payload validation error: 'Additional properties not allowed: token_exchange'.",
        status=400, error="Bad Request", error_code="invalid_body")
    with pytest.raises(PermanentFailure) as caught:
        LegacyResourceServerEnabler(api, config(TOKEN_EXCHANGE_MODE="legacy_resource_server")).enable(REF)
    assert caught.value.configuration
    assert "does not support the legacy" in caught.value.reason
    assert "TOKEN_EXCHANGE_MODE=on_behalf_of" in caught.value.reason


@pytest.mark.parametrize("name,identifier,expected", [
    ("Orders", "x", "Orders (token exchange)"),
    ("<script>Orders</script>", "x", "scriptOrders/script (token exchange)"),
    (None, "https://api.example.com", "https://api.example.com (token exchange)"),
    ("   ", "urn:a", "urn:a (token exchange)"),
    ("n" * 300, "x", "n" * (128 - len(" (token exchange)")) + " (token exchange)"),
])
def test_client_names_are_valid_for_auth0(name, identifier, expected):
    result = client_name(name, identifier, " (token exchange)")
    assert result == expected
    assert "<" not in result and ">" not in result and len(result) <= 128
