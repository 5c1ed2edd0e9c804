"""``make bench``: the product's figures next to their baselines, measured in the same run.

Measurements (``--only`` takes their names, comma-separated):

  tokens  token requests per token lifetime: the product vs a naive handler and an auth0-python one
  calls   Management API calls per new API, per mode
  drain   drain time of a burst of new APIs against the Enterprise and Free buckets, vs the ideal
  share   the same burst sharing the Enterprise bucket: MANAGEMENT_API_RATE_SHARE 0.5 while another client
          sends 40 % of the bucket's rate (its 429s, the product's 429s, drain vs the ideal at that share),
          and share 1.0 with and without that client
  cold    cold init of the worker vs ``import boto3`` and the auth0-python import
  first_record  cold start to the first record's outcome (import + first invocation, token cache empty
          and warm) vs the naive and auth0-python peers, with the phases it spends its time in
  memory  peak memory of a warm worker instance (and of the peers)
  size    deployable size: function + layer, zipped
  cpu     CPU per record with the network faked, vs a trivial handler
  cost    AWS cost of enabling 1,000 new APIs at us-east-1 list prices: the product and both peers
          (with first_record selected too, also for APIs arriving one at a time at a cold function)

Only the cold-start and cost figures, for instance: ``make bench ARGS="--only first_record,cost"``
(add ``--quick`` for small counts).

A full run writes bench/results.md and bench/results.json; a ``--quick`` or ``--only`` run writes
to bench/.cache/ unless ``--out`` says where. Progress goes to stderr; the table (or, with
``--json``, the results) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import BENCH_DIR, CACHE_DIR, auth0_sdk_view, progress

# The order they run in.
NAMES = ("cpu", "size", "cold", "first_record", "calls", "tokens", "memory", "drain", "share", "cost")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few minutes")
    parser.add_argument("--only", type=lambda text: [n.strip() for n in text.split(",") if n.strip()],
                        default=list(NAMES), help=f"comma-separated subset of: {','.join(NAMES)}")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    parser.add_argument("--out", type=Path, help="folder for results.md/results.json")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only) - set(NAMES))
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(unknown)} (choose from {', '.join(NAMES)})")
    return args


def run(names: list[str], quick: bool) -> dict:
    from bench import (
        first_record,
        measure_calls,
        measure_cost,
        measure_cpu,
        measure_drain,
        measure_footprint,
        measure_share,
        measure_tokens,
    )

    started = time.monotonic()
    results: dict = {"meta": {
        "quick": quick, "measurements": [n for n in NAMES if n in names],
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "python": platform.python_version(),
        "cpus": os.cpu_count(), "notes": [
            "Pipeline runs use a 60 s queue visibility timeout (the least AWS accepts for the 60 s function "
            "timeout; the template's is 6 × that).",
            "Cold init is measured with bytecode caches written; on Lambda the layer has none (built with "
            "--no-compile), so its modules are compiled at each cold start.",
        ]}}
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        needs_sdk = {"tokens", "cold", "memory", "first_record", "cost"}
        sdk_view = auth0_sdk_view(Path(work)) if needs_sdk & set(names) else Path(work)
        for name in NAMES:
            if name not in names:
                continue
            if name == "cpu":
                results["cpu"] = measure_cpu.measure(quick)
            elif name == "size":
                results["size"] = measure_footprint.measure_size(quick)
            elif name == "cold":
                results["cold"] = measure_footprint.measure_cold(quick, sdk_view)
            elif name == "first_record":
                results["first_record"] = first_record.measure(quick, sdk_view)
            elif name == "calls":
                results["calls"] = measure_calls.measure(quick)
            elif name == "tokens":
                results["tokens"] = measure_tokens.measure(quick, sdk_view)
            elif name == "memory":
                results["memory"] = measure_footprint.measure_memory(quick, sdk_view, results.get("tokens"))
            elif name == "drain":
                results["drain"] = measure_drain.measure(quick)
            elif name == "share":
                results["share"] = measure_share.measure(quick)
            elif name == "cost":
                results["cost"] = measure_cost.measure(quick, sdk_view, results.get("first_record"))
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench.report import markdown, target_rows

    results = run(args.only, args.quick)
    results["targets"] = target_rows(results)
    full = not args.quick and set(args.only) == set(NAMES)
    out = args.out or (BENCH_DIR if full else CACHE_DIR)
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    progress(f"written: {out / 'results.md'}, {out / 'results.json'} ({results['meta']['seconds']} s)")
    print(json.dumps(results, ensure_ascii=False) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
