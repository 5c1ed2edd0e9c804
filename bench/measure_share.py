"""3b. Sharing the tenant's bucket: a burst of new APIs while another client of the tenant works.

The product's ``MANAGEMENT_API_RATE_SHARE`` (share) keeps a *reserve* in the tenant's Management
API bucket: every instance holds its next call while Auth0's ``x-ratelimit-*`` headers show the
bucket at or below (1 - share) x its size. It is a floor under the bucket's level, not a cap on the
product's rate: above the floor the product spends freely, so it gets every token the tenant's
other clients leave.

Each run drains a burst of new APIs (created directly in the emulator, as in ``drain``: the
creator spends no bucket) on the Enterprise bucket, optionally while a neighbour (another M2M
application of the tenant, its own token, over HTTP) reads at a steady share of the bucket's rate
from the first event streamed until the last outcome; a 429 it meets is counted, not retried.

drain    = from the first "API created" event streamed to the last outcome
calls    = the product's Management API requests that were served (429s excluded)
reserve  = (1 - share) x burst                  tokens the product leaves in the bucket
n        = the neighbour's served requests / the seconds it ran (the tokens it took; 0 without one)
ideal    = max(0, calls - (burst - reserve)) / (rate - n)

The ideal is the least time in which the bucket can serve ``calls`` to the product while serving
the neighbour what it took and never going below the reserve because of the product: the bucket
holds ``burst`` at the start and gains ``rate`` a second, of which the neighbour takes ``n`` a second
(its part of the burst included), and ``reserve`` must still be there after the product's last
call. With share 1.0 and no neighbour it is ``drain``'s ideal, max(0, calls - burst) / rate.

Not ``calls / (share x rate)``: with a neighbour at 0.4 of the rate and share 0.5 the product may
use 0.6 of the rate (everything above the reserve), so an ideal at 0.5 of the rate would be 20 %
longer than what is possible and the target that much easier.

Targets: the neighbour meets no 429; the product's 429s per served call <= 0.05; drain <= 1.15 x ideal.
"""

from __future__ import annotations

from typing import Any

from bench.common import progress
from bench.pipeline_run import run_isolated

BURST, RATE = 50, 16.0  # local/auth0_emulator RateLimit.enterprise()
NEIGHBOUR_SHARE = 0.4
TARGET_NEIGHBOUR_429 = 0
TARGET_429_PER_CALL = 0.05
TARGET_RATIO = 1.15
IDEAL_FORMULA = ("ideal = max(0, calls served - (burst - reserve)) / (rate - n), reserve = (1 - share) x burst, "
                 "n = the neighbour's served requests per second (0 without one)")
# (key, share, neighbour's share of the rate, what the run shows); the first two have targets.
RUNS: tuple[tuple[str, float, float, str], ...] = (
    ("share 0.5, neighbour 0.4", 0.5, NEIGHBOUR_SHARE, "the default with another client at 40 % of the rate"),
    ("share 1.0, no neighbour", 1.0, 0.0, "the whole bucket, nobody else"),
    ("share 1.0, neighbour 0.4", 1.0, NEIGHBOUR_SHARE, "comparison: the whole bucket with the same neighbour "
                                                       "(no reserve kept)"),
    ("share 0.5, no neighbour", 0.5, 0.0, "comparison: what the reserve costs when nobody else needs it"),
)
WITH_TARGETS = RUNS[0][0], RUNS[1][0]


def ideal_seconds(calls: int, share: float, neighbour_per_s: float, burst: int = BURST, rate: float = RATE
                  ) -> float | None:
    """The least drain time for ``calls`` served to the product (see the module's docstring)."""
    reserve = (1.0 - share) * burst
    left = rate - neighbour_per_s
    if left <= 0:
        return None
    return max(0.0, calls - (burst - reserve)) / left


def row(summary: dict[str, Any], apis: int, share: float, neighbour_share: float, note: str) -> dict[str, Any]:
    """One run's figures, each against its target."""
    served = summary["management_calls_served"]
    neighbour = summary.get("neighbour") or None
    n = (neighbour or {}).get("served_per_s") or 0.0
    ideal = ideal_seconds(served, share, n)
    drain = summary["drain_seconds"]
    ratio = round(drain / ideal, 3) if ideal and drain else None
    per_call = round(summary["rate_limited"] / served, 4) if served else None
    targets: dict[str, bool | None] = {
        "neighbour_429": None if neighbour is None else neighbour["rate_limited"] <= TARGET_NEIGHBOUR_429,
        "product_429_per_call": None if per_call is None else per_call <= TARGET_429_PER_CALL,
        "ratio": None if ratio is None else ratio <= TARGET_RATIO,
        "nothing_lost": summary["dead_lettered"] == 0 and summary["lost"] == 0,
    }
    return {
        "note": note, "apis": apis, "share": share, "neighbour_share": neighbour_share,
        "reserve_tokens": round((1.0 - share) * BURST, 2),
        "calls_served": served, "product_429": summary["rate_limited"], "product_429_per_served_call": per_call,
        "paced": summary.get("paced"), "neighbour": neighbour,
        "neighbour_rate_used_per_s": n, "ideal_s": None if ideal is None else round(ideal, 2), "drain_s": drain,
        "ratio": ratio, "enabled": summary["enabled"], "dead_lettered": summary["dead_lettered"],
        "lost": summary["lost"], "records_returned_to_queue": summary.get("failed_records"),
        "invocations": summary["invocations"], "concurrency": summary["maximum_concurrency"],
        "token_requests": summary["token_requests"], "dead_letter_reasons": summary["dead_letter_reasons"],
        "targets_met": targets,
    }


def measure(quick: bool) -> dict:
    apis = 40 if quick else 300
    runs = {}
    progress(f"share: {IDEAL_FORMULA}")
    for key, share, neighbour_share, note in RUNS:
        progress(f"share: {apis} new APIs, Enterprise bucket (burst {BURST}, {RATE:g}/s), {key}")
        summary = run_isolated(f"share/{key}", apis=apis, rate_limit="enterprise", direct_create=True,
                               rate_share=share, neighbour_share=neighbour_share, timeout=900.0)
        runs[key] = row(summary, apis, share, neighbour_share, note)
        r = runs[key]
        progress(f"  {key}: neighbour {r['neighbour'] and r['neighbour']['rate_limited']} x 429; product "
                 f"{r['product_429']} x 429 in {r['calls_served']} served calls; drain {r['drain_s']} s = "
                 f"{r['ratio']} x ideal {r['ideal_s']} s")
    return {"creation": "direct (emulator.create_resource_server): the creator spends no bucket",
            "bucket": {"burst": BURST, "rate_per_s": RATE}, "ideal_formula": IDEAL_FORMULA,
            "targets": {"neighbour_429": TARGET_NEIGHBOUR_429, "product_429_per_served_call": TARGET_429_PER_CALL,
                        "ratio": TARGET_RATIO},
            "with_targets": list(WITH_TARGETS), "runs": runs}
