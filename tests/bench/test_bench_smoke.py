"""`make bench --quick`, two cheap measurements: the results have their keys and sane values.

No timing is asserted: only that each figure exists, is positive where it must be, and that the
counts the benchmark reports agree with what the worker must do (2 calls per new API in
on_behalf_of mode, 1 in legacy mode, the system API skipped without a call).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [sys.executable, "-m", "bench", "--quick", "--only", "cpu,calls", "--json", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), out


def test_results_are_written_and_printed(quick):
    results, out = quick
    assert json.loads((out / "results.json").read_text()) == results
    text = (out / "results.md").read_text()
    assert "| figure | product | baseline (same run) | target | met |" in text
    assert results["meta"]["quick"] is True and results["meta"]["measurements"] == ["cpu", "calls"]
    assert {"tokens", "drain", "cold", "size", "memory"}.isdisjoint(results)


def test_cpu_per_record_next_to_its_baseline(quick):
    cpu = quick[0]["cpu"]
    assert cpu["records"] > 0 and cpu["failed_records"] == 0
    assert cpu["product_cpu_us_per_record"] > 0 and cpu["baseline_cpu_us_per_record"] > 0
    assert cpu["overhead_cpu_us_per_record"] == pytest.approx(
        cpu["product_cpu_us_per_record"] - cpu["baseline_cpu_us_per_record"], abs=0.2)
    # every record really went through the enabler: one GET and one POST each, the token fetched before
    assert cpu["fake_auth0_calls"]["GET /resource-servers/{id}"] == cpu["records"]
    assert cpu["fake_auth0_calls"]["POST /clients"] == cpu["records"]


def test_management_calls_per_new_api_per_mode(quick):
    results = quick[0]
    modes = results["calls"]["modes"]
    for mode, per_api in (("on_behalf_of", 2.0), ("legacy_resource_server", 1.0)):
        m = modes[mode]
        assert m["new_apis"] == results["calls"]["apis"] - 1 and m["skipped"] == 1
        assert m["enabled"] == m["new_apis"] and m["dead_lettered"] == 0 and m["lost"] == 0
        assert m["calls_per_new_api"] == per_api
    figures = {row["figure"]: row for row in results["targets"]}
    assert any(f.startswith("Management API calls per new API") and row["met"] for f, row in figures.items())
    assert any(f.startswith("CPU per record") for f in figures)
