"""template.yaml, operations: the replay function, the reconciliation sweep and its schedule.

Their roles are in test_iam.py, their alarms in test_alarms.py, their outputs in test_template.py.
"""

from __future__ import annotations

import re

import pytest

from tests.template.support import (
    DELIVERY_DLQ,
    DLQ,
    EXPECTED_ENVIRONMENT,
    QUEUE,
    RECONCILE_FUNCTION,
    RECONCILE_LOG_GROUP,
    RECONCILE_ROLE,
    REPLAY_FUNCTION,
    REPLAY_LOG_GROUP,
    REPLAY_ROLE,
    ROLE,
    assert_log_group_of_the_stack,
    expected_grants,
    get_att,
    granted_by,
    handler_arguments,
    props,
    ref,
    resources,
    the_layer_id,
    variables_the_library_never_reads,
)


@pytest.mark.parametrize(
    ("function", "role", "log_group", "timeout"),
    [
        (REPLAY_FUNCTION, REPLAY_ROLE, REPLAY_LOG_GROUP, 300),
        (RECONCILE_FUNCTION, RECONCILE_ROLE, RECONCILE_LOG_GROUP, 900),
    ],
)
def test_operations_functions_run_the_library_with_their_own_role_and_logs(
    sam_template, cfn_template, function, role, log_group, timeout
):
    properties = props(cfn_template, function)
    assert cfn_template["Resources"][function]["Type"] == "AWS::Lambda::Function"
    assert properties["Role"] == get_att(role, "Arn")
    assert properties["LoggingConfig"] == {"LogGroup": ref(log_group)}
    assert properties["Layers"] == [ref(the_layer_id(cfn_template, "AWS::Lambda::LayerVersion"))]
    assert (properties["Runtime"], properties["Architectures"]) == ("python3.12", ["arm64"])
    assert properties["Timeout"] == timeout
    # The shared configuration contract, from Globals.
    variables = properties["Environment"]["Variables"]
    assert {name: variables.get(name) for name in EXPECTED_ENVIRONMENT} == EXPECTED_ENVIRONMENT
    # The handler named by the template exists, with Lambda's signature.
    assert handler_arguments(sam_template, function) == ["event", "context"]
    assert_log_group_of_the_stack(cfn_template, log_group)


def test_replay_function_knows_where_replays_go(cfn_template):
    variables = props(cfn_template, REPLAY_FUNCTION)["Environment"]["Variables"]
    assert variables["SOURCE_QUEUE_URL"] == ref(QUEUE)
    assert variables["DELIVERY_DEAD_LETTER_QUEUE_URL"] == ref(DELIVERY_DLQ)
    assert variables["DEAD_LETTER_QUEUE_URL"] == ref(DLQ)
    assert "Events" not in props(cfn_template, REPLAY_FUNCTION)  # invoked by hand only
    assert not [r for r in resources(cfn_template, "AWS::Lambda::Permission").values()
                if r["Properties"]["FunctionName"] in (ref(REPLAY_FUNCTION), get_att(REPLAY_FUNCTION, "Arn"))]


@pytest.mark.parametrize("function", [REPLAY_FUNCTION, RECONCILE_FUNCTION])
def test_the_library_reads_every_variable_the_operations_functions_set(cfn_template, function):
    assert variables_the_library_never_reads(cfn_template, function) == []


def test_the_sweep_runs_on_a_scheduler_schedule_that_can_be_turned_off(sam_template, cfn_template):
    [(schedule_id, schedule)] = resources(cfn_template, "AWS::Scheduler::Schedule").items()
    properties = schedule["Properties"]
    assert properties["ScheduleExpression"] == ref("ReconcileSchedule")
    assert properties["State"] == ref("ReconcileScheduleState")
    assert properties["Target"]["Arn"] == get_att(RECONCILE_FUNCTION, "Arn")
    assert "Name" not in properties  # generated: two stacks in one account must not collide
    parameters = sam_template["Parameters"]
    assert parameters["ReconcileSchedule"]["Default"] == "rate(1 day)"
    assert parameters["ReconcileScheduleState"]["Default"] == "ENABLED"
    assert parameters["ReconcileScheduleState"]["AllowedValues"] == ["ENABLED", "DISABLED"]
    pattern = parameters["ReconcileSchedule"]["AllowedPattern"]
    for expression, accepted in [("rate(1 day)", True), ("rate(12 hours)", True), ("cron(0 3 * * ? *)", True),
                                 ("at(2030-01-01T00:00:00)", False), ("daily", False)]:
        assert bool(re.fullmatch(pattern, expression)) is accepted, expression


def test_the_schedule_may_only_invoke_the_sweep(cfn_template):
    [schedule] = resources(cfn_template, "AWS::Scheduler::Schedule").values()
    [role] = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][:1]
    assert set(resources(cfn_template, "AWS::IAM::Role")) == {ROLE, REPLAY_ROLE, RECONCILE_ROLE, role}
    assert granted_by(cfn_template, role) == expected_grants([
        (get_att(RECONCILE_FUNCTION, "Arn"), {"lambda:InvokeFunction"}),
    ])
    [trust] = props(cfn_template, role)["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["scheduler.amazonaws.com"]}
