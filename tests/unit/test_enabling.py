"""The decision core (decision.plan + enabling.Enabler) against an in-memory Management API.

The HTTP side, the locks in DynamoDB and the entry points are tested against the emulator and
moto (tests/operations, tests/integration); here each decision and each write is checked alone.
"""

from __future__ import annotations

import copy

import pytest
from token_exchange_enabler.auth0 import BadRequest, Conflict, Deadline, Forbidden, NotFound, ServerError
from token_exchange_enabler.config import Config
from token_exchange_enabler.decision import (
    LEGACY_BODY,
    OBO_PROFILE,
    Action,
    ApiRef,
    ApiState,
    ClientState,
    Observed,
    Status,
    client_name,
    plan,
)
from token_exchange_enabler.enabling import Enabler
from token_exchange_enabler.errors import LockBusy, PermanentFailure, StateChanged
from token_exchange_enabler.locks import ProcessLocks, lock_key

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
        self.deadline = Deadline()

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
        if body["audience"] not in {s["identifier"] for s in self.servers.values()} | self.downstream:
            raise NotFound("No resource server found for the audience", status=404)
        key = (body["client_id"], body["audience"], body.get("subject_type", "client"))
        if any((g["client_id"], g["audience"], g.get("subject_type", "client")) == key for g in self.grants):
            raise Conflict("A client grant for this client and audience already exists", status=409)
        self.grants.append({"id": f"cgr_{len(self.grants)}", **copy.deepcopy(body)})
        return self.grants[-1]

    def update_client_grant(self, grant_id, body):
        self._enter("update_client_grant")
        (grant,) = [g for g in self.grants if g["id"] == grant_id]
        grant.update(copy.deepcopy(body))
        return grant

    def iter_client_grants(self, client_id=None, audience=None, subject_type=None, per_page=100):
        self._enter("iter_client_grants")
        return iter([copy.deepcopy(g) for g in self.grants
                     if (client_id is None or g["client_id"] == client_id)
                     and (audience is None or g["audience"] == audience)
                     and (subject_type is None or g.get("subject_type") == subject_type)])

    downstream = {"https://a.example.com", "https://b.example.com"}


def obo(api, **env):
    return Enabler(api, config(**env))


def legacy(api, **env):
    return Enabler(api, config(TOKEN_EXCHANGE_MODE="legacy_resource_server", **env))


REF = ApiRef(api_id=API_ID, identifier="https://orders.example.com", name="Orders")


def test_new_api_gets_a_custom_api_client_with_obo_in_two_calls():
    api = FakeApi()
    outcome = obo(api).enable(REF)
    assert outcome.status == "enabled" and outcome.created_client
    assert api.calls == ["get_resource_server", "create_client"]
    (client,) = api.clients.values()
    assert client["app_type"] == "resource_server"
    assert client["resource_server_identifier"] == "https://orders.example.com"
    assert client["token_exchange"] == {"allow_any_profile_of_type": [OBO_PROFILE]}
    assert client["name"] == "Orders (token exchange)"


def test_second_run_writes_nothing():
    api = FakeApi()
    enabler = obo(api)
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
    outcome = obo(api).enable(REF)
    assert outcome.status == "enabled" and not outcome.created_client
    assert api.clients["c1"]["token_exchange"]["allow_any_profile_of_type"] == ["custom_authentication", OBO_PROFILE]


def test_linked_client_gone_falls_back_to_matching_the_identifier():
    api = FakeApi()
    api.servers[API_ID]["client_id"] = "deleted"
    api.clients["c2"] = {"client_id": "c2", "app_type": "resource_server",
                         "resource_server_identifier": "https://orders.example.com"}
    outcome = obo(api).enable(REF)
    assert outcome.client_id == "c2" and outcome.status == "enabled"
    assert "create_client" not in api.calls


@pytest.mark.parametrize("ref,reason", [
    (ApiRef(API_ID, "https://acme.eu.auth0.com/api/v2/", "Auth0 Management API", True), "system API"),
    (ApiRef(API_ID, "urn:internal:orders", "Orders"), "skip pattern 'urn:internal:*'"),
])
def test_skips_cost_no_call(ref, reason):
    api = FakeApi()
    outcome = obo(api, SKIP_IDENTIFIER_PATTERNS="urn:internal:*").enable(ref)
    assert outcome.status == "skipped" and reason in outcome.reason
    assert api.calls == []


def test_system_flag_read_from_auth0_is_respected():
    api = FakeApi()
    api.servers[API_ID]["is_system"] = True
    outcome = obo(api).enable(REF)
    assert outcome.status == "skipped" and api.calls == ["get_resource_server"]


def test_deleted_api_is_skipped_but_an_operators_unknown_input_is_not_found():
    api = FakeApi()
    outcome = obo(api).enable(ApiRef("0" * 24, "https://gone.example.com"))
    assert outcome.status == "skipped" and "no longer exists" in outcome.reason
    typo = obo(api).enable(ApiRef.from_operator("https://typo.example.com"))
    assert typo.status == Status.NOT_FOUND and not typo.done and "not found" in typo.reason


def test_dry_run_writes_nothing():
    api = FakeApi()
    outcome = obo(api, DRY_RUN="true").enable(REF)
    assert outcome.status == "dry_run" and api.clients == {}


def test_insufficient_scope_is_a_permanent_configuration_failure():
    api = FakeApi()
    api.fail["create_client"] = Forbidden("Insufficient scope, expected any of: create:clients", status=403,
                                          error="Forbidden", error_code="insufficient_scope")
    with pytest.raises(PermanentFailure) as caught:
        obo(api).enable(REF)
    assert caught.value.configuration
    assert "create:clients" in caught.value.reason and "README" in caught.value.reason


def test_transient_errors_propagate_for_a_retry():
    api = FakeApi()
    api.fail["create_client"] = ServerError("Service Unavailable", status=503)
    with pytest.raises(ServerError):
        obo(api).enable(REF)


GRANTS = '{"https://a.example.com": ["read:a", "write:a"], "https://b.example.com": "*"}'


def test_downstream_grants_are_created_for_the_new_client_and_grant_something():
    """Regression: grants were created with "scope": [], which allows nothing."""
    api = FakeApi()
    outcome = obo(api, DOWNSTREAM_GRANTS=GRANTS).enable(REF)
    assert api.calls == ["get_resource_server", "create_client", "create_client_grant", "create_client_grant"]
    first, second = api.grants
    assert (first["audience"], first["scope"], first["allow_all_scopes"], first["subject_type"]) == (
        "https://a.example.com", ["read:a", "write:a"], False, "user")
    assert (second["audience"], second["scope"], second["allow_all_scopes"]) == ("https://b.example.com", [], True)
    assert "create https://a.example.com (read:a write:a)" in outcome.reason


def test_an_existing_grant_with_other_scopes_is_brought_to_the_configured_ones():
    api = FakeApi()
    obo(api).enable(REF)
    (client_id,) = api.clients
    api.grants.append({"id": "cgr_old", "client_id": client_id, "audience": "https://a.example.com",
                       "scope": ["read:a", "admin:a"], "subject_type": "user"})
    api.grants.append({"id": "cgr_m2m", "client_id": client_id, "audience": "https://b.example.com",
                       "scope": ["x"], "subject_type": "client"})  # an M2M grant: not ours to change
    api.calls.clear()
    outcome = obo(api, DOWNSTREAM_GRANTS=GRANTS).enable(REF)
    assert outcome.status == Status.ALREADY_ENABLED and outcome.action is Action.ENSURE_GRANTS
    old = next(g for g in api.grants if g["id"] == "cgr_old")
    assert (old["scope"], old["allow_all_scopes"]) == (["read:a", "write:a"], False)
    assert next(g for g in api.grants if g["id"] == "cgr_m2m")["scope"] == ["x"]
    assert [g["audience"] for g in api.grants if g.get("allow_all_scopes")] == ["https://b.example.com"]
    api.calls.clear()
    assert obo(api, DOWNSTREAM_GRANTS=GRANTS).enable(REF).action is Action.NONE  # now nothing to write
    assert api.calls == ["get_resource_server", "get_client", "iter_client_grants"]


def test_legacy_mode_sends_the_original_patch_verbatim():
    api = FakeApi()
    outcome = legacy(api).enable(REF)
    assert outcome.status == "enabled"
    assert api.calls == ["patch_resource_server"]
    assert api.servers[API_ID]["token_exchange"] == LEGACY_BODY["token_exchange"]


def test_legacy_mode_400_on_the_field_says_use_on_behalf_of():
    api = FakeApi()
    api.fail["patch_resource_server"] = BadRequest(
        "Payload validation error: 'Additional properties not allowed: token_exchange'.",
        status=400, error="Bad Request", error_code="invalid_body")
    with pytest.raises(PermanentFailure) as caught:
        legacy(api).enable(REF)
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


# --- the decision alone (pure) -------------------------------------------------------------------


def observed(client=None, **api):
    state = ApiState(api_id=API_ID, identifier="https://orders.example.com", name="Orders", **api)
    return Observed(REF, state, client)


def test_plan_is_pure_and_names_the_action():
    assert plan(observed(), config()).action is Action.CREATE_CLIENT
    merged = plan(observed(ClientState("c1", "https://orders.example.com",
                                       {"allow_any_profile_of_type": ["custom_authentication"], "x": 1})), config())
    assert merged.action is Action.ENABLE_ON_CLIENT
    assert merged.token_exchange == {"allow_any_profile_of_type": ["custom_authentication", OBO_PROFILE], "x": 1}
    enabled = ClientState("c1", None, {"allow_any_profile_of_type": [OBO_PROFILE]})
    assert plan(observed(enabled), config()).action is Action.NONE
    assert plan(observed(enabled), config(DOWNSTREAM_GRANTS='{"https://a.example.com": "*"}')).action \
        is Action.ENSURE_GRANTS
    assert plan(observed(), config(TOKEN_EXCHANGE_MODE="legacy_resource_server")).action \
        is Action.PATCH_RESOURCE_SERVER
    assert plan(Observed(REF, None), config()).not_found


def test_an_api_without_an_identifier_is_a_permanent_failure():
    with pytest.raises(PermanentFailure, match="without an identifier"):
        plan(Observed(REF, ApiState(api_id=API_ID, identifier=None)), config())


# --- regressions: each of these failed before the decision core ----------------------------------


def test_dry_run_on_an_enabled_api_makes_no_grant():
    """Regression: grants were made before the dry-run check, on an already-enabled API."""
    api = FakeApi()
    obo(api).enable(REF)
    api.calls.clear()
    outcome = obo(api, DRY_RUN="true", DOWNSTREAM_GRANTS='{"https://a.example.com": ["read:a"]}').enable(REF)
    assert outcome.status == Status.DRY_RUN and "would create https://a.example.com (read:a)" in outcome.reason
    assert api.grants == [] and "create_client_grant" not in api.calls


def test_a_missing_downstream_audience_is_a_configuration_failure_not_a_deleted_api():
    """Regression: the grant's 404 was reported as "the API no longer exists" and acknowledged."""
    api = FakeApi()
    with pytest.raises(PermanentFailure) as caught:
        obo(api, DOWNSTREAM_GRANTS='{"https://missing.example.com": ["x"]}').enable(REF)
    assert caught.value.configuration
    assert "https://missing.example.com" in caught.value.reason and "no longer exists" not in caught.value.reason


def test_a_client_deleted_between_the_read_and_the_merge_is_tried_again_not_skipped():
    """Regression: the PATCH's 404 became "skipped: the API no longer exists"."""
    api = FakeApi()
    api.clients["c1"] = {"client_id": "c1", "app_type": "resource_server",
                         "resource_server_identifier": "https://orders.example.com", "token_exchange": {}}
    api.servers[API_ID]["client_id"] = "c1"
    api.fail["patch_client"] = NotFound("The client does not exist", status=404)
    with pytest.raises(StateChanged):
        obo(api).enable(REF)


def test_the_merge_is_built_from_a_read_made_under_the_lock():
    """The write is built from the client as it is when the lock is held, not from what the caller
    saw earlier (the sweep's listing): a profile an admin removed meanwhile stays removed."""
    api = FakeApi()
    api.clients["c1"] = {"client_id": "c1", "app_type": "resource_server",
                         "resource_server_identifier": "https://orders.example.com",
                         "token_exchange": {"allow_any_profile_of_type": ["custom_authentication"]}}
    api.servers[API_ID]["client_id"] = "c1"
    api.clients["c1"]["token_exchange"] = {"allow_any_profile_of_type": []}  # the admin's change
    obo(api).enable(REF, client_hint="c1")
    assert api.clients["c1"]["token_exchange"] == {"allow_any_profile_of_type": [OBO_PROFILE]}


def test_a_held_lock_raises_busy_and_writes_nothing():
    api = FakeApi()
    locks = ProcessLocks()
    enabler = Enabler(api, config(), locks)
    with locks.hold(lock_key("on_behalf_of", API_ID), API_ID, 30), pytest.raises(LockBusy):
        enabler.enable(REF)
    assert api.calls == [] and api.clients == {}
    assert enabler.enable(REF).status == Status.ENABLED  # released: the next attempt does it


def test_an_operators_identifier_is_locked_under_the_apis_id():
    """`enable https://orders...` and the worker's event (by id) must meet on the same lock."""
    api = FakeApi()
    locks = ProcessLocks()
    enabler = Enabler(api, config(), locks)
    with locks.hold(lock_key("on_behalf_of", API_ID), API_ID, 30), pytest.raises(LockBusy):
        enabler.enable(ApiRef.from_operator("https://orders.example.com"))
    assert api.clients == {}


def test_without_a_deadline_the_lease_bounds_the_waits_while_the_lock_is_held():
    api = FakeApi()
    seen = []
    api.create_client = lambda body: (seen.append(api.deadline), {"client_id": "c9"})[1]
    obo(api).enable(REF)
    (deadline,) = seen
    assert deadline.allows_wait(60) and not deadline.allows_wait(120)  # the 120 s lease, minus a read
    assert api.deadline is not deadline  # restored after


def test_an_api_created_by_a_listed_tool_is_skipped_without_a_call():
    api = FakeApi()
    by_terraform = ApiRef(API_ID, "https://orders.example.com", "Orders", created_by="tfClient")
    outcome = obo(api, SKIP_CREATED_BY_CLIENT_IDS="tfClient").enable(by_terraform)
    assert outcome.status == Status.SKIPPED
    assert "tfClient" in outcome.reason and "SKIP_CREATED_BY_CLIENT_IDS" in outcome.reason
    assert api.calls == []
    by_dashboard = ApiRef(API_ID, "https://orders.example.com", "Orders", created_by="dashboardClient")
    assert obo(api, SKIP_CREATED_BY_CLIENT_IDS="tfClient").enable(by_dashboard).status == Status.ENABLED


def test_the_client_is_created_the_way_auth0s_own_tools_create_it():
    api = FakeApi()
    obo(api).enable(REF)
    (client,) = api.clients.values()
    assert client["oidc_conformant"] is True
    assert client["client_metadata"] == {"managed_by": "token-exchange-enabler"}
    assert client.get("is_first_party", True) is True  # never third-party


def test_a_tenant_at_its_plans_application_limit_is_a_configuration_failure_saying_what_to_do():
    api = FakeApi()
    api.fail["create_client"] = Forbidden("You reached the limit of entities of this type for this tenant.",
                                          status=403, error="Forbidden", error_code="too_many_entities")
    with pytest.raises(PermanentFailure) as caught:
        obo(api).enable(REF)
    assert caught.value.configuration
    assert "plan's entity limit" in caught.value.reason and "Delete applications" in caught.value.reason
    assert api.calls.count("create_client") == 1  # not retried
