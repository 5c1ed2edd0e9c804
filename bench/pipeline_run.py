"""One run of the local pipeline (local/pipeline.py) in a fresh interpreter.

moto keeps its state per process, so a second stack in the same process would find the first
one's resources; each run therefore gets its own process. The options are PipelineOptions'
fields as JSON on stdin; the summary comes back as JSON on stdout; progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT, VISIBILITY_TIMEOUT, progress


def run_isolated(label: str, timeout: float = 900.0, **options: Any) -> dict:
    """``run_pipeline(PipelineOptions(**options))`` in a child process; its summary."""
    options.setdefault("visibility_timeout", VISIBILITY_TIMEOUT)
    options.setdefault("function_timeout", None)  # the template's timeout, as deployed (not the demo's)
    payload = json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in options.items()})
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["BENCH_LABEL"] = label
    done = subprocess.run([sys.executable, "-m", "bench.pipeline_run"], input=payload, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"pipeline run {label!r} failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from local.pipeline import PipelineOptions, run_pipeline

    options = json.loads(sys.stdin.read())
    for key in ("function_dir",):
        if options.get(key):
            options[key] = Path(options[key])
    for key in ("faults", "extra_sys_path"):
        if key in options:
            options[key] = tuple(options[key])
    label = os.environ.get("BENCH_LABEL", "pipeline")
    last = [""]

    def report(text: str) -> None:
        if text.startswith("created") and text.split("·")[-1] == last[0].split("·")[-1]:
            return
        last[0] = text
        progress(f"  {label}: {text}")

    summary = run_pipeline(PipelineOptions(**options), progress=report)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
