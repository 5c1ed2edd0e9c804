"""template.yaml, alarms: anything dead-lettered, failed or repaired tells the operators (SNS topic)."""

from __future__ import annotations

import pytest

from tests.template.support import (
    DELIVERY_DLQ,
    DLQ,
    FUNCTION,
    LIBRARY_DIR,
    RECONCILE_FUNCTION,
    TOPIC,
    alarms,
    get_att,
    props,
    ref,
    resources,
)


def test_every_alarm_notifies_the_topic_and_ignores_missing_data(cfn_template):
    found = alarms(cfn_template)
    assert found
    for alarm in found.values():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [ref(TOPIC)]
        assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("queue", [DLQ, DELIVERY_DLQ])
def test_a_message_in_a_dead_letter_queue_raises_an_alarm(cfn_template, queue):
    assert any(
        a["Namespace"] == "AWS/SQS"
        and a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"] == [{"Name": "QueueName", "Value": get_att(queue, "QueueName")}]
        and a["Threshold"] == 0
        and a["ComparisonOperator"] == "GreaterThanThreshold"
        for a in alarms(cfn_template).values()
    )


def test_failed_records_alarm_watches_the_metric_powertools_emits(cfn_template):
    variables = props(cfn_template, FUNCTION)["Environment"]["Variables"]
    [alarm] = [a for a in alarms(cfn_template).values() if a["MetricName"] == "FailedRecords"]
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 0)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_function_errors_raise_an_alarm(cfn_template):
    assert any(
        a["Namespace"] == "AWS/Lambda"
        and a["MetricName"] == "Errors"
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": ref(FUNCTION)}]
        for a in alarms(cfn_template).values()
    )


def test_alarm_email_is_subscribed_only_when_given(sam_template, cfn_template):
    [subscription] = resources(cfn_template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == ref("AlarmEmail")
    assert sam_template["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]
    }


def test_operations_raise_alarms(cfn_template):
    found = alarms(cfn_template).values()
    assert any(a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Errors"
               and a["Dimensions"] == [{"Name": "FunctionName", "Value": ref(RECONCILE_FUNCTION)}] for a in found)
    [missed] = [a for a in found if a["MetricName"] == "ReconcileRepaired"]
    variables = props(cfn_template, RECONCILE_FUNCTION)["Environment"]["Variables"]
    assert missed["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert missed["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    source = (LIBRARY_DIR / "reconcile.py").read_text()
    assert '"ReconcileRepaired"' in source  # the metric the sweep emits
