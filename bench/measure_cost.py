"""6. AWS cost of enabling 1,000 new APIs, at us-east-1 list prices: the product and both peers.

Burst (measured): each handler enables a burst of 1,000 new APIs (plus the tenant's system API)
on the local pipeline with the template's settings (batch size, MaximumConcurrency, memory size
read from template.yaml by the local stack), Auth0's Enterprise bucket and 24 h tokens; every
billable request is counted (bench/cost_run.py) and priced:

- Lambda: invocations, and GB-seconds = each invocation's wall time (cold start included: Lambda
  bills the INIT phase of ZIP functions on managed runtimes since August 2025), rounded up to the
  millisecond, x the template's MemorySize;
- EventBridge: Auth0's partner events, i.e. every log event the tenant streams: the API's creation,
  the handler's own Management API writes, and one ``seccft`` (client-credentials exchange) per
  token fetched (the emulator does not stream those; a tenant's unfiltered log stream does);
- SQS: EventBridge's SendMessage of each "API created" event, the event source mapping's
  ReceiveMessage calls that returned messages and its DeleteMessageBatch calls, any dead letters
  sent; empty receives are left out (the local stand-in short-polls; Lambda's pollers long-poll, an
  idle cost per month that is the same for every handler);
- Secrets Manager API calls, DynamoDB write and read request units (on-demand; every item checked
  to fit in 1 KB), CloudWatch Logs ingestion (the function's log lines, EMF metric blobs included,
  + 26 bytes per log event + Lambda's START/END/REPORT lines);
- per month, not per API: secrets stored, and the custom metrics defined by the EMF blobs.

One at a time (derived): 1,000 APIs that each arrive alone at a cold function, priced from the
first-record measurement (bench/first_record.py): one invocation each, lasting the median cold
start to the first record's outcome, with the AWS calls counted in its phase-stamped runs.

Free tiers are ignored. Moto's and the emulator's latency is loopback latency: durations on AWS,
against a real tenant, are longer (each Management API call costs tens to hundreds of ms).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import PEERS, ROOT, VISIBILITY_TIMEOUT, progress


@dataclass(frozen=True)
class Price:
    usd: float  # per `per` units
    per: int
    unit: str
    as_of: str
    source: str

    def cost(self, units: float) -> float:
        return units * self.usd / self.per


# us-east-1 list prices as of the month given with each, from the AWS pricing page given with each
# (read through dated copies and quotations of those pages; free tiers left out).
PRICES: dict[str, Price] = {
    "lambda_requests": Price(0.20, 1_000_000, "requests", "June 2026", "https://aws.amazon.com/lambda/pricing/"),
    # Arm (the template's architecture), first pricing tier (7.5 billion GB-seconds a month).
    "lambda_gb_seconds": Price(0.0000133334, 1, "GB-seconds (Arm)", "June 2026",
                               "https://aws.amazon.com/lambda/pricing/"),
    # "Custom events and partner (SaaS) events published": Auth0's log stream is a partner source.
    "eventbridge_events": Price(1.00, 1_000_000, "partner events", "June 2026",
                                "https://aws.amazon.com/eventbridge/pricing/"),
    # Standard queues, first 100 billion requests a month; each 64 KB chunk of a payload is a request.
    "sqs_requests": Price(0.40, 1_000_000, "requests", "March 2026", "https://aws.amazon.com/sqs/pricing/"),
    "secretsmanager_calls": Price(0.05, 10_000, "API calls", "September 2026",
                                  "https://aws.amazon.com/secrets-manager/pricing/"),
    "secretsmanager_secrets": Price(0.40, 1, "secret-months", "September 2026",
                                    "https://aws.amazon.com/secrets-manager/pricing/"),
    # On-demand, Standard table class (after the November 2024 price cut).
    "dynamodb_wru": Price(0.625, 1_000_000, "write request units", "July 2025",
                          "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "dynamodb_rru": Price(0.125, 1_000_000, "read request units", "July 2025",
                          "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    # Logs: data ingested, Standard class (Lambda's logs: the first 10 TB tier).
    "logs_gb": Price(0.50, 1, "GB ingested", "February 2026", "https://aws.amazon.com/cloudwatch/pricing/"),
    # Metrics: custom metrics (EMF included), first 10,000, per metric per month.
    "custom_metrics": Price(0.30, 1, "metric-months", "February 2026", "https://aws.amazon.com/cloudwatch/pricing/"),
}

API_COUNT = 1000
GB = 2**30  # AWS bills data in GB of 2^30 bytes
LOG_EVENT_OVERHEAD = 26  # bytes CloudWatch Logs counts per log event on top of its message
# Lambda's own lines per invocation: START (~75 B), END (~55 B), REPORT (~190 B with Init Duration).
PLATFORM_LOG_BYTES = 320
PLATFORM_LOG_EVENTS = 3
DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
DYNAMODB_READS = ("GetItem",)

# Rows of the cost table: key, label, price key.
KINDS = (
    ("lambda_requests", "Lambda invocations", "lambda_requests"),
    ("lambda_gb_seconds", "Lambda duration (GB-s)", "lambda_gb_seconds"),
    ("eventbridge_events", "EventBridge partner events", "eventbridge_events"),
    ("sqs_requests", "SQS requests", "sqs_requests"),
    ("secretsmanager_calls", "Secrets Manager API calls", "secretsmanager_calls"),
    ("dynamodb_wru", "DynamoDB write request units", "dynamodb_wru"),
    ("dynamodb_rru", "DynamoDB read request units", "dynamodb_rru"),
    ("logs_gb", "CloudWatch Logs ingested (GB)", "logs_gb"),
)


def run_counted(label: str, **options) -> dict:
    """bench.cost_run in a child process (moto keeps its state per process); its summary.

    ``timeout``: how long the pipeline waits for every outcome (the child gets a little longer).
    """
    timeout = options.setdefault("timeout", 900.0) + 120.0
    options.setdefault("visibility_timeout", VISIBILITY_TIMEOUT)
    options.setdefault("function_timeout", None)
    payload = json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in options.items()})
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["BENCH_LABEL"] = label
    done = subprocess.run([sys.executable, "-m", "bench.cost_run"], input=payload, cwd=ROOT, env=env,  # noqa: S603
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"cost run {label!r} failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _priced(counts: dict[str, float]) -> dict:
    costs = {key: PRICES[price].cost(counts[key]) for key, _, price in KINDS}
    return {"counts": {k: round(v, 6) for k, v in counts.items()},
            "costs_usd": {k: round(v, 8) for k, v in costs.items()}, "total_usd": round(sum(costs.values()), 6)}


def burst_counts(s: dict) -> tuple[dict[str, float], dict]:
    """Counts per 1,000 new APIs from one counted pipeline run; and what they were derived from."""
    new_apis = s["apis_created"] - 1  # the system API is not a new API (its record costs are kept)
    scale = API_COUNT / new_apis
    requests: dict[str, int] = s["aws_requests"]

    def total(prefix: str, *operations: str, role: str | None = None) -> int:
        return sum(n for key, n in requests.items()
                   if key.startswith(prefix) and key.split(":")[1] in operations
                   and (role is None or key.split(":")[2:] == [role]))

    sqs = (total("AmazonSQS:", "ReceiveMessage", "DeleteMessageBatch", "DeleteMessage", "ChangeMessageVisibility",
                 "ChangeMessageVisibilityBatch", role="queue")
           + total("AmazonSQS:", "SendMessage", "SendMessageBatch", role="dead-letter queue")
           + s["apis_created"])  # EventBridge's SendMessage of each "API created" event
    secrets = sum(n for key, n in requests.items() if key.startswith("secretsmanager:"))
    writes = total("DynamoDB_20120810:", *DYNAMODB_WRITES)
    reads = total("DynamoDB_20120810:", *DYNAMODB_READS)
    billed_ms = sum(math.ceil(ms) for ms in s["invocation_ms"])
    memory_mb = s["memory_mb"]
    logs = s["logs"]
    log_bytes = (logs["bytes"] + LOG_EVENT_OVERHEAD * logs["lines"]
                 + (PLATFORM_LOG_BYTES + LOG_EVENT_OVERHEAD * PLATFORM_LOG_EVENTS) * s["invocations"])
    counts = {
        "lambda_requests": s["invocations"] * scale,
        "lambda_gb_seconds": billed_ms / 1000 * memory_mb / 1024 * scale,
        "eventbridge_events": (s["log_events_streamed"] + s["token_requests"]) * scale,
        "sqs_requests": sqs * scale,
        "secretsmanager_calls": secrets * scale,
        "dynamodb_wru": writes * scale,  # every item fits in 1 KB (checked by the caller)
        "dynamodb_rru": reads * scale,
        "logs_gb": log_bytes / GB * scale,
    }
    basis = {"new_apis": new_apis, "invocations": s["invocations"], "cold_starts": s["cold_starts"],
             "billed_ms": billed_ms, "memory_mb": memory_mb, "log_bytes": log_bytes, "emf_bytes": logs["emf_bytes"],
             "token_requests": s["token_requests"], "management_calls": s["management_calls"],
             "rate_limited": s["rate_limited"], "seconds": s["seconds"], "enabled": s["enabled"],
             "dead_lettered": s["dead_lettered"], "lost": s["lost"], "aws_requests": requests,
             "custom_metrics": s["custom_metrics"], "largest_item_bytes": s.get("largest_item_bytes")}
    return counts, basis


def one_at_a_time(first_record: dict, memory_mb: int, partner_events_per_api: dict[str, float]) -> dict:
    """Each API alone at a cold function: priced from the first-record measurement's medians."""
    out = {}
    for name, c in first_record["contenders"].items():
        phases = c["phases"]
        peer = name if name in ("naive", "auth0_python") else "product"

        def calls(prefix: str, phases: dict = phases) -> int:
            return sum(p["calls"] for key, p in phases.items() if key.startswith(prefix))

        token_fetches = calls("auth0 POST /oauth/token")
        per_api = {
            "lambda_requests": 1,
            "lambda_gb_seconds": math.ceil(c["spawn_to_outcome"]["median_ms"]) / 1000 * memory_mb / 1024,
            # the creation and the handler's own writes (as in the burst), and each token fetch
            "eventbridge_events": partner_events_per_api.get(peer, 2.0) + token_fetches,
            "sqs_requests": 3,  # EventBridge's SendMessage, one ReceiveMessage, one DeleteMessageBatch
            "secretsmanager_calls": calls("aws secretsmanager"),
            "dynamodb_wru": sum(calls(f"aws dynamodb {op}") for op in DYNAMODB_WRITES),
            "dynamodb_rru": sum(calls(f"aws dynamodb {op}") for op in DYNAMODB_READS),
            "logs_gb": (c["log_bytes"] + LOG_EVENT_OVERHEAD * c.get("log_lines", 0) + PLATFORM_LOG_BYTES
                        + LOG_EVENT_OVERHEAD * PLATFORM_LOG_EVENTS) / GB,
        }
        out[name] = {"label": c["label"], **_priced({k: v * API_COUNT for k, v in per_api.items()}),
                     "cold_start_ms": c["spawn_to_outcome"]["median_ms"]}
    return out


def measure(quick: bool, sdk_view: Path | None, first_record: dict | None = None) -> dict:
    apis = 11 if quick else API_COUNT + 1
    contenders: dict[str, dict] = {}
    memory_mb = None
    partner_events: dict[str, float] = {}
    for peer in PEERS:
        progress(f"cost: {peer.label}, {apis} APIs (one system API), enterprise bucket, template settings, "
                 "every AWS request counted")
        s = run_counted(f"cost/{peer.name}", apis=apis, rate_limit="enterprise", direct_create=True, timeout=900.0,
                        extra_environment={"POWERTOOLS_METRICS_DISABLED": "false"}, **peer.pipeline_options(sdk_view))
        if s["lost"] or s["dead_lettered"] or s["enabled"] != s["apis_created"] - 1:
            raise RuntimeError(f"cost run {peer.name}: not every new API was enabled: {s}")
        if (s.get("largest_item_bytes") or 0) > 1024:
            raise RuntimeError(f"cost run {peer.name}: an item written to DynamoDB exceeds 1 KB; price the extra units")
        counts, basis = burst_counts(s)
        memory_mb = basis["memory_mb"]
        # per new API: its creation and the handler's own writes (the system API's creation left out)
        partner_events[peer.name] = (s["log_events_streamed"] - 1) / (s["apis_created"] - 1)
        metrics = len(s["custom_metrics"])
        secrets = 2 if any("token cache" in key for key in s["aws_requests"]) else 1
        monthly = {"secrets": secrets, "custom_metrics": metrics,
                   "usd": round(PRICES["secretsmanager_secrets"].cost(secrets) + PRICES["custom_metrics"].cost(metrics),
                                2)}
        contenders[peer.name] = {"label": peer.label, **_priced(counts), "basis": basis, "per_month": monthly}
    result = {"apis": API_COUNT, "measured_apis": apis - 1, "memory_mb": memory_mb,
              "prices": {k: asdict(v) for k, v in PRICES.items()}, "burst": contenders,
              "one_at_a_time": None}
    if first_record and memory_mb:
        result["one_at_a_time"] = one_at_a_time(first_record, memory_mb, partner_events)
    return result
