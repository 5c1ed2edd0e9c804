"""template.yaml, permissions: least privilege for every role, and nothing granted by wildcard
except where AWS offers no resource-level permission."""

from __future__ import annotations

from tests.template.support import (
    AUTH0_ACCESS,
    DELIVERY_ACCESS,
    DELIVERY_DLQ,
    DLQ,
    LOG_GROUP,
    QUEUE,
    RECONCILE_LOG_GROUP,
    RECONCILE_ROLE,
    REPLAY_LOG_GROUP,
    REPLAY_ROLE,
    ROLE,
    TABLE_ACCESS,
    TRACES,
    as_list,
    expected_grants,
    get_att,
    granted_by,
    policy_statements,
    props,
    ref,
    resources,
)

# IAM Allow statements whose Resource may be "*": (resource id, policy name) -> why.
_NO_RESOURCE_LEVEL = "xray:PutTraceSegments/PutTelemetryRecords have no resource-level permissions"
DOCUMENTED_WILDCARD_RESOURCES = {
    (ROLE, "WriteTraces"): _NO_RESOURCE_LEVEL,
    (REPLAY_ROLE, "WriteTraces"): _NO_RESOURCE_LEVEL,
    (RECONCILE_ROLE, "WriteTraces"): _NO_RESOURCE_LEVEL,
}


def test_no_allow_statement_uses_a_wildcard(cfn_template):
    offenders = []
    for rid, policy, statement in policy_statements(cfn_template):
        if statement["Effect"] != "Allow":
            continue
        wildcard_resource = any(
            isinstance(r, str) and "*" in r for r in as_list(statement.get("Resource", []))
        )
        if wildcard_resource and (rid, policy) not in DOCUMENTED_WILDCARD_RESOURCES:
            offenders.append((rid, policy, statement))
        if any("*" in action for action in as_list(statement["Action"])):
            offenders.append((rid, policy, statement))
    assert offenders == []


def test_roles_carry_no_managed_policies(cfn_template):
    # SAM's defaults (AWSLambdaBasicExecutionRole, AWSLambdaSQSQueueExecutionRole) grant every log
    # group and queue of the account.
    for role in resources(cfn_template, "AWS::IAM::Role").values():
        assert not role["Properties"].get("ManagedPolicyArns")


def test_worker_role_grants_exactly_what_the_worker_needs(cfn_template):
    assert granted_by(cfn_template, ROLE) == expected_grants([
        (get_att(LOG_GROUP, "Arn"), {"logs:CreateLogStream", "logs:PutLogEvents"}),
        (
            get_att(QUEUE, "Arn"),
            {
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            },
        ),
        (get_att(DLQ, "Arn"), {"sqs:SendMessage"}),
        *AUTH0_ACCESS,
        TABLE_ACCESS,
        *DELIVERY_ACCESS,
        TRACES,
    ])


def test_optional_permissions_depend_on_their_conditions(cfn_template):
    policies = props(cfn_template, ROLE)["Policies"]
    optional = {p["Fn::If"][1]["PolicyName"]: p["Fn::If"] for p in policies if "Fn::If" in p}
    assert {name: branch[0] for name, branch in optional.items()} == {
        "WriteTraces": "TracingEnabled", "DeliverClientCredentials": "DeliversClientSecrets",
        "AnnounceEnabledApis": "HasNotificationBus"}
    tracing = {"Fn::If": optional["WriteTraces"]}
    assert tracing["Fn::If"][0] == "TracingEnabled"
    assert tracing["Fn::If"][2] == ref("AWS::NoValue")
    [credentials] = [p for p in policies if p.get("PolicyName") == "ReadAuth0Credentials"]
    [kms] = [s for s in credentials["PolicyDocument"]["Statement"] if "Fn::If" in s]
    assert kms["Fn::If"][0] == "HasCredentialsSecretKmsKey"
    assert kms["Fn::If"][1]["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}
    }


def test_replay_role_grants_exactly_what_replay_needs(cfn_template):
    dead_letter_actions = {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:StartMessageMoveTask",
        "sqs:ListMessageMoveTasks",
    }
    assert granted_by(cfn_template, REPLAY_ROLE) == expected_grants([
        (get_att(REPLAY_LOG_GROUP, "Arn"), {"logs:CreateLogStream", "logs:PutLogEvents"}),
        (get_att(DLQ, "Arn"), dead_letter_actions),
        (get_att(DELIVERY_DLQ, "Arn"), dead_letter_actions),
        (get_att(QUEUE, "Arn"), {"sqs:SendMessage", "sqs:GetQueueAttributes"}),
        *AUTH0_ACCESS,
        TABLE_ACCESS,  # its "enable" action takes the per-API lock
        *DELIVERY_ACCESS,  # ... and delivers and announces like the worker
        TRACES,
    ])


def test_reconcile_role_grants_exactly_what_the_sweep_needs(cfn_template):
    assert granted_by(cfn_template, RECONCILE_ROLE) == expected_grants([
        (get_att(RECONCILE_LOG_GROUP, "Arn"), {"logs:CreateLogStream", "logs:PutLogEvents"}),
        *AUTH0_ACCESS,
        TABLE_ACCESS,
        *DELIVERY_ACCESS,
        TRACES,
    ])
    # No queue at all: the sweep reads the tenant, not the event path.
    assert not [a for actions in granted_by(cfn_template, RECONCILE_ROLE).values() for a in actions
                if a.startswith("sqs:")]
