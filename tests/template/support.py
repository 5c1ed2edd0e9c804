"""The SAM template, as written and as CloudFormation receives it after the SAM transform, and the
helpers the template tests share (logical ids, lookups, IAM grants).

Nothing here reaches AWS: the transform runs locally (aws-sam-translator, the library behind
``sam validate`` and CloudFormation's own AWS::Serverless transform) with the AWS managed policy
list it would fetch from IAM replaced by a fixed table.

The tests, by concern: test_template.py (valid, parameters, layer, outputs, deployment settings),
test_event_path.py (rule, queues, dead-letter queues, event source mapping), test_worker.py (the
worker function, its configuration and its state), test_iam.py (roles and resource policies),
test_alarms.py, test_operations_functions.py (replay, reconcile and the sweep's schedule), and
test_layer_build.py (the layer's build recipe).
"""

from __future__ import annotations

import ast
import copy
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"
LIBRARY_DIR = ROOT / "layers" / "token_exchange" / "python" / "token_exchange_enabler"

# Logical ids of the template's resources.
FUNCTION = "EnableTokenExchangeFunction"
ROLE = "EnableTokenExchangeFunctionRole"
RULE = "ApiCreatedRule"
QUEUE = "ApiCreatedQueue"
DLQ = "DeadLetterQueue"
DELIVERY_DLQ = "DeliveryDeadLetterQueue"
LOG_GROUP = "EnableTokenExchangeLogGroup"
TOKEN_CACHE = "TokenCacheSecret"
TABLE = "IdempotencyTable"
TOPIC = "AlarmTopic"
REPLAY_FUNCTION = "ReplayFunction"
REPLAY_ROLE = "ReplayFunctionRole"
REPLAY_LOG_GROUP = "ReplayLogGroup"
RECONCILE_FUNCTION = "ReconcileFunction"
RECONCILE_ROLE = "ReconcileFunctionRole"
RECONCILE_LOG_GROUP = "ReconcileLogGroup"

# Values for the parameters that have no default (SAM fills in the defaults of the others).
PARAMETER_VALUES = {
    "Auth0Domain": "acme.eu.auth0.com",
    "Auth0EventBusName": "aws.partner/auth0.com/acme-4f6d2c8e-9b1a-4e37-8a52-0c7d3e9f1b64/auth0.logs",
    "Auth0CredentialsSecretArn": (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-exchange-enabler/auth0-AbCdEf"
    ),
}

# What `sam package` writes in place of local code folders.
_PACKAGED_URI = {
    "AWS::Serverless::Function": ("CodeUri", "s3://artifacts-bucket/function.zip"),
    "AWS::Serverless::LayerVersion": ("ContentUri", "s3://artifacts-bucket/layer.zip"),
}


class StaticManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which lists AWS managed policies via IAM.

    SAM asks for the table only when a function's Policies name an AWS managed policy; this covers
    the ones a SAM function ordinarily uses.
    """

    POLICIES = {
        name: f"arn:aws:iam::aws:policy/{path}{name}"
        for path, name in [
            ("service-role/", "AWSLambdaBasicExecutionRole"),
            ("service-role/", "AWSLambdaSQSQueueExecutionRole"),
            ("", "AWSXrayWriteOnlyAccess"),
        ]
    }

    def load(self) -> dict[str, str]:
        return dict(self.POLICIES)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts and lists, short-form intrinsics (!Ref, !Sub...) expanded."""
    from cfnlint.decode import cfn_yaml

    # A JSON round trip drops cfn-lint's position-tracking node types.
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template that the AWS::Serverless transform makes of ``template``."""
    from samtranslator.translator.transform import transform

    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        if resource["Type"] in _PACKAGED_URI:
            key, uri = _PACKAGED_URI[resource["Type"]]
            resource["Properties"][key] = uri
    with pytest.MonkeyPatch.context() as patch:
        # The translator fills AWS::Region / AWS::Partition from a boto3 session's region.
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        return transform(packaged, dict(PARAMETER_VALUES), StaticManagedPolicyLoader())


# --- lookups -----------------------------------------------------------------------------------


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def get_att(name: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [name, attribute]}


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {rid: r for rid, r in template["Resources"].items() if r["Type"] == resource_type}


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def branches(items: list[Any]) -> Iterator[Any]:
    """Every item a list can hold: both sides of an Fn::If, without AWS::NoValue."""
    for item in items:
        if isinstance(item, dict) and set(item) == {"Fn::If"}:
            yield from branches(item["Fn::If"][1:])
        elif item != ref("AWS::NoValue"):
            yield item


def the_event_source_mapping(template: dict[str, Any]) -> dict[str, Any]:
    [mapping] = resources(template, "AWS::Lambda::EventSourceMapping").values()
    return mapping["Properties"]


def the_layer_id(template: dict[str, Any], resource_type: str) -> str:
    [layer_id] = resources(template, resource_type)
    return layer_id


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rid: r["Properties"] for rid, r in resources(template, "AWS::CloudWatch::Alarm").items()}


# --- functions ---------------------------------------------------------------------------------

# The configuration contract every function gets from Globals (see docs/design.md).
EXPECTED_ENVIRONMENT = {
    "AUTH0_DOMAIN": ref("Auth0Domain"),
    "AUTH0_CREDENTIALS_SECRET_ID": ref("Auth0CredentialsSecretArn"),
    "TOKEN_CACHE_SECRET_ID": ref(TOKEN_CACHE),  # Ref of a secret is its ARN
    "TOKEN_EXCHANGE_MODE": ref("TokenExchangeMode"),
    "DEAD_LETTER_QUEUE_URL": ref(DLQ),  # Ref of a queue is its URL
    "IDEMPOTENCY_TABLE_NAME": ref(TABLE),
    "SKIP_IDENTIFIER_PATTERNS": ref("SkipIdentifierPatterns"),
    "DOWNSTREAM_GRANTS": ref("DownstreamGrants"),
    "SKIP_CREATED_BY_CLIENT_IDS": ref("SkipCreatedByClientIds"),
    "MANAGEMENT_API_RATE_SHARE": ref("ManagementApiRateShare"),
    "DRY_RUN": ref("DryRun"),
    "CLIENT_SECRETS_PREFIX": ref("ClientSecretsPrefix"),
    "CLIENT_SECRETS_KMS_KEY_ID": ref("ClientSecretsKmsKeyArn"),
    "NOTIFICATION_BUS_NAME": ref("NotificationBusName"),
    "POWERTOOLS_SERVICE_NAME": "token-exchange-enabler",
    "POWERTOOLS_METRICS_NAMESPACE": "TokenExchangeEnabler",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def handler_arguments(sam_template: dict[str, Any], function: str) -> list[str]:
    """The parameters of the handler the template names for ``function`` (it must exist, once)."""
    written = props(sam_template, function)
    module, handler = written["Handler"].rsplit(".", 1)
    tree = ast.parse((ROOT / written["CodeUri"] / f"{module}.py").read_text(encoding="utf-8"))
    [definition] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == handler]
    return [a.arg for a in definition.args.args]


def variables_the_library_never_reads(cfn_template: dict[str, Any], function: str) -> list[str]:
    """The function's environment variables (Powertools' aside) that no library module names."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in LIBRARY_DIR.rglob("*.py"))
    variables = props(cfn_template, function)["Environment"]["Variables"]
    return [name for name in variables if not name.startswith("POWERTOOLS_") and f'"{name}"' not in source]


def assert_log_group_of_the_stack(cfn_template: dict[str, Any], log_group: str) -> None:
    """Deleted with the stack, kept for LogRetentionDays, named after the stack."""
    group = cfn_template["Resources"][log_group]
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Delete"
    assert group["Properties"]["RetentionInDays"] == ref("LogRetentionDays")
    assert group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/lambda/${AWS::StackName}-")


# --- permissions -------------------------------------------------------------------------------

TRACES = ("*", {"xray:PutTraceSegments", "xray:PutTelemetryRecords"})  # only with TracingEnabled
# What every function that calls Auth0 needs: its credentials and the shared token cache.
AUTH0_ACCESS = [
    (ref("Auth0CredentialsSecretArn"), {"secretsmanager:GetSecretValue"}),
    (ref("Auth0CredentialsSecretKmsKeyArn"), {"kms:Decrypt"}),  # only with HasCredentialsSecretKmsKey
    (
        ref(TOKEN_CACHE),
        {
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
        },
    ),
]
# The per-API lease lock (locks.py): a conditional PutItem to take it, a conditional DeleteItem to release it.
TABLE_ACCESS = (get_att(TABLE, "Arn"), {"dynamodb:PutItem", "dynamodb:DeleteItem"})
# Credentials delivery (client_secrets.py), only under ClientSecretsPrefix and only with condition
# DeliversClientSecrets; the KMS key only with HasClientSecretsKmsKey. The platform's event on the
# one bus (HasNotificationBus). Every function that enables an API delivers and announces.
CLIENT_SECRETS_ARN = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
                                 "${ClientSecretsPrefix}*"}
NOTIFICATION_BUS_ARN = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/"
                                   "${NotificationBusName}"}
DELIVERY_ACCESS = [
    (CLIENT_SECRETS_ARN, {"secretsmanager:DescribeSecret", "secretsmanager:CreateSecret",
                          "secretsmanager:PutSecretValue", "secretsmanager:TagResource"}),
    (ref("ClientSecretsKmsKeyArn"), {"kms:GenerateDataKey", "kms:Decrypt"}),
    (NOTIFICATION_BUS_ARN, {"events:PutEvents"}),
]


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource id, policy name, statement) for every permission statement in the template."""
    for rid, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents: list[tuple[str, dict[str, Any]]] = []
        if resource["Type"] == "AWS::IAM::Role":
            documents += [
                (p["PolicyName"], p["PolicyDocument"]) for p in branches(properties.get("Policies", []))
            ]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append((properties.get("PolicyName", rid), properties["PolicyDocument"]))
        elif resource["Type"] in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            documents.append((rid, properties["PolicyDocument"]))
        for name, document in documents:
            for statement in branches(as_list(document["Statement"])):
                yield rid, name, statement


def queue_policy_for(template: dict[str, Any], queue: str) -> dict[str, Any]:
    [policy] = [
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if ref(queue) in p["Properties"]["Queues"]
    ]
    return policy


def granted_by(template: dict[str, Any], role: str) -> dict[str, set[str]]:
    """What ``role`` may do: JSON of each resource -> its actions (every statement must Allow)."""
    granted: dict[str, set[str]] = defaultdict(set)
    for rid, _policy, statement in policy_statements(template):
        if rid == role:
            assert statement["Effect"] == "Allow"
            for resource in as_list(statement["Resource"]):
                granted[json.dumps(resource, sort_keys=True)] |= set(as_list(statement["Action"]))
    return dict(granted)


def expected_grants(pairs: list[tuple[Any, set[str]]]) -> dict[str, set[str]]:
    """(resource, actions) pairs in the shape of :func:`granted_by`."""
    return {json.dumps(resource, sort_keys=True): actions for resource, actions in pairs}
