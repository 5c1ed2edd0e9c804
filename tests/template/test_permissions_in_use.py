"""template.yaml, permissions in use: every function role grants what its code (or Lambda on its
behalf) calls and nothing else, and the reconciliation sweep's failures raise an alarm.

Two checks that keep each other honest:

* the grants of each role are written out below, every action with the code that needs it, so
  that a permission nobody uses fails a test instead of lingering;
* the AWS calls are also read from the source (boto3 client methods, operation names used as
  dispatch keys, Powertools Parameters) and mapped to IAM actions, so that the lists cannot drift
  from the code in either direction.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.template.support import (
    DELIVERY_DLQ,
    DLQ,
    FUNCTION,
    LIBRARY_DIR,
    LOG_GROUP,
    QUEUE,
    RECONCILE_FUNCTION,
    RECONCILE_LOG_GROUP,
    RECONCILE_ROLE,
    REPLAY_FUNCTION,
    REPLAY_LOG_GROUP,
    REPLAY_ROLE,
    ROLE,
    TABLE,
    TOKEN_CACHE,
    TOPIC,
    alarms,
    as_list,
    policy_statements,
    props,
    ref,
)

CREDENTIALS = "Auth0CredentialsSecretArn"  # a parameter: the secret is not the stack's
CREDENTIALS_KEY = "Auth0CredentialsSecretKmsKeyArn"
CLIENT_SECRETS = "secret:${ClientSecretsPrefix}*"  # the secrets under the prefix (an Fn::Sub ARN)
CLIENT_SECRETS_KEY = "ClientSecretsKmsKeyArn"
NOTIFICATION_BUS = "event-bus/${NotificationBusName}"
PACKAGE = LIBRARY_DIR.name

# --- what each role grants, and why ---------------------------------------------------------------


def _logs(log_group: str) -> dict[str, set[str]]:
    # Lambda writes the function's output to its log group: Powertools Logger's lines and
    # Powertools Metrics' embedded-metric-format lines (hence no cloudwatch:PutMetricData).
    return {"logs:CreateLogStream": {log_group}, "logs:PutLogEvents": {log_group}}


AUTH0_TOKEN = {
    # bootstrap.SecretCredentials reads the Auth0 client credentials (Powertools Parameters'
    # SecretsProvider); token_cache._SharedCache.read_current / read_version read the shared token
    # and a rival's refresh claim (status.describe_token_cache reads it too, in the replay role).
    "secretsmanager:GetSecretValue": {CREDENTIALS, TOKEN_CACHE},
    # token_cache._SharedCache.put: a refresh claim, a token or a tombstone, one writer per version.
    "secretsmanager:PutSecretValue": {TOKEN_CACHE},
    # Secrets Manager decrypting the credentials secret for GetSecretValue, only when it is
    # encrypted with a customer managed key (condition HasCredentialsSecretKmsKey).
    "kms:Decrypt": {CREDENTIALS_KEY},
}
API_LOCKS = {
    # locks.DynamoDbLocks.hold: a conditional PutItem takes the API's lease ...
    "dynamodb:PutItem": {TABLE},
    # ... and a conditional DeleteItem releases it.
    "dynamodb:DeleteItem": {TABLE},
}
DELIVERY = {
    # Credentials delivery (condition DeliversClientSecrets; client_secrets.ClientSecretStore):
    # find describes an API's secret (never reads it) ...
    "secretsmanager:DescribeSecret": {CLIENT_SECRETS},
    # ... store creates it with its tags (TagResource covers CreateSecret's Tags too) ...
    "secretsmanager:CreateSecret": {CLIENT_SECRETS},
    # ... or overwrites a former client's value, then confirms the client (_tag).
    "secretsmanager:PutSecretValue": {TOKEN_CACHE, CLIENT_SECRETS},
    "secretsmanager:TagResource": {CLIENT_SECRETS},
    # Secrets Manager encrypting a new value with ClientSecretsKmsKeyArn (HasClientSecretsKmsKey).
    "kms:GenerateDataKey": {CLIENT_SECRETS_KEY},
    "kms:Decrypt": {CREDENTIALS_KEY, CLIENT_SECRETS_KEY},
    # notifications.Notifier.announce: the platform's event (HasNotificationBus).
    "events:PutEvents": {NOTIFICATION_BUS},
}
TRACES = {
    # Lambda active tracing (condition TracingEnabled); X-Ray has no resource-level permissions.
    "xray:PutTraceSegments": {"*"},
    "xray:PutTelemetryRecords": {"*"},
}

EXPECTED_GRANTS: dict[str, dict[str, set[str]]] = {
    ROLE: {
        **_logs(LOG_GROUP),
        # Lambda's SQS event source mapping (the SQS actions of AWSLambdaSQSQueueExecutionRole):
        # it reads the queue's attributes, receives batches and deletes the records the handler
        # did not report in batchItemFailures. The worker's code calls nothing on this queue.
        "sqs:GetQueueAttributes": {QUEUE},
        "sqs:ReceiveMessage": {QUEUE},
        "sqs:DeleteMessage": {QUEUE},
        # worker.DeadLetters.send: a permanent failure, its reason in message attributes.
        "sqs:SendMessage": {DLQ},
        **AUTH0_TOKEN,
        **API_LOCKS,
        **DELIVERY,  # enabling.Enabler delivers the credentials and announces the API
        **TRACES,
    },
    RECONCILE_ROLE: {
        **_logs(RECONCILE_LOG_GROUP),
        # reconcile.Reconciler -> enabling.Enabler: the worker's token and the worker's locks.
        **AUTH0_TOKEN,
        **API_LOCKS,
        **DELIVERY,  # enabling.Enabler delivers the credentials and announces the API
        **TRACES,
    },
    REPLAY_ROLE: {
        **_logs(REPLAY_LOG_GROUP),
        # replay.Replayer._receive ("peek", the one-by-one move) and status.oldest_dead_letter (a sample);
        # a message move task needs it on its source too.
        "sqs:ReceiveMessage": {DLQ, DELIVERY_DLQ},
        # replay.Replayer._delete (one by one, after the send); a move task on its source.
        "sqs:DeleteMessage": {DLQ, DELIVERY_DLQ},
        # replay.Replayer._release (change_message_visibility_batch): held and peeked messages
        # visible again at once.
        "sqs:ChangeMessageVisibility": {DLQ, DELIVERY_DLQ},
        # replay.Replayer.queue_arn (both ends of a move) and status.queue_depth (every queue).
        "sqs:GetQueueAttributes": {DLQ, DELIVERY_DLQ, QUEUE},
        # replay.Replayer._native: SQS's own redrive, started ...
        "sqs:StartMessageMoveTask": {DLQ, DELIVERY_DLQ},
        # ... and followed (_running_task, _follow; latest_task for "status").
        "sqs:ListMessageMoveTasks": {DLQ, DELIVERY_DLQ},
        # replay.Replayer._send (one by one); a move task's destination.
        "sqs:SendMessage": {QUEUE},
        # The "enable" action: enable_by_id -> enabling.Enabler, like the worker.
        **AUTH0_TOKEN,
        **API_LOCKS,
        **DELIVERY,  # enabling.Enabler delivers the credentials and announces the API
        **TRACES,
    },
}

# Granted, but called by Lambda or another AWS service on the function's behalf, not by its code.
CALLED_FOR_THE_CODE = {
    "logs:CreateLogStream": "Lambda, writing the function's output",
    "logs:PutLogEvents": "Lambda, writing the function's output",
    "xray:PutTraceSegments": "Lambda active tracing",
    "xray:PutTelemetryRecords": "Lambda active tracing",
    "kms:Decrypt": "Secrets Manager, decrypting a credentials secret under a customer managed key",
    "kms:GenerateDataKey": "Secrets Manager, encrypting a client's credentials under a customer managed key",
}
# ... and, for the worker only, Lambda's SQS event source mapping.
EVENT_SOURCE_MAPPING = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

# Called by the library, but on a path no function runs: the command line, under the operator's
# own credentials. Each is checked below.
CALLED_ONLY_BY_THE_COMMAND_LINE = {
    "cloudformation:DescribeStacks": "cli.py reads a stack's outputs; no function handler imports cli",
    "sqs:CancelMessageMoveTask": "Replayer._follow cancels a move task only with cancel_on_stop=True (Ctrl-C)",
    "secretsmanager:UpdateSecretVersionStage": "ClientSecretStore.promote, called by credentials.rotate only "
                                               "(the CLI's rotate; no function handler imports credentials)",
    # setup (onboarding), doctor and canary run with the operator's own AWS credentials; no function
    # handler imports those modules (test_each_role_grants_only_what_its_functions_code_can_reach).
    "events:ActivateEventSource": "onboarding: setup activates a deactivated partner event source",
    "events:CreateEventBus": "onboarding: setup associates the partner event source with a bus",
    "events:DescribeEventSource": "onboarding, doctor: the partner event source's state",
    "events:ListEventBuses": "onboarding, doctor: whether the source's bus exists",
    "events:DescribeRule": "doctor: the stack's rule is enabled",
    "events:ListTargetsByRule": "doctor: the stack's rule targets the queue",
    "scheduler:GetSchedule": "doctor: the sweep's schedule is enabled",
    "secretsmanager:UpdateSecret": "onboarding: setup moves the credentials secret to the given KMS key",
    "secretsmanager:DeleteSecret": "canary: the credentials delivered for the canary's client are deleted",
    "sts:GetCallerIdentity": "onboarding, doctor: the account the log stream sends to",
}

ONBOARDING_CALLS = {action for action, why in CALLED_ONLY_BY_THE_COMMAND_LINE.items()
                    if why.startswith(("onboarding", "doctor", "canary"))}

# --- reading the grants ---------------------------------------------------------------------------


def _resource_name(resource: Any) -> str:
    """A statement's Resource as the logical id or parameter it names ("*" stays "*"; an Fn::Sub
    ARN as its last part, e.g. "secret:${ClientSecretsPrefix}*")."""
    if isinstance(resource, dict) and set(resource) == {"Fn::Sub"} and isinstance(resource["Fn::Sub"], str):
        return resource["Fn::Sub"].rpartition("${AWS::AccountId}:")[2]
    if isinstance(resource, dict) and set(resource) == {"Ref"}:
        return resource["Ref"]
    if isinstance(resource, dict) and set(resource) == {"Fn::GetAtt"} and resource["Fn::GetAtt"][1] == "Arn":
        return resource["Fn::GetAtt"][0]
    assert resource == "*", f"unexpected Resource form {resource!r}"
    return resource


def grants(cfn_template: dict[str, Any], role: str) -> dict[str, set[str]]:
    """What ``role`` may do: IAM action -> the resources it may do it on (both sides of every Fn::If)."""
    granted: dict[str, set[str]] = defaultdict(set)
    for rid, _policy, statement in policy_statements(cfn_template):
        if rid != role:
            continue
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            granted[action] |= {_resource_name(r) for r in as_list(statement["Resource"])}
    return dict(granted)


def function_roles(sam_template: dict[str, Any]) -> dict[str, str]:
    """Function logical id -> the logical id of its execution role."""
    roles = {}
    for rid, resource in sam_template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            role = resource["Properties"]["Role"]
            assert set(role) == {"Fn::GetAtt"} and role["Fn::GetAtt"][1] == "Arn", role
            roles[rid] = role["Fn::GetAtt"][0]
    return roles


# --- reading the code -----------------------------------------------------------------------------

# Where a boto3 client of a service is made: boto3.client("sqs"), bootstrap's aws("sqs"), the CLI's
# ctx.aws("sqs") / aws_without_retries("sqs"), the replay function's _client("sqs").
_CLIENT_OF = re.compile(r"""\b(?:client|aws|_client|aws_without_retries)\(\s*["']([a-z0-9]+)["']""")
# Powertools Parameters: the utility -> the IAM action it needs. Any other utility of the module
# fails test_every_powertools_parameters_utility_in_use_is_mapped until it is added here.
_POWERTOOLS_PARAMETERS = {
    "get_secret": "secretsmanager:GetSecretValue",
    "SecretsProvider": "secretsmanager:GetSecretValue",  # .get() calls GetSecretValue
}
_PARAMETERS_USE = re.compile(r"(?<![\w.])parameters\.(\w+)\(")  # the module, not an attribute named so
# Operations named alike in several services, by the one service the library calls them on (a test
# below checks where they are called).
_CALLED_ON = {"tag_resource": "secretsmanager", "TagResource": "secretsmanager"}
# Batch operations that IAM authorizes with the single-message action (no batch actions in IAM).
_AUTHORIZED_AS = {
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
}


def _sources() -> dict[str, str]:
    """Every Python file of the library and of the functions: relative path -> text."""
    files = [*LIBRARY_DIR.rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in files}


@cache
def _operations(service: str) -> dict[str, str]:
    """Every operation of ``service`` by how the code can name it (snake_case method, PascalCase
    operation) -> the IAM action that authorizes it."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    prefix = model.metadata.get("signingName") or model.endpoint_prefix
    named = {}
    for operation in model.operation_names:
        action = f"{prefix}:{operation}"
        action = _AUTHORIZED_AS.get(action, action)
        named[xform_name(operation)] = named[operation] = action
    return named


@cache
def _naming(service: str) -> re.Pattern[str]:
    """A call ``.put_item(`` or a literal ``"put_item"`` / ``"PutItem"`` of one of ``service``'s operations."""
    names = "|".join(sorted(_operations(service), key=len, reverse=True))
    return re.compile(rf"""\.({names})\(|["']({names})["']""")


def services_with_clients(text: str) -> set[str]:
    return set(_CLIENT_OF.findall(text))


def aws_calls(text: str, services: set[str]) -> dict[str, set[str]]:
    """IAM action -> how ``text`` calls it: ``.put_item(`` calls, ``"put_item"`` / ``"PutItem"``
    string literals (getattr-style dispatch, as in token_cache._SharedCache._call) and
    Powertools Parameters."""
    found: dict[str, set[str]] = defaultdict(set)
    for service in sorted(services):
        operations = _operations(service)
        for called, quoted in _naming(service).findall(text):
            name = called or quoted
            if _CALLED_ON.get(name, service) == service:
                found[operations[name]].add(name)
    for utility, action in _POWERTOOLS_PARAMETERS.items():
        if re.search(rf"\b{utility}\(", text):
            found[action].add(utility)
    return dict(found)


def _imports(path: Path) -> set[str]:
    """The library modules ``path`` imports (at the top or inside functions), by module name."""
    modules = {p.stem for p in LIBRARY_DIR.glob("*.py")}
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 or node.module == PACKAGE:  # from . import x / from .x import y
                base = node.module if node.level == 1 else None
                imported |= {base} if base else {a.name for a in node.names if a.name in modules}
            elif node.module and node.module.startswith(PACKAGE + "."):
                imported.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            imported |= {a.name.split(".")[1] for a in node.names if a.name.startswith(PACKAGE + ".")}
    return imported & modules


def reachable_source(handler_file: Path) -> str:
    """The handler's file and every library module it can import, transitively: an
    over-approximation of the code the function runs (a module imported is not a path taken)."""
    seen = {"__init__"}
    todo = list(_imports(handler_file))
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += _imports(LIBRARY_DIR / f"{module}.py")
    files = [handler_file, *(LIBRARY_DIR / f"{m}.py" for m in sorted(seen))]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def handler_file(sam_template: dict[str, Any], function: str) -> Path:
    written = props(sam_template, function)
    module = written["Handler"].rsplit(".", 1)[0]
    return ROOT / written["CodeUri"] / f"{module}.py"


@pytest.fixture(scope="module")
def code_calls() -> dict[str, set[str]]:
    """IAM action -> how the library and the functions call it."""
    text = "\n".join(_sources().values())
    return aws_calls(text, services_with_clients(text))


# --- (a) each role, exactly ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [ROLE, RECONCILE_ROLE, REPLAY_ROLE])
def test_each_function_role_grants_exactly_the_actions_its_code_uses(cfn_template, role):
    granted = grants(cfn_template, role)
    expected = EXPECTED_GRANTS[role]
    assert sorted(granted) == sorted(expected), "actions granted vs expected"
    assert granted == expected, "resources of each action"


def test_every_function_has_its_expected_grants(sam_template):
    assert set(function_roles(sam_template).values()) == set(EXPECTED_GRANTS)


def test_every_function_uses_the_lock_table_with_put_and_delete_only(cfn_template):
    on_table = {(role, action) for role in EXPECTED_GRANTS for action, where in grants(cfn_template, role).items()
                if TABLE in where}
    assert {action for _role, action in on_table} == {"dynamodb:PutItem", "dynamodb:DeleteItem"}
    # Every function writes under the same locks (the worker, the sweep and the operator's "enable").
    assert {role for role, _action in on_table} == set(EXPECTED_GRANTS)


# --- (b) the grants against the code ------------------------------------------------------------


def test_the_code_scan_finds_the_calls_it_is_meant_to_find(code_calls):
    # Guards the scan itself: a call made each way the code makes them is recognised.
    assert {"put_item", "delete_item"} <= code_calls["dynamodb:PutItem"] | code_calls["dynamodb:DeleteItem"]
    assert "SecretsProvider" in code_calls["secretsmanager:GetSecretValue"]  # Powertools Parameters
    assert "PutSecretValue" in code_calls["secretsmanager:PutSecretValue"]  # token_cache's dispatch key
    assert "change_message_visibility_batch" in code_calls["sqs:ChangeMessageVisibility"]  # a batch call
    text = "\n".join(_sources().values())
    assert {"dynamodb", "secretsmanager", "sqs"} <= services_with_clients(text)


def test_every_powertools_parameters_utility_in_use_is_mapped():
    # Powertools Parameters utilities other than the mapped ones would be missed by the scan.
    used = set()
    for text in _sources().values():
        used |= set(_PARAMETERS_USE.findall(text))
    assert sorted(used - set(_POWERTOOLS_PARAMETERS)) == [], "map these utilities to IAM actions"


def test_every_action_the_code_calls_is_granted_to_a_function(cfn_template, code_calls):
    granted = set().union(*(grants(cfn_template, role) for role in EXPECTED_GRANTS))
    missing = {action: sorted(how) for action, how in code_calls.items()
               if action not in granted and action not in CALLED_ONLY_BY_THE_COMMAND_LINE}
    assert missing == {}


def test_no_function_is_granted_an_action_the_code_never_calls(cfn_template, code_calls):
    granted = set().union(*(grants(cfn_template, role) for role in EXPECTED_GRANTS))
    unused = granted - set(code_calls) - set(CALLED_FOR_THE_CODE) - EVENT_SOURCE_MAPPING
    assert unused == set()


def test_each_role_grants_only_what_its_functions_code_can_reach(sam_template, cfn_template):
    # Per function: the handler and the library modules it can import. An over-approximation
    # (the sweep imports the worker's DeadLetters without ever sending), so this catches a grant
    # no reachable code calls; the exact lists above catch the rest.
    for function, role in function_roles(sam_template).items():
        text = reachable_source(handler_file(sam_template, function))
        calls = aws_calls(text, services_with_clients("\n".join(_sources().values())))
        not_for_the_code = set(CALLED_FOR_THE_CODE) | (EVENT_SOURCE_MAPPING if function == FUNCTION else set())
        assert set(grants(cfn_template, role)) - set(calls) - not_for_the_code == set(), function


def test_the_replay_function_never_cancels_a_move_task():
    # Why sqs:CancelMessageMoveTask is granted to no role: the function's redrive is left running
    # at the deadline ("status" shows it), every replay it starts passes cancel_on_stop=False.
    tree = ast.parse((LIBRARY_DIR / "operator_requests.py").read_text(encoding="utf-8"))
    replays = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Attribute) and node.func.attr == "replay"]
    assert replays
    for call in replays:
        [cancel] = [k.value for k in call.keywords if k.arg == "cancel_on_stop"]
        assert isinstance(cancel, ast.Constant) and cancel.value is False


def test_no_function_reaches_the_command_lines_stack_lookup(sam_template):
    all_services = services_with_clients("\n".join(_sources().values()))
    for function in function_roles(sam_template):
        calls = aws_calls(reachable_source(handler_file(sam_template, function)), all_services)
        assert "cloudformation:DescribeStacks" not in calls, function
        # setup, doctor and the canary: their calls are unreachable from every handler.
        assert not calls.keys() & ONBOARDING_CALLS, (function, sorted(calls.keys() & ONBOARDING_CALLS))
    assert set(CALLED_ONLY_BY_THE_COMMAND_LINE) == {"cloudformation:DescribeStacks", "sqs:CancelMessageMoveTask",
                                                    "secretsmanager:UpdateSecretVersionStage", *ONBOARDING_CALLS}


def test_rotations_are_finished_by_the_command_line_only(sam_template):
    # Why secretsmanager:UpdateSecretVersionStage is granted to no role: only credentials.rotate (the
    # CLI's rotate, under the operator's credentials) calls ClientSecretStore.promote, which calls it.
    callers = [path for path, text in _sources().items() if ".promote(" in text]
    assert callers == [str((LIBRARY_DIR / "credentials.py").relative_to(ROOT))]
    for function in function_roles(sam_template):
        assert "credentials" not in _imports(handler_file(sam_template, function)), function
        handler_and_library = reachable_source(handler_file(sam_template, function))
        assert "def rotate(" not in handler_and_library, function


def test_operations_named_alike_in_several_services_are_called_on_the_service_the_scan_assumes():
    # tag_resource exists in DynamoDB, EventBridge and Secrets Manager: the library tags secrets only.
    callers = {path for path, text in _sources().items() if re.search(r"\.tag_resource\(|[\"']TagResource[\"']", text)}
    assert callers == {str((LIBRARY_DIR / "client_secrets.py").relative_to(ROOT))}


def test_the_template_describes_no_mechanism_the_code_dropped(template_text):
    # Comments and descriptions of behaviour the code does not have (any more).
    gone = {
        "UpdateSecretVersionStage": "the token cache moves stages with PutSecretValue's VersionStages",
        "AWSPENDING": "the token cache's claims use their own staging label",
        "Powertools Idempotency": "the per-API lock (locks.py) replaced it",
        "Powertools Tracer": "no function uses it; Lambda active tracing only",
        "ChangeMessageVisibility so that": "the worker never postpones a record itself",
    }
    assert [word for word in gone if word in template_text] == []


# --- (c) alarms on the sweep --------------------------------------------------------------------


def _sweep_metric_alarm(cfn_template: dict[str, Any], metric: str) -> dict[str, Any]:
    [alarm] = [a for a in alarms(cfn_template).values() if a["MetricName"] == metric]
    variables = props(cfn_template, RECONCILE_FUNCTION)["Environment"]["Variables"]
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    assert alarm["AlarmActions"] == alarm["OKActions"] == [ref(TOPIC)]
    assert alarm["TreatMissingData"] == "notBreaching"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert f'"{metric}"' in (LIBRARY_DIR / "reconcile.py").read_text(encoding="utf-8")  # the sweep emits it
    return alarm


def test_a_sweep_that_fails_an_api_raises_an_alarm(cfn_template):
    alarm = _sweep_metric_alarm(cfn_template, "ReconcileFailed")
    [repaired] = [a for a in alarms(cfn_template).values() if a["MetricName"] == "ReconcileRepaired"]
    assert (alarm["Namespace"], alarm["Dimensions"]) == (repaired["Namespace"], repaired["Dimensions"])
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 3600, 1)
    assert "ReconcileFailed" in alarm["AlarmDescription"]


def test_apis_locked_on_two_consecutive_sweeps_raise_an_alarm(sam_template, cfn_template):
    alarm = _sweep_metric_alarm(cfn_template, "ReconcileBusy")
    # Every sweep of a day met a lock, two days running.
    assert (alarm["Statistic"], alarm["Period"]) == ("Minimum", 86400)
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 2
    # CloudWatch: at most 7 days of evaluation for periods of an hour or more.
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 7 * 86400
    # The default schedule sweeps at least once a period, so two periods are two sweeps or more.
    default = sam_template["Parameters"]["ReconcileSchedule"]["Default"]
    count, unit = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", default).groups()
    assert int(count) * {"minute": 60, "hour": 3600, "day": 86400}[unit] <= alarm["Period"]


def test_every_alarm_on_the_librarys_metrics_watches_a_metric_it_emits(cfn_template):
    namespace = props(cfn_template, FUNCTION)["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    source = "\n".join(p.read_text(encoding="utf-8") for p in LIBRARY_DIR.glob("*.py"))
    watched = {a["MetricName"] for a in alarms(cfn_template).values() if a["Namespace"] == namespace}
    assert {"FailedRecords", "ReconcileRepaired", "ReconcileFailed", "ReconcileBusy"} <= watched
    assert sorted(m for m in watched if f'"{m}"' not in source) == []


def test_replay_function_is_the_operator_tool(sam_template):
    # The replay role's grants above assume this function runs operator_requests.
    assert "run_operator_request" in handler_file(sam_template, REPLAY_FUNCTION).read_text(encoding="utf-8")
