"""template.yaml, credentials delivery and the platform's event: off by default, and when on, the
functions may write secrets only under ClientSecretsPrefix and send events only to NotificationBusName."""

from __future__ import annotations

import re

import pytest

from tests.template.support import (
    CLIENT_SECRETS_ARN,
    FUNCTION,
    NOTIFICATION_BUS_ARN,
    RECONCILE_ROLE,
    REPLAY_ROLE,
    ROLE,
    as_list,
    props,
    ref,
)

ROLES = [ROLE, RECONCILE_ROLE, REPLAY_ROLE]
DELIVERY_ACTIONS = {"secretsmanager:DescribeSecret", "secretsmanager:CreateSecret", "secretsmanager:PutSecretValue",
                    "secretsmanager:TagResource"}


def optional_policy(template, role: str, name: str) -> tuple[str, dict]:
    """(the condition, the policy) of the role's optional policy ``name``."""
    for policy in props(template, role)["Policies"]:
        if "Fn::If" in policy and policy["Fn::If"][1]["PolicyName"] == name:
            condition, document, otherwise = policy["Fn::If"]
            assert otherwise == ref("AWS::NoValue")
            return condition, document["PolicyDocument"]
    raise AssertionError(f"{role} has no policy {name}")


def test_both_are_off_by_default(sam_template):
    parameters = sam_template["Parameters"]
    for name in ("ClientSecretsPrefix", "ClientSecretsKmsKeyArn", "NotificationBusName"):
        assert parameters[name]["Default"] == "", name


def test_the_functions_read_them_from_the_parameters(cfn_template):
    variables = props(cfn_template, FUNCTION)["Environment"]["Variables"]
    assert variables["CLIENT_SECRETS_PREFIX"] == ref("ClientSecretsPrefix")
    assert variables["CLIENT_SECRETS_KMS_KEY_ID"] == ref("ClientSecretsKmsKeyArn")
    assert variables["NOTIFICATION_BUS_NAME"] == ref("NotificationBusName")


def test_the_command_line_reads_them_from_the_stack():
    from token_exchange_enabler.cli import STACK_PARAMETERS

    assert {k: STACK_PARAMETERS[k] for k in ("ClientSecretsPrefix", "ClientSecretsKmsKeyArn", "NotificationBusName")} \
        == {"ClientSecretsPrefix": "CLIENT_SECRETS_PREFIX", "ClientSecretsKmsKeyArn": "CLIENT_SECRETS_KMS_KEY_ID",
            "NotificationBusName": "NOTIFICATION_BUS_NAME"}


@pytest.mark.parametrize(("value", "accepted"), [
    ("", True), ("token-exchange/clients/", True), ("tee_clients.", True), ("a" * 256, True),
    ("with space/", False), ("star*", False), ("a" * 257, False),
])
def test_the_prefix_parameter_accepts_what_the_library_accepts(sam_template, value, accepted):
    from token_exchange_enabler.config import Config, ConfigError

    pattern = sam_template["Parameters"]["ClientSecretsPrefix"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted
    env = {"AUTH0_DOMAIN": "acme.eu.auth0.com", "AUTH0_CREDENTIALS_SECRET_ID": "c", "TOKEN_CACHE_SECRET_ID": "t",
           "CLIENT_SECRETS_PREFIX": value}
    try:
        Config.from_env(env)
        library = True
    except ConfigError:
        library = False
    assert library is accepted


def test_delivery_is_refused_at_deploy_time_where_the_library_refuses_it(sam_template):
    rules = sam_template["Rules"]
    legacy = rules["GrantsNeedOnBehalfOfMode"]
    assert legacy["RuleCondition"] == {"Fn::Equals": [ref("TokenExchangeMode"), "legacy_resource_server"]}
    assert {"Fn::Equals": [ref("ClientSecretsPrefix"), ""]} in [a["Assert"] for a in legacy["Assertions"]]
    key = rules["ClientSecretsKeyNeedsPrefix"]
    assert key["RuleCondition"] == {"Fn::Equals": [ref("ClientSecretsPrefix"), ""]}
    assert [a["Assert"] for a in key["Assertions"]] == [{"Fn::Equals": [ref("ClientSecretsKmsKeyArn"), ""]}]


def test_the_conditions_follow_the_parameters(sam_template):
    conditions = sam_template["Conditions"]
    assert conditions["DeliversClientSecrets"] == {"Fn::Not": [{"Fn::Equals": [ref("ClientSecretsPrefix"), ""]}]}
    assert conditions["HasClientSecretsKmsKey"] == {"Fn::And": [
        {"Condition": "DeliversClientSecrets"}, {"Fn::Not": [{"Fn::Equals": [ref("ClientSecretsKmsKeyArn"), ""]}]}]}
    assert conditions["HasNotificationBus"] == {"Fn::Not": [{"Fn::Equals": [ref("NotificationBusName"), ""]}]}


@pytest.mark.parametrize("role", ROLES)
def test_secrets_may_be_created_and_written_only_under_the_prefix(cfn_template, role):
    condition, document = optional_policy(cfn_template, role, "DeliverClientCredentials")
    # Granted only when the prefix is set: the ARN below is then never "secret:*".
    assert condition == "DeliversClientSecrets"
    secrets_statement, kms = document["Statement"]
    assert secrets_statement["Effect"] == "Allow"
    assert set(as_list(secrets_statement["Action"])) == DELIVERY_ACTIONS
    assert as_list(secrets_statement["Resource"]) == [CLIENT_SECRETS_ARN]
    assert CLIENT_SECRETS_ARN["Fn::Sub"].endswith(":secret:${ClientSecretsPrefix}*")
    # The functions never read a delivered secret: that is for the API's own service.
    assert "secretsmanager:GetSecretValue" not in as_list(secrets_statement["Action"])
    # The customer managed key: only with it, only through Secrets Manager, only for these secrets.
    assert kms["Fn::If"][0] == "HasClientSecretsKmsKey" and kms["Fn::If"][2] == ref("AWS::NoValue")
    key = kms["Fn::If"][1]
    assert set(as_list(key["Action"])) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert as_list(key["Resource"]) == [ref("ClientSecretsKmsKeyArn")]
    assert key["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}},
        "StringLike": {"kms:EncryptionContext:SecretARN": CLIENT_SECRETS_ARN},
    }


@pytest.mark.parametrize("role", ROLES)
def test_events_may_be_sent_to_the_notification_bus_only(cfn_template, role):
    condition, document = optional_policy(cfn_template, role, "AnnounceEnabledApis")
    assert condition == "HasNotificationBus"
    (statement,) = document["Statement"]
    assert (statement["Effect"], as_list(statement["Action"])) == ("Allow", ["events:PutEvents"])
    assert as_list(statement["Resource"]) == [NOTIFICATION_BUS_ARN]


def test_no_other_statement_touches_the_delivered_secrets_or_the_bus(cfn_template):
    from tests.template.support import policy_statements

    for rid, policy, statement in policy_statements(cfn_template):
        resources = as_list(statement.get("Resource", []))
        if CLIENT_SECRETS_ARN in resources or NOTIFICATION_BUS_ARN in resources:
            assert policy in ("DeliverClientCredentials", "AnnounceEnabledApis"), (rid, policy)
        if any(isinstance(a, str) and a.startswith("events:") for a in as_list(statement["Action"])):
            assert policy == "AnnounceEnabledApis", (rid, policy)
