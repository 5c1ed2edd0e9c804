"""`make bench --quick --only share`: the runs that share the tenant's bucket, with small counts.

No timing is asserted: only that each run has its figures, that the counts add up (the
neighbour's requests are not counted as the product's), that the ideal follows its stated
formula, and that the reserve does what it is for: with share 0.5 the neighbour meets no 429.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.measure_share import BURST, RATE, RUNS, ideal_seconds
from tests.conftest import ROOT


def test_the_ideal_at_a_share():
    # share 1.0, nobody else: the drain measurement's ideal, (calls - burst) / rate
    assert ideal_seconds(598, 1.0, 0.0) == pytest.approx((598 - 50) / 16)
    # share 0.5 with a neighbour taking 6.4 tokens/s: only half the burst, and what the neighbour leaves
    assert ideal_seconds(598, 0.5, 6.4) == pytest.approx((598 - 25) / 9.6)
    assert ideal_seconds(20, 0.5, 0.0) == 0.0  # within the product's part of the burst
    assert ideal_seconds(100, 0.5, RATE) is None  # nothing left for the product


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-share")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [sys.executable, "-m", "bench", "--quick", "--only", "share", "--json", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), out


@pytest.mark.integration
def test_each_run_has_its_figures_and_the_counts_add_up(quick):
    results, _ = quick
    share = results["share"]
    assert list(share["runs"]) == [key for key, *_ in RUNS]
    for key, r in share["runs"].items():
        new_apis = r["apis"] - 1  # one is the system API
        assert r["enabled"] == new_apis and r["dead_lettered"] == 0 and r["lost"] == 0, key
        assert r["calls_served"] == 2 * new_apis, key  # the neighbour's requests are not the product's
        assert r["token_requests"] == 1, key
        assert r["paced"] is not None and r["paced"] >= 0, key
        assert r["reserve_tokens"] == pytest.approx((1 - r["share"]) * BURST)
        assert r["ideal_s"] == pytest.approx(ideal_seconds(r["calls_served"], r["share"],
                                                           r["neighbour_rate_used_per_s"]), abs=0.01)
        # ideal_s is rounded to 10 ms; the ratio was computed before rounding
        assert r["drain_s"] > 0 and r["ratio"] == pytest.approx(r["drain_s"] / r["ideal_s"], rel=0.005)
        assert r["product_429_per_served_call"] == pytest.approx(r["product_429"] / r["calls_served"], abs=1e-4)
        n = r["neighbour"]
        if r["neighbour_share"]:
            assert n["rate_per_s"] == pytest.approx(r["neighbour_share"] * RATE)
            assert n["served"] > 0 and n["sent"] == n["served"] + n["rate_limited"] + n["other_errors"]
            assert r["neighbour_rate_used_per_s"] == pytest.approx(n["served"] / n["seconds"], rel=0.01)
        else:
            assert n is None and r["targets_met"]["neighbour_429"] is None
    defended = share["runs"]["share 0.5, neighbour 0.4"]
    assert defended["neighbour"]["rate_limited"] == 0  # the reserve is there for it
    assert defended["paced"] > 0  # held back to keep it


@pytest.mark.integration
def test_the_two_rows_with_targets_and_the_details_are_reported(quick):
    results, out = quick
    rows = [r for r in results["targets"] if "new APIs on the Enterprise bucket" in r["figure"]]
    assert [r["figure"].split("), ")[1] for r in rows] == [
        "share 0.5, a neighbour at 40 % of the rate", "share 1.0, no neighbour"]
    assert rows[0]["target"].startswith("neighbour 0 × 429")
    # the comparison runs are in the first row's baseline, the neighbour's 429s first
    comparison = rows[0]["baseline"].split("share 1.0, neighbour 0.4: ")[1]
    assert comparison.lstrip("*").startswith("neighbour ") and "share 0.5, no neighbour: product" in comparison
    text = (out / "results.md").read_text()
    assert "### 3b. Sharing the bucket (MANAGEMENT_API_RATE_SHARE)" in text
    assert "ideal    = max(0, calls - (burst - reserve)) / (rate - n)" in text
