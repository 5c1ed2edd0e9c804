"""5. CPU per record with the network stubbed out: see bench/cpu_probe.py."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, progress


def measure(quick: bool) -> dict:
    records = 300 if quick else 2000
    progress(f"cpu: {records} records through the real handler (Auth0 and Secrets Manager faked) and a trivial one")
    with tempfile.TemporaryDirectory() as work:
        result = Path(work) / "cpu.json"
        subprocess.run([sys.executable, "-m", "bench.cpu_probe", str(records), str(result)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, timeout=300)
        data = json.loads(result.read_text())
    data["method"] = ("time.process_time over the timed batches (after 3 warm-up batches), "
                      "stdout to /dev/null; baseline handler: json.loads of each body")
    return data
