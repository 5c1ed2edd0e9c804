"""The AWS side of the system, created in a local AWS (moto's server) from template.yaml itself.

Nothing here describes the system a second time: the resources, their settings, the rule's
event pattern and the worker's configuration are all read from the template that
``sam deploy`` deploys, with its parameters, conditions and intrinsic functions evaluated the
way CloudFormation evaluates them (:mod:`local.template`). A change to the template therefore
changes the local stack too, and a change the local stack cannot follow (a new resource type,
property or intrinsic function) fails loudly instead of being ignored.

What is created, per resource type:

* ``AWS::Events::Rule`` on the Auth0 partner event bus (``Auth0EventBusName``), with the
  template's event pattern and targets (retry policy and dead-letter config included);
* ``AWS::SQS::Queue`` with all its attributes, ``AWS::SQS::QueuePolicy``;
* ``AWS::SecretsManager::Secret``, ``AWS::DynamoDB::Table`` (key schema, TTL, encryption),
  ``AWS::SNS::Topic`` and ``AWS::SNS::Subscription``.

Not created, listed in :attr:`LocalStack.skipped` with the reason: IAM roles, log groups,
alarms and the dashboard (no local meaning), the layer and the functions (they run in the local
Lambda stand-in, which is given :class:`FunctionSpec` and :class:`EventSourceSpec`), and
resources whose condition is false.

A function's ``ScheduleV2`` event (the sweep's) is created as SAM makes it, in the local
EventBridge Scheduler: an ``AWS::Scheduler::Schedule`` named as SAM and CloudFormation name it
(``<stack>-<Function><Event>`` with ``OmitName``), with the template's expression, state and
description, ``FlexibleTimeWindow`` OFF and a target naming the function's would-be ARN and the
role SAM would generate. Nothing runs it locally (moto stores schedules and never fires them):
invoke the function, or the CLI's ``reconcile``, yourself. :attr:`LocalStack.schedule_names`
names it; :meth:`LocalStack.outputs` gives the template's Outputs that have a local value
(``ReconcileScheduleName`` among them), as ``describe-stacks`` would list them.

Outside the template, because the deployed template only refers to them:

* the partner event bus: when a bus of that name exists already (``token-exchange-enabler
  setup`` associated the log stream's partner event source with it), it is used as it is;
  otherwise it is created as EventBridge creates it for a SaaS partner: the partner event source
  first, unless it exists already (the local Auth0 emulator's log stream created it), then the bus
  associated with it. A name not starting with ``aws.partner/`` makes a plain custom bus. What
  existed before is not deleted by :meth:`LocalStack.delete`;
* the Auth0 credentials secret (``Auth0CredentialsSecretArn``), holding the given
  ``credentials`` — or, when ``Auth0CredentialsSecretArn`` is given instead, the existing secret
  it names (e.g. the one ``setup`` stored), used as it is.

moto (5.2.5) gaps met here, and what this module does about them:

* ``CreateEventBus`` refuses a name containing "/" unless ``EventSourceName`` names an existing
  event source: the partner event source is created first (``CreatePartnerEventSource``, the
  call Auth0 makes when a log stream is set up), as in AWS. (moto writes the source's ARN with
  ``aws.partner/`` twice; nothing here uses it.) ``DescribeEventSource`` answers a source that
  does not exist with a 500 (retried), so whether the source exists is learnt from
  ``CreateEventBus`` refusing the association; ``DeletePartnerEventSource`` only marks the
  source ``DELETED``.
* EventBridge Scheduler: ``CreateSchedule``/``GetSchedule``/``DeleteSchedule`` work; a schedule
  never fires.
* moto finds the bus of ``PutRule``/``PutTargets``/``PutEvents``/``DescribeRule`` by the last
  "/"-separated segment of ``EventBusName``, so a partner bus (``aws.partner/.../auth0.logs``)
  is unreachable by its own name. A *routing bus* named after that last segment
  (``auth0.logs``) is created beside it: every call that names the partner bus lands there,
  so clients use the real partner bus name throughout. It is created if missing, idempotently
  (the local Auth0 emulator's partner creates it too, to deliver a log stream's records; then
  it stays its own). Side effects: ``DescribeRule`` reports
  the bus as ``auth0.logs`` and the rule's ARN as ``rule/auth0.logs/<name>`` (not
  ``rule/aws.partner/.../auth0.logs/<name>``), ``ListEventBuses`` shows the routing bus, and two
  local stacks whose buses share that last segment cannot live in one moto.
* ``PutPartnerEvents`` delivers to the default bus, never to the partner bus: events are put
  with ``PutEvents`` on the partner bus (:meth:`LocalStack.put_auth0_event`).
* Events EventBridge delivers to SQS lack the ``account`` field; rules are matched even when
  DISABLED; a target's ``RetryPolicy`` and ``DeadLetterConfig`` are stored but never used
  (delivery never fails, so the delivery dead-letter queue stays empty).
* ``RedriveAllowPolicy`` is accepted but neither returned by ``GetQueueAttributes`` nor
  enforced; queue policies are stored but not enforced, and a later ``SetQueueAttributes``
  without ``Policy`` drops the stored policy. IAM is not evaluated at all.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError

from local.auth0_emulator.partner import put_events_entry
from local.template import (
    NO_VALUE,
    ROOT,
    TEMPLATE_PATH,
    ParameterError,
    Resolver,
    TemplateError,
    UnsupportedTemplateError,
    check_parameter,
    creation_order,
    intrinsic,
    load_template,
    referenced_resources,
    resolve_parameters,
    scalar_text,
)

__all__ = [
    "LOCAL_OVERRIDES",
    "EventSourceSpec",
    "FunctionSpec",
    "LocalStack",
    "LocalStackError",
    "ParameterError",
    "SkippedResource",
    "TemplateError",
    "UnsupportedTemplateError",
    "deploy_local_stack",
    "partner_event_bus_name",
]

LOG = logging.getLogger(__name__)

DEFAULT_STACK_NAME = "token-exchange-enabler"

# Template parameters the local stack knows the meaning of.
DOMAIN_PARAMETER = "Auth0Domain"
EVENT_BUS_PARAMETER = "Auth0EventBusName"
CREDENTIALS_PARAMETER = "Auth0CredentialsSecretArn"

# Variables of the worker's contract (docs/design.md) that name resources of the stack.
TOKEN_CACHE_VARIABLE = "TOKEN_CACHE_SECRET_ID"
IDEMPOTENCY_TABLE_VARIABLE = "IDEMPOTENCY_TABLE_NAME"

PARTNER_BUS_PREFIX = "aws.partner/"

LOCAL_OVERRIDES: dict[str, str] = {
    "VisibilityTimeout": (
        "visibility timeout (s) of the queue the worker consumes, instead of the template's "
        "6 x FunctionTimeout: a failed record comes back after seconds, not minutes. Lambda "
        "itself refuses an SQS event source whose queue's visibility timeout is below the "
        "function timeout, so this is for local runs only"
    ),
    "MaximumBatchingWindowInSeconds": "batching window (s) of the worker's SQS event source",
}
"""Settings a local run may shorten (``deploy_local_stack(overrides=...)``), with what they change."""

SKIPPED_TYPES: dict[str, str] = {
    "AWS::IAM::Role": "moto does not evaluate IAM; least privilege is checked by tests/template",
    "AWS::Logs::LogGroup": "the local Lambda stand-in keeps the function's output itself",
    "AWS::CloudWatch::Alarm": "no CloudWatch metrics locally; watch the queues instead",
    "AWS::CloudWatch::Dashboard": "no CloudWatch metrics locally; `token-exchange-enabler status` instead",
    "AWS::Serverless::LayerVersion": "not built locally; FunctionSpec.layer_dirs names its source folder",
    "AWS::Serverless::Function": "runs in the local Lambda stand-in, described by LocalStack.functions",
}
"""Resource types with no local counterpart, and why."""

# What each creator understands. Anything else in the template fails the deployment, so that the
# local stack never silently differs from the deployed one.
_RESOURCE_KEYS = {
    "Type", "Properties", "Condition", "DependsOn", "Metadata", "DeletionPolicy", "UpdateReplacePolicy",
}  # fmt: skip
_QUEUE_ATTRIBUTES = {
    "ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue", "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize", "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy", "SqsManagedSseEnabled",
    "VisibilityTimeout",
}  # fmt: skip
_RULE_PROPERTIES = {
    "Name", "Description", "EventBusName", "EventPattern", "ScheduleExpression", "State", "RoleArn", "Targets",
}  # fmt: skip
_RULE_TARGET_KEYS = {
    "Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig",
    "SqsParameters",
}  # fmt: skip
_SECRET_PROPERTIES = {"Description", "SecretString", "KmsKeyId", "Tags"}  # and Name
_TABLE_PROPERTIES = {  # passed to CreateTable as they are; and TableName, SSESpecification, TimeToLiveSpecification
    "AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput", "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes", "Tags",
}  # fmt: skip
_TABLE_PROPERTIES_WITHOUT_LOCAL_EFFECT = {"PointInTimeRecoverySpecification", "DeletionProtectionEnabled"}
_TOPIC_ATTRIBUTES = {"DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication"}
_SUBSCRIPTION_ATTRIBUTES = {"RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"}
_FUNCTION_PROPERTIES = {
    "CodeUri", "Handler", "Runtime", "Timeout", "MemorySize", "Environment", "Layers", "Events", "FunctionName",
}  # fmt: skip
_FUNCTION_PROPERTIES_WITHOUT_LOCAL_EFFECT = {
    "Description", "Architectures", "Tracing", "Role", "Policies", "LoggingConfig", "Tags",
}  # fmt: skip
_SCHEDULE_EVENT = "ScheduleV2"
_EVENTS_WITHOUT_LOCAL_EFFECT = {
    _SCHEDULE_EVENT: (
        "created in the local EventBridge Scheduler (LocalStack.schedule_names), but nothing runs it "
        "locally: invoke the function (or the CLI's command) yourself"
    ),
}
"""Function event types that feed no local event source, and why."""
# What a ScheduleV2 event may say (SAM's AWS::Serverless::Function ScheduleV2 properties); the rest
# (DeadLetterConfig, KmsKeyArn, PermissionsBoundary...) fails the deployment until supported here.
_SCHEDULE_PROPERTIES = {
    "ScheduleExpression", "ScheduleExpressionTimezone", "State", "Description", "Name", "OmitName",
    "GroupName", "FlexibleTimeWindow", "StartDate", "EndDate", "RoleArn", "Input", "RetryPolicy",
}  # fmt: skip
_SQS_EVENT_PROPERTIES = {
    "Queue", "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig", "Enabled",
}  # fmt: skip
_NOT_FOUND_CODES = ("NotFound", "NonExistent", "NoSuch")


class LocalStackError(RuntimeError):
    """The local AWS refused something, or the local stack cannot be wired as the template says."""


class _NoLocalValue(UnsupportedTemplateError):
    """A stack output names a resource that is not created locally (it is left out)."""


@dataclass(frozen=True)
class SkippedResource:
    logical_id: str
    type: str
    reason: str


@dataclass(frozen=True)
class EventSourceSpec:
    """An SQS event source of a function, as the template declares it (the SAM ``SQS`` event)."""

    name: str  # the event's key under the function's Events
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_seconds: int
    maximum_concurrency: int | None  # None: no limit of its own
    function_response_types: tuple[str, ...]
    enabled: bool


@dataclass(frozen=True)
class FunctionSpec:
    """A function as the template declares it (Globals merged in), for the local Lambda stand-in.

    ``environment`` holds every variable the template sets, with references resolved to the
    local resources; the stand-in adds the AWS settings (``AWS_ENDPOINT_URL``...) itself.
    Lambda puts each layer's ``python/`` folder on ``sys.path``: ``layer_dirs`` are the layers'
    source folders (their ``ContentUri``).
    """

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str
    timeout: int
    memory_mb: int
    environment: dict[str, str]
    layer_dirs: tuple[Path, ...]
    event_sources: tuple[EventSourceSpec, ...]


@dataclass
class LocalStack:
    """The deployed local stack: names, URLs and ARNs of what was created, and the worker's specs."""

    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, Any]  # every template parameter, as Ref returns it (text)
    event_bus_name: str
    event_bus_arn: str
    rule_name: str
    rule_arn: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    delivery_dlq_url: str
    delivery_dlq_arn: str
    credentials_secret_arn: str
    token_cache_secret_arn: str
    idempotency_table: str
    alarm_topic_arn: str
    # The functions' ScheduleV2 events, created in moto's EventBridge Scheduler (nothing runs them
    # locally): function logical id -> schedule name, and the schedule's group.
    schedule_names: dict[str, str]
    schedule_groups: dict[str, str]
    functions: dict[str, FunctionSpec]  # by logical id
    function: FunctionSpec  # the worker: the function the queue feeds
    event_source: EventSourceSpec  # its SQS event source
    queue_settings: dict[str, int]  # the worker queue as created: visibility_timeout, max_receive_count, retention
    resources: dict[str, dict[str, Any]]  # logical id -> {"Ref": ..., attribute: ...} of what was created
    skipped: list[SkippedResource]
    overrides: dict[str, int]
    _outputs: dict[str, str] = field(repr=False, compare=False)
    _session: Any = field(repr=False, compare=False)
    _cleanups: list[tuple[str, Callable[[], Any]]] = field(repr=False, compare=False)
    _events: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._events = self._session.client("events")

    def put_auth0_event(self, event: Mapping[str, Any]) -> None:
        """Put one Auth0 log event (an EventBridge envelope, as in events/) on the partner bus."""
        self.put_auth0_events([event])

    def put_auth0_events(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Put Auth0 log events on the partner bus, ten per PutEvents call (the API's limit).

        ``source``, ``detail-type``, ``detail``, ``time`` and ``resources`` come from each
        envelope. EventBridge assigns the id, account and region, as it does for Auth0's events.
        """
        entries = [put_events_entry(self.event_bus_name, event) for event in events]
        for start in range(0, len(entries), 10):
            response = self._events.put_events(Entries=entries[start : start + 10])
            if response.get("FailedEntryCount"):
                failures = [e for e in response["Entries"] if "ErrorCode" in e]
                raise LocalStackError(f"PutEvents on {self.event_bus_name} refused events: {failures}")

    def outputs(self) -> dict[str, str]:
        """The template's Outputs that have a local value, as ``describe-stacks`` lists them
        (``OutputKey`` -> ``OutputValue``): each output's ``Value`` evaluated with the local
        names, URLs and ARNs. Outputs of what is not created locally (log groups, the layer, the
        dashboard) or whose condition is false are left out."""
        return dict(self._outputs)

    def delete(self) -> None:
        """Delete what the deployment created, newest first (like deleting the stack).

        What existed before the deployment (a partner event source or bus made by the Auth0
        emulator's log stream or by ``token-exchange-enabler setup``) is left in place.
        """
        _run_cleanups(self._cleanups)


def partner_event_bus_name(domain: str) -> str:
    """The partner event bus name of a tenant's log stream: aws.partner/auth0.com/<tenant>-<uuid>/auth0.logs.

    Auth0 makes up the UUID; locally it is derived from the domain, the same one the local Auth0
    emulator puts in the ``source`` of the events it streams.
    """
    tenant = domain.split(".", 1)[0]
    return f"{PARTNER_BUS_PREFIX}auth0.com/{tenant}-{uuid.uuid5(uuid.NAMESPACE_DNS, domain)}/auth0.logs"


def deploy_local_stack(
    parameters: Mapping[str, Any] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    credentials: Mapping[str, str] | None = None,
    overrides: Mapping[str, int] | None = None,
    template: Mapping[str, Any] | Path | str | None = None,
) -> LocalStack:
    """Create the stack's AWS resources in the local AWS the boto3 default session points to.

    ``parameters``: template parameter values (the template's defaults fill in the rest).
    ``Auth0EventBusName`` defaults to :func:`partner_event_bus_name` of ``Auth0Domain``.
    An ``Auth0EventBusName`` bus that exists already (``token-exchange-enabler setup``
    associated it with the log stream's partner event source) is used as it is, and so is a
    partner event source that exists already; neither is deleted by :meth:`LocalStack.delete`.
    ``credentials``: ``{"client_id", "client_secret"}`` of the Auth0 Management API client,
    stored in a new local secret whose ARN becomes ``Auth0CredentialsSecretArn``; leave it out
    only to pass ``Auth0CredentialsSecretArn`` of a secret that already exists locally (e.g.
    the one ``setup`` stored).
    ``overrides``: see :data:`LOCAL_OVERRIDES`.
    ``template``: the template (path, or the loaded dict, e.g. a modified copy); default
    template.yaml. The folders it names (``CodeUri``, ``ContentUri``) are relative to the
    template file's folder, or to the repository root for a dict.

    Refuses real AWS endpoints. On failure, what was already created is deleted again.
    """
    if isinstance(template, Mapping):
        loaded, base_dir = copy.deepcopy(dict(template)), ROOT
    else:
        path = Path(template) if template is not None else TEMPLATE_PATH
        loaded, base_dir = load_template(path), path.resolve().parent
    session = boto3.session.Session()
    _refuse_real_aws(session)
    deployment = _Deployment(loaded, base_dir, stack_name, session, _check_overrides(overrides))
    try:
        return deployment.run(dict(parameters or {}), credentials)
    except BaseException:
        try:
            _run_cleanups(deployment.cleanups)
        except LocalStackError as error:  # the original failure matters more
            LOG.warning("rolling back the local stack left resources behind: %s", error)
        raise


# --- deployment ---------------------------------------------------------------------------------


class _Deployment:
    """One run of deploy_local_stack: resolves the template and creates its resources in order."""

    def __init__(
        self, template: dict[str, Any], base_dir: Path, stack_name: str, session: Any, overrides: dict[str, int]
    ):
        if not re.fullmatch(r"[A-Za-z][-A-Za-z0-9]{0,127}", stack_name):
            raise ParameterError(
                f"invalid stack name {stack_name!r} (letters, digits and hyphens, starting with a letter)"
            )
        self.template = template
        self.base_dir = base_dir
        self.stack_name = stack_name
        self.session = session
        self.overrides = overrides
        self.cleanups: list[tuple[str, Callable[[], Any]]] = []
        self.created: dict[str, dict[str, Any]] = {}  # logical id -> {"Ref": ..., attribute: ...}
        self.properties: dict[str, dict[str, Any]] = {}  # logical id -> resolved Properties
        self.skipped: dict[str, SkippedResource] = {}
        self.schedules: dict[str, dict[str, str]] = {}  # function logical id -> id, Ref (name), Arn, GroupName
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        self.clients: dict[str, Any] = {}
        self.region = session.region_name
        if not self.region:
            raise LocalStackError("no AWS region configured (set AWS_REGION or AWS_DEFAULT_REGION)")
        self.partition = session.get_partition_for_region(self.region)
        self.account_id = ""
        self.worker_queue_id = ""
        self.resolver: Resolver

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self.session.client(service)
        return self.clients[service]

    def cleanup(self, description: str, action: Callable[[], Any]) -> None:
        self.cleanups.append((description, action))

    def run(self, given: dict[str, Any], credentials: Mapping[str, str] | None) -> LocalStack:
        self.account_id = self.client("sts").get_caller_identity()["Account"]
        parameters = self._parameters(given, credentials)
        self.resolver = Resolver(
            self.template,
            parameters=parameters,
            pseudo_parameters={
                "AWS::AccountId": self.account_id,
                "AWS::Partition": self.partition,
                "AWS::Region": self.region,
                "AWS::StackId": (
                    f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:stack/"
                    f"{self.stack_name}/{uuid.uuid5(uuid.NAMESPACE_URL, self.stack_name)}"
                ),
                "AWS::StackName": self.stack_name,
                "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            },
            resource_value=self._value,
        )
        self.resolver.check_rules()
        worker_id, worker_queue_id = _find_worker(self.template)
        self.worker_queue_id = worker_queue_id

        bus_name = scalar_text(parameters[EVENT_BUS_PARAMETER])
        bus_arn = self._create_event_bus(bus_name)
        if credentials is not None:
            parameters[CREDENTIALS_PARAMETER] = check_parameter(
                self.template, CREDENTIALS_PARAMETER, self._create_credentials_secret(credentials)
            )

        for logical_id in creation_order(self.resources):
            self._deploy(logical_id)

        functions = {
            logical_id: self._function_spec(logical_id)
            for logical_id, resource in self.resources.items()
            if resource["Type"] == "AWS::Serverless::Function" and self._exists(logical_id)
        }
        for spec in functions.values():
            self._create_schedules(spec)
        outputs = self._outputs(parameters, functions)
        return self._stack(parameters, bus_name, bus_arn, functions, functions[worker_id], worker_queue_id, outputs)

    # -- parameters and the resources outside the template --

    def _parameters(self, given: dict[str, Any], credentials: Mapping[str, str] | None) -> dict[str, Any]:
        if credentials is not None and CREDENTIALS_PARAMETER in given:
            raise ParameterError(
                f"give either credentials (a local secret is created for them) or {CREDENTIALS_PARAMETER} "
                "(an existing local secret), not both"
            )
        if credentials is None and CREDENTIALS_PARAMETER not in given:
            raise ParameterError(
                f"credentials are required: the template only refers to the secret ({CREDENTIALS_PARAMETER}), "
                "so the local stack creates it with the given client_id and client_secret"
            )
        if credentials is not None:
            missing = [key for key in ("client_id", "client_secret") if not isinstance(credentials.get(key), str)]
            if missing:
                raise ParameterError(f"credentials lack {', '.join(missing)}")
        if EVENT_BUS_PARAMETER not in given and DOMAIN_PARAMETER in given:
            domain = check_parameter(self.template, DOMAIN_PARAMETER, given[DOMAIN_PARAMETER])
            given[EVENT_BUS_PARAMETER] = partner_event_bus_name(scalar_text(domain))
        skip = frozenset({CREDENTIALS_PARAMETER}) if credentials is not None else frozenset()
        return resolve_parameters(self.template, given, skip=skip)

    def _create_event_bus(self, name: str) -> str:
        events = self.client("events")
        if name == "default":
            return events.describe_event_bus(Name=name)["Arn"]
        if not name.startswith(PARTNER_BUS_PREFIX):
            arn = self._call(f"event bus {name}", events.create_event_bus, Name=name)["EventBusArn"]
            self.cleanup(f"event bus {name}", lambda: events.delete_event_bus(Name=name))
            return arn
        arn = self._existing_event_bus(name)
        if arn is None:
            arn = self._associate_partner_event_source(name)
        # moto gap: moto finds a bus by the last "/" segment of the name it is given (module doc).
        # Whoever streams to the partner bus needs it too: the local Auth0 emulator's partner may
        # have created it already, and then it is theirs to keep.
        routing = name.rsplit("/", 1)[1]
        try:
            events.create_event_bus(Name=routing)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise LocalStackError(f"creating routing event bus {routing} failed: {error}") from error
        else:
            self.cleanup(f"event bus {routing}", lambda: events.delete_event_bus(Name=routing))
        return arn

    def _existing_event_bus(self, name: str) -> str | None:
        """The ARN of the bus ``name`` if it exists already (``token-exchange-enabler setup``
        associates the partner event source with a bus before the stack is deployed), else None."""
        try:
            return str(self.client("events").describe_event_bus(Name=name)["Arn"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise LocalStackError(f"reading event bus {name} failed: {error}") from error

    def _associate_partner_event_source(self, name: str) -> str:
        """What the customer does once Auth0 created the partner event source: a bus associated
        with it. When the source does not exist yet, it is created first, as Auth0 creates it when
        a log stream is set up (in its own account, for ours); a source that exists already (the
        local Auth0 emulator's log stream made it) is left to its owner."""
        events = self.client("events")
        try:
            arn = events.create_event_bus(Name=name, EventSourceName=name)["EventBusArn"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise LocalStackError(f"creating event bus {name} failed: {error}") from error
            # No such event source. (moto's DescribeEventSource answers a missing source with a
            # 500, retried; the refused association says the same at once.)
            self._call(
                f"partner event source {name}",
                events.create_partner_event_source,
                Name=name,
                Account=self.account_id,
            )
            self.cleanup(
                f"partner event source {name}",
                lambda: events.delete_partner_event_source(Name=name, Account=self.account_id),
            )
            arn = self._call(f"event bus {name}", events.create_event_bus, Name=name, EventSourceName=name)[
                "EventBusArn"
            ]
        self.cleanup(f"event bus {name}", lambda: events.delete_event_bus(Name=name))
        return str(arn)

    def _create_credentials_secret(self, credentials: Mapping[str, str]) -> str:
        secrets = self.client("secretsmanager")
        name = f"{self.stack_name}/auth0-credentials"
        arn = self._call(
            f"secret {name}",
            secrets.create_secret,
            Name=name,
            Description="Auth0 Management API client credentials (local stack)",
            SecretString=json.dumps({key: credentials[key] for key in ("client_id", "client_secret")}),
        )["ARN"]
        self.cleanup(f"secret {name}", lambda: secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True))
        return arn

    # -- template resources --

    def _exists(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.resolver.condition(condition)

    def _deploy(self, logical_id: str) -> None:
        resource = self.resources[logical_id]
        resource_type = resource.get("Type")
        if not isinstance(resource_type, str):
            raise TemplateError(f"Resources.{logical_id}: Type must be a string, got {resource_type!r}")
        unknown_keys = set(resource) - _RESOURCE_KEYS
        if unknown_keys:
            raise UnsupportedTemplateError(f"Resources.{logical_id}: {sorted(unknown_keys)} not supported locally")
        if not self._exists(logical_id):
            reason = f"its condition {resource['Condition']} is false"
        elif resource_type in SKIPPED_TYPES:
            reason = SKIPPED_TYPES[resource_type]
        else:
            reason = ""
        if reason:
            self.skipped[logical_id] = SkippedResource(logical_id, resource_type, reason)
            return
        create = self._creators().get(resource_type)
        if create is None:
            raise UnsupportedTemplateError(
                f"Resources.{logical_id}: type {resource_type} is not supported by the local stack; "
                "create it in local/stack.py or list it in SKIPPED_TYPES with a reason"
            )
        properties = self.resolver.resolve(resource.get("Properties", {}), f"Resources.{logical_id}.Properties")
        self.properties[logical_id] = properties
        self.created[logical_id] = create(logical_id, properties)
        LOG.debug("created %s (%s)", logical_id, resource_type)

    def _creators(self) -> dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]]:
        return {
            "AWS::SQS::Queue": self._create_queue,
            "AWS::SQS::QueuePolicy": self._create_queue_policy,
            "AWS::Events::Rule": self._create_rule,
            "AWS::SecretsManager::Secret": self._create_secret,
            "AWS::DynamoDB::Table": self._create_table,
            "AWS::SNS::Topic": self._create_topic,
            "AWS::SNS::Subscription": self._create_subscription,
        }

    def _value(self, logical_id: str, attribute: str | None) -> Any:
        """Ref (attribute None) or Fn::GetAtt of a template resource, for the resolver."""
        wanted = f"Fn::GetAtt {logical_id}.{attribute}" if attribute else f"Ref {logical_id}"
        if logical_id in self.skipped:
            raise UnsupportedTemplateError(
                f"{wanted}: {logical_id} is not created locally ({self.skipped[logical_id].reason})"
            )
        if logical_id not in self.created:
            raise TemplateError(f"{wanted}: {logical_id} is not created yet")
        values = self.created[logical_id]
        key = attribute or "Ref"
        if key not in values:
            offered = ", ".join(sorted(values)) or "nothing"
            raise UnsupportedTemplateError(f"{wanted} is not supported locally ({logical_id} offers {offered})")
        return values[key]

    def _physical_name(self, logical_id: str, limit: int) -> str:
        """A generated name: CloudFormation adds a random suffix, the local stack does not."""
        return f"{self.stack_name}-{logical_id}"[:limit]

    def _call(self, what: str, operation: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return operation(**kwargs)
        except ClientError as error:
            hint = ""
            if "AlreadyExists" in error.response.get("Error", {}).get("Code", ""):
                hint = " (deploy into a fresh local AWS, or delete() the stack deployed there before)"
            raise LocalStackError(f"creating {what} failed: {error}{hint}") from error

    def _create_queue(self, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        _check_properties(logical_id, "AWS::SQS::Queue", properties, _QUEUE_ATTRIBUTES | {"QueueName", "Tags"})
        name = properties.get("QueueName") or self._physical_name(logical_id, 80)
        attributes = {key: _attribute_text(properties[key]) for key in _QUEUE_ATTRIBUTES & set(properties)}
        if logical_id == self.worker_queue_id and "VisibilityTimeout" in self.overrides:
            attributes["VisibilityTimeout"] = str(self.overrides["VisibilityTimeout"])
        request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if properties.get("Tags"):
            request["tags"] = _tag_dict(properties["Tags"])
        sqs = self.client("sqs")
        url = self._call(f"queue {name}", sqs.create_queue, **request)["QueueUrl"]
        self.cleanup(f"queue {name}", lambda: sqs.delete_queue(QueueUrl=url))
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {"Ref": url, "Arn": arn, "QueueUrl": url, "QueueName": name}

    def _create_queue_policy(self, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        # Removed with its queues; moto stores the policy but does not enforce it.
        _check_properties(logical_id, "AWS::SQS::QueuePolicy", properties, {"Queues", "PolicyDocument"})
        sqs = self.client("sqs")
        for url in properties["Queues"]:
            self._call(
                f"policy of {url}",
                sqs.set_queue_attributes,
                QueueUrl=url,
                Attributes={"Policy": json.dumps(properties["PolicyDocument"])},
            )
        return {}

    def _create_rule(self, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        _check_properties(logical_id, "AWS::Events::Rule", properties, _RULE_PROPERTIES)
        name = properties.get("Name") or self._physical_name(logical_id, 64)
        bus = properties.get("EventBusName", "default")
        request: dict[str, Any] = {"Name": name, "EventBusName": bus}
        for key in ("Description", "ScheduleExpression", "State", "RoleArn"):
            if key in properties:
                request[key] = properties[key]
        if "EventPattern" in properties:
            request["EventPattern"] = json.dumps(_json_document(properties["EventPattern"]))
        events = self.client("events")
        arn = self._call(f"rule {name}", events.put_rule, **request)["RuleArn"]
        self.cleanup(f"rule {name}", lambda: events.delete_rule(Name=name, EventBusName=bus))
        targets = properties.get("Targets", [])
        for i, target in enumerate(targets):
            _check_properties(f"{logical_id}.Targets[{i}]", "AWS::Events::Rule Target", target, _RULE_TARGET_KEYS)
        if targets:
            response = self._call(
                f"targets of rule {name}", events.put_targets, Rule=name, EventBusName=bus, Targets=targets
            )
            if response.get("FailedEntryCount"):
                raise LocalStackError(f"rule {name} refused targets: {response['FailedEntries']}")
            ids = [target["Id"] for target in targets]
            self.cleanup(f"targets of rule {name}", lambda: events.remove_targets(Rule=name, EventBusName=bus, Ids=ids))
        return {"Arn": arn}

    def _create_secret(self, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        _check_properties(logical_id, "AWS::SecretsManager::Secret", properties, _SECRET_PROPERTIES | {"Name"})
        name = properties.get("Name") or f"{self.stack_name}/{logical_id}"
        request = {key: properties[key] for key in _SECRET_PROPERTIES & set(properties)}
        secrets = self.client("secretsmanager")
        arn = self._call(f"secret {name}", secrets.create_secret, Name=name, **request)["ARN"]
        self.cleanup(f"secret {name}", lambda: secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True))
        return {"Ref": arn, "Id": arn}

    def _create_table(self, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        _check_properties(
            logical_id,
            "AWS::DynamoDB::Table",
            properties,
            _TABLE_PROPERTIES | {"TableName", "SSESpecification", "TimeToLiveSpecification"},
            no_local_effect=_TABLE_PROPERTIES_WITHOUT_LOCAL_EFFECT,
        )
        name = properties.get("TableName") or self._physical_name(logical_id, 255)
        request = {key: properties[key] for key in _TABLE_PROPERTIES & set(properties)}
        if "SSESpecification" in properties:
            sse = properties["SSESpecification"]
            request["SSESpecification"] = {"Enabled": _boolean(sse.get("SSEEnabled", False))}
            request["SSESpecification"].update({k: sse[k] for k in ("SSEType", "KMSMasterKeyId") if k in sse})
        dynamodb = self.client("dynamodb")
        table = self._call(f"table {name}", dynamodb.create_table, TableName=name, **request)["TableDescription"]
        arn = table["TableArn"]
        self.cleanup(f"table {name}", lambda: dynamodb.delete_table(TableName=name))
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            self._call(
                f"TTL of table {name}",
                dynamodb.update_time_to_live,
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": _boolean(ttl["Enabled"])},
            )
        return {"Ref": name, "Arn": arn}

    def _create_topic(self, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        supported = _TOPIC_ATTRIBUTES | {"TopicName", "Subscription", "Tags"}
        _check_properties(logical_id, "AWS::SNS::Topic", properties, supported)
        name = properties.get("TopicName") or self._physical_name(logical_id, 256)
        request: dict[str, Any] = {
            "Name": name,
            "Attributes": {key: _attribute_text(properties[key]) for key in _TOPIC_ATTRIBUTES & set(properties)},
        }
        if properties.get("Tags"):
            request["Tags"] = properties["Tags"]
        sns = self.client("sns")
        arn = self._call(f"topic {name}", sns.create_topic, **request)["TopicArn"]
        self.cleanup(f"topic {name}", lambda: sns.delete_topic(TopicArn=arn))
        for subscription in properties.get("Subscription", []):
            self._call(
                f"subscription to {name}",
                sns.subscribe,
                TopicArn=arn,
                Protocol=subscription["Protocol"],
                Endpoint=subscription["Endpoint"],
            )
        return {"Ref": arn, "TopicArn": arn, "TopicName": name}

    def _create_subscription(self, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        supported = _SUBSCRIPTION_ATTRIBUTES | {"TopicArn", "Protocol", "Endpoint"}
        _check_properties(logical_id, "AWS::SNS::Subscription", properties, supported)
        sns = self.client("sns")
        arn = self._call(
            f"subscription {logical_id}",
            sns.subscribe,
            TopicArn=properties["TopicArn"],
            Protocol=properties["Protocol"],
            Endpoint=properties["Endpoint"],
            Attributes={key: _attribute_text(properties[key]) for key in _SUBSCRIPTION_ATTRIBUTES & set(properties)},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.cleanup(f"subscription {logical_id}", lambda: sns.unsubscribe(SubscriptionArn=arn))
        return {"Ref": arn}

    # -- functions --

    def _function_spec(self, logical_id: str) -> FunctionSpec:
        globals_ = self.template.get("Globals", {}).get("Function", {})
        merged = _merge_globals(globals_, self.resources[logical_id].get("Properties", {}))
        _check_properties(
            logical_id,
            "AWS::Serverless::Function",
            merged,
            _FUNCTION_PROPERTIES,
            no_local_effect=_FUNCTION_PROPERTIES_WITHOUT_LOCAL_EFFECT,
        )
        where = f"Resources.{logical_id}.Properties"

        def value(key: str, default: Any = None) -> Any:
            if key not in merged:
                return default
            resolved = self.resolver.resolve(merged[key], f"{where}.{key}")
            return default if resolved is NO_VALUE else resolved

        variables = value("Environment", {}).get("Variables", {})
        name = value("FunctionName") or self._physical_name(logical_id, 64)
        for required in ("Handler", "Runtime"):
            if not value(required):
                raise UnsupportedTemplateError(f"{where}: no {required} (only zip functions run locally)")
        return FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:function:{name}",
            code_dir=self._local_dir(value("CodeUri"), f"{where}.CodeUri"),
            handler=value("Handler"),
            runtime=value("Runtime"),
            timeout=int(scalar_text(value("Timeout", 3))),  # Lambda's defaults
            memory_mb=int(scalar_text(value("MemorySize", 128))),
            environment={key: scalar_text(item) for key, item in variables.items()},
            layer_dirs=tuple(self._layer_dir(item, f"{where}.Layers") for item in merged.get("Layers", [])),
            event_sources=tuple(
                self._event_source(event_name, event, f"{where}.Events.{event_name}")
                for event_name, event in merged.get("Events", {}).items()
                if event.get("Type") not in _EVENTS_WITHOUT_LOCAL_EFFECT
            ),
        )

    def _local_dir(self, uri: Any, where: str) -> Path:
        if not isinstance(uri, str) or uri.startswith("s3://"):
            raise UnsupportedTemplateError(f"{where}: only a local folder is supported, got {uri!r}")
        folder = (self.base_dir / uri).resolve()
        if not folder.is_dir():
            raise TemplateError(f"{where}: folder {folder} does not exist")
        return folder

    def _layer_dir(self, layer: Any, where: str) -> Path:
        call = intrinsic(layer)
        target = call[1] if call and call[0] == "Ref" else None
        if not isinstance(target, str) or self.resources.get(target, {}).get("Type") != "AWS::Serverless::LayerVersion":
            raise UnsupportedTemplateError(f"{where}: {layer!r} is not a layer of this template")
        uri = self.resources[target]["Properties"].get("ContentUri")
        return self._local_dir(uri, f"Resources.{target}.Properties.ContentUri")

    def _event_source(self, name: str, event: Mapping[str, Any], where: str) -> EventSourceSpec:
        if event.get("Type") != "SQS":
            raise UnsupportedTemplateError(
                f"{where}: event type {event.get('Type')!r} is not supported locally (only SQS); extend local/stack.py"
            )
        properties = self.resolver.resolve(event.get("Properties", {}), f"{where}.Properties")
        _check_properties(where, "SQS event", properties, _SQS_EVENT_PROPERTIES)
        queue_arn = properties["Queue"]
        queue_url = next(
            (values["QueueUrl"] for values in self.created.values() if values.get("Arn") == queue_arn), None
        )
        if queue_url is None:
            raise LocalStackError(f"{where}: queue {queue_arn} is not one of the stack's queues")
        window = properties.get("MaximumBatchingWindowInSeconds", 0)
        window = self.overrides.get("MaximumBatchingWindowInSeconds", window)
        concurrency = properties.get("ScalingConfig", {}).get("MaximumConcurrency")
        return EventSourceSpec(
            name=name,
            queue_arn=queue_arn,
            queue_url=queue_url,
            batch_size=int(scalar_text(properties.get("BatchSize", 10))),  # SAM's default for SQS
            batching_window_seconds=int(scalar_text(window)),
            maximum_concurrency=None if concurrency is None else int(scalar_text(concurrency)),
            function_response_types=tuple(properties.get("FunctionResponseTypes", [])),
            enabled=_boolean(properties.get("Enabled", True)),
        )

    # -- schedules (SAM's ScheduleV2 events) --

    def _create_schedules(self, function: FunctionSpec) -> None:
        """Each ScheduleV2 event of ``function`` as the AWS::Scheduler::Schedule SAM makes of it."""
        logical_id = function.logical_id
        events = self.resources[logical_id].get("Properties", {}).get("Events", {})
        for event_name, event in events.items():
            if event.get("Type") != _SCHEDULE_EVENT:
                continue
            where = f"Resources.{logical_id}.Properties.Events.{event_name}"
            if logical_id in self.schedules:
                raise UnsupportedTemplateError(
                    f"{where}: a second {_SCHEDULE_EVENT} event of {logical_id}; LocalStack.schedule_names "
                    "holds one per function; extend local/stack.py"
                )
            self.schedules[logical_id] = self._create_schedule(function, event_name, event, where)

    def _create_schedule(
        self, function: FunctionSpec, event_name: str, event: Mapping[str, Any], where: str
    ) -> dict[str, str]:
        """One schedule (SAM's logical id ``<Function><Event>``) targeting the function's would-be
        ARN. Nothing invokes the function when it fires: moto stores schedules and never runs them."""
        properties = self.resolver.resolve(event.get("Properties", {}), f"{where}.Properties")
        _check_properties(where, f"{_SCHEDULE_EVENT} event", properties, _SCHEDULE_PROPERTIES)
        schedule_id = f"{function.logical_id}{event_name}"
        if properties.get("Name"):
            name = properties["Name"]
        elif _boolean(properties.get("OmitName", False)):
            name = self._physical_name(schedule_id, 64)  # CloudFormation's generated name
        else:
            name = schedule_id  # SAM names the schedule after its logical id
        group = properties.get("GroupName", "default")
        # SAM generates the schedule's role (<Function><Event>Role) unless RoleArn is given.
        role = properties.get("RoleArn") or (
            f"arn:{self.partition}:iam::{self.account_id}:role/{self._physical_name(f'{schedule_id}Role', 64)}"
        )
        target: dict[str, Any] = {"Arn": function.arn, "RoleArn": role}
        if "Input" in properties:
            target["Input"] = properties["Input"]
        if "RetryPolicy" in properties:
            target["RetryPolicy"] = {key: int(scalar_text(item)) for key, item in properties["RetryPolicy"].items()}
        request: dict[str, Any] = {
            "Name": name,
            "GroupName": group,
            "ScheduleExpression": properties["ScheduleExpression"],
            "State": properties.get("State", "ENABLED"),
            "FlexibleTimeWindow": properties.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            "Target": target,
        }
        for key in ("Description", "ScheduleExpressionTimezone", "StartDate", "EndDate"):
            if key in properties:
                request[key] = properties[key]
        scheduler = self.client("scheduler")
        arn = self._call(f"schedule {name}", scheduler.create_schedule, **request)["ScheduleArn"]
        self.cleanup(f"schedule {name}", lambda: scheduler.delete_schedule(Name=name, GroupName=group))
        return {"id": schedule_id, "Ref": name, "Arn": arn, "GroupName": group}

    # -- outputs --

    def _outputs(self, parameters: dict[str, Any], functions: dict[str, FunctionSpec]) -> dict[str, str]:
        """The template's Outputs evaluated locally; those naming what is not created are left out."""
        schedules = {values["id"]: values for values in self.schedules.values()}
        # The resolver answers for the template's resources only: the schedules SAM generates are
        # declared for it here, as the transformed template declares them.
        template = {
            **self.template,
            "Resources": {
                **self.resources,
                **{schedule_id: {"Type": "AWS::Scheduler::Schedule"} for schedule_id in schedules},
            },
        }

        def value(logical_id: str, attribute: str | None) -> Any:
            if logical_id in schedules:
                key = attribute or "Ref"
                if key not in ("Ref", "Arn"):
                    raise UnsupportedTemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not supported locally")
                return schedules[logical_id][key]
            if logical_id in functions:
                if attribute not in (None, "Arn"):
                    raise UnsupportedTemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not supported locally")
                return functions[logical_id].arn if attribute else functions[logical_id].name
            if logical_id in self.skipped:
                raise _NoLocalValue(logical_id)
            return self._value(logical_id, attribute)

        resolver = Resolver(
            template,
            parameters=parameters,
            pseudo_parameters=self.resolver.pseudo_parameters,
            resource_value=value,
        )
        outputs: dict[str, str] = {}
        for key, output in self.template.get("Outputs", {}).items():
            condition = output.get("Condition")
            if condition is not None and not resolver.condition(condition):
                continue
            try:
                resolved = resolver.resolve(output.get("Value"), f"Outputs.{key}.Value")
            except _NoLocalValue:
                continue
            if resolved is not NO_VALUE:
                outputs[key] = scalar_text(resolved)
        return outputs

    # -- the result --

    def _stack(
        self,
        parameters: dict[str, Any],
        bus_name: str,
        bus_arn: str,
        functions: dict[str, FunctionSpec],
        worker: FunctionSpec,
        queue_id: str,
        outputs: dict[str, str],
    ) -> LocalStack:
        (event_source,) = worker.event_sources
        queue = self.created[queue_id]
        redrive = self.properties[queue_id].get("RedrivePolicy")
        if not redrive:
            raise LocalStackError(f"{queue_id} has no RedrivePolicy: the worker's dead-letter queue is unknown")
        dlq = self._created_by_arn(_json_document(redrive)["deadLetterTargetArn"])
        rule_id, target = self._rule_targeting(queue["Arn"])
        if "DeadLetterConfig" not in target:
            raise LocalStackError(f"{rule_id}: the target {target['Id']} has no DeadLetterConfig")
        delivery_dlq = self._created_by_arn(target["DeadLetterConfig"]["Arn"])
        topics = [rid for rid in self.created if self.resources[rid]["Type"] == "AWS::SNS::Topic"]
        if len(topics) != 1:
            raise LocalStackError(f"expected one SNS topic (the alarm topic), found {topics}")
        for variable in (TOKEN_CACHE_VARIABLE, IDEMPOTENCY_TABLE_VARIABLE):
            if variable not in worker.environment:
                raise LocalStackError(f"{worker.logical_id} does not set {variable}")
        attributes = self.client("sqs").get_queue_attributes(QueueUrl=queue["QueueUrl"], AttributeNames=["All"])
        created = attributes["Attributes"]
        return LocalStack(
            stack_name=self.stack_name,
            region=self.region,
            account_id=self.account_id,
            parameters=dict(parameters),
            event_bus_name=bus_name,
            event_bus_arn=bus_arn,
            rule_name=self.properties[rule_id].get("Name") or self._physical_name(rule_id, 64),
            rule_arn=self.created[rule_id]["Arn"],
            queue_url=queue["QueueUrl"],
            queue_arn=queue["Arn"],
            dlq_url=dlq["QueueUrl"],
            dlq_arn=dlq["Arn"],
            delivery_dlq_url=delivery_dlq["QueueUrl"],
            delivery_dlq_arn=delivery_dlq["Arn"],
            credentials_secret_arn=scalar_text(parameters[CREDENTIALS_PARAMETER]),
            token_cache_secret_arn=worker.environment[TOKEN_CACHE_VARIABLE],
            idempotency_table=worker.environment[IDEMPOTENCY_TABLE_VARIABLE],
            alarm_topic_arn=self.created[topics[0]]["TopicArn"],
            schedule_names={logical_id: values["Ref"] for logical_id, values in self.schedules.items()},
            schedule_groups={logical_id: values["GroupName"] for logical_id, values in self.schedules.items()},
            functions=functions,
            function=worker,
            event_source=event_source,
            queue_settings={
                "visibility_timeout": int(created["VisibilityTimeout"]),
                "max_receive_count": int(json.loads(created["RedrivePolicy"])["maxReceiveCount"]),
                "retention": int(created["MessageRetentionPeriod"]),
            },
            resources=copy.deepcopy(self.created),
            skipped=list(self.skipped.values()),
            overrides=dict(self.overrides),
            _outputs=outputs,
            _session=self.session,
            _cleanups=self.cleanups,
        )

    def _created_by_arn(self, arn: str) -> dict[str, Any]:
        for values in self.created.values():
            if values.get("Arn") == arn:
                return values
        raise LocalStackError(f"{arn} is not a resource of the stack")

    def _rule_targeting(self, arn: str) -> tuple[str, dict[str, Any]]:
        found = [
            (rid, target)
            for rid in self.created
            if self.resources[rid]["Type"] == "AWS::Events::Rule"
            for target in self.properties[rid].get("Targets", [])
            if target["Arn"] == arn
        ]
        if len(found) != 1:
            raise LocalStackError(f"expected one rule targeting {arn}, found {[rid for rid, _ in found]}")
        return found[0]


# --- helpers ------------------------------------------------------------------------------------


def _refuse_real_aws(session: Any) -> None:
    endpoint = session.client("sts").meta.endpoint_url
    host = urlsplit(endpoint).hostname or ""
    if host.endswith(("amazonaws.com", "amazonaws.com.cn", ".api.aws")):
        raise LocalStackError(
            f"refusing to create the local stack at {endpoint}: point AWS_ENDPOINT_URL at a local AWS "
            "(moto's server, see local/aws.py)"
        )


def _check_overrides(overrides: Mapping[str, int] | None) -> dict[str, int]:
    checked = dict(overrides or {})
    for key, value in checked.items():
        if key not in LOCAL_OVERRIDES:
            raise ValueError(f"unknown override {key!r}; supported: {', '.join(LOCAL_OVERRIDES)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"override {key} must be a whole number of seconds, got {value!r}")
    return checked


def _find_worker(template: Mapping[str, Any]) -> tuple[str, str]:
    """(function, queue) logical ids of the one function fed by an SQS event source."""
    resources = template.get("Resources", {})
    found = [
        (logical_id, queue_id)
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Function"
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event.get("Type") == "SQS"
        for queue_id in referenced_resources(event.get("Properties", {}).get("Queue"), set(resources))
    ]
    if len(found) != 1:
        raise UnsupportedTemplateError(
            f"expected one function with one SQS event source (the worker), found {found}; "
            "teach local/stack.py which one the local stack feeds"
        )
    return found[0]


def _check_properties(
    logical_id: str,
    resource_type: str,
    properties: Mapping[str, Any],
    supported: set[str],
    *,
    no_local_effect: set[str] | frozenset[str] = frozenset(),
) -> None:
    unknown = set(properties) - supported - no_local_effect
    if unknown:
        raise UnsupportedTemplateError(
            f"{logical_id} ({resource_type}): {', '.join(sorted(unknown))} not supported by the local stack; "
            "extend local/stack.py"
        )


def _merge_globals(global_properties: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rules: maps merge, lists concatenate (globals first), anything else is replaced."""

    def merge(global_value: Any, value: Any) -> Any:
        if intrinsic(global_value) or intrinsic(value):
            return copy.deepcopy(value)
        if isinstance(global_value, dict) and isinstance(value, dict):
            merged = copy.deepcopy(global_value)
            for key, item in value.items():
                merged[key] = merge(global_value[key], item) if key in global_value else copy.deepcopy(item)
            return merged
        if isinstance(global_value, list) and isinstance(value, list):
            return copy.deepcopy(global_value + value)
        return copy.deepcopy(value)

    return merge(dict(global_properties), dict(properties))


def _json_document(value: Any) -> dict[str, Any]:
    """A property of CloudFormation type Json: an object, or the same as JSON text."""
    return json.loads(value) if isinstance(value, str) else value


def _attribute_text(value: Any) -> str:
    """A property value as an SQS/SNS attribute: JSON for documents, lower-case booleans."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return scalar_text(value)


def _boolean(value: Any) -> bool:
    text = scalar_text(value).lower()
    if text not in ("true", "false"):
        raise TemplateError(f"expected a boolean, got {value!r}")
    return text == "true"


def _tag_dict(tags: Any) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags} if isinstance(tags, list) else dict(tags)


def _run_cleanups(cleanups: list[tuple[str, Callable[[], Any]]]) -> None:
    """Run cleanups newest first; what is already gone is fine, other failures are reported at the end."""
    failures = []
    while cleanups:
        description, action = cleanups.pop()
        try:
            action()
        except ClientError as error:
            if not any(code in error.response.get("Error", {}).get("Code", "") for code in _NOT_FOUND_CODES):
                failures.append(f"{description}: {error}")
    if failures:
        raise LocalStackError("could not delete " + "; ".join(failures))
