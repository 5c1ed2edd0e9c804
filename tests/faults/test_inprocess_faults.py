"""Narrow fault scenarios with the real handler in this process (tests/integration's fixtures:
moto's server and the Auth0 emulator over HTTP), where the pipeline cannot place events precisely:
several warm instances given the same events at the same moment, and events that arrive after the
tenant changed under them."""

from __future__ import annotations

import random
import threading
import time

import boto3
import pytest

from local.auth0_emulator import Fault
from tests.faults.support import Row, assert_every_api_has_an_outcome, custom_clients, keep
from tests.integration.conftest import LambdaContext

pytestmark = [pytest.mark.faults, pytest.mark.integration]
OBO = "on_behalf_of_token_exchange"


def outcomes(caplog) -> list[dict]:
    """The outcome of each record handled so far, from the worker's "API <status>" log records."""
    found = []
    for record in caplog.records:
        status = getattr(record, "status", None)
        if status and record.getMessage() == f"API {status}":
            found.append({k: getattr(record, k, None) for k in ("status", "api_id", "identifier", "reason")})
    return found


def test_instances_processing_duplicates_of_one_api_at_the_same_moment(stack, new_instance, caplog):
    """Four warm instances each get a batch with the same five new APIs (in different orders) at the
    same moment, with creates slowed down so that they overlap: one client per API; a delivery that
    meets another instance's lock goes back to the queue (never acknowledged unseen) and, delivered
    again as SQS would, finds its API enabled."""
    apis = [stack.create_api(f"https://race{i}.example.com", f"Race {i}") for i in range(5)]
    instances = [new_instance() for _ in range(4)]
    for module in instances:  # warm: each has its token, so that they start together
        assert module.lambda_handler(stack.sqs_event([stack.create_api(f"https://warm{id(module)}.example.com")]),
                                     LambdaContext()) == {"batchItemFailures": []}
    stack.emulator.inject(Fault("latency", delay=0.3, times=None, path_prefix="/api/v2/clients", method="POST"))
    creates_before = stack.emulator.counters.get("POST /api/v2/clients", 0)
    caplog.clear()
    barrier = threading.Barrier(len(instances))
    lock = threading.Lock()
    pending: list[tuple[object, list[dict]]] = []
    started = time.monotonic()

    def run(module, order: list[dict]) -> None:
        barrier.wait()
        event = stack.sqs_event(order)
        result = module.lambda_handler(event, LambdaContext())
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        with lock:
            returned = [api for api, record in zip(order, event["Records"], strict=True)
                        if record["messageId"] in failed]
            if returned:
                pending.append((module, returned))

    threads = []
    for n, module in enumerate(instances):
        order = apis[:]
        random.Random(n).shuffle(order)
        threads.append(threading.Thread(target=run, args=(module, order)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    stack.emulator.clear_faults()
    returned_first = sum(len(events) for _, events in pending)
    rounds = 0
    while pending and rounds < 5:  # SQS delivers what came back, after the visibility timeout
        rounds += 1
        again, pending = pending, []
        for module, events in again:
            result = module.lambda_handler(stack.sqs_event(events), LambdaContext())
            if result["batchItemFailures"]:
                pending.append((module, events))
    seconds = time.monotonic() - started

    assert pending == []
    clients = custom_clients(stack.emulator)
    per_api = {f"https://race{i}.example.com": len(clients.get(f"https://race{i}.example.com", [])) for i in range(5)}
    duplicates = sum(1 for n in per_api.values() if n > 1)
    decided = outcomes(caplog)
    creates = stack.emulator.counters.get("POST /api/v2/clients", 0) - creates_before
    enabled = {o["identifier"] for o in decided if o["status"] in ("enabled", "already_enabled")}
    rows = [{"status": "enabled" if identifier in enabled and any(
        OBO in c["token_exchange"]["allow_any_profile_of_type"] for c in clients.get(identifier, [])) else "pending",
        "reason": ""} for identifier in per_api]
    keep(Row("same APIs, 4 instances at the same moment", "in-process", 4 * len(apis), len(apis),
             sum(1 for r in rows if r["status"] == "enabled"), 0, 0, sum(1 for r in rows if r["status"] == "pending"),
             duplicates, seconds,
             f"{returned_first} deliveries met another instance's lock and went back to the queue; "
             f"all acknowledged after {rounds} redelivery round(s)"))
    assert_every_api_has_an_outcome(rows)
    assert duplicates == 0 and all(n == 1 for n in per_api.values())
    assert creates == len(apis)  # one create per API, by whichever instance came first
    # Every delivery ends acknowledged with a true outcome: enabled once, already enabled otherwise.
    assert sum(1 for o in decided if o["status"] == "enabled") == len(apis)
    assert sum(1 for o in decided if o["status"] == "already_enabled") == 3 * len(apis)


def test_events_that_arrive_after_the_tenant_changed(stack, invoke, caplog):
    """Out of order: the API was deleted before its event is handled; someone made its Custom API
    client (with another profile) before the event arrived; the events are replayed later; the
    worker's own "Create a client" events come back through the
    stream."""
    started = time.monotonic()
    deleted = stack.create_api("https://gone.example.com", "Gone")
    premade = stack.create_api("https://premade.example.com", "Premade")
    late = stack.create_api("https://late.example.com", "Late")
    api_id = deleted["detail"]["data"]["details"]["response"]["body"]["id"]
    stack.emulator._tenant.delete_resource_server(api_id)  # noqa: SLF001 - deleted in the Dashboard
    stack.emulator._tenant.create_client({  # noqa: SLF001 - made by Terraform, before the event
        "name": "Premade (terraform)", "app_type": "resource_server",
        "resource_server_identifier": "https://premade.example.com",
        "token_exchange": {"allow_any_profile_of_type": ["custom_authentication"]},
    })
    own_writes: list[dict] = []  # what the tenant streams of the worker's own writes
    stack.emulator.on_log_event = own_writes.append
    assert invoke(stack.sqs_event([deleted, premade, late])) == {"batchItemFailures": []}
    first = {o["identifier"]: o for o in outcomes(caplog)}
    caplog.clear()

    # Later the events come back (a replay), with the worker's own writes; no lock item is left.
    table = boto3.resource("dynamodb").Table(stack.table)
    assert table.scan()["Items"] == []  # every lock was released
    calls_before = stack.emulator.counters.get("POST /api/v2/clients", 0)
    assert invoke(stack.sqs_event([late, premade])) == {"batchItemFailures": []}
    stack.emulator.on_log_event = None
    replayed = {o["identifier"]: o for o in outcomes(caplog)}
    from local.auth0_emulator import eventbridge_envelope

    echoes = [eventbridge_envelope(r, stack.emulator.domain) for r in own_writes]
    before = stack.emulator.management_calls
    assert invoke(stack.sqs_event(echoes or [late])) == {"batchItemFailures": []}
    assert stack.emulator.management_calls == before  # the worker never reacts to its own writes
    seconds = time.monotonic() - started

    assert first["https://gone.example.com"]["status"] == "skipped"
    assert "no longer exists" in first["https://gone.example.com"]["reason"]
    assert first["https://premade.example.com"]["status"] == "enabled"
    assert "existing Custom API client" in first["https://premade.example.com"]["reason"]
    assert replayed["https://late.example.com"]["status"] == "already_enabled"
    assert replayed["https://premade.example.com"]["status"] == "already_enabled"
    assert stack.emulator.counters.get("POST /api/v2/clients", 0) == calls_before  # no new client
    clients = custom_clients(stack.emulator)
    (premade_client,) = clients["https://premade.example.com"]
    assert premade_client["token_exchange"]["allow_any_profile_of_type"] == ["custom_authentication", OBO]
    assert len(clients["https://late.example.com"]) == 1
    duplicates = sum(1 for found in clients.values() if len(found) > 1)
    seen = [first["https://gone.example.com"], first["https://premade.example.com"],
                first["https://late.example.com"]]
    assert_every_api_has_an_outcome(seen)
    keep(Row("out of order: deleted API, pre-made client, late replay, own writes", "in-process",
             3 + 2 + len(echoes), 3, 2, 1, 0, 0, duplicates, seconds,
             f"late replays: already enabled (read under the lock); {len(echoes)} own writes ignored"))
    assert duplicates == 0 and len(echoes) >= 1
