"""`make bench --quick`, in two runs: cpu and calls; then the cold start to the first record's
outcome and the cost of 1,000 new APIs, with small counts. The results have their keys and sane values.

No timing is asserted: only that each figure exists, is positive where it must be, and that the
counts the benchmark reports agree with what the worker must do (2 calls per new API in
on_behalf_of mode, 1 in legacy mode, the system API skipped without a call; a token fetched at a
cold start with an empty token cache and not with a warm one; a per-API lock in DynamoDB for the product only).
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


# --------------------------------------------------------------------------- cold start and cost


@pytest.fixture(scope="module")
def quick_cold_and_cost(tmp_path_factory):
    """``--quick --only first_record,cost``: two fresh processes per contender, 10 new APIs per handler."""
    out = tmp_path_factory.mktemp("bench-cold-cost")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [sys.executable, "-m", "bench", "--quick", "--only", "first_record,cost", "--json", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), out


def test_cold_start_to_the_first_record_of_each_contender(quick_cold_and_cost):
    results, out = quick_cold_and_cost
    first = results["first_record"]
    contenders = first["contenders"]
    assert set(contenders) == {"naive", "auth0_python", "product, token cache empty", "product, token cache warm"}
    assert contenders["naive"]["ratio_to_naive"] == 1.0
    for c in contenders.values():
        total = c["import_and_first_invocation"]["median_ms"]
        assert total > 0 and c["import"]["median_ms"] > 0 and c["first_invocation"]["median_ms"] > 0
        assert c["spawn_to_outcome"]["median_ms"] >= total
        phases = c["phases"]
        assert phases["import"]["total_ms"] > 0 and phases["interpreter start-up"]["total_ms"] > 0
        # every contender builds a Secrets Manager client and reads a secret before its first outcome
        assert phases["boto3 client creation (secretsmanager)"]["calls"] >= 1
        assert any(k.startswith("aws secretsmanager GetSecretValue") for k in phases)
        assert phases["auth0 Management API"]["calls"] == 2  # GET the API, POST its Custom API client
    empty, warm = contenders["product, token cache empty"]["phases"], contenders["product, token cache warm"]["phases"]
    assert empty["auth0 POST /oauth/token"]["calls"] == 1 and "auth0 POST /oauth/token" not in warm
    assert empty["aws secretsmanager PutSecretValue (token cache)"]["calls"] >= 1
    assert warm["aws secretsmanager GetSecretValue (token cache)"]["calls"] == 1
    assert "aws secretsmanager GetSecretValue (credentials)" not in warm  # a cached token needs no credentials
    for phases in (empty, warm):
        assert phases["aws dynamodb PutItem"]["calls"] == 1  # the per-API lock (then released)
    figures = [row["figure"] for row in results["targets"]]
    assert sum(f.startswith("cold start to the first record's outcome") for f in figures) == 2
    text = (out / "results.md").read_text()
    assert "#### Cold start to the first record's outcome" in text and "Where the time goes" in text


def test_cost_of_a_thousand_new_apis_for_each_handler(quick_cold_and_cost):
    from local.template import load_template

    results, out = quick_cold_and_cost
    cost = results["cost"]
    memory = load_template(ROOT / "template.yaml")["Parameters"]["FunctionMemorySize"]["Default"]
    assert cost["apis"] == 1000 and cost["memory_mb"] == int(memory)
    assert set(cost["burst"]) == {"product", "naive", "auth0_python"}
    for name, p in cost["burst"].items():
        counts, basis = p["counts"], p["basis"]
        assert basis["enabled"] == basis["new_apis"] and basis["lost"] == 0 and basis["dead_lettered"] == 0
        assert counts["lambda_requests"] > 0 and counts["lambda_gb_seconds"] > 0 and counts["logs_gb"] > 0
        # per new API: at least its creation and the handler's Custom API client are streamed; EventBridge
        # sends it to SQS and the event source receives and deletes it
        assert counts["eventbridge_events"] >= 2000 and counts["sqs_requests"] > 1000
        assert counts["secretsmanager_calls"] > 0
        assert p["total_usd"] == pytest.approx(sum(p["costs_usd"].values()), abs=1e-5)
        assert (counts["dynamodb_wru"] > 0) == (name == "product")  # only the product locks each API in DynamoDB
        assert p["per_month"]["secrets"] == (2 if name == "product" else 1)
    naive = cost["burst"]["naive"]["basis"]
    assert naive["token_requests"] == naive["invocations"]  # a token per invocation
    assert cost["burst"]["product"]["basis"]["largest_item_bytes"] <= 1024
    one = cost["one_at_a_time"]
    assert set(one) == set(results["first_record"]["contenders"])
    assert one["naive"]["counts"]["lambda_requests"] == 1000 and one["naive"]["counts"]["sqs_requests"] == 3000
    assert one["product, token cache warm"]["counts"]["secretsmanager_calls"] == 1000
    assert one["product, token cache empty"]["counts"]["secretsmanager_calls"] > 1000
    for price in cost["prices"].values():
        assert price["usd"] > 0 and price["as_of"] and price["source"].startswith("https://aws.amazon.com/")
    text = (out / "results.md").read_text()
    assert "### 6. AWS cost per 1,000 new APIs" in text and "| **total** |" in text
    assert any(row["figure"].startswith("AWS cost of enabling 1,000 new APIs") for row in results["targets"])
