"""local/stack.py: the AWS side of template.yaml, created in moto's server and used over HTTP."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from local.stack import (
    LocalStackError,
    ParameterError,
    UnsupportedTemplateError,
    deploy_local_stack,
    partner_event_bus_name,
)
from local.template import Resolver, load_template
from tests.conftest import EVENTS_DIR

DOMAIN = "acme.eu.auth0.com"
CREDENTIALS = {"client_id": "local-m2m-client", "client_secret": "local-m2m-secret"}

RULE = "ApiCreatedRule"
QUEUE = "ApiCreatedQueue"
DLQ = "DeadLetterQueue"
DELIVERY_DLQ = "DeliveryDeadLetterQueue"
FUNCTION = "EnableTokenExchangeFunction"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / f"{name}.eventbridge.json").read_text(encoding="utf-8"))


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def drain(queue_url: str) -> list[dict[str, Any]]:
    """Every message now in the queue (received and deleted)."""
    sqs = boto3.client("sqs")
    bodies = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def queue_attributes(queue_url: str) -> dict[str, str]:
    return boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]


def deploy(**kwargs: Any):
    parameters = {"Auth0Domain": DOMAIN, **kwargs.pop("parameters", {})}
    return deploy_local_stack(parameters, credentials=CREDENTIALS, **kwargs)


def nothing_created() -> bool:
    buses = boto3.client("events").list_event_buses()["EventBuses"]
    return (
        not boto3.client("sqs").list_queues().get("QueueUrls")
        and [bus["Name"] for bus in buses] == ["default"]
        and not boto3.client("secretsmanager").list_secrets()["SecretList"]
        and not boto3.client("dynamodb").list_tables()["TableNames"]
    )


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture
def stack(aws):
    return deploy()


# --- what is created ----------------------------------------------------------------------------


def test_the_partner_bus_is_associated_with_the_auth0_event_source(stack):
    events = boto3.client("events")
    assert stack.event_bus_name == partner_event_bus_name(DOMAIN) == stack.parameters["Auth0EventBusName"]
    assert stack.event_bus_name.startswith("aws.partner/auth0.com/acme-")
    assert stack.event_bus_name.endswith("/auth0.logs")
    assert events.describe_event_bus(Name=stack.event_bus_name)["Arn"] == stack.event_bus_arn
    assert events.describe_event_source(Name=stack.event_bus_name)["State"] == "ACTIVE"


def test_the_rule_has_the_template_pattern_and_targets(stack, template):
    events = boto3.client("events")
    rule = events.describe_rule(Name=stack.rule_name, EventBusName=stack.event_bus_name)
    assert json.loads(rule["EventPattern"]) == props(template, RULE)["EventPattern"]
    assert rule["State"] == props(template, RULE)["State"]
    assert rule["Arn"] == stack.rule_arn
    (target,) = events.list_targets_by_rule(Rule=stack.rule_name, EventBusName=stack.event_bus_name)["Targets"]
    (declared,) = props(template, RULE)["Targets"]
    assert target["Arn"] == stack.queue_arn
    assert target["DeadLetterConfig"] == {"Arn": stack.delivery_dlq_arn}
    assert target["RetryPolicy"] == declared["RetryPolicy"]


def test_the_queues_have_the_template_attributes(stack, template):
    parameters = template["Parameters"]
    source, dlq, delivery = (queue_attributes(url) for url in (stack.queue_url, stack.dlq_url, stack.delivery_dlq_url))

    redrive = json.loads(source["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == stack.dlq_arn
    assert int(redrive["maxReceiveCount"]) == parameters["MaxReceiveCount"]["Default"]
    timeout = str(parameters["FunctionTimeout"]["Default"])
    expected_visibility = template["Mappings"]["QueueVisibilityTimeouts"][timeout]["VisibilityTimeout"]
    assert int(source["VisibilityTimeout"]) == expected_visibility
    assert int(source["MessageRetentionPeriod"]) == props(template, QUEUE)["MessageRetentionPeriod"]
    assert int(dlq["MessageRetentionPeriod"]) == props(template, DLQ)["MessageRetentionPeriod"]
    assert int(delivery["MessageRetentionPeriod"]) == props(template, DELIVERY_DLQ)["MessageRetentionPeriod"]
    assert {source["SqsManagedSseEnabled"], dlq["SqsManagedSseEnabled"], delivery["SqsManagedSseEnabled"]} == {"true"}
    assert stack.queue_url.endswith(f"/{stack.stack_name}-api-created")
    assert stack.queue_settings == {
        "visibility_timeout": expected_visibility,
        "max_receive_count": parameters["MaxReceiveCount"]["Default"],
        "retention": props(template, QUEUE)["MessageRetentionPeriod"],
    }


def test_the_queue_policies_are_the_template_policies_with_local_arns(stack, template):
    source_policy = json.loads(queue_attributes(stack.queue_url)["Policy"])
    declared = props(template, "ApiCreatedQueuePolicy")["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in source_policy["Statement"]] == [s["Sid"] for s in declared]
    allow = source_policy["Statement"][0]
    assert allow["Resource"] == stack.queue_arn
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": stack.rule_arn}}
    for url in (stack.dlq_url, stack.delivery_dlq_url):
        assert "DenyInsecureTransport" in queue_attributes(url)["Policy"]


def test_secrets_table_and_topic_follow_the_template(stack, template):
    secrets = boto3.client("secretsmanager")
    credentials = secrets.get_secret_value(SecretId=stack.credentials_secret_arn)["SecretString"]
    assert json.loads(credentials) == CREDENTIALS
    cache = secrets.get_secret_value(SecretId=stack.token_cache_secret_arn)["SecretString"]
    assert cache == props(template, "TokenCacheSecret")["SecretString"]

    dynamodb = boto3.client("dynamodb")
    declared = props(template, "IdempotencyTable")
    table = dynamodb.describe_table(TableName=stack.idempotency_table)["Table"]
    assert table["KeySchema"] == declared["KeySchema"]
    assert table["AttributeDefinitions"] == declared["AttributeDefinitions"]
    assert table["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName=stack.idempotency_table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": declared["TimeToLiveSpecification"]["AttributeName"]}

    topic = boto3.client("sns").get_topic_attributes(TopicArn=stack.alarm_topic_arn)["Attributes"]
    assert topic["DisplayName"] == props(template, "AlarmTopic")["DisplayName"]


def test_what_has_no_local_meaning_is_skipped_with_a_reason(stack, template):
    skipped = {s.logical_id: s for s in stack.skipped}
    assert set(skipped) | set(stack.resources) == set(template["Resources"])
    assert not set(skipped) & set(stack.resources)
    assert {s.type for s in skipped.values()} == {
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::Serverless::LayerVersion",
        "AWS::Serverless::Function",
        "AWS::SNS::Subscription",  # AlarmEmail is empty by default
    }
    assert "HasAlarmEmail" in skipped["AlarmEmailSubscription"].reason
    assert all(s.reason for s in skipped.values())


def test_a_conditional_resource_is_created_when_its_condition_holds(aws):
    stack = deploy(parameters={"AlarmEmail": "ops@example.com"})
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(TopicArn=stack.alarm_topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]
    assert "AlarmEmailSubscription" in stack.resources


# --- the event path -----------------------------------------------------------------------------


def test_an_api_created_event_arrives_in_the_queue(stack):
    event = sample("api-created")
    stack.put_auth0_event(event)
    (body,) = drain(stack.queue_url)
    assert body["detail"] == event["detail"]
    assert (body["source"], body["detail-type"], body["time"]) == (event["source"], event["detail-type"], event["time"])
    assert {"version", "id", "region", "resources"} <= set(body)  # moto leaves out "account"


@pytest.mark.parametrize("name", ["create-client", "update-client", "login-success"])
def test_other_auth0_events_do_not_arrive(stack, name):
    sentinel = sample("api-created")
    stack.put_auth0_events([sample(name), sentinel])
    assert [body["detail"]["log_id"] for body in drain(stack.queue_url)] == [sentinel["detail"]["log_id"]]


def test_a_message_received_max_receive_count_times_moves_to_the_dead_letter_queue(aws):
    stack = deploy(parameters={"MaxReceiveCount": 2})
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody="{}")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=stack.queue_url, VisibilityTimeout=0).get("Messages")
    assert not sqs.receive_message(QueueUrl=stack.queue_url, VisibilityTimeout=0).get("Messages")
    assert drain(stack.dlq_url) == [{}]


def test_a_plain_bus_name_makes_a_custom_bus(aws):
    stack = deploy(parameters={"Auth0EventBusName": "auth0-test-bus"})
    assert boto3.client("events").describe_event_bus(Name="auth0-test-bus")["Arn"] == stack.event_bus_arn
    stack.put_auth0_event(sample("api-created"))
    assert len(drain(stack.queue_url)) == 1


# --- following the template -----------------------------------------------------------------------


def test_a_template_change_shows_up_locally(aws, template):
    changed = copy.deepcopy(template)
    changed["Parameters"]["MaxReceiveCount"]["Default"] = 2
    pattern = props(changed, RULE)["EventPattern"]
    pattern["detail"]["data"]["details"]["request"]["path"] = ["/api/v2/clients"]

    stack = deploy(template=changed)

    assert stack.queue_settings["max_receive_count"] == 2
    assert json.loads(queue_attributes(stack.queue_url)["RedrivePolicy"])["maxReceiveCount"] == 2
    rule = boto3.client("events").describe_rule(Name=stack.rule_name, EventBusName=stack.event_bus_name)
    assert json.loads(rule["EventPattern"]) == pattern
    stack.put_auth0_events([sample("api-created"), sample("create-client")])
    assert [body["detail"]["data"]["description"] for body in drain(stack.queue_url)] == ["Create a client"]


def test_parameters_reach_the_resources_and_the_function(aws, template):
    stack = deploy(
        parameters={"FunctionTimeout": 30, "BatchSize": 3, "MaximumConcurrency": 2, "EnableTracing": "true"}
    )
    assert stack.queue_settings["visibility_timeout"] == 180  # the template's mapping: 6 x 30
    assert stack.function.timeout == 30
    assert (stack.event_source.batch_size, stack.event_source.maximum_concurrency) == (3, 2)
    assert stack.function.environment["POWERTOOLS_TRACE_DISABLED"] == "false"
    assert stack.parameters["FunctionTimeout"] == "30"  # as CloudFormation passes it: text


def test_overrides_shorten_the_local_settings(aws):
    stack = deploy(overrides={"VisibilityTimeout": 5, "MaximumBatchingWindowInSeconds": 0})
    assert stack.queue_settings["visibility_timeout"] == 5
    assert int(queue_attributes(stack.queue_url)["VisibilityTimeout"]) == 5
    assert stack.event_source.batching_window_seconds == 0
    assert stack.overrides == {"VisibilityTimeout": 5, "MaximumBatchingWindowInSeconds": 0}
    assert int(queue_attributes(stack.dlq_url)["VisibilityTimeout"]) != 5  # only the worker's queue


@pytest.mark.parametrize(
    "overrides", [{"MessageRetentionPeriod": 60}, {"VisibilityTimeout": -1}, {"VisibilityTimeout": "5"}]
)
def test_unknown_or_invalid_overrides_are_refused(aws, overrides):
    with pytest.raises(ValueError, match="override"):
        deploy(overrides=overrides)
    assert nothing_created()


# --- the worker, as the local Lambda stand-in gets it ---------------------------------------------


def test_the_function_environment_points_at_the_local_resources(stack, template):
    env = stack.function.environment
    assert set(env) == set(template["Globals"]["Function"]["Environment"]["Variables"])
    assert all(isinstance(value, str) for value in env.values())
    assert env["AUTH0_DOMAIN"] == DOMAIN
    assert env["AUTH0_CREDENTIALS_SECRET_ID"] == stack.credentials_secret_arn
    assert env["TOKEN_CACHE_SECRET_ID"] == stack.token_cache_secret_arn
    assert env["DEAD_LETTER_QUEUE_URL"] == stack.dlq_url
    assert env["IDEMPOTENCY_TABLE_NAME"] == stack.idempotency_table
    assert env["TOKEN_EXCHANGE_MODE"] == template["Parameters"]["TokenExchangeMode"]["Default"]
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_the_function_spec_is_what_the_template_declares(stack, template):
    function = stack.function
    assert stack.functions[FUNCTION] == function
    assert set(stack.functions) == {FUNCTION, "ReplayFunction", "ReconcileFunction"}  # the operators' functions
    assert stack.functions["ReconcileFunction"].event_sources == ()  # its schedule has no local counterpart
    assert function.handler == props(template, FUNCTION)["Handler"]
    assert (function.code_dir / "app.py").is_file()
    assert function.runtime == template["Globals"]["Function"]["Runtime"]
    assert function.timeout == template["Parameters"]["FunctionTimeout"]["Default"]
    assert function.memory_mb == template["Parameters"]["FunctionMemorySize"]["Default"]
    (layer,) = function.layer_dirs
    assert (layer / "python" / "token_exchange_enabler").is_dir()
    assert function.event_sources == (stack.event_source,)
    assert (stack.event_source.queue_arn, stack.event_source.queue_url) == (stack.queue_arn, stack.queue_url)


def test_the_function_spec_agrees_with_the_sam_transform(stack):
    """SAM's own merge of Globals and its event source mapping, resolved with the local values."""
    from tests.template.support import sam_transform

    cfn = sam_transform(load_template())
    resolver = Resolver(
        cfn,
        parameters=stack.parameters,
        pseudo_parameters={"AWS::StackName": stack.stack_name},
        resource_value=lambda logical_id, attribute: stack.resources[logical_id][attribute or "Ref"],
    )
    function = cfn["Resources"][FUNCTION]["Properties"]
    assert resolver.resolve(function["Environment"]["Variables"]) == stack.function.environment
    assert (function["Handler"], function["Runtime"]) == (stack.function.handler, stack.function.runtime)
    (mapping,) = (r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping")
    mapping = resolver.resolve({key: value for key, value in mapping.items() if key != "FunctionName"})
    source = stack.event_source
    assert mapping == {
        "BatchSize": str(source.batch_size),
        "EventSourceArn": source.queue_arn,
        "MaximumBatchingWindowInSeconds": source.batching_window_seconds,
        "FunctionResponseTypes": list(source.function_response_types),
        "ScalingConfig": {"MaximumConcurrency": str(source.maximum_concurrency)},
    }


# --- failing loudly -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "credentials", "message"),
    [
        ({"Auth0Domain": "Not a domain"}, CREDENTIALS, "Auth0Domain"),
        ({"Auth0Domain": DOMAIN, "BatchSize": 0}, CREDENTIALS, "BatchSize"),
        ({"Auth0Domain": DOMAIN, "NoSuchParameter": "x"}, CREDENTIALS, "unknown parameter"),
        ({}, CREDENTIALS, "Auth0Domain"),
        ({"Auth0Domain": DOMAIN}, None, "credentials are required"),
        (
            {"Auth0Domain": DOMAIN, "TokenExchangeMode": "legacy_resource_server",
             "DownstreamGrants": "{\"https://x\": \"*\"}"},
            CREDENTIALS,
            "DownstreamGrants applies only",
        ),
    ],
)
def test_bad_parameters_are_refused_before_anything_is_created(aws, parameters, credentials, message):
    with pytest.raises(ParameterError, match=message):
        deploy_local_stack(parameters, credentials=credentials)
    assert nothing_created()


def test_an_unsupported_intrinsic_fails_loudly_and_leaves_nothing_behind(aws, template):
    changed = copy.deepcopy(template)
    props(changed, DELIVERY_DLQ)["KmsMasterKeyId"] = {"Fn::ImportValue": "shared-key"}
    with pytest.raises(UnsupportedTemplateError, match=r"DeliveryDeadLetterQueue.*KmsMasterKeyId.*Fn::ImportValue"):
        deploy(template=changed)
    assert nothing_created()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["Resources"].update(Bucket={"Type": "AWS::S3::Bucket"}), "type AWS::S3::Bucket"),
        (lambda t: props(t, QUEUE).update(Unknown=1), "Unknown not supported"),
        (
            lambda t: props(t, "DeadLetterQueuePolicy").update(
                Queues=[{"Fn::GetAtt": ["EnableTokenExchangeLogGroup", "Arn"]}]
            ),
            "EnableTokenExchangeLogGroup is not created locally",
        ),
        (
            lambda t: props(t, FUNCTION)["Events"].update(Nightly={"Type": "Schedule", "Properties": {}}),
            "event type 'Schedule'",
        ),
    ],
)
def test_template_changes_the_local_stack_cannot_follow_fail_loudly(aws, template, change, message):
    changed = copy.deepcopy(template)
    change(changed)
    with pytest.raises(UnsupportedTemplateError, match=message):
        deploy(template=changed)
    assert nothing_created()


def test_a_real_aws_endpoint_is_refused(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sqs.us-east-1.amazonaws.com")
    with pytest.raises(LocalStackError, match="refusing"):
        deploy()


# --- lifecycle ------------------------------------------------------------------------------------


def test_delete_removes_everything_and_the_stack_can_be_deployed_again(stack):
    with pytest.raises(LocalStackError, match="already exists"):
        deploy()
    stack.delete()
    assert nothing_created()
    assert not boto3.client("sns").list_topics()["Topics"]
    again = deploy()
    again.put_auth0_event(sample("api-created"))
    assert len(drain(again.queue_url)) == 1


# --- what exists before the deployment: the log stream's source and bus, setup's secret ------------


def existing_secret() -> str:
    """A credentials secret stored before the deployment, as ``token-exchange-enabler setup`` stores it."""
    return boto3.client("secretsmanager").create_secret(
        Name="setup/auth0-credentials", SecretString=json.dumps(CREDENTIALS)
    )["ARN"]


def event_source_state(name: str) -> str:
    return boto3.client("events").describe_event_source(Name=name)["State"]


def bus_names() -> set[str]:
    return {bus["Name"] for bus in boto3.client("events").list_event_buses()["EventBuses"]}


@pytest.mark.parametrize("routing_bus_exists", [False, True])
def test_a_bus_associated_by_setup_is_used_and_kept(aws, routing_bus_exists):
    events = boto3.client("events")
    name = partner_event_bus_name(DOMAIN)
    events.create_partner_event_source(Name=name, Account="123456789012")  # the log stream (Auth0)
    arn = events.create_event_bus(Name=name, EventSourceName=name)["EventBusArn"]  # setup
    if routing_bus_exists:  # the emulator's partner delivered a record already
        events.create_event_bus(Name="auth0.logs")
    secret = existing_secret()

    stack = deploy_local_stack({"Auth0Domain": DOMAIN, "Auth0CredentialsSecretArn": secret})

    assert (stack.event_bus_name, stack.event_bus_arn, stack.credentials_secret_arn) == (name, arn, secret)
    assert stack.function.environment["AUTH0_CREDENTIALS_SECRET_ID"] == secret
    stack.put_auth0_event(sample("api-created"))
    assert len(drain(stack.queue_url)) == 1
    stack.delete()
    # What the deployment did not create stays: the source, the bus, the secret (and the routing bus
    # when someone else made it).
    assert event_source_state(name) == "ACTIVE"
    assert bus_names() == {"default", name} | ({"auth0.logs"} if routing_bus_exists else set())
    assert boto3.client("secretsmanager").describe_secret(SecretId=secret)["ARN"] == secret
    assert not boto3.client("sqs").list_queues().get("QueueUrls")


def test_a_source_created_by_the_log_stream_is_associated_and_kept(aws):
    events = boto3.client("events")
    name = partner_event_bus_name(DOMAIN)
    events.create_partner_event_source(Name=name, Account="123456789012")  # the emulator's log stream

    stack = deploy()

    assert events.describe_event_bus(Name=name)["Arn"] == stack.event_bus_arn
    stack.put_auth0_event(sample("api-created"))
    assert len(drain(stack.queue_url)) == 1
    stack.delete()
    assert event_source_state(name) == "ACTIVE"  # the deployment did not create it: not deleted
    assert nothing_created()  # its bus, the routing bus and the rest are gone


def test_without_a_source_the_deployment_creates_and_deletes_it(stack):
    assert event_source_state(stack.event_bus_name) == "ACTIVE"
    stack.delete()
    assert event_source_state(stack.event_bus_name) == "DELETED"  # moto only marks it


# --- the sweep's schedule and the stack's outputs --------------------------------------------------


def test_the_sweep_schedule_is_created_from_the_template(stack, template):
    sweep = props(template, "ReconcileFunction")["Events"]["Sweep"]["Properties"]
    name = stack.schedule_names["ReconcileFunction"]
    assert set(stack.schedule_names) == {"ReconcileFunction"}
    assert name == f"{stack.stack_name}-ReconcileFunctionSweep"  # OmitName: CloudFormation's generated name
    schedule = boto3.client("scheduler").get_schedule(Name=name, GroupName=stack.schedule_groups["ReconcileFunction"])
    parameters = template["Parameters"]
    assert schedule["ScheduleExpression"] == parameters["ReconcileSchedule"]["Default"]
    assert schedule["State"] == parameters["ReconcileScheduleState"]["Default"]
    assert schedule["Description"] == sweep["Description"]
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["Arn"] == stack.functions["ReconcileFunction"].arn
    assert schedule["Target"]["RoleArn"].startswith("arn:aws:iam::123456789012:role/")


def test_the_schedule_follows_the_parameters_and_goes_with_the_stack(aws):
    stack = deploy(parameters={"ReconcileSchedule": "rate(2 hours)", "ReconcileScheduleState": "DISABLED"})
    scheduler = boto3.client("scheduler")
    schedule = scheduler.get_schedule(Name=stack.schedule_names["ReconcileFunction"])
    assert (schedule["ScheduleExpression"], schedule["State"]) == ("rate(2 hours)", "DISABLED")
    stack.delete()
    assert scheduler.list_schedules()["Schedules"] == []


def test_a_schedule_property_the_local_stack_cannot_follow_fails_loudly(aws, template):
    changed = copy.deepcopy(template)
    props(changed, "ReconcileFunction")["Events"]["Sweep"]["Properties"]["KmsKeyArn"] = "arn:aws:kms:x"
    with pytest.raises(UnsupportedTemplateError, match="KmsKeyArn not supported"):
        deploy(template=changed)
    assert nothing_created()
    assert boto3.client("scheduler").list_schedules()["Schedules"] == []


def test_the_outputs_are_the_template_outputs_with_local_values(stack, template):
    from token_exchange_enabler.cli import STACK_OUTPUTS

    outputs = stack.outputs()
    assert outputs == {
        "ApiCreatedQueueUrl": stack.queue_url,
        "ApiCreatedQueueArn": stack.queue_arn,
        "DeadLetterQueueUrl": stack.dlq_url,
        "DeadLetterQueueArn": stack.dlq_arn,
        "DeliveryDeadLetterQueueUrl": stack.delivery_dlq_url,
        "DeliveryDeadLetterQueueArn": stack.delivery_dlq_arn,
        "EnableTokenExchangeFunctionName": stack.function.name,
        "EnableTokenExchangeFunctionArn": stack.function.arn,
        "ReplayFunctionName": stack.functions["ReplayFunction"].name,
        "ReconcileFunctionName": stack.functions["ReconcileFunction"].name,
        "TokenCacheSecretArn": stack.token_cache_secret_arn,
        "IdempotencyTableName": stack.idempotency_table,
        "ApiCreatedRuleArn": stack.rule_arn,
        "ReconcileScheduleName": stack.schedule_names["ReconcileFunction"],
        "AlarmTopicArn": stack.alarm_topic_arn,
    }
    # Left out: what has no local counterpart (log groups, the layer, the dashboard).
    assert set(template["Outputs"]) - set(outputs) == {
        "EnableTokenExchangeLogGroupName", "ReplayLogGroupName", "ReconcileLogGroupName", "TokenExchangeLayerArn",
        "DashboardUrl",
    }  # fmt: skip
    # Every output the operator CLI reads from a deployed stack, but the dashboard's URL.
    assert set(STACK_OUTPUTS) - set(outputs) == {"DashboardUrl"}
