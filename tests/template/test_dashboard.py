"""The CloudWatch dashboard: a body CloudWatch can read, on metrics that exist, and its URL as an output."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.template.support import (
    DELIVERY_DLQ,
    DLQ,
    EXPECTED_ENVIRONMENT,
    FUNCTION,
    LIBRARY_DIR,
    QUEUE,
    props,
    resources,
)

DASHBOARD = "Dashboard"
NAMESPACE = EXPECTED_ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = EXPECTED_ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]
REGION = "eu-west-1"
_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")

# What the operator's first picture must show (the library's Powertools metrics).
EXPECTED_METRICS = {
    "EnabledApis", "AlreadyEnabled", "SkippedApis", "FailedRecords", "DeadLettered", "LockBusy",
    "RateLimited", "PacedCalls", "TokenFetched", "ReconcileRepaired", "ReconcileFailed", "ReconcileBusy",
}  # fmt: skip
# The AWS metrics it shows, with the resource each one's dimension names.
EXPECTED_AWS_METRICS = {
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"{DLQ}.QueueName"),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"{DELIVERY_DLQ}.QueueName"),
    ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", f"{QUEUE}.QueueName"),
    ("AWS/Lambda", "Duration", "FunctionName", FUNCTION),
}


def substitute(text: str, template: dict[str, Any]) -> str:
    """``text`` as Fn::Sub leaves it: pseudo parameters filled in, ``${Id}`` / ``${Id.Attr}`` left
    as ``Id`` / ``Id.Attr`` (every one must name a resource of the template)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "AWS::Region":
            return REGION
        if name == "AWS::StackName":
            return "token-exchange-enabler"
        assert name.split(".")[0] in template["Resources"], f"${{{name}}} names no resource"
        return name

    return _VARIABLE.sub(value, text)


@pytest.fixture(scope="module")
def body(cfn_template) -> dict[str, Any]:
    text = props(cfn_template, DASHBOARD)["DashboardBody"]["Fn::Sub"]
    assert isinstance(text, str)
    return json.loads(substitute(text, cfn_template))


def metric_rows(body: dict[str, Any]) -> list[list[Any]]:
    return [row for widget in body["widgets"] if widget["type"] == "metric" for row in widget["properties"]["metrics"]]


def test_the_stack_has_one_dashboard_named_after_the_stack_and_region(cfn_template):
    assert set(resources(cfn_template, "AWS::CloudWatch::Dashboard")) == {DASHBOARD}
    assert props(cfn_template, DASHBOARD)["DashboardName"] == {"Fn::Sub": "${AWS::StackName}-${AWS::Region}"}


def test_the_dashboard_body_is_json_after_substitution(body):
    assert body["widgets"]
    for widget in body["widgets"]:
        properties = widget["properties"]
        assert properties["region"] == REGION and properties["period"] == 3600
        assert properties["title"] and properties["metrics"]
        for row in properties["metrics"]:
            assert "." not in row[:2], "write every metric in full"
            # A row without a statistic of its own is the widget's: the hourly sum, never the
            # dashboard's default (Average).
            assert properties["stat"] == "Sum"


def test_every_library_metric_is_the_hourly_sum_in_the_powertools_namespace_and_service(body):
    for widget in body["widgets"]:
        properties = widget["properties"]
        for row in properties["metrics"]:
            if row[0].startswith("AWS/"):
                continue
            assert row[0] == NAMESPACE and row[2:4] == ["service", SERVICE], row
            assert properties["stat"] == "Sum" and "stat" not in row[-1], row


def test_every_metric_the_dashboard_names_is_one_the_library_emits(body):
    source = "\n".join(p.read_text(encoding="utf-8") for p in LIBRARY_DIR.rglob("*.py"))
    named = {row[1] for row in metric_rows(body) if row[0] == NAMESPACE}
    assert EXPECTED_METRICS <= named
    never_emitted = {name for name in named if f'"{name}"' not in source}
    assert not never_emitted
    # The metric helpers the names go through: Powertools' add_metric, directly or via count().
    assert "add_metric(name=" in source


def test_the_aws_metrics_are_the_queues_and_the_worker_of_this_stack(body):
    aws = {tuple(row[:4]) for row in metric_rows(body) if row[0].startswith("AWS/")}
    assert aws == EXPECTED_AWS_METRICS
    # Queue depths and ages are levels, not counts: the hour's maximum.
    assert {row[-1]["stat"] for row in metric_rows(body) if row[0] == "AWS/SQS"} == {"Maximum"}


def test_latency_is_the_worker_duration_and_says_so(body):
    [widget] = [w for w in body["widgets"] if any(row[1] == "Duration" for row in w["properties"]["metrics"])]
    stats = {row[-1]["stat"] for row in widget["properties"]["metrics"] if row[1] == "Duration"}
    assert stats == {"p50", "p95"}
    title = widget["properties"]["title"]
    assert "Duration" in title and "no event-to-enabled metric" in title


def test_the_dashboard_url_is_an_output(cfn_template):
    url = cfn_template["Outputs"]["DashboardUrl"]["Value"]
    assert url == {"Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home"
                              "?region=${AWS::Region}#dashboards:name=${Dashboard}"}


def test_the_cli_reads_the_dashboard_url_from_the_stack():
    from token_exchange_enabler.cli import STACK_OUTPUTS

    assert STACK_OUTPUTS["DashboardUrl"] == "DASHBOARD_URL"
