"""Cold import of the worker handler, as Lambda's init phase does it, next to `import boto3`.

Each sample is a fresh interpreter (``-I -S``) whose ``sys.path`` is what Lambda gives the
function (function folder, layer, runtime packages; see local/layer_view.py). Reported: the
median wall time of N processes for each, and the ratio. Run: ``python -m bench.cold_start``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local.layer_view import lambda_sys_path

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "enable_token_exchange"

_PROBE = """
import json, os, sys, time
sys.path[:0] = json.loads(os.environ["PROBE_SYS_PATH"])
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
import resource
print(json.dumps({{"ms": elapsed * 1000, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "modules": len(sys.modules)}}))
"""

STATEMENTS = {
    "import boto3": "import boto3",
    "worker handler": "import app",
    "boto3 + sqs client": "import boto3; boto3.client('sqs', region_name='us-east-1')",
}


def sample(statement: str, sys_path: list[str], runs: int) -> dict:
    times, rss, modules = [], [], 0
    env = {"PROBE_SYS_PATH": json.dumps(sys_path), "AWS_REGION": "us-east-1", "PATH": "/usr/bin:/bin",
           "POWERTOOLS_SERVICE_NAME": "token-exchange-enabler", "POWERTOOLS_METRICS_NAMESPACE": "TokenExchangeEnabler"}
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE.format(statement=statement)],  # noqa: S603
                             cwd=FUNCTION_DIR, env=env, capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(result["ms"])
        rss.append(result["maxrss_kb"])
        modules = result["modules"]
    return {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1),
            "max_ms": round(max(times), 1), "peak_rss_mb": round(statistics.median(rss) / 1024, 1),
            "modules": modules, "runs": runs}


def measure(runs: int = 15) -> dict:
    with tempfile.TemporaryDirectory() as work:
        sys_path = lambda_sys_path(FUNCTION_DIR, Path(work))
        results = {name: sample(stmt, sys_path, runs) for name, stmt in STATEMENTS.items()}
    base = results["import boto3"]["median_ms"]
    results["ratio_handler_to_boto3"] = round(results["worker handler"]["median_ms"] / base, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    results = measure(args.runs)
    if args.json:
        print(json.dumps(results))
        return
    for name in STATEMENTS:
        r = results[name]
        print(f"{name:<20} median {r['median_ms']:>7.1f} ms  (min {r['min_ms']}, max {r['max_ms']}, "
              f"peak RSS {r['peak_rss_mb']} MB, {r['modules']} modules, n={r['runs']})")
    print(f"handler / import boto3 = {results['ratio_handler_to_boto3']}   ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
