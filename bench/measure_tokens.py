"""1. Token requests to /oauth/token per token lifetime: the product against two peers.

Each handler processes the same burst of "API created" events (one of them the system API) on
the local pipeline at the same concurrency, against a tenant issuing short-lived tokens:

- product: in-memory token per warm instance + the shared Secrets Manager cache, one refresher;
- naive: a token per invocation (bench/peers/naive);
- auth0-python: Auth0's SDK, the token cached per process until 10 s before expiry or a 401
  (bench/peers/auth0_python).

Why 30 s tokens and the Enterprise bucket: the run must span several lifetimes, and the lifetime
must stay well above the SDK's fixed 10 s refresh leeway (a shorter one would charge the SDK peer
for an artefact). 1,000 events cost ~2,000 Management API calls, which the Enterprise bucket
(16/s) spreads over ~2 minutes, about four 30 s lifetimes.

Also reported (``policy``): what the product's refresh policy gives for other lifetimes, from its
real TokenProvider driven by a simulated clock (10 instances sharing an in-memory Secrets
Manager, each calling get() at random times) — Auth0's default lifetime is 86,400 s, which no
local run can span.
"""

from __future__ import annotations

import random
from pathlib import Path

from bench.common import PEERS, progress
from bench.pipeline_run import run_isolated

FULL = {"events": 1000, "token_lifetime": 30.0, "concurrency": 10, "rate_limit": "enterprise"}
QUICK = {"events": 60, "token_lifetime": 10.0, "concurrency": 10, "rate_limit": "enterprise"}
POLICY_LIFETIMES = (30.0, 60.0, 300.0, 600.0, 86400.0)


def measure(quick: bool, sdk_view: Path) -> dict:
    settings = QUICK if quick else FULL
    lifetime = settings["token_lifetime"]
    peers = {}
    for peer in PEERS:
        progress(f"tokens: {peer.label}, {settings['events']} events, {lifetime:g} s tokens, "
                 f"concurrency {settings['concurrency']}, {settings['rate_limit']} bucket")
        summary = run_isolated(
            f"tokens/{peer.name}", apis=settings["events"], rate_limit=settings["rate_limit"],
            token_lifetime=lifetime, concurrency=settings["concurrency"], direct_create=True,
            timeout=600.0, **peer.pipeline_options(sdk_view))
        lifetimes = summary["seconds"] / lifetime
        peers[peer.name] = {
            "label": peer.label,
            "token_requests": summary["token_requests"],
            "lifetimes_spanned": round(lifetimes, 2),
            "requests_per_lifetime": round(summary["token_requests"] / lifetimes, 2) if lifetimes else None,
            "management_calls": summary["management_calls"],
            "served_calls_per_api": round((summary["management_calls"] - summary["rate_limited"])
                                          / max(1, summary["apis_created"] - 1), 2),
            "rate_limited": summary["rate_limited"],
            "seconds": summary["seconds"],
            "invocations": summary["invocations"],
            "cold_starts": summary["cold_starts"],
            "enabled": summary["enabled"], "skipped": summary["skipped"],
            "dead_lettered": summary["dead_lettered"], "lost": summary["lost"],
            "duplicate_clients": summary["duplicate_clients"],
            "peak_rss_mb": max(summary.get("peak_rss_mb") or [0]) or None,
        }
    progress("tokens: the product's refresh policy on a simulated clock")
    return {**settings, "events_note": "one of the events is the tenant's system API (skipped, no calls)",
            "lifetimes_from": "seconds (first API created -> every outcome) / token lifetime",
            "peers": peers, "policy": policy(quick)}


def policy(quick: bool) -> dict:
    """Token fetches per lifetime by the product's TokenProvider, 10 instances, simulated clock."""
    from token_exchange_enabler.token_cache import Token, TokenProvider

    from bench.fakes import FakeSecretsManager

    lifetimes_run = 5 if quick else 50
    out = {}
    for lifetime in POLICY_LIFETIMES:
        now = [0.0]
        fetches = [0]

        def fetch(lifetime=lifetime, now=now, fetches=fetches) -> Token:
            fetches[0] += 1
            return Token(access_token=f"t{fetches[0]}", expires_at=now[0] + lifetime)

        def clock(now: list[float] = now) -> float:
            return now[0]

        def sleep(seconds: float, now: list[float] = now) -> None:
            now[0] += seconds

        secrets = FakeSecretsManager()
        providers = [TokenProvider(fetch=fetch, cache_secret_id="cache", secrets_client=secrets, clock=clock,
                                   sleep=sleep)
                     for _ in range(10)]
        rng = random.Random(7)
        step = lifetime / 200  # each instance is called ~20 times per lifetime
        end = lifetime * lifetimes_run
        while now[0] < end:
            now[0] += rng.expovariate(1 / step)
            token = rng.choice(providers).get()
            assert token.expires_at > now[0], "the policy handed out an expired token"
        out[f"{lifetime:g}"] = round(fetches[0] / lifetimes_run, 2)
    return {"instances": 10, "lifetimes_simulated": lifetimes_run, "requests_per_lifetime": out}
