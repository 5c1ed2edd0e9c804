"""enable: APIs by id or identifier, now, through the worker's enabler."""

from __future__ import annotations

import pytest
from token_exchange_enabler.scopes import LEGACY_SCOPES

from tests.operations.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET, OBO

pytestmark = pytest.mark.integration


def test_enable_by_id_and_by_identifier(ops):
    by_id = ops.emulator.create_resource_server({"identifier": "https://orders.example.com", "name": "Orders"})
    ops.emulator.create_resource_server({"identifier": "https://billing.example.com", "name": "Billing"})
    result = ops.cli("enable", by_id["id"], "https://billing.example.com", "--json")
    assert result.code == 0, result.err
    first, second = result.json["results"]
    assert (first["input"], first["status"], first["api_id"], first["created_client"]) == (
        by_id["id"], "enabled", by_id["id"], True)
    assert (second["status"], second["identifier"]) == ("enabled", "https://billing.example.com")
    for identifier in ("https://orders.example.com", "https://billing.example.com"):
        (client,) = ops.custom_clients(identifier)
        assert client["token_exchange"] == {"allow_any_profile_of_type": [OBO]}
    # Again: already enabled, nothing written.
    writes = ops.writes()
    again = ops.cli("enable", "https://orders.example.com")
    assert again.code == 0 and ops.writes() == writes
    assert again.out.startswith("already_enabled  " + by_id["id"] + "  https://orders.example.com")


@pytest.mark.parametrize("given", ["0123456789abcdef01234567", "https://typo.example.com"])
def test_enable_of_an_id_or_identifier_that_names_no_api_exits_1_with_not_found(ops, given):
    """Regression: an unknown id or identifier used to exit 0 ("skipped ... deleted")."""
    ops.emulator.create_resource_server({"identifier": "https://orders.example.com"})
    result = ops.cli("enable", "https://orders.example.com", given)
    assert result.code == 1, result.out
    lines = result.out.splitlines()
    assert lines[0].startswith("enabled")
    assert lines[1].startswith("not_found        " + given) and "not found" in lines[1]
    assert ops.writes() == 1  # the existing API's client, nothing for the typo


def test_enable_dry_run_writes_nothing(ops):
    ops.emulator.create_resource_server({"identifier": "https://dry.example.com"})
    result = ops.cli("enable", "https://dry.example.com", "--dry-run", "--json")
    assert result.code == 0 and result.json["dry_run"] is True
    assert result.json["results"][0]["status"] == "dry_run" and ops.writes() == 0


def test_enable_in_legacy_mode_on_a_current_tenant_is_a_configuration_error(ops):
    ops.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=LEGACY_SCOPES)
    ops.emulator.create_resource_server({"identifier": "https://legacy.example.com"})
    result = ops.cli("enable", "https://legacy.example.com", "--json", TOKEN_EXCHANGE_MODE="legacy_resource_server")
    assert result.code == 2
    (entry,) = result.json["results"]
    assert entry["status"] == "failed" and entry["error_kind"] == "configuration"
    assert "TOKEN_EXCHANGE_MODE=on_behalf_of" in entry["reason"]


def test_enable_needs_the_auth0_settings_and_names_what_is_missing(ops):
    result = ops.cli("enable", "https://x.example.com", AUTH0_DOMAIN=None, AUTH0_CREDENTIALS_SECRET_ID=None)
    assert result.code == 2
    assert "AUTH0_DOMAIN is required" in result.err and "AUTH0_CREDENTIALS_SECRET_ID is required" in result.err


def test_enable_with_auth0_unreachable_is_exit_code_3(ops):
    result = ops.cli("enable", "https://x.example.com", AUTH0_BASE_URL="http://127.0.0.1:9", AUTH0_HTTP_TIMEOUT="1")
    assert result.code == 3 and "unreachable" in result.out.lower()
