"""status: depths, the oldest dead letter and why, the cached token's expiry and scope; no Auth0 settings."""

from __future__ import annotations

import json

import pytest

from tests.operations.conftest import OBO_SCOPES, worker_dead_letter_attributes

pytestmark = pytest.mark.integration

NO_AUTH0 = {"AUTH0_DOMAIN": None, "AUTH0_CREDENTIALS_SECRET_ID": None, "AUTH0_BASE_URL": None}


def test_status_of_a_quiet_system_needs_no_auth0_settings(ops):
    result = ops.cli("status", "--json", **NO_AUTH0)
    assert result.code == 0, result.err
    status = result.json
    assert status["settings"]["mode"] == "on_behalf_of" and status["settings"]["auth0_domain"] is None
    assert set(status["queues"]) == {"source", "dead_letter", "delivery_dead_letter"}
    for queue in status["queues"].values():
        assert (queue["visible"], queue["in_flight"], queue["delayed"]) == (0, 0, 0)
    assert status["oldest_dead_letter"] is None
    assert status["token_cache"] == {"state": "empty"}
    assert status["redrive_task"] is None  # moto has no message move tasks


def test_status_with_dead_letters_and_a_cached_token(ops):
    api = ops.emulator.create_resource_server({"identifier": "https://status.example.com"})
    assert ops.cli("enable", api["id"]).code == 0  # fills the shared token cache
    event = ops.create_api("https://stuck.example.com")
    ops.dead_letter(json.dumps(event), worker_dead_letter_attributes("configuration error: 403 insufficient_scope"))
    ops.sqs.send_message(QueueUrl=ops.stack.queue_url, MessageBody=json.dumps(event))

    result = ops.cli("status", "--json", **NO_AUTH0)
    assert result.code == 0
    status = result.json
    assert status["queues"]["source"]["visible"] == 1 and status["queues"]["dead_letter"]["visible"] == 1
    oldest = status["oldest_dead_letter"]
    assert oldest["queue"] == "dead_letter" and oldest["shape"] == "worker"
    assert oldest["failure"] == "configuration: configuration error: 403 insufficient_scope"
    assert oldest["identifier"] == "https://stuck.example.com" and oldest["age_seconds"] >= 0
    cache = status["token_cache"]
    assert cache["state"] == "valid" and cache["expires_in"] in ("23h 59m", "1d 0h")
    assert cache["scope"].split() == OBO_SCOPES
    # Sampling consumed nothing, and no token is printed.
    assert ops.visible(ops.stack.dlq_url) == 1
    assert not [t for t in ops.emulator.issued_tokens if t in result.out]

    text = ops.cli("status", **NO_AUTH0).out
    assert "dead-letter queue           1 waiting, 0 in flight" in text
    assert "oldest dead letter" in text and "configuration error: 403 insufficient_scope" in text
    assert "cached Management API token valid, expires in 23h 59m" in text


def test_status_without_anything_to_look_at_is_a_usage_error(ops):
    result = ops.cli("status", SOURCE_QUEUE_URL=None, DEAD_LETTER_QUEUE_URL=None,
                     DELIVERY_DEAD_LETTER_QUEUE_URL=None, TOKEN_CACHE_SECRET_ID=None)
    assert result.code == 2 and "SOURCE_QUEUE_URL" in result.err


def test_status_prints_the_dashboard_url_when_known(ops):
    url = ("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
           "#dashboards:name=token-exchange-enabler-eu-west-1")
    result = ops.cli("status", "--json", DASHBOARD_URL=url, **NO_AUTH0)
    assert result.code == 0, result.err
    assert result.json["dashboard_url"] == url
    assert f"dashboard                   {url}" in ops.cli("status", DASHBOARD_URL=url, **NO_AUTH0).out

    unknown = ops.cli("status", "--json", DASHBOARD_URL=None, **NO_AUTH0)
    assert unknown.json["dashboard_url"] is None
    assert "dashboard" not in ops.cli("status", DASHBOARD_URL=None, **NO_AUTH0).out
