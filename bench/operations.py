"""Operations on the local stack: a replay of dead letters and a reconciliation sweep, measured.

    .venv/bin/python -m bench.operations [--dead-letters 500] [--apis 1000] [--enabled 0.3] [--json]

Everything runs as an operator would run it: the ``token-exchange-enabler`` CLI (in this process),
against the stack built from template.yaml in moto's server and the Auth0 emulator over HTTP with
Auth0's published Enterprise rate limit (burst 50, 16 requests/s).

* replay: the worker's dead-letter queue holds N dead letters, a quarter of each shape (the
  worker's own, SQS redrive, EventBridge's, a Lambda failure record); ``replay --one-by-one``
  (moto has no StartMessageMoveTask) moves them to the source queue. Checked: each event arrives
  exactly once.
* reconcile: the tenant holds N APIs (created directly in the emulator, as from the Dashboard), a
  fraction of them already enabled; ``reconcile`` enables the rest, then runs a second time.
  Checked: every API has exactly one Custom API client allowing On-Behalf-Of.

Figures go to stdout (a table, or ``--json``); progress to stderr.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import Counter
from typing import Any

OBO = "on_behalf_of_token_exchange"
DOMAIN = "acme.eu.auth0.com"
M2M_CLIENT_ID = "bench00000000000000000000000m2m"
M2M_CLIENT_SECRET = "bench-secret-" + "b" * 51
SCOPES = ["read:resource_servers", "read:clients", "create:clients", "update:clients"]


def note(text: str) -> None:
    print(f"[bench.operations] {text}", file=sys.stderr, flush=True)


def cli(env: dict[str, str], *argv: str) -> tuple[int, dict, float]:
    """Run the CLI in this process; (exit code, its JSON output, seconds)."""
    from token_exchange_enabler.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = main([*argv, "--json", "--quiet"], environ=env, out=out, err=err)
    seconds = time.perf_counter() - started
    if code not in (0, 1):
        raise SystemExit(f"token-exchange-enabler {' '.join(argv)} exited {code}: {err.getvalue()}")
    return code, json.loads(out.getvalue()), seconds


def fill_dead_letter_queue(stack, events: list[dict]) -> None:
    """The events as dead letters, a quarter of each shape."""
    import boto3

    sqs = boto3.client("sqs")
    entries: list[dict[str, Any]] = []
    for i, event in enumerate(events):
        body = json.dumps(event)
        attributes: dict[str, str] = {}
        shape = i % 4
        if shape == 0:  # the worker's own: a permanent failure, reason attached
            attributes = {"ERROR_KIND": "configuration", "ERROR_REASON": "403 insufficient_scope"}
        elif shape == 2:  # EventBridge's target dead letter
            attributes = {"ERROR_CODE": "SQS_PERMISSION_DENIED", "ERROR_MESSAGE": "denied", "RULE_ARN": stack.rule_arn}
        elif shape == 3:  # a Lambda asynchronous-invocation failure record
            body = json.dumps({"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event,
                               "responsePayload": {"errorMessage": "timeout", "errorType": "Sandbox.Timedout"}})
        entry: dict[str, Any] = {"Id": str(len(entries)), "MessageBody": body}
        if attributes:
            entry["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        entries.append(entry)  # shape 1: SQS redrive (the body, no attributes)
        if len(entries) == 10:
            sqs.send_message_batch(QueueUrl=stack.dlq_url, Entries=entries)
            entries = []
    if entries:
        sqs.send_message_batch(QueueUrl=stack.dlq_url, Entries=entries)


def count_source_queue(stack) -> Counter:
    """REPLAY_OF of every message on the source queue (drained)."""
    import boto3

    sqs = boto3.client("sqs")
    seen: Counter = Counter()
    while messages := sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                          MessageAttributeNames=["All"]).get("Messages", []):
        for message in messages:
            seen[message["MessageAttributes"]["REPLAY_OF"]["StringValue"]] += 1
        sqs.delete_message_batch(QueueUrl=stack.queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return seen


def bench_replay(stack, emulator, env: dict[str, str], count: int) -> dict:
    from local.auth0_emulator import eventbridge_envelope

    note(f"replay: creating {count} APIs and their dead letters")
    captured: list[dict] = []
    emulator.on_log_event = captured.append
    for i in range(count):
        emulator.create_resource_server({"identifier": f"https://dead{i:05}.example.com", "name": f"Dead {i}"})
    emulator.on_log_event = None
    fill_dead_letter_queue(stack, [eventbridge_envelope(record, DOMAIN) for record in captured])
    note("replay: token-exchange-enabler replay --one-by-one")
    code, report, seconds = cli(env, "replay", "--one-by-one", "--wait-seconds", "0")
    seen = count_source_queue(stack)
    return {
        "dead_letters": count,
        "moved": report["moved"],
        "seconds": round(seconds, 2),
        "messages_per_second": round(report["moved"] / seconds, 1),
        "exit_code": code,
        "arrived_once": sum(1 for n in seen.values() if n == 1),
        "arrived_twice_or_more": sum(1 for n in seen.values() if n > 1),
        "left_in_dead_letter_queue": len(report["left"]),
    }


def bench_reconcile(stack, emulator, env: dict[str, str], apis: int, enabled_fraction: float) -> dict:
    import requests

    from local.auth0_emulator import RateLimit

    enabled = int(apis * enabled_fraction)
    note(f"reconcile: creating {apis} APIs, {enabled} of them already enabled")
    emulator.rate_limit = None  # seeding is not what is measured
    servers = [emulator.create_resource_server({"identifier": f"https://api{i:05}.example.com", "name": f"API {i}"})
               for i in range(apis)]
    token = emulator.issue_token(M2M_CLIENT_ID, scopes=["create:clients"])
    with requests.Session() as session:
        for i, server in enumerate(servers[:enabled]):
            session.post(f"{emulator.base_url}/api/v2/clients", timeout=10,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"name": f"API {i} (token exchange)", "app_type": "resource_server",
                               "resource_server_identifier": server["identifier"],
                               "token_exchange": {"allow_any_profile_of_type": [OBO]}}).raise_for_status()
    emulator.rate_limit = RateLimit.enterprise()  # a full bucket: burst 50, 16/s
    calls, limited = emulator.management_calls, emulator.rate_limited

    note("reconcile: token-exchange-enabler reconcile (first run)")
    code, first, first_seconds = cli(env, "reconcile")
    first_calls, first_429 = emulator.management_calls - calls, emulator.rate_limited - limited
    note("reconcile: second run")
    calls, writes = emulator.management_calls, _writes(emulator)
    _, second, second_seconds = cli(env, "reconcile")

    clients = Counter(c.get("resource_server_identifier") for c in emulator.clients
                      if c.get("app_type") == "resource_server" and OBO in
                      ((c.get("token_exchange") or {}).get("allow_any_profile_of_type") or []))
    return {
        "apis": apis,
        "already_enabled": enabled,
        "rate_limit": "enterprise (burst 50, 16/s)",
        "first_run": {
            "seconds": round(first_seconds, 1),
            "management_calls": first_calls,
            "calls_per_api": round(first_calls / apis, 3),
            "writes": first["enabled"],
            "rate_limited_429": first_429,
            "exit_code": code,
        },
        "second_run": {
            "seconds": round(second_seconds, 1),
            "management_calls": emulator.management_calls - calls,
            "writes": _writes(emulator) - writes,
        },
        "apis_with_exactly_one_obo_client": sum(1 for s in servers if clients[s["identifier"]] == 1),
    }


def _writes(emulator) -> int:
    return sum(n for key, n in emulator.counters.items() if " /api/v2/" in key and not key.startswith("GET "))


def render(results: dict) -> str:
    r, c = results["replay"], results["reconcile"]
    first, second = c["first_run"], c["second_run"]
    return "\n".join([
        "operation                         figure",
        "--------------------------------  ---------------------------------------------------------------",
        f"replay (one by one)               {r['moved']}/{r['dead_letters']} dead letters in {r['seconds']} s = "
        f"{r['messages_per_second']} messages/s; {r['arrived_once']} arrived once, "
        f"{r['arrived_twice_or_more']} twice",
        f"reconcile, first run              {c['apis']} APIs ({c['already_enabled']} already enabled) in "
        f"{first['seconds']} s: {first['management_calls']} Management API calls = {first['calls_per_api']} per API, "
        f"{first['writes']} writes, {first['rate_limited_429']} answered 429",
        f"reconcile, second run             {second['management_calls']} calls, {second['writes']} writes, "
        f"{second['seconds']} s",
        f"check                             {c['apis_with_exactly_one_obo_client']}/{c['apis']} APIs with exactly one "
        "Custom API client allowing On-Behalf-Of",
        f"setting                           Auth0 emulator, {c['rate_limit']}; AWS: moto server (local stack)",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.operations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dead-letters", type=int, default=500)
    parser.add_argument("--apis", type=int, default=1000)
    parser.add_argument("--enabled", type=float, default=0.3, help="fraction of the APIs already enabled")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from local.auth0_emulator import Auth0Emulator
    from local.aws import local_aws_environment
    from local.stack import deploy_local_stack

    with local_aws_environment() as aws, Auth0Emulator(domain=DOMAIN) as emulator:
        emulator.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=SCOPES)
        results = {}
        for name in ("replay", "reconcile"):
            aws.reset()
            emulator.reset()
            stack = deploy_local_stack({"Auth0Domain": DOMAIN},
                                       credentials={"client_id": M2M_CLIENT_ID, "client_secret": M2M_CLIENT_SECRET})
            env = {**stack.functions["ReplayFunction"].environment, "AUTH0_BASE_URL": emulator.base_url}
            if name == "replay":
                results[name] = bench_replay(stack, emulator, env, args.dead_letters)
            else:
                results[name] = bench_reconcile(stack, emulator, env, args.apis, args.enabled)
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
