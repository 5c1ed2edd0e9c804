"""template.yaml: it transforms and lints cleanly, and it wires what the design asks for.

Fast and offline: the SAM transform and cfn-lint run in-process; EventBridge matching is moto's
implementation of event patterns.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.template.support import EVENTS_DIR, PARAMETER_VALUES, ROOT, SAMCONFIG_PATH, SHARED_SAMPLES

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

# cfn-lint findings accepted (rule id -> why). Informational checks are on, so this is strict.
ACCEPTED_LINT_FINDINGS: dict[str, str] = {}
LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]

# IAM Allow statements whose Resource may be "*": (resource id, policy name) -> why.
DOCUMENTED_WILDCARD_RESOURCES = {
    (ROLE, "WriteTraces"): "xray:PutTraceSegments/PutTelemetryRecords have no resource-level permissions",
    ("ReplayFunctionRole", "WriteTraces"): "xray:PutTraceSegments/PutTelemetryRecords have no resource-level "
                                           "permissions",
    ("ReconcileFunctionRole", "WriteTraces"): "xray:PutTraceSegments/PutTelemetryRecords have no resource-level "
                                              "permissions",
}


# --- helpers -----------------------------------------------------------------------------------


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


def the_event_source_mapping(template: dict[str, Any]) -> dict[str, Any]:
    [mapping] = resources(template, "AWS::Lambda::EventSourceMapping").values()
    return mapping["Properties"]


def the_layer_id(template: dict[str, Any], resource_type: str) -> str:
    [layer_id] = resources(template, resource_type)
    return layer_id


# --- the template is valid ---------------------------------------------------------------------


def _lint(text: str) -> list[str]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(text, config=ManualArgs(regions=LINT_REGIONS, include_checks=["I"]))
    return [
        f"{m.rule.id} line {m.linenumber}: {m.message}"
        for m in matches
        if m.rule.id not in ACCEPTED_LINT_FINDINGS
    ]


def test_cfn_lint_accepts_the_sam_template(template_text):
    assert _lint(template_text) == []


def test_cfn_lint_accepts_the_transformed_template(cfn_template):
    assert "Transform" not in cfn_template
    assert _lint(json.dumps(cfn_template)) == []


def test_the_transform_produces_the_function_its_mapping_and_the_layer(cfn_template):
    assert cfn_template["Resources"][FUNCTION]["Type"] == "AWS::Lambda::Function"
    assert props(cfn_template, FUNCTION)["Role"] == get_att(ROLE, "Arn")  # not a SAM-generated role
    assert len(resources(cfn_template, "AWS::Lambda::EventSourceMapping")) == 1
    assert len(resources(cfn_template, "AWS::Lambda::LayerVersion")) == 1


# --- parameters --------------------------------------------------------------------------------


def test_required_parameters_are_the_tenant_facts(sam_template):
    required = {name for name, p in sam_template["Parameters"].items() if "Default" not in p}
    assert required == set(PARAMETER_VALUES)
    assert all(p.get("Description") for p in sam_template["Parameters"].values())


def test_parameter_defaults(sam_template):
    defaults = {name: p.get("Default") for name, p in sam_template["Parameters"].items()}
    assert (
        defaults
        | {
            "TokenExchangeMode": "on_behalf_of",
            "MaximumConcurrency": 5,
            "BatchSize": 10,
            "MaxReceiveCount": 5,
            "FunctionTimeout": 60,
            "FunctionMemorySize": 256,
            "LogRetentionDays": 30,
            "SkipIdentifierPatterns": "",
            "DownstreamGrantAudiences": "",
            "DryRun": "false",
            "AlarmEmail": "",
            "EnableTracing": "false",
        }
        == defaults
    )
    assert sam_template["Parameters"]["MaximumConcurrency"]["MinValue"] == 2  # the SQS event source's minimum


def test_token_exchange_modes_are_the_librarys(sam_template):
    from token_exchange_enabler.config import MODES

    assert sam_template["Parameters"]["TokenExchangeMode"]["AllowedValues"] == list(MODES)


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("Auth0Domain", "acme.eu.auth0.com", True),
        ("Auth0Domain", "login.acme-corp.com", True),
        ("Auth0Domain", "https://acme.eu.auth0.com", False),
        ("Auth0Domain", "acme.eu.auth0.com/", False),
        ("Auth0Domain", "acme", False),
        ("Auth0Domain", "Acme.eu.auth0.com", False),
        ("Auth0EventBusName", PARAMETER_VALUES["Auth0EventBusName"], True),
        ("Auth0EventBusName", "bus with spaces", False),
        ("Auth0CredentialsSecretArn", PARAMETER_VALUES["Auth0CredentialsSecretArn"], True),
        ("Auth0CredentialsSecretArn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:auth0", False),
        ("Auth0CredentialsSecretArn", "token-exchange-enabler/auth0", False),
        ("Auth0CredentialsSecretKmsKeyArn", "", True),
        ("Auth0CredentialsSecretKmsKeyArn", "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd", True),
        ("Auth0CredentialsSecretKmsKeyArn", "alias/aws/secretsmanager", False),
        ("AlarmEmail", "", True),
        ("AlarmEmail", "alerts@acme.com", True),
        ("AlarmEmail", "alerts", False),
    ],
)
def test_parameter_patterns(sam_template, parameter, value, accepted):
    pattern = sam_template["Parameters"][parameter]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted


# --- the rule: exactly "API created" ------------------------------------------------------------


def auth0_log(
    method: str = "post",
    path: str = "/api/v2/resource-servers",
    status: Any = 201,
    log_type: str = "sapi",
    detail_type: str = "Auth0 log",
) -> dict[str, Any]:
    """An EventBridge event from an Auth0 log stream (shape of the samples in shared/samples)."""
    return {
        "version": "0",
        "id": "5c2e8f41-7a3b-9d06-e1f4-2b8c6d0a9e37",
        "detail-type": detail_type,
        "source": "aws.partner/auth0.com/acme-4f6d2c8e-9b1a-4e37-8a52-0c7d3e9f1b64/auth0.logs",
        "account": "123456789012",
        "time": "2025-03-12T09:45:18Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "log_id": "90020250312094517842107456389021563748219036547182930456",
            "data": {
                "date": "2025-03-12T09:45:17.842Z",
                "type": log_type,
                "description": "Create a resource server",
                "details": {
                    "request": {"method": method, "path": path, "query": {}, "body": {}},
                    "response": {"statusCode": status, "body": {"id": "67d15a2f8c3e4b0012a9f6d1"}},
                },
            },
        },
    }


def is_api_created(event: dict[str, Any]) -> bool:
    """The design's definition of "API created", written out independently of the pattern."""
    data = (event.get("detail") or {}).get("data") or {}
    details = data.get("details") or {}
    request, response = details.get("request") or {}, details.get("response") or {}
    status = response.get("statusCode")
    return (
        event.get("detail-type") == "Auth0 log"
        and data.get("type") == "sapi"
        and request.get("method") == "post"
        and isinstance(request.get("path"), str)
        and request["path"].split("?", 1)[0] == "/api/v2/resource-servers"
        and isinstance(status, int | float)
        and not isinstance(status, bool)
        and 200 <= status < 300
    )


CLIENT_ID = "Rc3Vx8Nq1Lm6Tz4Wb9Kd2Hf7Pj5Sg0Ya"
API_ID = "67d15a2f8c3e4b0012a9f6d1"
RULE_CASES = [
    pytest.param(auth0_log(), True, id="api-created-201"),
    pytest.param(auth0_log(status=200), True, id="api-created-200"),
    pytest.param(auth0_log(path="/api/v2/resource-servers?fields=id"), True, id="api-created-query-in-path"),
    pytest.param(auth0_log(status=300), False, id="status-300-is-not-2xx"),
    pytest.param(auth0_log(status=409), False, id="api-create-conflict-409"),
    pytest.param(auth0_log(status=400), False, id="api-create-invalid-400"),
    pytest.param(auth0_log(status=500), False, id="api-create-error-500"),
    pytest.param(auth0_log(status="201"), False, id="status-as-text"),
    pytest.param(auth0_log(log_type="fapi"), False, id="failed-api-operation"),
    pytest.param(auth0_log(detail_type="Auth0 event"), False, id="other-detail-type"),
    # The project's own writes must never trigger it (no loops).
    pytest.param(auth0_log(path="/api/v2/clients"), False, id="own-create-client"),
    pytest.param(auth0_log("patch", f"/api/v2/clients/{CLIENT_ID}", 200), False, id="own-update-client"),
    pytest.param(auth0_log(path="/api/v2/client-grants"), False, id="own-create-client-grant"),
    pytest.param(auth0_log("patch", f"/api/v2/resource-servers/{API_ID}", 200), False, id="own-legacy-patch"),
    # Neighbours of the path.
    pytest.param(auth0_log("delete", f"/api/v2/resource-servers/{API_ID}", 204), False, id="delete-api"),
    pytest.param(auth0_log(path=f"/api/v2/resource-servers/{API_ID}"), False, id="post-under-an-api"),
    pytest.param(auth0_log(path="/api/v2/resource-servers-archive"), False, id="post-longer-path"),
]


def _eventbridge_events(path: Path) -> Iterator[tuple[str, Any]]:
    """(label, event) for an EventBridge event file, or for each event body of an SQS batch file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return  # not an event file
    if not isinstance(data, dict):
        return
    if "detail-type" in data:
        yield path.name, data
    for number, record in enumerate(data.get("Records", [])):
        try:
            body = json.loads(record.get("body", ""))
        except ValueError:
            continue  # a deliberately malformed message: nothing a rule could have matched
        if isinstance(body, dict) and "detail-type" in body:
            yield f"{path.name}#{number}", body


def _sample_events() -> Iterator[Any]:
    """Every EventBridge event among the project's sample events and the shared real samples."""
    for path in sorted(EVENTS_DIR.glob("*.json")):
        for label, event in _eventbridge_events(path):
            yield pytest.param(event, id=f"events/{label}")
    for name in ("eventbridge-auth0-log-console-sample-sapi.json", "eventbridge-auth0-log-real-login-s.json"):
        if (SHARED_SAMPLES / name).is_file():
            yield from (
                pytest.param(e, id=f"shared/{label}")
                for label, e in _eventbridge_events(SHARED_SAMPLES / name)
            )
    # Real log-stream records ({log_id, data}, what EventBridge puts under "detail").
    records = SHARED_SAMPLES / "logstream-sapi-samples.elastic-integrations.json"
    if records.is_file():
        for record in json.loads(records.read_text(encoding="utf-8")):
            yield pytest.param(
                {**auth0_log(), "detail": record},
                id="shared/logstream-" + record["data"]["description"].lower().replace(" ", "-"),
            )


@pytest.fixture(scope="module")
def api_created_pattern(sam_template):
    from moto.events.models import EventPattern

    pattern = props(sam_template, RULE)["EventPattern"]
    return EventPattern.load(json.dumps(pattern))  # also validates the pattern's syntax


@pytest.mark.parametrize(("event", "expected"), RULE_CASES)
def test_rule_matches_exactly_api_created(api_created_pattern, event, expected):
    assert is_api_created(event) is expected  # the reference definition agrees with the case
    assert api_created_pattern.matches_event(event) is expected


@pytest.mark.parametrize("event", list(_sample_events()))
def test_rule_agrees_with_the_design_on_sample_events(api_created_pattern, event):
    assert api_created_pattern.matches_event(event) is is_api_created(event)


def test_rule_pattern_filters_on_exactly_the_designed_fields(sam_template):
    def leaves(node: dict[str, Any], prefix: str = "") -> set[str]:
        found = set()
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            found |= leaves(value, path) if isinstance(value, dict) else {path}
        return found

    assert leaves(props(sam_template, RULE)["EventPattern"]) == {
        "detail-type",
        "detail.data.type",
        "detail.data.details.request.method",
        "detail.data.details.request.path",
        "detail.data.details.response.statusCode",
    }


def test_rule_listens_on_the_partner_bus_and_targets_the_queue(sam_template):
    rule = props(sam_template, RULE)
    assert rule["EventBusName"] == ref("Auth0EventBusName")
    assert rule["State"] == "ENABLED"
    [target] = rule["Targets"]
    assert target["Arn"] == get_att(QUEUE, "Arn")
    assert target["DeadLetterConfig"]["Arn"] == get_att(DELIVERY_DLQ, "Arn")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


# --- queues ------------------------------------------------------------------------------------


def test_visibility_timeout_is_at_least_six_times_the_function_timeout(sam_template, cfn_template):
    queue = props(cfn_template, QUEUE)
    function = props(cfn_template, FUNCTION)
    assert function["Timeout"] == ref("FunctionTimeout")
    assert queue["VisibilityTimeout"] == {
        "Fn::FindInMap": ["QueueVisibilityTimeouts", ref("FunctionTimeout"), "VisibilityTimeout"]
    }
    table = sam_template["Mappings"]["QueueVisibilityTimeouts"]
    allowed = sam_template["Parameters"]["FunctionTimeout"]["AllowedValues"]
    assert sorted(int(key) for key in table) == sorted(allowed)  # every choice has its visibility timeout
    batching_window = the_event_source_mapping(cfn_template)["MaximumBatchingWindowInSeconds"]
    for timeout in allowed:
        visibility = table[str(timeout)]["VisibilityTimeout"]
        assert visibility >= 6 * timeout, timeout
        assert visibility <= 43_200  # SQS's maximum
        assert visibility > timeout + batching_window


def test_queue_redrives_to_the_dead_letter_queue(cfn_template):
    queue = props(cfn_template, QUEUE)
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": get_att(DLQ, "Arn"),
        "maxReceiveCount": ref("MaxReceiveCount"),
    }
    # Only the source queue may use the dead-letter queue; its ARN is built from the queue's name.
    allow = props(cfn_template, DLQ)["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    [source_arn] = allow["sourceQueueArns"]
    assert source_arn == {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:"
        + queue["QueueName"]["Fn::Sub"]
    }
    assert props(cfn_template, DELIVERY_DLQ)["RedriveAllowPolicy"] == {"redrivePermission": "denyAll"}


def test_dead_letter_queues_keep_messages_longer_than_the_queue(cfn_template):
    retention = {q: props(cfn_template, q)["MessageRetentionPeriod"] for q in (QUEUE, DLQ, DELIVERY_DLQ)}
    assert retention[QUEUE] == 4 * 86_400
    assert retention[DLQ] == retention[DELIVERY_DLQ] == 14 * 86_400
    assert retention[DLQ] > retention[QUEUE]


def test_every_queue_is_encrypted_and_refuses_plain_http(cfn_template):
    queues = resources(cfn_template, "AWS::SQS::Queue")
    assert set(queues) == {QUEUE, DLQ, DELIVERY_DLQ}
    for queue in queues:
        assert props(cfn_template, queue)["SqsManagedSseEnabled"] is True
        statements = queue_policy_for(cfn_template, queue)["Statement"]
        assert {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": get_att(queue, "Arn"),
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        } in statements


@pytest.mark.parametrize("queue", [QUEUE, DELIVERY_DLQ])
def test_only_the_rule_may_send_to_the_queues_eventbridge_writes(cfn_template, queue):
    allows = [s for s in queue_policy_for(cfn_template, queue)["Statement"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "AllowApiCreatedRuleOnly",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": get_att(queue, "Arn"),
            "Condition": {"ArnEquals": {"aws:SourceArn": get_att(RULE, "Arn")}},
        }
    ]


def test_nobody_is_granted_the_worker_dead_letter_queue_by_queue_policy(cfn_template):
    assert [s for s in queue_policy_for(cfn_template, DLQ)["Statement"] if s["Effect"] == "Allow"] == []


# --- the worker --------------------------------------------------------------------------------


def test_event_source_mapping_reports_partial_failures_with_bounded_concurrency(cfn_template):
    mapping = the_event_source_mapping(cfn_template)
    assert mapping["EventSourceArn"] == get_att(QUEUE, "Arn")
    assert mapping["FunctionName"] == ref(FUNCTION)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": ref("MaximumConcurrency")}
    assert mapping["BatchSize"] == ref("BatchSize")
    assert 1 <= mapping["MaximumBatchingWindowInSeconds"] <= 300  # >= 1 lets BatchSize exceed 10


def test_function_runs_the_handler_on_arm64_python312_with_the_layer(sam_template, cfn_template):
    function = props(cfn_template, FUNCTION)
    assert function["Handler"] == "app.lambda_handler"
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["MemorySize"] == ref("FunctionMemorySize")
    assert function["Layers"] == [ref(the_layer_id(cfn_template, "AWS::Lambda::LayerVersion"))]
    assert function["LoggingConfig"] == {"LogGroup": ref(LOG_GROUP)}
    # Tracing on <=> Powertools Tracer on.
    assert function["TracingConfig"] == {"Mode": {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}}
    assert function["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingEnabled", "false", "true"]
    }
    assert sam_template["Conditions"]["TracingEnabled"] == {"Fn::Equals": [ref("EnableTracing"), "true"]}


def test_handler_named_by_the_template_exists(sam_template):
    function = props(sam_template, FUNCTION)
    module, handler = function["Handler"].rsplit(".", 1)
    source = ROOT / function["CodeUri"] / f"{module}.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    [definition] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == handler]
    assert [a.arg for a in definition.args.args] == ["event", "context"]


EXPECTED_ENVIRONMENT = {
    "AUTH0_DOMAIN": ref("Auth0Domain"),
    "AUTH0_CREDENTIALS_SECRET_ID": ref("Auth0CredentialsSecretArn"),
    "TOKEN_CACHE_SECRET_ID": ref(TOKEN_CACHE),  # Ref of a secret is its ARN
    "TOKEN_EXCHANGE_MODE": ref("TokenExchangeMode"),
    "DEAD_LETTER_QUEUE_URL": ref(DLQ),  # Ref of a queue is its URL
    "IDEMPOTENCY_TABLE_NAME": ref(TABLE),
    "SKIP_IDENTIFIER_PATTERNS": ref("SkipIdentifierPatterns"),
    "DOWNSTREAM_GRANT_AUDIENCES": ref("DownstreamGrantAudiences"),
    "DRY_RUN": ref("DryRun"),
    "POWERTOOLS_SERVICE_NAME": "token-exchange-enabler",
    "POWERTOOLS_METRICS_NAMESPACE": "TokenExchangeEnabler",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def test_function_environment_is_the_configuration_contract(cfn_template):
    variables = props(cfn_template, FUNCTION)["Environment"]["Variables"]
    assert {name: variables.get(name) for name in EXPECTED_ENVIRONMENT} == EXPECTED_ENVIRONMENT
    assert set(variables) == set(EXPECTED_ENVIRONMENT) | {"POWERTOOLS_TRACE_DISABLED"}


def test_the_library_reads_every_variable_the_template_sets(cfn_template):
    library = ROOT / "layers" / "token_exchange" / "python" / "token_exchange_enabler"
    source = "\n".join(p.read_text(encoding="utf-8") for p in library.rglob("*.py"))
    variables = props(cfn_template, FUNCTION)["Environment"]["Variables"]
    unread = [name for name in variables if not name.startswith("POWERTOOLS_") and f'"{name}"' not in source]
    assert unread == []


# --- permissions -------------------------------------------------------------------------------


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
    granted: dict[str, set[str]] = defaultdict(set)
    for rid, _policy, statement in policy_statements(cfn_template):
        if rid == ROLE:
            assert statement["Effect"] == "Allow"
            for resource in as_list(statement["Resource"]):
                granted[json.dumps(resource, sort_keys=True)] |= set(as_list(statement["Action"]))
    expected = [
        (get_att(LOG_GROUP, "Arn"), {"logs:CreateLogStream", "logs:PutLogEvents"}),
        (
            get_att(QUEUE, "Arn"),
            {
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            },
        ),
        (get_att(DLQ, "Arn"), {"sqs:SendMessage"}),
        (ref("Auth0CredentialsSecretArn"), {"secretsmanager:GetSecretValue"}),
        (ref("Auth0CredentialsSecretKmsKeyArn"), {"kms:Decrypt"}),  # only with HasCredentialsSecretKmsKey
        (
            ref(TOKEN_CACHE),
            {
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecretVersionStage",
            },
        ),
        (
            get_att(TABLE, "Arn"),
            {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
        ),
        ("*", {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}),  # only with TracingEnabled
    ]
    assert dict(granted) == {json.dumps(resource, sort_keys=True): actions for resource, actions in expected}


def test_optional_permissions_depend_on_their_conditions(cfn_template):
    policies = props(cfn_template, ROLE)["Policies"]
    [tracing] = [p for p in policies if "Fn::If" in p]
    assert tracing["Fn::If"][0] == "TracingEnabled"
    assert tracing["Fn::If"][2] == ref("AWS::NoValue")
    [credentials] = [p for p in policies if p.get("PolicyName") == "ReadAuth0Credentials"]
    [kms] = [s for s in credentials["PolicyDocument"]["Statement"] if "Fn::If" in s]
    assert kms["Fn::If"][0] == "HasCredentialsSecretKmsKey"
    assert kms["Fn::If"][1]["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}
    }


# --- state and logs ----------------------------------------------------------------------------


def test_log_group_belongs_to_the_stack(cfn_template):
    log_group = cfn_template["Resources"][LOG_GROUP]
    assert log_group["DeletionPolicy"] == log_group["UpdateReplacePolicy"] == "Delete"
    assert log_group["Properties"]["RetentionInDays"] == ref("LogRetentionDays")
    assert log_group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/lambda/${AWS::StackName}-")


def test_token_cache_secret_starts_empty(cfn_template):
    secret = props(cfn_template, TOKEN_CACHE)
    assert json.loads(secret["SecretString"]) == {}
    assert "do not edit" in secret["Description"].lower()


def test_idempotency_table_matches_powertools_defaults(cfn_template):
    table = props(cfn_template, TABLE)
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True


# --- alarms ------------------------------------------------------------------------------------


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rid: r["Properties"] for rid, r in resources(template, "AWS::CloudWatch::Alarm").items()}


def test_every_alarm_notifies_the_topic_and_ignores_missing_data(cfn_template):
    alarms = _alarms(cfn_template)
    assert alarms
    for alarm in alarms.values():
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
        for a in _alarms(cfn_template).values()
    )


def test_failed_records_alarm_watches_the_metric_powertools_emits(cfn_template):
    variables = props(cfn_template, FUNCTION)["Environment"]["Variables"]
    [alarm] = [a for a in _alarms(cfn_template).values() if a["MetricName"] == "FailedRecords"]
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 0)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_function_errors_raise_an_alarm(cfn_template):
    assert any(
        a["Namespace"] == "AWS/Lambda"
        and a["MetricName"] == "Errors"
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": ref(FUNCTION)}]
        for a in _alarms(cfn_template).values()
    )


def test_alarm_email_is_subscribed_only_when_given(sam_template, cfn_template):
    [subscription] = resources(cfn_template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == ref("AlarmEmail")
    assert sam_template["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]
    }


# --- layer, outputs, deployment settings -------------------------------------------------------


def test_layer_is_built_by_its_makefile_for_the_functions_platform(sam_template):
    layer_id = the_layer_id(sam_template, "AWS::Serverless::LayerVersion")
    layer = sam_template["Resources"][layer_id]
    function = props(sam_template, FUNCTION)
    shared = sam_template["Globals"]["Function"]
    assert "Runtime" not in function and "Architectures" not in function  # both come from Globals
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == [shared["Runtime"]]
    assert layer["Properties"]["CompatibleArchitectures"] == shared["Architectures"] == ["arm64"]
    assert layer["Properties"]["RetentionPolicy"] == "Delete"
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "Makefile").is_file()
    assert (content / "requirements.txt").is_file()
    assert (content / "python" / "token_exchange_enabler" / "__init__.py").is_file()


def test_outputs_name_what_operators_need(cfn_template):
    assert {
        "ApiCreatedQueueUrl",
        "ApiCreatedQueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "DeliveryDeadLetterQueueUrl",
        "DeliveryDeadLetterQueueArn",
        "EnableTokenExchangeFunctionName",
        "EnableTokenExchangeFunctionArn",
        "TokenCacheSecretArn",
        "IdempotencyTableName",
        "ApiCreatedRuleArn",
        "AlarmTopicArn",
    } <= set(cfn_template["Outputs"])


def test_samconfig_deploys_with_a_reviewed_change_set(cfn_template):
    config = tomllib.loads(Path(SAMCONFIG_PATH).read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    assert config["default"]["global"]["parameters"]["stack_name"] == "token-exchange-enabler"
    assert config["default"]["build"]["parameters"] == {"cached": True, "parallel": True}
    deploy = config["default"]["deploy"]["parameters"]
    assert (deploy["capabilities"], deploy["confirm_changeset"], deploy["resolve_s3"]) == (
        "CAPABILITY_IAM",
        True,
        True,
    )
    # CAPABILITY_IAM (not _NAMED_IAM) is enough only while no IAM resource has a fixed name.
    for role in resources(cfn_template, "AWS::IAM::Role").values():
        assert "RoleName" not in role["Properties"]


# --- operations: the replay function and the reconciliation sweep -------------------------------

REPLAY_FUNCTION = "ReplayFunction"
REPLAY_ROLE = "ReplayFunctionRole"
REPLAY_LOG_GROUP = "ReplayLogGroup"
RECONCILE_FUNCTION = "ReconcileFunction"
RECONCILE_ROLE = "ReconcileFunctionRole"
RECONCILE_LOG_GROUP = "ReconcileLogGroup"
TRACES = ("*", {"xray:PutTraceSegments", "xray:PutTelemetryRecords"})  # only with TracingEnabled
AUTH0_ACCESS = [
    (ref("Auth0CredentialsSecretArn"), {"secretsmanager:GetSecretValue"}),
    (ref("Auth0CredentialsSecretKmsKeyArn"), {"kms:Decrypt"}),  # only with HasCredentialsSecretKmsKey
    (
        ref(TOKEN_CACHE),
        {
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
            "secretsmanager:DescribeSecret",
            "secretsmanager:UpdateSecretVersionStage",
        },
    ),
]


def granted_by(template: dict[str, Any], role: str) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = defaultdict(set)
    for rid, _policy, statement in policy_statements(template):
        if rid == role:
            assert statement["Effect"] == "Allow"
            for resource in as_list(statement["Resource"]):
                granted[json.dumps(resource, sort_keys=True)] |= set(as_list(statement["Action"]))
    return dict(granted)


def expected_grants(pairs: list[tuple[Any, set[str]]]) -> dict[str, set[str]]:
    return {json.dumps(resource, sort_keys=True): actions for resource, actions in pairs}


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
    written = props(sam_template, function)
    module, handler = written["Handler"].rsplit(".", 1)
    tree = ast.parse((ROOT / written["CodeUri"] / f"{module}.py").read_text(encoding="utf-8"))
    [definition] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == handler]
    assert [a.arg for a in definition.args.args] == ["event", "context"]
    group = cfn_template["Resources"][log_group]
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Delete"
    assert group["Properties"]["RetentionInDays"] == ref("LogRetentionDays")
    assert group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/lambda/${AWS::StackName}-")


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
    library = ROOT / "layers" / "token_exchange" / "python" / "token_exchange_enabler"
    source = "\n".join(p.read_text(encoding="utf-8") for p in library.rglob("*.py"))
    variables = props(cfn_template, function)["Environment"]["Variables"]
    unread = [name for name in variables if not name.startswith("POWERTOOLS_") and f'"{name}"' not in source]
    assert unread == []


def test_replay_role_grants_exactly_what_replay_needs(cfn_template):
    dead_letter_actions = {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:StartMessageMoveTask",
        "sqs:ListMessageMoveTasks",
        "sqs:CancelMessageMoveTask",
    }
    assert granted_by(cfn_template, REPLAY_ROLE) == expected_grants([
        (get_att(REPLAY_LOG_GROUP, "Arn"), {"logs:CreateLogStream", "logs:PutLogEvents"}),
        (get_att(DLQ, "Arn"), dead_letter_actions),
        (get_att(DELIVERY_DLQ, "Arn"), dead_letter_actions),
        (get_att(QUEUE, "Arn"), {"sqs:SendMessage", "sqs:GetQueueAttributes"}),
        *AUTH0_ACCESS,
        TRACES,
    ])


def test_reconcile_role_grants_exactly_what_the_sweep_needs(cfn_template):
    assert granted_by(cfn_template, RECONCILE_ROLE) == expected_grants([
        (get_att(RECONCILE_LOG_GROUP, "Arn"), {"logs:CreateLogStream", "logs:PutLogEvents"}),
        *AUTH0_ACCESS,
        (get_att(TABLE, "Arn"), {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}),
        TRACES,
    ])
    # No queue at all: the sweep reads the tenant, not the event path.
    assert not [a for actions in granted_by(cfn_template, RECONCILE_ROLE).values() for a in actions
                if a.startswith("sqs:")]


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


def test_operations_raise_alarms(cfn_template):
    alarms = _alarms(cfn_template).values()
    assert any(a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Errors"
               and a["Dimensions"] == [{"Name": "FunctionName", "Value": ref(RECONCILE_FUNCTION)}] for a in alarms)
    [missed] = [a for a in alarms if a["MetricName"] == "ReconcileRepaired"]
    variables = props(cfn_template, RECONCILE_FUNCTION)["Environment"]["Variables"]
    assert missed["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert missed["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    source = (ROOT / "layers" / "token_exchange" / "python" / "token_exchange_enabler" / "reconcile.py").read_text()
    assert '"ReconcileRepaired"' in source  # the metric the sweep emits


def test_outputs_name_the_operations_functions(cfn_template):
    assert {"ReplayFunctionName", "ReconcileFunctionName", "ReplayLogGroupName", "ReconcileLogGroupName"} <= set(
        cfn_template["Outputs"]
    )
