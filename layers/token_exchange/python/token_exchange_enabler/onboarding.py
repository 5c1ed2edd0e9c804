"""``token-exchange-enabler setup``: from an empty tenant and account to the ``sam deploy`` parameters.

What the README's manual steps do in the Auth0 Dashboard and the AWS console, done through the
Management API (with an operator's token, ``AUTH0_ADMIN_TOKEN``: never printed, never stored)
and boto3, each step creating what is missing, correcting what differs and leaving the rest:

1. ``application`` — the product's machine-to-machine application (``app_type: non_interactive``,
   the client-credentials grant), tagged ``client_metadata.managed_by``. Found again through the
   credentials secret's ``client_id``, else by its tag and name.
2. ``client grant`` — its grant to the Management API with exactly the scopes the mode and the
   configuration need (:func:`~token_exchange_enabler.scopes.required_scopes`): created, or
   corrected when it has more or fewer.
3. ``credentials secret`` — ``{"client_id", "client_secret"}`` in Secrets Manager (the contract of
   ``Auth0CredentialsSecretArn``), optionally under a customer KMS key. A stored secret is checked
   by fetching a token with it; when it is missing or refused and the application existed before
   this run, the application is given a new secret (``POST /api/v2/clients/{id}/rotate-secret``,
   scope ``update:client_keys``) and that one is stored: the secret is never read from Auth0.
4. ``log stream`` — an Amazon EventBridge log stream for this account and region, filtered to
   Management API successes (category ``management.success``, which holds the ``sapi`` records).
   One that exists for the account and region is reused: made ``active`` if it is paused or
   suspended, and given the filter if its filters would drop those records.
5. ``event bus`` — the stream's partner event source (which Auth0 creates in the account; it may
   take a few seconds to appear) associated with an event bus of the same name
   (``CreateEventBus(Name=source, EventSourceName=source)``), the bus the stack's rule listens on;
   a source left ``PENDING`` beside its bus (deactivated) is activated (``ActivateEventSource``).

A second run finds everything in place and changes nothing (``changed: false``). ``dry_run``
reads and says what it would do. Each Auth0 and AWS fact used here is in docs/design.md with its
source ("Onboarding").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .auth0 import (
    Auth0Error,
    ClientCredentials,
    CredentialsRejected,
    ManagementApi,
    NotFound,
    TokenEndpoint,
    Unauthorized,
)
from .aws_errors import aws_error_code, aws_unreachable
from .decision import MANAGED_BY, MANAGED_BY_KEY, PRODUCT
from .errors import KIND_CONFIGURATION, KIND_REJECTED, KIND_UNREACHABLE
from .scopes import required_scopes

DEFAULT_APP_NAME = "token-exchange-enabler"
DEFAULT_SECRET_NAME = "token-exchange-enabler/auth0-credentials"  # noqa: S105  # nosec B105 - a name, not a secret
DEFAULT_STREAM_NAME = "token-exchange-enabler"
# The log-stream filter category that holds the "API created" records (sapi): Auth0's "Management
# API - Success" filter.
MANAGEMENT_SUCCESS = "management.success"
STREAM_FILTERS = ({"type": "category", "name": MANAGEMENT_SUCCESS},)
CREDENTIALS_GRANT_TYPE = "client_credentials"
PARTNER_SOURCE_PREFIX = "aws.partner/auth0.com/"

ACTION_CREATED = "created"
ACTION_UPDATED = "updated"
ACTION_UNCHANGED = "unchanged"
ACTION_WOULD_CREATE = "would create"
ACTION_WOULD_UPDATE = "would update"
ACTION_FAILED = "failed"
_CHANGES = frozenset({ACTION_CREATED, ACTION_UPDATED, ACTION_WOULD_CREATE, ACTION_WOULD_UPDATE})

AwsClients = Callable[..., Any]


class SetupError(Exception):
    """A step cannot be done; ``kind`` (configuration, rejected, unreachable) sets the exit code."""

    def __init__(self, message: str, *, kind: str = KIND_CONFIGURATION):
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class SetupOptions:
    domain: str
    mode: str
    region: str
    account_id: str | None = None  # None: the caller's account (STS GetCallerIdentity)
    secret_name: str = DEFAULT_SECRET_NAME
    kms_key_id: str | None = None
    app_name: str = DEFAULT_APP_NAME
    stream_name: str = DEFAULT_STREAM_NAME
    with_grants: bool = False  # DOWNSTREAM_GRANTS configured: the grant scopes too
    with_credentials: bool = False  # CLIENT_SECRETS_PREFIX configured: update:client_keys too
    extra_parameters: Mapping[str, str] = field(default_factory=dict)  # e.g. DownstreamGrants
    dry_run: bool = False
    source_wait_seconds: float = 60.0  # how long to wait for Auth0's partner event source to appear


@dataclass
class Step:
    name: str
    action: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "action": self.action, "detail": self.detail}


@dataclass
class SetupReport:
    steps: list[Step] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    error: str | None = None
    error_kind: str | None = None

    @property
    def changed(self) -> bool:
        return any(step.action in _CHANGES for step in self.steps)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"changed": self.changed, "dry_run": self.dry_run, "ok": self.ok,
                                    "steps": [step.as_dict() for step in self.steps],
                                    "parameters": dict(self.parameters)}
        if self.error:
            document["error"] = self.error
            document["error_kind"] = self.error_kind
        return document


def run_setup(options: SetupOptions, *, api: ManagementApi, aws: AwsClients, base_url: str | None = None,
              session: Any = None, progress: Callable[[str], None] = lambda text: None,
              sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic
              ) -> SetupReport:
    """Run every step in order; stop at the first that fails (the report says which, and why).

    ``api``: the Management API with the operator's token; ``aws(service, **kwargs)``: boto3
    clients; ``base_url``: where the tenant answers (default ``https://<domain>``).
    """
    setup = _Setup(options, api=api, aws=aws, base_url=base_url or f"https://{options.domain}", session=session,
                   progress=progress, sleep=sleep, clock=clock)
    return setup.run()


class _Setup:
    def __init__(self, options: SetupOptions, *, api: ManagementApi, aws: AwsClients, base_url: str,
                 session: Any, progress: Callable[[str], None], sleep: Callable[[float], None],
                 clock: Callable[[], float]):
        self.options = options
        self.api = api
        self.aws = aws
        self.base_url = base_url
        self.session = session
        self.progress = progress
        self.sleep = sleep
        self.clock = clock
        self.report = SetupReport(dry_run=options.dry_run)
        self.scopes = required_scopes(options.mode, options.with_grants, with_credentials=options.with_credentials)
        self.audience = f"https://{options.domain}/api/v2/"
        # What the steps learn for the next ones (never printed: the new secret).
        self.client: dict[str, Any] | None = None
        self.created_secret: str | None = None
        self.secret_arn: str | None = None
        self.source: str | None = None
        # The credentials secret as found (see _read_secret).
        self._secret_read = False
        self._described: dict[str, Any] | None = None
        self._stored: ClientCredentials | None = None

    def run(self) -> SetupReport:
        steps: list[tuple[str, Callable[[], Step]]] = [
            ("application", self._application),
            ("client grant", self._client_grant),
            ("credentials secret", self._credentials_secret),
            ("log stream", self._log_stream),
            ("event bus", self._event_bus),
        ]
        for name, step in steps:
            self.progress(f"setup: {name}")
            try:
                self.report.steps.append(step())
            except SetupError as error:
                self._fail(name, str(error), error.kind)
                break
            except Auth0Error as error:
                self._fail(name, *_auth0_failure(error))
                break
            except Exception as error:  # noqa: BLE001 - botocore errors, reported with their code
                self._fail(name, *_aws_failure(error))
                break
        self.report.parameters = self._parameters()
        return self.report

    def _fail(self, name: str, message: str, kind: str) -> None:
        self.report.steps.append(Step(name, ACTION_FAILED, message))
        self.report.error = f"{name}: {message}"
        self.report.error_kind = kind

    def _parameters(self) -> dict[str, str]:
        deploy = {"Auth0Domain": self.options.domain, "TokenExchangeMode": self.options.mode}
        if self.source:
            deploy["Auth0EventBusName"] = self.source
        if self.secret_arn:
            deploy["Auth0CredentialsSecretArn"] = self.secret_arn
        return {**deploy, **self.options.extra_parameters}

    # -- 1. the application

    def _application(self) -> Step:
        name = self.options.app_name
        tagged = self._clients_by_tag(name)
        client = self._client_named_by_secret() or (tagged[0] if tagged else None)
        others = [c["client_id"] for c in tagged if client is None or c["client_id"] != client["client_id"]]
        step = self._application_step(name, client)
        if others:  # e.g. two setups raced, or one was stopped before it stored its secret
            step.detail += (f"; {len(others)} other application(s) named {name!r} with the product's tag, unused: "
                            f"{', '.join(others)} (delete them)")
        return step

    def _application_step(self, name: str, client: dict[str, Any] | None) -> Step:
        if client is None:
            if self.options.dry_run:
                return Step("application", ACTION_WOULD_CREATE, f"a machine-to-machine application {name!r}")
            created = self.api.create_client({
                "name": name,
                "description": "Enables token exchange for each new API (token-exchange-enabler)",
                "app_type": "non_interactive",
                "grant_types": [CREDENTIALS_GRANT_TYPE],
                "token_endpoint_auth_method": "client_secret_post",  # nosec B105 - a method's name
                "oidc_conformant": True,
                "client_metadata": dict(MANAGED_BY),
            })
            self.created_secret = created.pop("client_secret", None)
            self.client = created
            return Step("application", ACTION_CREATED, f"{created.get('client_id')} ({name})")
        self.client = client
        client_id = client["client_id"]
        fixes: dict[str, Any] = {}
        metadata = client.get("client_metadata") or {}
        if metadata.get(MANAGED_BY_KEY) != PRODUCT:
            fixes["client_metadata"] = {**metadata, **MANAGED_BY}
        grant_types = list(client.get("grant_types") or [])
        if CREDENTIALS_GRANT_TYPE not in grant_types:
            fixes["grant_types"] = [*grant_types, CREDENTIALS_GRANT_TYPE]
        if not fixes:
            return Step("application", ACTION_UNCHANGED, f"{client_id} ({client.get('name')})")
        what = " and ".join({"client_metadata": "tag managed_by", "grant_types": "client-credentials grant"}[k]
                            for k in fixes)
        if self.options.dry_run:
            return Step("application", ACTION_WOULD_UPDATE, f"{client_id}: add the {what}")
        self.client = self.api.patch_client(client_id, fixes)
        self.client.pop("client_secret", None)
        return Step("application", ACTION_UPDATED, f"{client_id}: added the {what}")

    def _client_named_by_secret(self) -> dict[str, Any] | None:
        stored = self._stored_credentials()
        if stored is None:
            return None
        try:
            client = self.api.get_client(stored.client_id)
        except NotFound:
            return None  # a secret left from an application since deleted: found by tag or made anew
        client.pop("client_secret", None)
        if client.get("app_type") not in (None, "non_interactive"):
            raise SetupError(f"the secret {self.options.secret_name} names client {stored.client_id}, which is "
                             f"a {client.get('app_type')} application, not a machine-to-machine one: give "
                             "another --secret-name or fix the secret")
        return client

    def _clients_by_tag(self, name: str) -> list[dict[str, Any]]:
        fields = "client_id,name,app_type,client_metadata,grant_types"
        return [client for client in self.api.iter_clients(app_type="non_interactive", fields=fields)
                if (client.get("client_metadata") or {}).get(MANAGED_BY_KEY) == PRODUCT
                and client.get("name") == name]

    # -- 2. its grant to the Management API

    def _client_grant(self) -> Step:
        wanted = sorted(self.scopes)
        if self.client is None:  # dry run, application to be created
            return Step("client grant", ACTION_WOULD_CREATE, f"{self.audience} with {' '.join(wanted)}")
        client_id = self.client["client_id"]
        grants = [g for g in self.api.iter_client_grants(client_id=client_id, audience=self.audience)
                  if g.get("subject_type") in (None, "client")]
        if not grants:
            if self.options.dry_run:
                return Step("client grant", ACTION_WOULD_CREATE, f"{self.audience} with {' '.join(wanted)}")
            self.api.create_client_grant({"client_id": client_id, "audience": self.audience, "scope": wanted})
            return Step("client grant", ACTION_CREATED, f"{self.audience} with {' '.join(wanted)}")
        grant = grants[0]
        have = sorted(grant.get("scope") or [])
        if have == wanted:
            return Step("client grant", ACTION_UNCHANGED, f"{self.audience} with {' '.join(wanted)}")
        extra, missing = sorted(set(have) - set(wanted)), sorted(set(wanted) - set(have))
        change = "; ".join(part for part in (f"add {' '.join(missing)}" if missing else "",
                                             f"remove {' '.join(extra)}" if extra else "") if part)
        if self.options.dry_run:
            return Step("client grant", ACTION_WOULD_UPDATE, f"{grant['id']}: {change}")
        self.api.update_client_grant(grant["id"], {"scope": wanted})
        return Step("client grant", ACTION_UPDATED, f"{grant['id']}: {change}")

    # -- 3. the credentials secret

    def _secrets(self) -> Any:
        return self.aws("secretsmanager")

    def _read_secret(self) -> None:
        """Read the credentials secret once (steps 1 and 3 both need it; only step 3 writes it)."""
        if self._secret_read:
            return
        try:
            described = self._secrets().describe_secret(SecretId=self.options.secret_name)
        except Exception as error:
            if aws_error_code(error) != "ResourceNotFoundException":
                raise
            described = None
        self._described = described
        self._stored = self._read_stored_credentials() if described is not None else None
        self._secret_read = True

    def _describe_secret(self) -> dict[str, Any] | None:
        """The credentials secret as it was before this run wrote it."""
        self._read_secret()
        return self._described

    def _stored_credentials(self) -> ClientCredentials | None:
        """What the secret held before this run wrote it; None: nothing usable."""
        self._read_secret()
        return self._stored

    def _read_stored_credentials(self) -> ClientCredentials | None:
        try:
            value = self._secrets().get_secret_value(SecretId=self.options.secret_name)
            return ClientCredentials.from_secret(json.loads(value.get("SecretString") or "null"))
        except (ValueError, TypeError):
            return None  # not JSON, or without client_id/client_secret: replaced in step 3
        except Exception as error:
            if aws_error_code(error) == "ResourceNotFoundException":  # no current value
                return None
            raise

    def _credentials_secret(self) -> Step:
        name = self.options.secret_name
        described = self._describe_secret()
        if described is not None:
            self.secret_arn = described["ARN"]
        if self.client is None:  # dry run, application to be created
            action = ACTION_WOULD_UPDATE if described else ACTION_WOULD_CREATE
            return Step("credentials secret", action, f"{name} with the new application's credentials")
        client_id = self.client["client_id"]
        stored = self._stored_credentials()
        key_change = self._kms_change(described)
        problem = None
        if stored is None:
            problem = "it holds no credentials" if described else None
        elif stored.client_id != client_id:
            problem = f"it names another client ({stored.client_id})"
        elif self.created_secret is None:
            problem = self._refused(stored)
        if described is not None and problem is None and self.created_secret is None:
            if key_change is None:
                return Step("credentials secret", ACTION_UNCHANGED, f"{self.secret_arn}: the credentials work")
            if self.options.dry_run:
                return Step("credentials secret", ACTION_WOULD_UPDATE, f"{self.secret_arn}: {key_change}")
            self._secrets().update_secret(SecretId=name, KmsKeyId=self.options.kms_key_id)
            return Step("credentials secret", ACTION_UPDATED, f"{self.secret_arn}: {key_change}")
        why = problem or ("it does not exist" if described is None else "a new application secret")
        if self.options.dry_run:
            action = ACTION_WOULD_CREATE if described is None else ACTION_WOULD_UPDATE
            rotate = "" if self.created_secret else " (the application gets a new secret: rotate-secret)"
            return Step("credentials secret", action, f"{name}: {why}{rotate}")
        secret = self.created_secret
        rotated = ""
        if secret is None:
            # The application existed but its working secret is not stored: give it a new one
            # (its only holder is this secret), never read it from Auth0.
            secret = self.api.rotate_client_secret(client_id).get("client_secret")
            if not isinstance(secret, str) or not secret:
                raise SetupError("Auth0 answered the rotate-secret call without a client_secret", kind=KIND_REJECTED)
            rotated = "; the application was given a new secret (rotate-secret)"
        value = json.dumps({"client_id": client_id, "client_secret": secret})
        self.created_secret = None
        if described is None:
            request: dict[str, Any] = {
                "Name": name, "SecretString": value,
                "Description": "Auth0 client credentials of token-exchange-enabler (Management API)",
                "Tags": [{"Key": MANAGED_BY_KEY, "Value": PRODUCT}],
            }
            if self.options.kms_key_id:
                request["KmsKeyId"] = self.options.kms_key_id
            self.secret_arn = self._secrets().create_secret(**request)["ARN"]
            return Step("credentials secret", ACTION_CREATED, f"{self.secret_arn}{rotated}")
        if key_change is not None:
            self._secrets().update_secret(SecretId=name, KmsKeyId=self.options.kms_key_id)
        self._secrets().put_secret_value(SecretId=name, SecretString=value)
        return Step("credentials secret", ACTION_UPDATED, f"{self.secret_arn}: {why}{rotated}")

    def _kms_change(self, described: Mapping[str, Any] | None) -> str | None:
        wanted = self.options.kms_key_id
        if described is None or not wanted or described.get("KmsKeyId") == wanted:
            return None
        return f"encrypt with {wanted} (was {described.get('KmsKeyId') or 'the AWS managed key'})"

    def _refused(self, stored: ClientCredentials) -> str | None:
        """Why the stored credentials do not give a token (None: they do)."""
        endpoint = TokenEndpoint(base_url=self.base_url, audience=self.audience, credentials=lambda: stored,
                                 session=self.session)
        try:
            endpoint.fetch()
        except CredentialsRejected as error:
            # 401: the secret is wrong. 403: the application may not have a token for the audience
            # (no grant yet, in a dry run): not the secret's fault.
            return "Auth0 refuses its client secret" if error.status != 403 else None
        return None

    # -- 4. the log stream

    def _account_id(self) -> str:
        if self.options.account_id:
            return self.options.account_id
        return str(self.aws("sts").get_caller_identity()["Account"])

    def _log_stream(self) -> Step:
        account, region = self._account_id(), self.options.region
        streams = [s for s in self.api.list_log_streams() if s.get("type") == "eventbridge"
                   and (s.get("sink") or {}).get("awsAccountId") == account
                   and (s.get("sink") or {}).get("awsRegion") == region]
        if not streams:
            if self.options.dry_run:
                return Step("log stream", ACTION_WOULD_CREATE,
                            f"Amazon EventBridge stream to {account}/{region}, filter {MANAGEMENT_SUCCESS}")
            created = self.api.create_log_stream({
                "name": self.options.stream_name, "type": "eventbridge",
                "sink": {"awsAccountId": account, "awsRegion": region},
                "filters": [dict(f) for f in STREAM_FILTERS],
            })
            self.source = (created.get("sink") or {}).get("awsPartnerEventSource")
            return Step("log stream", ACTION_CREATED, f"{created.get('id')} to {account}/{region}, filter "
                                                      f"{MANAGEMENT_SUCCESS}")
        # Prefer an active stream that already lets the records through.
        stream = sorted(streams, key=lambda s: (s.get("status") != "active", not passes_api_created(s)))[0]
        self.source = (stream.get("sink") or {}).get("awsPartnerEventSource")
        fixes: dict[str, Any] = {}
        notes = []
        if stream.get("status") != "active":
            fixes["status"] = "active"
            notes.append(f"was {stream.get('status')}: set active")
        if not passes_api_created(stream):
            fixes["filters"] = [*(stream.get("filters") or []), *[dict(f) for f in STREAM_FILTERS]]
            notes.append(f"its filters dropped Management API successes: added {MANAGEMENT_SUCCESS}")
        if not fixes:
            return Step("log stream", ACTION_UNCHANGED, f"{stream.get('id')} ({stream.get('name')}) to "
                                                        f"{account}/{region}, active")
        if self.options.dry_run:
            return Step("log stream", ACTION_WOULD_UPDATE, f"{stream.get('id')}: " + "; ".join(notes))
        self.api.update_log_stream(stream["id"], fixes)
        return Step("log stream", ACTION_UPDATED, f"{stream.get('id')}: " + "; ".join(notes))

    # -- 5. the partner event source and its bus

    def _event_bus(self) -> Step:
        source = self.source
        if not source:
            if self.options.dry_run:
                return Step("event bus", ACTION_WOULD_CREATE, "the stream's partner event source, once Auth0 "
                                                             "creates it, associated with a bus of its name")
            raise SetupError("the log stream has no awsPartnerEventSource: check it in the Auth0 Dashboard "
                             "(Monitoring > Streams)", kind=KIND_REJECTED)
        events = self.aws("events")
        if event_bus_exists(events, source):
            # PENDING with its bus means the source was deactivated: it delivers nothing until activated.
            if self._wait_for_source(events, source) != "PENDING":
                return Step("event bus", ACTION_UNCHANGED, f"{source} (associated)")
            if self.options.dry_run:
                return Step("event bus", ACTION_WOULD_UPDATE, f"{source}: activate the deactivated event source")
            events.activate_event_source(Name=source)
            return Step("event bus", ACTION_UPDATED, f"{source}: the deactivated event source activated")
        state = self._wait_for_source(events, source)
        if state == "DELETED":
            raise SetupError(f"the partner event source {source} was deleted in AWS: delete the log stream in "
                             "Auth0 and run setup again (a new stream gets a new source)")
        if self.options.dry_run:
            return Step("event bus", ACTION_WOULD_CREATE, f"{source}: associate the partner event source")
        events.create_event_bus(Name=source, EventSourceName=source)
        return Step("event bus", ACTION_CREATED, f"{source}: partner event source associated")

    def _wait_for_source(self, events: Any, source: str) -> str | None:
        """The partner event source's state, waiting up to ``source_wait_seconds`` for it to appear."""
        deadline = self.clock() + self.options.source_wait_seconds
        while True:
            try:
                return str(events.describe_event_source(Name=source).get("State"))
            except Exception as error:
                if aws_error_code(error) != "ResourceNotFoundException":
                    raise
            if self.options.dry_run:
                return None
            if self.clock() >= deadline:
                raise SetupError(
                    f"the partner event source {source} did not appear in this account and region within "
                    f"{self.options.source_wait_seconds:.0f} s: check the log stream's account and region, then "
                    "run setup again", kind=KIND_UNREACHABLE)
            self.progress(f"setup: waiting for Auth0's partner event source {source}")
            self.sleep(2.0)


def passes_api_created(stream: Mapping[str, Any]) -> bool:
    """Whether a log stream's filters let the ``sapi`` records through (no filter: everything)."""
    filters = stream.get("filters") or []
    return not filters or any(f.get("type") == "category" and f.get("name") == MANAGEMENT_SUCCESS
                              for f in filters if isinstance(f, Mapping))


def event_bus_exists(events: Any, name: str) -> bool:
    """Whether an event bus named ``name`` exists (a partner source's bus has the source's name)."""
    buses = events.list_event_buses(NamePrefix=name).get("EventBuses", [])
    return any(bus.get("Name") == name for bus in buses)


def _auth0_failure(error: Auth0Error) -> tuple[str, str]:
    if isinstance(error, Unauthorized):
        return ("Auth0 refused the operator's token (expired or revoked): get a new one and run setup again",
                KIND_CONFIGURATION)
    if error.status == 403:
        return (f"the operator's token may not do this: {error.message} (setup needs {' '.join(OPERATOR_SCOPES)})",
                KIND_CONFIGURATION)
    if error.retryable:
        return f"Auth0 did not answer usefully: {error}", KIND_UNREACHABLE
    return f"Auth0 refused: {error}", KIND_REJECTED


def _aws_failure(error: Exception) -> tuple[str, str]:
    """Message and kind of a boto3 failure (its code, never its message: it may echo values)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not isinstance(error, BotoCoreError | ClientError):
        raise error
    code = aws_error_code(error)
    if aws_unreachable(error):
        return f"AWS unreachable or unavailable ({code}): try again", KIND_UNREACHABLE
    if isinstance(error, ClientError):
        return f"AWS refused: {code} (check the names, the region and the permissions)", KIND_CONFIGURATION
    return f"AWS configuration: {code}", KIND_CONFIGURATION


OPERATOR_SCOPES: tuple[str, ...] = (
    "read:clients", "create:clients", "update:clients", "update:client_keys",
    "read:client_grants", "create:client_grants", "update:client_grants",
    "read:log_streams", "create:log_streams", "update:log_streams",
)
"""What the operator's token needs for ``setup`` (``doctor`` reads with ``read:log_streams``; the canary
also needs ``create:resource_servers``, ``delete:resource_servers``, ``read:resource_servers``,
``delete:clients`` and, with downstream grants, ``delete:client_grants``)."""


# --------------------------------------------------------------------------- samconfig.toml


def update_samconfig(text: str, parameters: Mapping[str, str], *, environment: str = "default") -> str:
    """``text`` (a samconfig.toml) with ``parameters`` merged into ``[<env>.deploy.parameters]``'s
    ``parameter_overrides``; everything else — comments included — kept as it is.

    Written by hand because the TOML writers at hand drop comments, and samconfig.toml is the
    user's file: only the one line is replaced (or added, with its table if missing). Values with
    spaces or double quotes are single-quoted, as ``sam deploy --parameter-overrides`` reads them.
    The result is parsed again and checked; ValueError if the file cannot be read as TOML.
    """
    import re
    import shlex
    import tomllib

    data = tomllib.loads(text) if text.strip() else {}
    table = data.get(environment, {}).get("deploy", {}).get("parameters", {})
    current = table.get("parameter_overrides", "")
    if isinstance(current, list):
        current = " ".join(str(item) for item in current)
    merged: dict[str, str] = {}
    for item in shlex.split(str(current)):
        key, sep, value = item.partition("=")
        if sep:
            merged[key] = value
    merged.update(parameters)
    overrides = " ".join(f"{key}={_sam_value(value)}" for key, value in merged.items())
    line = f"parameter_overrides = {json.dumps(overrides)}"

    lines = text.splitlines()
    header = f"[{environment}.deploy.parameters]"
    start = next((i for i, text_line in enumerate(lines) if text_line.strip() == header), None)
    if start is None:
        lines += [*([""] if lines else []), header, line]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        key_line = re.compile(r"^\s*parameter_overrides\s*=")
        found = next((i for i in range(start + 1, end) if key_line.match(lines[i])), None)
        if found is not None:
            lines[found] = line
        else:
            last = max((i for i in range(start, end) if lines[i].strip() and not lines[i].lstrip().startswith("#")),
                       default=start)
            lines.insert(last + 1, line)
    result = "\n".join(lines) + "\n"
    check = tomllib.loads(result)[environment]["deploy"]["parameters"]["parameter_overrides"]
    if check != overrides:  # pragma: no cover - a defence: the line is built to round-trip
        raise ValueError("samconfig.toml could not be updated safely")
    return result


def _sam_value(value: str) -> str:
    if not value or any(ch in value for ch in " \"\t"):
        if "'" in value:
            raise ValueError(f"a parameter value with both quotes and spaces cannot be written: {value[:40]!r}")
        return f"'{value}'"
    return value
