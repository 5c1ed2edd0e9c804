"""3. Drain time of a burst of new APIs against Auth0's published Management API buckets.

The APIs are created directly in the emulator (``PipelineOptions.direct_create``: no HTTP, so the
creator does not spend the tenant's bucket; the same ``sapi`` events are streamed), so that only
the worker spends the bucket. The template's defaults apply otherwise (batch size 10,
MaximumConcurrency 5, function timeout 60 s); the queue's visibility timeout is 60 s (see
bench/common.py; the template's is 6 x the function timeout), so a record sent back to the queue
costs a minute here and six on AWS.

drain   = from the first "API created" event streamed to the last outcome
calls   = the worker's Management API requests that were served (429s excluded): the work
ideal   = max(0, calls - burst) / rate      (the bucket starts full)
ratio   = drain / ideal
"""

from __future__ import annotations

from bench.common import progress
from bench.pipeline_run import run_isolated

BUCKETS = {"enterprise": (50, 16.0), "free": (2, 2.0)}  # local/auth0_emulator RateLimit presets


def measure(quick: bool) -> dict:
    sizes = {"enterprise": 60, "free": 8} if quick else {"enterprise": 300, "free": 60}
    out = {}
    for bucket, apis in sizes.items():
        burst, rate = BUCKETS[bucket]
        progress(f"drain: {apis} new APIs against the {bucket} bucket (burst {burst}, {rate:g}/s)")
        s = run_isolated(f"drain/{bucket}", apis=apis, rate_limit=bucket, direct_create=True, timeout=600.0)
        served = s["management_calls"] - s["rate_limited"]
        ideal = max(0.0, served - burst) / rate
        drain = s["drain_seconds"]
        out[bucket] = {
            "apis": apis, "burst": burst, "rate_per_s": rate, "calls_served": served, "ideal_s": round(ideal, 2),
            "drain_s": drain, "ratio": round(drain / ideal, 3) if ideal and drain else None,
            "dead_lettered": s["dead_lettered"], "lost": s["lost"], "rate_limited_429": s["rate_limited"],
            "records_returned_to_queue": s.get("failed_records"), "enabled": s["enabled"],
            "concurrency": s["maximum_concurrency"], "invocations": s["invocations"],
            "dead_letter_reasons": s["dead_letter_reasons"],
        }
    return {"creation": "direct (emulator.create_resource_server): the creator spends no bucket",
            "ideal_formula": "max(0, calls - burst) / rate", "buckets": out}
