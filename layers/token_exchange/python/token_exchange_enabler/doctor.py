"""``token-exchange-enabler doctor``: every link from a new API in Auth0 to its token exchange, checked.

Each check reads only, says what it found (``detail``) and, when it fails, what to do (``fix``):

=========================  ==================================================================
configuration              the functions' settings parse (mode, domain, DOWNSTREAM_GRANTS ...)
credentials secret         the Auth0 credentials secret is readable and holds client_id/secret
management api token       Auth0 gives that client a Management API token
token scopes               the token carries every scope the mode and configuration need
log stream                 an Amazon EventBridge log stream to this account and region exists
log stream active          it is ``active`` (a paused or suspended stream streams nothing)
log stream filters         its filters let Management API successes (``sapi``) through
partner event source       its partner event source is active, associated with a bus of its
                           name, and that bus is the stack's (``Auth0EventBusName``)
event rule                 the stack's rule on that bus is enabled and targets the queue
dead-letter queues         both dead-letter queues are empty (else the oldest reason)
sweep schedule             the reconciliation sweep's schedule is enabled
downstream audiences       every ``DOWNSTREAM_GRANTS`` audience is an API of the tenant
=========================  ==================================================================

The log-stream checks read ``GET /api/v2/log-streams`` (scope ``read:log_streams``) with the
operator's token (``AUTH0_ADMIN_TOKEN``): the product's own application keeps its least
privilege. A check that cannot be made (no operator token, no stack settings) fails and says what
it needs. A check that met an unreachable Auth0 or AWS (network, throttling, 5xx) is marked so:
the command's exit code is then 3 instead of 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .auth0 import (
    Auth0Error,
    ClientCredentials,
    CredentialsRejected,
    ManagementApi,
    NotFound,
    StaticToken,
    TokenEndpoint,
    Unauthorized,
)
from .aws_errors import aws_error_code, aws_unreachable
from .config import Config, ConfigError
from .onboarding import MANAGEMENT_SUCCESS, event_bus_exists, passes_api_created
from .scopes import required_scopes
from .status import oldest_dead_letter, queue_depth
from .token_cache import Token

AwsClients = Callable[..., Any]

SETUP = "run `token-exchange-enabler setup` (it creates or corrects this)"
DEPLOY = ("deploy the stack (`sam build && sam deploy` with the parameters `setup` printed), then run "
          "`token-exchange-enabler doctor --stack-name NAME`")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    unreachable: bool = False  # Auth0 or AWS could not be reached: exit code 3

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": "" if self.ok else self.fix}


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def unreachable(self) -> bool:
        return any(check.unreachable for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [check.as_dict() for check in self.checks]}


class _Unreachable(Exception):
    pass


class Doctor:
    """Runs the checks in order; later checks use what earlier ones found (the token, the stream)."""

    def __init__(self, env: Mapping[str, str], *, aws: AwsClients, admin_api: ManagementApi | None,
                 region: str | None = None, session: Any = None,
                 admin_token_env: str = "AUTH0_ADMIN_TOKEN"):  # noqa: S107 - a variable's name, not a token
        self.env = env
        self.aws = aws
        self.admin_api = admin_api
        self.region = region
        self.session = session
        self.admin_token_env = admin_token_env
        self.report = DoctorReport()
        self.config: Config | None = None
        self.credentials: ClientCredentials | None = None
        self.token: Token | None = None
        self.stream: dict[str, Any] | None = None

    def run(self) -> DoctorReport:
        for check in (self._configuration, self._credentials_secret, self._token, self._scopes, self._log_stream,
                      self._partner_source, self._event_rule, self._dead_letters, self._sweep_schedule,
                      self._downstream_audiences):
            check()
        return self.report

    # -- plumbing

    def _add(self, name: str, ok: bool, detail: str, fix: str = "", *, unreachable: bool = False) -> bool:
        self.report.checks.append(Check(name, ok, detail, fix, unreachable))
        return ok

    @contextmanager
    def _reaching(self, name: str, fix: str) -> Iterator[None]:
        """Turn an unreachable Auth0 or AWS into a failed check marked unreachable."""
        try:
            yield
        except _Unreachable as error:
            self._add(name, False, str(error), fix, unreachable=True)
        except Auth0Error as error:
            if error.retryable and not isinstance(error, Unauthorized):
                self._add(name, False, f"Auth0 did not answer usefully: {error}", "try again in a minute",
                          unreachable=True)
            else:
                self._add(name, False, f"Auth0 refused: {error}", fix)
        except Exception as error:
            code = aws_error_code(error)
            if aws_unreachable(error):
                self._add(name, False, f"AWS unreachable or unavailable ({code})", "try again in a minute",
                          unreachable=True)
            elif _is_aws_error(error):
                self._add(name, False, f"AWS refused ({code})", fix)
            else:
                raise

    def _env(self, name: str) -> str:
        return (self.env.get(name) or "").strip()

    def _not_checked(self, name: str, needs: str, fix: str) -> None:
        self._add(name, False, f"not checked: {needs}", fix)

    # -- Auth0 side

    def _configuration(self) -> None:
        try:
            self.config = Config.from_env(self.env)
        except ConfigError as error:
            self._add("configuration", False, "; ".join(error.problems),
                      "set the variables (as in the stack's functions) or pass --stack-name NAME")
            return
        config = self.config
        self._add("configuration", True, f"{config.mode} on {config.auth0_domain}"
                  + (", dry run" if config.dry_run else ""))

    def _credentials_secret(self) -> None:
        name = "credentials secret"
        if self.config is None:
            return self._not_checked(name, "the configuration is invalid", "fix the configuration first")
        secret_id = self.config.credentials_secret_id
        fix = (f"{SETUP}; or store {{\"client_id\", \"client_secret\"}} of the product's Auth0 application in "
               f"{secret_id}; the reader needs secretsmanager:GetSecretValue (and kms:Decrypt on its key)")
        with self._reaching(name, fix):
            try:
                value = self.aws("secretsmanager").get_secret_value(SecretId=secret_id)
            except Exception as error:
                if aws_error_code(error) in ("ResourceNotFoundException", "DecryptionFailure", "AccessDeniedException"):
                    self._add(name, False, f"{secret_id}: {aws_error_code(error)}", fix)
                    return
                raise
            try:
                self.credentials = ClientCredentials.from_secret(json.loads(value.get("SecretString") or "null"))
            except (ValueError, TypeError) as error:
                self._add(name, False, f"{secret_id}: {error}", fix)
                return
            self._add(name, True, f"{secret_id}: client {self.credentials.client_id}")

    def _token(self) -> None:
        name = "management api token"
        if self.config is None or self.credentials is None:
            return self._not_checked(name, "no readable credentials", "fix the credentials secret first")
        credentials, config = self.credentials, self.config
        endpoint = TokenEndpoint(base_url=config.base_url, audience=config.audience, credentials=lambda: credentials,
                                 session=self.session, timeout=config.http_timeout)
        fix = (f"{SETUP}: it gives the application a client grant to {config.audience} and, when Auth0 refuses "
               "the stored secret, a new secret stored in the credentials secret")
        with self._reaching(name, fix):
            try:
                self.token = endpoint.fetch()
            except CredentialsRejected as error:
                self._add(name, False, str(error), fix)
                return
            self._add(name, True, f"client {credentials.client_id} got a token for {config.audience}")

    def _scopes(self) -> None:
        name = "token scopes"
        if self.config is None or self.token is None:
            return self._not_checked(name, "no token", "fix the token check first")
        config = self.config
        needed = required_scopes(config.mode, bool(config.downstream_grants),
                                 with_credentials=config.delivers_credentials)
        have = set(self.token.scope.split())
        missing = [scope for scope in needed if scope not in have]
        if missing:
            self._add(name, False, f"missing {' '.join(missing)} (has: {self.token.scope or 'none'})",
                      f"{SETUP} — or grant {' '.join(missing)} to the application on {config.audience} in the Auth0 "
                      "Dashboard (Applications > APIs > Auth0 Management API > Machine to Machine Applications); the "
                      "worker picks the new scopes up on its next call")
            return
        extra = sorted(have - set(needed))
        self._add(name, True, " ".join(needed) + (f" (and {len(extra)} more than needed: "
                                                   f"{' '.join(extra)})" if extra else ""))

    def _log_stream(self) -> None:
        fix_token = (f"export {self.admin_token_env}=<a Management API token with read:log_streams> and run doctor "
                     "again")
        if self.admin_api is None:
            for name in ("log stream", "log stream active", "log stream filters"):
                self._not_checked(name, f"no operator token in {self.admin_token_env}", fix_token)
            return
        bus = self._env("AUTH0_EVENT_BUS_NAME")
        account = self._account()
        region = self.region or ""
        with self._reaching("log stream", fix_token):
            try:
                streams = [s for s in self.admin_api.list_log_streams() if s.get("type") == "eventbridge"]
            except Unauthorized:
                self._add("log stream", False, f"Auth0 refused the token in {self.admin_token_env} (expired?)",
                          fix_token)
                for name in ("log stream active", "log stream filters"):
                    self._not_checked(name, "the log stream could not be read", fix_token)
                return
            chosen = [s for s in streams if bus and (s.get("sink") or {}).get("awsPartnerEventSource") == bus]
            if not chosen:
                chosen = [s for s in streams if (s.get("sink") or {}).get("awsAccountId") == account
                          and (not region or (s.get("sink") or {}).get("awsRegion") == region)]
            if not chosen:
                where = f"account {account or '?'}, region {region or '?'}"
                self._add("log stream", False, f"no Amazon EventBridge log stream to {where}"
                          + (f" feeding {bus}" if bus else ""),
                          f"{SETUP}; or create one in the Auth0 Dashboard (Monitoring > Streams > Amazon EventBridge)")
                for name in ("log stream active", "log stream filters"):
                    self._not_checked(name, "no log stream", "create the log stream first")
                return
            chosen.sort(key=lambda s: (s.get("status") != "active", not passes_api_created(s)))
            self.stream = stream = chosen[0]
            sink = stream.get("sink") or {}
            self._add("log stream", True, f"{stream.get('id')} ({stream.get('name')}) to {sink.get('awsAccountId')}/"
                                          f"{sink.get('awsRegion')}")
            status = stream.get("status")
            resume = (f"set it active: Auth0 Dashboard > Monitoring > Streams > {stream.get('name')}, or "
                      f"`token-exchange-enabler setup`; then run `token-exchange-enabler reconcile` for the APIs "
                      "created meanwhile (nothing was streamed for them)")
            if status == "active":
                self._add("log stream active", True, "active")
            elif status == "suspended":
                self._add("log stream active", False, "suspended: Auth0 stopped it after failing to deliver",
                          "check the partner event source below is associated with a bus, then " + resume)
            else:
                self._add("log stream active", False, f"{status}: nothing is streamed", resume)
            if passes_api_created(stream):
                names = [f.get("name") for f in stream.get("filters") or []]
                self._add("log stream filters", True, "no filter (every event)" if not names
                          else f"{MANAGEMENT_SUCCESS} among {', '.join(map(str, names))}")
            else:
                names = [str(f.get("name")) for f in stream.get("filters") or []]
                self._add("log stream filters", False,
                          f"only {', '.join(names)}: Management API successes (API created) are dropped",
                          f"add the \"Management API - Success\" filter ({MANAGEMENT_SUCCESS}) to the stream, or "
                          "run `token-exchange-enabler setup`")

    def _account(self) -> str:
        try:
            return str(self.aws("sts").get_caller_identity()["Account"])
        except Exception:  # noqa: BLE001 - only used to pick the stream; the AWS checks report AWS problems
            return ""

    # -- AWS side

    def _partner_source(self) -> None:
        name = "partner event source"
        stack_bus = self._env("AUTH0_EVENT_BUS_NAME")
        stream_source = ((self.stream or {}).get("sink") or {}).get("awsPartnerEventSource")
        source = stream_source or stack_bus
        if not source:
            return self._not_checked(name, "neither the log stream nor AUTH0_EVENT_BUS_NAME names it",
                                     "fix the log stream checks, or pass --stack-name NAME")
        associate = (f"associate it: `aws events create-event-bus --name {source} --event-source-name {source}` "
                     f"(or {SETUP})")
        with self._reaching(name, associate):
            events = self.aws("events")
            try:
                state = events.describe_event_source(Name=source).get("State")
            except Exception as error:
                if aws_error_code(error) != "ResourceNotFoundException":
                    raise
                self._add(name, False, f"{source} does not exist in this account and region",
                          "check the log stream's AWS account and region; Auth0 creates the source with the stream")
                return
            if state == "DELETED":
                self._add(name, False, f"{source} was deleted",
                          "delete the log stream in Auth0 and run `token-exchange-enabler setup` (a new stream, "
                          "a new source)")
                return
            if not event_bus_exists(events, source):
                self._add(name, False, f"{source} is {str(state).lower()}, not associated with an event bus", associate)
                return
            if state != "ACTIVE":  # PENDING with its bus: the source was deactivated
                self._add(name, False, f"{source} is {str(state).lower()}: its event bus receives nothing",
                          f"activate it: `aws events activate-event-source --name {source}` (or {SETUP})")
                return
            if stack_bus and stream_source and stack_bus != stream_source:
                self._add(name, False, f"the log stream feeds {stream_source} but the stack listens on {stack_bus}",
                          f"deploy the stack with Auth0EventBusName={stream_source}")
                return
            self._add(name, True, f"{source}: active, associated with its event bus")

    def _event_rule(self) -> None:
        name = "event rule"
        rule_arn, queue_url = self._env("API_CREATED_RULE_ARN"), self._env("SOURCE_QUEUE_URL")
        if not rule_arn or not queue_url:
            return self._not_checked(name, "no stack (API_CREATED_RULE_ARN, SOURCE_QUEUE_URL)", DEPLOY)
        path = rule_arn.split(":rule/", 1)[-1]
        bus, _, rule = path.rpartition("/")
        bus = self._env("AUTH0_EVENT_BUS_NAME") or bus or "default"
        fix = "redeploy the stack (`sam deploy`): the rule and its target are the template's"
        with self._reaching(name, fix):
            events = self.aws("events")
            try:
                described = events.describe_rule(Name=rule, EventBusName=bus)
            except Exception as error:
                if aws_error_code(error) != "ResourceNotFoundException":
                    raise
                self._add(name, False, f"rule {rule} not found on {bus}", fix)
                return
            queue_arn = self.aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            targets = events.list_targets_by_rule(Rule=rule, EventBusName=bus).get("Targets", [])
            if described.get("State") != "ENABLED":
                self._add(name, False, f"rule {rule} is {described.get('State')}",
                          f"enable it: `aws events enable-rule --name {rule} --event-bus-name {bus}`")
            elif not any(t.get("Arn") == queue_arn for t in targets):
                self._add(name, False, f"rule {rule} does not target {queue_arn}", fix)
            else:
                self._add(name, True, f"rule {rule} enabled, targets the queue")

    def _dead_letters(self) -> None:
        name = "dead-letter queues"
        urls = {label: self._env(variable) for label, variable in (
            ("dead-letter queue", "DEAD_LETTER_QUEUE_URL"),
            ("delivery dead-letter queue", "DELIVERY_DEAD_LETTER_QUEUE_URL"))}
        if not any(urls.values()):
            return self._not_checked(name, "no stack (DEAD_LETTER_QUEUE_URL)", DEPLOY)
        with self._reaching(name, ""):
            sqs = self.aws("sqs")
            waiting = []
            oldest = None
            for label, url in urls.items():
                if not url:
                    continue
                depth = queue_depth(sqs, url)
                if "error" in depth:
                    raise _Unreachable(f"{label}: {depth['error']}")
                if depth["visible"] or depth["in_flight"]:
                    waiting.append(f"{depth['visible'] + depth['in_flight']} in the {label}")
                    oldest = oldest or oldest_dead_letter(sqs, url)
            if not waiting:
                self._add(name, True, "empty")
                return
            reason = f"; oldest: {oldest.failure}" if oldest is not None else ""
            self._add(name, False, ", ".join(waiting) + reason,
                      "see why: `token-exchange-enabler replay --peek`; fix the cause, then "
                      "`token-exchange-enabler replay`")

    def _sweep_schedule(self) -> None:
        name = "sweep schedule"
        schedule = self._env("RECONCILE_SCHEDULE_NAME")
        if not schedule:
            return self._not_checked(name, "no stack (RECONCILE_SCHEDULE_NAME)", DEPLOY)
        fix = "deploy with ReconcileScheduleState=ENABLED (the sweep repairs what the event path missed)"
        with self._reaching(name, fix):
            try:
                state = self.aws("scheduler").get_schedule(Name=schedule).get("State")
            except Exception as error:
                if aws_error_code(error) != "ResourceNotFoundException":
                    raise
                self._add(name, False, f"schedule {schedule} not found", "redeploy the stack (`sam deploy`)")
                return
            self._add(name, state == "ENABLED", f"schedule {schedule} is {state}", fix)

    def _downstream_audiences(self) -> None:
        name = "downstream audiences"
        if self.config is None:
            return self._not_checked(name, "the configuration is invalid", "fix the configuration first")
        grants = self.config.downstream_grants
        if not grants:
            self._add(name, True, "none configured")
            return
        if self.token is None:
            return self._not_checked(name, "no token", "fix the token check first")
        api = ManagementApi(base_url=self.config.base_url, tokens=StaticToken(self.token.access_token),
                            session=self.session, timeout=self.config.http_timeout)
        fix = "create the API in Auth0, or remove it from DownstreamGrants and redeploy"
        with self._reaching(name, fix):
            missing = []
            for grant in grants:
                try:
                    api.get_resource_server(grant.audience)
                except NotFound:
                    missing.append(grant.audience)
            if missing:
                self._add(name, False, f"not an API of the tenant: {', '.join(missing)}", fix)
            else:
                self._add(name, True, f"{len(grants)} audience(s) exist")


def _is_aws_error(error: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(error, BotoCoreError | ClientError)

