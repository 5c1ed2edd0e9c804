"""POST /api/v2/clients/{id}/rotate-secret: a new secret, scope update:client_keys, 404 for an unknown client.

Source: the official Management API spec (``post_rotate-secret``: no request body, 200 with the
client, 403 "Insufficient scope; expected any of: update:client_keys.", 404 "Client not found.").
"""

from __future__ import annotations

from local.auth0_emulator import known_secrets

from .conftest import assert_auth0_error, create_api, mgmt_for


def custom_client(api):
    create_api(api)
    response = api.post("/api/v2/clients", {"name": "Orders (Custom API)", "app_type": "resource_server",
                                            "resource_server_identifier": "https://orders.example.com/"})
    assert response.status_code == 201, response.text
    return response.json()


def test_rotate_gives_a_new_secret_and_the_client_keeps_its_id(api):
    client = custom_client(api)
    response = api.post(f"/api/v2/clients/{client['client_id']}/rotate-secret")
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["client_id"] == client["client_id"]
    assert len(rotated["client_secret"]) == 64 and rotated["client_secret"] != client["client_secret"]
    (stored,) = [c for c in api.emu.clients if c["client_id"] == client["client_id"]]
    assert stored["client_secret"] == rotated["client_secret"]
    assert rotated["client_secret"] in known_secrets()  # the leak scan looks for it


def test_rotate_needs_update_client_keys(emu):
    admin = mgmt_for(emu, client_id="admin")
    client = custom_client(admin)
    limited = mgmt_for(emu, scopes=["read:clients", "update:clients"], client_id="limited")
    response = limited.post(f"/api/v2/clients/{client['client_id']}/rotate-secret")
    assert_auth0_error(response, 403, "insufficient_scope")


def test_rotate_of_an_unknown_client_is_404(api):
    assert_auth0_error(api.post("/api/v2/clients/nosuchclient/rotate-secret"), 404, "inexistent_client")


def test_the_sapi_record_of_a_rotation_never_carries_the_secret(api):
    client = custom_client(api)
    records: list[dict] = []
    api.emu.on_log_event = records.append
    rotated = api.post(f"/api/v2/clients/{client['client_id']}/rotate-secret").json()
    api.emu.on_log_event = None
    (record,) = records
    assert record["data"]["type"] == "sapi" and record["data"]["description"] == "Rotate a client secret"
    assert rotated["client_secret"] not in str(record)
    assert record["data"]["details"]["response"]["body"]["client_secret"] == "REDACTED"


def test_a_secret_set_by_patch_is_known_to_the_leak_scan(api):
    client = custom_client(api)
    chosen = "chosen-by-the-caller-" + "z" * 43
    response = api.patch(f"/api/v2/clients/{client['client_id']}", {"client_secret": chosen})
    assert response.status_code == 200, response.text
    assert chosen in known_secrets()
