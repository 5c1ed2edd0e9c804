"""2. Management API calls per new API, per mode, from pipeline runs.

N APIs are created (one of them the tenant's system API, which the worker skips without any
call), their events stream through the local pipeline, and the worker's Management API
requests are counted by the Auth0 emulator: calls / (N - 1). The tenant has no rate limit here,
so every request counted is one the enabling logic chose to make (429 retries are measured
with the drain, section 3). In legacy mode the tenant accepts the 2019 ``token_exchange`` field.
"""

from __future__ import annotations

from bench.common import progress
from bench.pipeline_run import run_isolated

MODES = ("on_behalf_of", "legacy_resource_server")


def measure(quick: bool) -> dict:
    apis = 6 if quick else 51
    modes = {}
    for mode in MODES:
        progress(f"calls: {mode}, {apis} APIs (one system API)")
        s = run_isolated(f"calls/{mode}", apis=apis, mode=mode, rate_limit="none", direct_create=True, timeout=300.0)
        new_apis = s["apis_created"] - 1
        modes[mode] = {
            "new_apis": new_apis, "system_apis": 1, "management_calls": s["management_calls"],
            "calls_per_new_api": round(s["management_calls"] / max(1, new_apis), 2),
            "enabled": s["enabled"], "skipped": s["skipped"], "dead_lettered": s["dead_lettered"],
            "lost": s["lost"], "token_requests": s["token_requests"], "rate_limited": s["rate_limited"],
        }
    return {"apis": apis, "rate_limit": "none",
            "divisor": "new APIs = APIs created - 1 (the system API is skipped from its event, with no call)",
            "modes": modes}
