"""The whole pipeline on one machine: ``make demo`` (``python -m local.demo --help``).

Auth0 (the emulator) creates APIs and streams their ``sapi`` log events to EventBridge (moto),
whose rule — the template's own — sends them to SQS; the event-source-mapping stand-in invokes
the worker in warm, isolated Lambda-like processes; the worker enables token exchange through
the emulator's Management API. The demo shows progress, then a table of every API's outcome
and the totals (or ``--json``). It exits non-zero if any event was lost.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from local.auth0_emulator import PLANS
from local.pipeline import FAULTS, RATE_LIMITS, SCOPES, PipelineOptions, run_pipeline

# The plan whose entity limits go with each rate-limit preset (Auth0 publishes both per plan).
PLAN_OF_RATE_LIMIT = {"free": "free", "enterprise": "enterprise", "enterprise-non-production": "enterprise"}
# Applications the demo's tenant holds before the first new API: the M2M applications of the worker,
# of the creator and of the neighbour.
_DEMO_APPLICATIONS = 3

# --------------------------------------------------------------------------- output


def render(summary: dict, limit: int = 40) -> str:
    lines = []
    apis = summary["apis"]
    width = max([len(a["identifier"]) for a in apis[:limit]] + [10])
    proving = summary.get("exchanges_ok") is not None
    proof_head = f"  {'exchange':<8}" if proving else ""
    lines.append(f"{'API (identifier)':<{width}}  {'style':<9}  {'outcome':<13}  {'ms':>7}{proof_head}  reason")
    lines.append("-" * (width + 70))
    for api in apis[:limit]:
        ms = "" if api["latency_ms"] is None else f"{api['latency_ms']:.0f}"
        proof = ""
        if proving:
            proof = f"  {'ok' if api['proof'] == 'ok' else ('-' if api['proof'] is None else 'FAILED'):<8}"
        reason = api["reason"] + (f" [exchange refused: {api['proof']}]" if api["proof"] not in (None, "ok") else "")
        lines.append(f"{api['identifier']:<{width}}  {api['style']:<9}  {api['status']:<13}  {ms:>7}{proof}  {reason}")
    if len(apis) > limit:
        lines.append(f"... and {len(apis) - limit} more (use --json for all)")
    lines.append("")
    s = summary
    lines.append(f"APIs created      {s['apis_created']}   enabled {s['enabled']}   skipped {s['skipped']}   "
                 f"dead-lettered {s['dead_lettered']}   lost {s['lost']}   second clients {s['duplicate_clients']}")
    if proving:
        source = "the credentials stored for them" if s.get("credentials_stored") is not None else "their credentials"
        lines.append(f"exchange proof    {s['exchanges_ok']} APIs' services exchanged a user's token for the "
                     f"downstream API with {source}, {s['exchanges_failed']} refused")
    if s.get("credentials_stored") is not None:
        lines.append(f"delivered         {s['credentials_stored']} client credentials stored in Secrets Manager, "
                     f"{s['events_announced']} 'Token Exchange Enabled' events on the bus; "
                     f"{s['secrets_in_worker_logs']} worker log lines with a client secret")
    lines.append(f"token requests    {s['token_requests']}")
    lines.append(f"Management calls  {s['management_calls_served']} served ({s['management_calls_per_api']} per API)"
                 f" + {s['rate_limited']} answered 429 and waited out")
    lines.append(f"latency event→enabled  p50 {s['latency_ms_p50']} ms   p95 {s['latency_ms_p95']} ms")
    lines.append(f"seconds           {s['seconds']} (whole run {s['total_seconds']})   mode {s['mode']}   "
                 f"rate limit {s['rate_limit']}   faults {','.join(s['faults']) or 'none'}")
    lines.append(f"Lambda            {s['batches']} batches, {s['cold_starts']} cold starts "
                 f"(median init {s['cold_start_ms_median']} ms), max concurrency {s['maximum_concurrency']}")
    if s.get("paced") is not None:
        lines.append(f"rate share        {s['rate_share']:g}: {s['paced']} calls held back to keep the tenant's "
                     "reserve (PacedCalls)")
    n = s.get("neighbour")
    if n:
        lines.append(f"neighbour         {n['served']} served, {n['rate_limited']} answered 429 "
                     f"({n['sent']} sent at {n['rate_per_s']:g}/s over {n['seconds']} s)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make demo ARGS=...", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--apis", type=int, default=25, help="how many APIs to create (one is a system API)")
    parser.add_argument("--mode", choices=sorted(SCOPES), default="on_behalf_of", help="TOKEN_EXCHANGE_MODE")
    parser.add_argument("--rate-limit", choices=list(RATE_LIMITS), default="enterprise",
                        help="the emulated tenant's Management API rate limit (Auth0's published buckets)")
    parser.add_argument("--faults", type=lambda s: [f for f in s.split(",") if f], default=[],
                        help=f"comma-separated faults to inject: {', '.join(FAULTS)}")
    parser.add_argument("--current-tenant", action="store_true",
                        help="in legacy mode, emulate a current tenant that rejects the legacy field")
    parser.add_argument("--dry-run", action="store_true", help="DRY_RUN=true: plan, write nothing")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="MaximumConcurrency (default: the template's)")
    parser.add_argument("--function-timeout", type=float, default=None,
                        help="the worker's timeout in seconds (default: the template's)")
    parser.add_argument("--visibility-timeout", type=int, default=60,
                        help="seconds before a failed record is delivered again: at least the function "
                             "timeout, as Lambda requires (the template's 6x is shortened locally so that a "
                             "retry is seen within a minute)")
    parser.add_argument("--batching-window", type=float, default=0.5,
                        help="cap on the template's batching window, in seconds")
    parser.add_argument("--rate-share", type=float, default=None,
                        help="MANAGEMENT_API_RATE_SHARE (0 < share <= 1): the share of the tenant's Management API "
                             "bucket the worker may use (default: %(default)s, i.e. the template's "
                             "ManagementApiRateShare)")
    parser.add_argument("--neighbour", dest="neighbour_share", type=float, default=0.0, metavar="SHARE",
                        help="another client of the tenant (its own M2M application) sending Management API reads "
                             "at a steady SHARE of the bucket's rate (0 < SHARE <= 1) from the first event "
                             "until the last outcome; its requests served and answered 429 are reported "
                             "(0: none)")
    parser.add_argument("--no-prove", dest="prove", action="store_false",
                        help="skip the proof: by default each enabled API's service exchanges a user's access token "
                             "for a token to a downstream API configured in DOWNSTREAM_GRANTS (On-Behalf-Of)")
    parser.add_argument("--no-deliver", dest="deliver", action="store_false",
                        help="run without CLIENT_SECRETS_PREFIX and NOTIFICATION_BUS_NAME: by default each new Custom "
                             "API client's credentials are stored in the local Secrets Manager (the proof reads "
                             "them there) and each enabled API is announced on a local event bus")
    parser.add_argument("--plan", choices=[*PLANS, "none"], default=None,
                        help="the tenant's plan, whose entity limits the emulator enforces (default: the plan of "
                             "the --rate-limit preset; none: no limits)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up waiting after this many seconds")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    args = parser.parse_args(argv)
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(sorted(unknown))}; choose from {', '.join(FAULTS)}")
    if args.apis < 1:
        parser.error("--apis must be at least 1")
    if args.rate_share is not None and not 0 < args.rate_share <= 1:
        parser.error("--rate-share must be in (0, 1]")
    if args.neighbour_share and not 0 < args.neighbour_share <= 1:
        parser.error("--neighbour must be in (0, 1] (0: no neighbour)")
    if args.neighbour_share and args.rate_limit == "none":
        parser.error("--neighbour needs a rate limit (its rate is a share of the bucket's)")
    return args


def _plan(args: argparse.Namespace) -> str | None:
    """The plan to run on; when the run needs more than that plan allows, say so plainly and run
    without limits (a real tenant of that plan would refuse the extra APIs or clients)."""
    if args.plan == "none":
        return None
    plan = args.plan or PLAN_OF_RATE_LIMIT.get(args.rate_limit)
    if plan is None:
        return None
    limits = PLANS[plan]
    apis = args.apis + (1 if args.prove else 0)  # the downstream API of the proof
    applications = args.apis + _DEMO_APPLICATIONS
    beyond = [f"{need} {what} (the plan allows {most})" for need, what, most in (
        (apis, "APIs", limits.resource_servers), (applications, "applications", limits.applications))
        if most is not None and need > most]
    if beyond:
        print(f"note: this run needs {' and '.join(beyond)}: beyond a real {plan} tenant, so it runs without "
              "entity limits", file=sys.stderr)
        return None
    return plan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tty = sys.stderr.isatty()

    def progress(text: str) -> None:
        if tty:
            sys.stderr.write(f"\r\033[K{text}")
        else:
            sys.stderr.write(f"{text}\n")
        sys.stderr.flush()

    # Every option but --json is a PipelineOptions field of the same name.
    settings: dict[str, Any] = {k: v for k, v in vars(args).items() if k != "json"}
    settings["faults"] = tuple(args.faults)
    settings["plan"] = _plan(args)
    options = PipelineOptions(**settings)
    summary = run_pipeline(options, progress)
    if tty:
        sys.stderr.write("\n")
    if args.json:
        print(json.dumps(summary))
    else:
        print(render(summary))
    if summary["lost"]:
        print(f"{summary['lost']} API(s) have no outcome: events were lost", file=sys.stderr)
        return 1
    if summary["duplicate_clients"]:
        print(f"{summary['duplicate_clients']} API(s) got a second Custom API client", file=sys.stderr)
        return 1
    if summary.get("exchanges_failed"):
        print(f"{summary['exchanges_failed']} enabled API(s) could not exchange a token", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
