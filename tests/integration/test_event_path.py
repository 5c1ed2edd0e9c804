"""The event path end to end: the real handler, moto's server and the Auth0 emulator, over HTTP."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from token_exchange_enabler.config import MODE_ON_BEHALF_OF
from token_exchange_enabler.scopes import LEGACY_SCOPES, required_scopes

from local.auth0_emulator import Fault, RateLimit
from tests.conftest import M2M_CLIENT_ID, M2M_CLIENT_SECRET
from tests.integration.conftest import LambdaContext

pytestmark = pytest.mark.integration
OBO = "on_behalf_of_token_exchange"


def custom_clients(emulator, identifier):
    return [c for c in emulator.clients
            if c.get("app_type") == "resource_server" and c.get("resource_server_identifier") == identifier]


def assert_enabled(emulator, identifier):
    (client,) = custom_clients(emulator, identifier)
    assert OBO in client["token_exchange"]["allow_any_profile_of_type"]
    return client


def test_new_apis_are_enabled_with_one_token_and_two_calls_each(stack, invoke):
    events = [stack.create_api(f"https://api{i}.example.com", f"API {i}") for i in range(12)]
    base_calls = stack.emulator.management_calls
    assert invoke(stack.sqs_event(events[:10])) == {"batchItemFailures": []}
    assert invoke(stack.sqs_event(events[10:])) == {"batchItemFailures": []}
    for i in range(12):
        assert_enabled(stack.emulator, f"https://api{i}.example.com")
    assert stack.emulator.token_requests == 1
    assert stack.emulator.management_calls - base_calls == 24
    assert stack.dead_letters() == []


def test_a_direct_eventbridge_event_is_handled(stack, invoke):
    event = stack.create_api("https://direct.example.com", "Direct")
    result = invoke(event)
    assert result["status"] == "enabled" and result["created_client"] is True
    assert_enabled(stack.emulator, "https://direct.example.com")


def test_duplicates_and_replays_never_make_a_second_client(stack, invoke, new_instance):
    event = stack.create_api("https://dup.example.com", "Dup")
    assert invoke(stack.sqs_event([event, event, event])) == {"batchItemFailures": []}
    assert invoke(stack.sqs_event([event])) == {"batchItemFailures": []}  # a replay, same instance
    other = new_instance()  # another instance, cold
    assert other.lambda_handler(stack.sqs_event([event]), LambdaContext()) == {"batchItemFailures": []}
    assert len(custom_clients(stack.emulator, "https://dup.example.com")) == 1
    assert stack.emulator.counters.get("POST /api/v2/clients") == 1


def test_concurrent_instances_on_one_api_make_one_client_and_drop_no_record(stack, new_instance):
    """One instance takes the API's lock and creates its client; the others meet the lock and return
    their record to the queue (never acknowledged unseen); delivered again, it is already enabled."""
    event = stack.create_api("https://race.example.com", "Race")
    instances = [new_instance() for _ in range(4)]
    stack.emulator.inject(Fault("latency", times=None, path_prefix="/api/v2/clients", delay=0.3))
    results, barrier = [], threading.Barrier(len(instances))

    def run(module):
        barrier.wait()
        results.append((module, module.lambda_handler(stack.sqs_event([event]), LambdaContext())))

    threads = [threading.Thread(target=run, args=(m,)) for m in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    stack.emulator.clear_faults()
    assert len(results) == 4
    returned = [module for module, result in results if result["batchItemFailures"]]
    assert len(returned) == 3  # every instance but the lock's holder gave its record back
    assert len(custom_clients(stack.emulator, "https://race.example.com")) == 1
    for module in returned:  # SQS delivers them again
        assert module.lambda_handler(stack.sqs_event([event]), LambdaContext()) == {"batchItemFailures": []}
    assert len(custom_clients(stack.emulator, "https://race.example.com")) == 1
    assert stack.emulator.counters.get("POST /api/v2/clients") == 1


def test_system_api_and_foreign_events_are_skipped_without_writes(stack, invoke):
    system = stack.create_api("https://internal.example.com/system", "System")
    body = system["detail"]["data"]["details"]["response"]["body"]
    body["is_system"] = True
    client_event = json.loads(json.dumps(system))
    details = client_event["detail"]["data"]["details"]
    details["request"]["path"] = "/api/v2/clients"
    details["response"]["body"] = {"client_id": "abc", "name": "x (token exchange)", "client_secret": "REDACTED"}
    login = {**system, "detail": {"log_id": "90020250101", "data": {"type": "s", "log_id": "90020250101"}}}
    before = stack.emulator.management_calls
    assert invoke(stack.sqs_event([system, client_event, login])) == {"batchItemFailures": []}
    assert stack.emulator.management_calls == before
    assert custom_clients(stack.emulator, "https://internal.example.com/system") == []


def test_a_malformed_record_fails_alone_and_is_kept_with_its_reason(stack, invoke):
    good = stack.create_api("https://good.example.com", "Good")
    bad_id = json.loads(json.dumps(good))
    bad_id["detail"]["data"]["details"]["response"]["body"]["id"] = "../clients/abc"
    event = stack.sqs_event([good, good])
    event["Records"][1]["body"] = "{not json"
    event["Records"].append(stack.sqs_event([bad_id])["Records"][0])
    assert invoke(event) == {"batchItemFailures": []}
    assert_enabled(stack.emulator, "https://good.example.com")
    dead = stack.dead_letters()
    assert len(dead) == 2
    assert "{not json" in [m["Body"] for m in dead]  # kept exactly as it came
    kinds = {m["MessageAttributes"]["ERROR_KIND"]["StringValue"] for m in dead}
    assert kinds == {"malformed"}
    reasons = [m["MessageAttributes"]["ERROR_REASON"]["StringValue"] for m in dead]
    assert all(r.startswith("malformed event: ") for r in reasons)
    assert "/clients/abc" not in json.dumps(stack.emulator.counters)


def test_a_rate_limit_burst_is_waited_out(stack, invoke):
    stack.emulator.rate_limit = RateLimit(burst=2, per_second=4.0)
    events = [stack.create_api(f"https://burst{i}.example.com", f"B{i}") for i in range(8)]
    assert invoke(stack.sqs_event(events)) == {"batchItemFailures": []}
    for i in range(8):
        assert_enabled(stack.emulator, f"https://burst{i}.example.com")
    assert stack.dead_letters() == []


def test_a_rate_limit_that_does_not_fit_in_the_time_left_returns_the_record(stack, invoke):
    stack.emulator.rate_limit = RateLimit(burst=1, per_second=0.2)
    events = [stack.create_api(f"https://slow{i}.example.com", f"S{i}") for i in range(2)]
    result = invoke(stack.sqs_event(events), context=LambdaContext(timeout_seconds=6))
    assert len(result["batchItemFailures"]) >= 1
    assert stack.dead_letters() == []  # transient: SQS will deliver it again


def test_server_errors_are_retried(stack, invoke):
    event = stack.create_api("https://flaky.example.com", "Flaky")
    stack.emulator.inject(Fault("status", status=503, times=2, path_prefix="/api/v2/resource-servers"))
    assert invoke(stack.sqs_event([event])) == {"batchItemFailures": []}
    assert_enabled(stack.emulator, "https://flaky.example.com")


def test_a_post_that_fails_with_5xx_is_returned_not_resent(stack, invoke):
    event = stack.create_api("https://post503.example.com", "P")
    stack.emulator.inject(Fault("status", status=503, times=1, path_prefix="/api/v2/clients", method="POST"))
    result = invoke(stack.sqs_event([event]))
    assert len(result["batchItemFailures"]) == 1
    assert invoke(stack.sqs_event([event])) == {"batchItemFailures": []}  # SQS delivers it again
    assert_enabled(stack.emulator, "https://post503.example.com")


def test_token_expiry_and_a_401_are_survived(stack, invoke):
    stack.emulator.token_lifetime = 2
    first = stack.create_api("https://t1.example.com", "T1")
    assert invoke(stack.sqs_event([first])) == {"batchItemFailures": []}
    import time

    time.sleep(2.2)
    second = stack.create_api("https://t2.example.com", "T2")
    assert invoke(stack.sqs_event([second])) == {"batchItemFailures": []}
    stack.emulator.inject(Fault("unauthorized", times=1))
    third = stack.create_api("https://t3.example.com", "T3")
    assert invoke(stack.sqs_event([third])) == {"batchItemFailures": []}
    for name in ("t1", "t2", "t3"):
        assert_enabled(stack.emulator, f"https://{name}.example.com")
    assert stack.emulator.token_requests == 3


def test_insufficient_scope_goes_to_the_dlq_as_a_configuration_error(stack, invoke):
    stack.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=["read:resource_servers"])
    event = stack.create_api("https://scope.example.com", "Scope")
    assert invoke(stack.sqs_event([event])) == {"batchItemFailures": []}
    (dead,) = stack.dead_letters()
    attributes = dead["MessageAttributes"]
    assert attributes["ERROR_KIND"]["StringValue"] == "configuration"
    assert "insufficient_scope" in attributes["ERROR_REASON"]["StringValue"]
    assert json.loads(dead["Body"]) == event  # the original body, ready for a replay


def test_fix_the_scope_then_replay_works_at_once(stack, invoke, new_instance):
    """Regression (the README's runbook): the token without the scope stayed cached in memory and in
    Secrets Manager, so after the scope was granted a replay was dead-lettered again for up to 24 h."""
    stack.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=["read:resource_servers"])
    event = stack.create_api("https://scope-fixed.example.com", "Scope fixed")
    assert invoke(stack.sqs_event([event])) == {"batchItemFailures": []}
    (dead,) = stack.dead_letters()
    assert "insufficient_scope" in dead["MessageAttributes"]["ERROR_REASON"]["StringValue"]
    # The operator grants the scopes of the mode, then replays: the same warm instance, and a cold one.
    stack.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET,
                                  scopes=required_scopes(MODE_ON_BEHALF_OF, with_grants=False))
    replayed = json.loads(dead["Body"])
    assert invoke(stack.sqs_event([replayed])) == {"batchItemFailures": []}
    assert stack.dead_letters() == []
    (client,) = custom_clients(stack.emulator, "https://scope-fixed.example.com")
    assert "on_behalf_of_token_exchange" in client["token_exchange"]["allow_any_profile_of_type"]
    other = stack.create_api("https://scope-fixed-2.example.com", "Scope fixed 2")
    assert new_instance().lambda_handler(stack.sqs_event([other]), LambdaContext()) == {"batchItemFailures": []}
    assert stack.dead_letters() == []


def test_legacy_mode_patches_the_resource_server(stack, invoke, monkeypatch):
    monkeypatch.setenv("TOKEN_EXCHANGE_MODE", "legacy_resource_server")
    stack.emulator.legacy_token_exchange_field = True
    stack.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=LEGACY_SCOPES)
    event = stack.create_api("https://legacy.example.com", "Legacy")
    before = stack.emulator.management_calls
    assert invoke(stack.sqs_event([event])) == {"batchItemFailures": []}
    assert stack.emulator.management_calls - before == 1
    (server,) = [s for s in stack.emulator.resource_servers if s["identifier"] == "https://legacy.example.com"]
    assert server["token_exchange"] == [
        {"enabled_subject_token_types": "urn:ietf:params:oauth:token-type:access_token"}]


def test_legacy_mode_on_a_current_tenant_is_reported_once_and_not_retried(stack, invoke, monkeypatch):
    monkeypatch.setenv("TOKEN_EXCHANGE_MODE", "legacy_resource_server")
    stack.emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=LEGACY_SCOPES)
    event = stack.create_api("https://legacy2.example.com", "Legacy")
    before = stack.emulator.management_calls
    assert invoke(stack.sqs_event([event])) == {"batchItemFailures": []}
    assert stack.emulator.management_calls - before == 1
    (dead,) = stack.dead_letters()
    reason = dead["MessageAttributes"]["ERROR_REASON"]["StringValue"]
    assert "does not support the legacy resource-server token_exchange field" in reason
    assert "TOKEN_EXCHANGE_MODE=on_behalf_of" in reason


def test_bad_configuration_fails_fast_naming_the_variable(stack, invoke, monkeypatch, capsys):
    monkeypatch.delenv("AUTH0_DOMAIN")
    monkeypatch.setenv("TOKEN_EXCHANGE_MODE", "sideways")
    from token_exchange_enabler.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        invoke(stack.sqs_event([{"detail-type": "Auth0 log"}]))
    assert "AUTH0_DOMAIN is required" in str(caught.value)
    assert "TOKEN_EXCHANGE_MODE must be one of" in str(caught.value)


def test_no_secret_or_token_in_any_log_output(stack, invoke, capfd, caplog, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    stack.emulator.token_lifetime = 1
    events = [stack.create_api(f"https://log{i}.example.com", f"L{i}") for i in range(3)]
    stack.emulator.inject(Fault("unauthorized", times=1))
    invoke(stack.sqs_event(events))
    out = capfd.readouterr()
    records = "\n".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    text = out.out + out.err + records
    assert "API enabled" in records  # the log was captured at all, extras included
    assert M2M_CLIENT_SECRET not in text
    for token in stack.emulator.issued_tokens:
        assert token not in text
    assert stack.emulator.tokens_issued >= 2


def test_secrets_manager_cache_is_shared_between_instances(stack, new_instance):
    a, b = new_instance(), new_instance()
    e1, e2 = (stack.create_api(f"https://share{i}.example.com", f"S{i}") for i in range(2))
    assert a.lambda_handler(stack.sqs_event([e1]), LambdaContext()) == {"batchItemFailures": []}
    assert b.lambda_handler(stack.sqs_event([e2]), LambdaContext()) == {"batchItemFailures": []}
    assert stack.emulator.token_requests == 1
    cached = boto3.client("secretsmanager").get_secret_value(SecretId=stack.env["TOKEN_CACHE_SECRET_ID"])
    assert "access_token" in json.loads(cached["SecretString"])


def test_an_all_failed_batch_returns_every_record_without_raising(stack, invoke):
    events = [stack.create_api(f"https://down{i}.example.com", f"D{i}") for i in range(3)]
    stack.emulator.inject(Fault("status", status=503, times=None, path_prefix="/api/v2/resource-servers"))
    event = stack.sqs_event(events)
    result = invoke(event)
    stack.emulator.clear_faults()
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(
        r["messageId"] for r in event["Records"])
    assert stack.dead_letters() == []  # transient: back to the queue, not to the DLQ
