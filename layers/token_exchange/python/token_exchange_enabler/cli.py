"""``token-exchange-enabler``: the operator's command line (also ``python -m token_exchange_enabler``).

Commands: ``setup`` (the application, its grant, the credentials secret, the log stream and the
partner bus, created or corrected; the ``sam deploy`` parameters), ``doctor`` (every link checked,
each failure with its fix), ``canary`` (a throwaway API enabled end to end, then deleted),
``replay`` (dead letters back to the source queue, or ``--peek`` at them), ``enable``
(APIs by id or identifier, now), ``reconcile`` (the sweep over every API of the tenant),
``status`` (queues, the oldest dead letter, the cached token, the mode), ``credentials`` (where an
API's client credentials are) and ``rotate`` (a new secret for an API's client, stored). They read the same
environment variables as the Lambda functions; ``--stack-name`` reads them from a deployed
stack's outputs and parameters instead. Results go to stdout (``--json``: one JSON document),
progress and errors to stderr. Secrets and tokens are never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from . import __version__

PROG = "token-exchange-enabler"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    done, nothing failed
  {EXIT_FAILED}    some items failed or stayed behind (see the output)
  {EXIT_USAGE}    usage or configuration error (a missing variable, an unknown queue, a missing scope...)
  {EXIT_UNREACHABLE}    AWS or Auth0 unreachable (network, throttling, 5xx)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C): the current item was finished, the rest left as it was
"""

CONFIGURATION = """\
configuration (environment variables, as for the Lambda functions):
  AUTH0_DOMAIN, AUTH0_CREDENTIALS_SECRET_ID, TOKEN_CACHE_SECRET_ID   enable, reconcile
  TOKEN_EXCHANGE_MODE, SKIP_IDENTIFIER_PATTERNS, DOWNSTREAM_GRANTS, MANAGEMENT_API_RATE_SHARE, DRY_RUN,
  IDEMPOTENCY_TABLE_NAME, AUTH0_BASE_URL, AUTH0_HTTP_TIMEOUT, NOTIFICATION_BUS_NAME
  CLIENT_SECRETS_PREFIX, CLIENT_SECRETS_KMS_KEY_ID   credentials, rotate (and delivery by enable, reconcile)
  DEAD_LETTER_QUEUE_URL, SOURCE_QUEUE_URL, DELIVERY_DEAD_LETTER_QUEUE_URL   replay, status
  DASHBOARD_URL   status (the stack's CloudWatch dashboard)
  AUTH0_EVENT_BUS_NAME, API_CREATED_RULE_ARN, RECONCILE_SCHEDULE_NAME   doctor (the stack's bus, rule, sweep)
  AUTH0_ADMIN_TOKEN   setup, doctor (the log stream), canary: an operator's Management API token
  AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL   as for the AWS CLI (or --profile, --region, --endpoint-url)
--stack-name NAME reads them from the deployed stack (its outputs and parameters) instead.
"""

# Stack outputs and parameters -> the configuration variables they stand for.
STACK_OUTPUTS = {
    "DeadLetterQueueUrl": "DEAD_LETTER_QUEUE_URL",
    "ApiCreatedQueueUrl": "SOURCE_QUEUE_URL",
    "DeliveryDeadLetterQueueUrl": "DELIVERY_DEAD_LETTER_QUEUE_URL",
    "TokenCacheSecretArn": "TOKEN_CACHE_SECRET_ID",
    "IdempotencyTableName": "IDEMPOTENCY_TABLE_NAME",
    "DashboardUrl": "DASHBOARD_URL",
    "ApiCreatedRuleArn": "API_CREATED_RULE_ARN",
    "ReconcileScheduleName": "RECONCILE_SCHEDULE_NAME",
}
STACK_PARAMETERS = {
    "Auth0Domain": "AUTH0_DOMAIN",
    "Auth0CredentialsSecretArn": "AUTH0_CREDENTIALS_SECRET_ID",
    "Auth0EventBusName": "AUTH0_EVENT_BUS_NAME",
    "TokenExchangeMode": "TOKEN_EXCHANGE_MODE",
    "SkipIdentifierPatterns": "SKIP_IDENTIFIER_PATTERNS",
    "DownstreamGrants": "DOWNSTREAM_GRANTS",
    "ManagementApiRateShare": "MANAGEMENT_API_RATE_SHARE",
    "DryRun": "DRY_RUN",
    "ClientSecretsPrefix": "CLIENT_SECRETS_PREFIX",
    "ClientSecretsKmsKeyArn": "CLIENT_SECRETS_KMS_KEY_ID",
    "NotificationBusName": "NOTIFICATION_BUS_NAME",
}



class UsageError(Exception):
    """A wrong or missing option or setting: exit code 2."""


# --------------------------------------------------------------------------- plumbing


class Context:
    """What every command gets: the parsed options, the configuration, AWS clients, the output."""

    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO):
        self.args = args
        self.out = out
        self.err = err
        self._session = None
        self.env = dict(environ)
        if getattr(args, "stack_name", None):
            self.env |= self._stack_settings(args.stack_name)

    # -- AWS

    @property
    def session(self):
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(profile_name=self.args.profile or None,
                                                  region_name=self.args.region or None)
        return self._session

    def aws(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client from the --profile/--region session, at --endpoint-url if given
        (boto3 itself honours AWS_ENDPOINT_URL otherwise)."""
        if self.args.endpoint_url:
            kwargs.setdefault("endpoint_url", self.args.endpoint_url)
        return self.session.client(service, **kwargs)

    def aws_without_retries(self, service: str) -> Any:
        from botocore.config import Config as BotoConfig

        return self.aws(service, config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}))

    def _stack_settings(self, stack_name: str) -> dict[str, str]:
        stacks = self.aws("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        if not stacks:
            raise UsageError(f"stack {stack_name} not found")
        stack = stacks[0]
        settings = {}
        for output in stack.get("Outputs", []):
            if output.get("OutputKey") in STACK_OUTPUTS:
                settings[STACK_OUTPUTS[output["OutputKey"]]] = output.get("OutputValue", "")
        for parameter in stack.get("Parameters", []):
            if parameter.get("ParameterKey") in STACK_PARAMETERS:
                value = parameter.get("ResolvedValue") or parameter.get("ParameterValue", "")
                settings[STACK_PARAMETERS[parameter["ParameterKey"]]] = value
        return settings

    # -- configuration

    def config(self, *, dry_run: bool = False):
        """The library's configuration (Auth0 settings required), validated."""
        from .config import Config

        config = Config.from_env(self.env)
        return dataclasses.replace(config, dry_run=True) if dry_run else config

    def runtime(self, *, dry_run: bool = False, max_rate: float | None = None):
        from .auth0 import new_session
        from .bootstrap import build_runtime
        from .pacing import pace_management_calls

        session = new_session()
        if max_rate:
            pace_management_calls(session, max_rate)
        return build_runtime(self.config(dry_run=dry_run), session=session, aws=self.aws)

    def auth0_base_url(self, domain: str) -> str:
        """Where the tenant answers: AUTH0_BASE_URL when set (a local emulator), else https://<domain>."""
        from .config import base_url_problem

        base_url = (self.env.get("AUTH0_BASE_URL") or "").strip()
        if not base_url:
            return f"https://{domain}"
        problem = base_url_problem(base_url)
        if problem:
            raise UsageError(f"AUTH0_BASE_URL: {problem}")
        return base_url

    def admin_api(self, domain: str | None, *, required: bool):
        """The Management API with the operator's token (--admin-token-env; never printed, never
        stored); None when the variable is empty and not ``required``."""
        from .auth0 import ManagementApi, StaticToken, new_session

        name = self.args.admin_token_env
        token = (self.env.get(name) or "").strip()
        if not token or not domain:
            if required:
                raise UsageError(f"no operator token: export {name}=<a Management API token> (see "
                                 f"`{PROG} {self.args.command} --help` for the scopes it needs)"
                                 if not token else "no tenant: pass --domain or set AUTH0_DOMAIN")
            return None
        try:
            tokens = StaticToken(token, name=name)
        except ValueError as error:
            raise UsageError(str(error)) from None
        return ManagementApi(base_url=self.auth0_base_url(domain), tokens=tokens, session=new_session())

    def region(self) -> str | None:
        return self.session.region_name

    def queues(self) -> dict[str, str | None]:
        from .replay import queues_from_env

        return queues_from_env(self.env)

    # -- output

    def emit(self, document: Any, text: str | Callable[[], str]) -> None:
        if self.args.json:
            json.dump(document, self.out, indent=2, sort_keys=False, default=str)
            self.out.write("\n")
        else:
            self.out.write((text() if callable(text) else text).rstrip("\n") + "\n")

    def note(self, message: str) -> None:
        if not self.args.quiet:
            self.err.write(message.rstrip("\n") + "\n")


class ProgressLine:
    """Progress on stderr: a line rewritten in place on a terminal, else one line every ``every`` items."""

    def __init__(self, stream: TextIO, *, every: int = 100, quiet: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self._stream = stream
        self._every = max(1, every)
        self._quiet = quiet
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._clock = clock
        self._last = 0.0
        self._shown = False

    def update(self, done: int, text: str, *, force: bool = False) -> None:
        """Show ``text`` (``done`` items so far); ``force``: a line even between two multiples."""
        if self._quiet:
            return
        if self._tty:
            now = self._clock()
            if now - self._last >= 0.1:
                self._last = now
                self._stream.write("\r\x1b[2K" + text)
                self._stream.flush()
                self._shown = True
        elif force or done % self._every == 0:
            self._stream.write(text + "\n")
            self._stream.flush()

    def done(self) -> None:
        if self._tty and self._shown and not self._quiet:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()


class StopRequest:
    """Ctrl-C (or SIGTERM) once: finish the item in hand, then stop. Twice: stop at once."""

    def __init__(self, err: TextIO):
        self._err = err
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        def handle(signum: int, frame: Any) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            self._err.write("\nstopping after the current item (Ctrl-C again to stop at once)\n")

        previous = {}
        with contextlib.suppress(ValueError):  # not the main thread: no handler, Ctrl-C stops at once
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, handle)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


# --------------------------------------------------------------------------- replay


def cmd_replay(ctx: Context) -> int:
    from .replay import METHOD_NATIVE, METHOD_ONE_BY_ONE, Replayer

    args = ctx.args
    queues = ctx.queues()
    dlq = args.dlq_url or (queues["delivery_dead_letter"] if args.delivery else queues["dead_letter"])
    if not dlq:
        variable = "DELIVERY_DEAD_LETTER_QUEUE_URL" if args.delivery else "DEAD_LETTER_QUEUE_URL"
        raise UsageError(f"no dead-letter queue: pass --dlq-url or set {variable} (or --stack-name)")
    peek = args.peek or args.dry_run
    destination = args.queue_url or queues["source"]
    if not destination and not peek:
        raise UsageError("no source queue to replay to: pass --queue-url or set SOURCE_QUEUE_URL (or --stack-name)")

    progress = ProgressLine(ctx.err, every=args.progress_every, quiet=args.quiet)
    stop = StopRequest(ctx.err)

    def on_progress(phase: str, done: int, total: int | None) -> None:
        label = {"peek": "read", "native": "moved (native redrive)", "one_by_one": "moved"}[phase]
        # A move task is polled every few seconds: each poll is worth a line.
        progress.update(done, f"replay: {done}{'/' + str(total) if total is not None else ''} {label}",
                        force=phase == "native")

    sqs = ctx.aws("sqs")
    replayer = Replayer(sqs, tasks=ctx.aws_without_retries("sqs"), should_stop=stop, progress=on_progress,
                        visibility_timeout=args.visibility_timeout, wait_seconds=args.wait_seconds)
    with stop.installed():
        if peek or not destination:
            report = replayer.peek(dlq, limit=args.limit or 100)
        else:
            method = METHOD_ONE_BY_ONE if args.one_by_one else (METHOD_NATIVE if args.native else "auto")
            report = replayer.replay(dlq, destination, method=method, max_per_second=args.max_per_second,
                                     limit=args.limit, poll_interval=args.poll_interval, follow=not args.no_wait)
    progress.done()
    ctx.emit(report.as_dict(), lambda: _replay_text(report))
    if report.stopped == "interrupted":
        return EXIT_INTERRUPTED
    if peek:
        return EXIT_OK
    return EXIT_OK if report.ok or report.stopped == "limit" and not report.errors and not report.left \
        else EXIT_FAILED


def _replay_text(report) -> str:
    from .status import human_duration

    now = time.time()
    lines = []
    if report.method == "peek":
        replayable = sum(1 for letter in report.letters if letter.replayable)
        lines.append(f"{len(report.letters)} dead letter(s) in {report.source_url}: {replayable} replayable")
        if report.letters:
            lines.append(f"{'MESSAGE ID':<36}  {'SHAPE':<12}  {'AGE':>7}  {'API':<24}  FAILURE")
        for letter in report.letters:
            age = human_duration(now - letter.sent_at) if letter.sent_at else "?"
            api = letter.api_id or "-"
            lines.append(f"{letter.message_id:<36}  {letter.shape:<12}  {age:>7}  {api:<24}  {letter.failure}")
            if letter.identifier:
                lines.append(f"{'':<36}  identifier {letter.identifier}")
            if letter.problem:
                lines.append(f"{'':<36}  NOT REPLAYABLE, stays: {letter.problem}")
            elif letter.note:
                lines.append(f"{'':<36}  note: {letter.note}")
        return "\n".join(lines)
    rate = f" ({report.moved / report.seconds:.0f}/s)" if report.seconds > 0 and report.moved else ""
    how = "with SQS's redrive (StartMessageMoveTask)" if report.method == "native" else "one by one"
    lines.append(f"moved {report.moved} message(s) {how} in {report.seconds:.1f} s{rate}")
    lines.append(f"  from {report.source_url}")
    lines.append(f"  to   {report.destination_url}")
    if report.fallback_reason:
        lines.append(f"native redrive not used: {report.fallback_reason}")
    if report.task:
        task = report.task
        lines.append(f"move task {task.get('status')}: {task.get('moved')}/{task.get('to_move')} moved"
                     + (f"; failure: {task['failure']}" if task.get("failure") else ""))
    if report.stopped:
        lines.append(f"stopped early ({report.stopped}): what was not moved is still in the dead-letter queue")
    if report.left:
        lines.append(f"{len(report.left)} message(s) stay in the dead-letter queue (not replayable):")
        for letter in report.left:
            lines.append(f"  {letter.message_id}  {letter.problem}  (failed: {letter.failure})")
    for error in report.errors:
        lines.append(f"error: {error.get('message_id', '')} {error.get('error')}".replace("  ", " "))
    return "\n".join(lines)


# --------------------------------------------------------------------------- enable


def cmd_enable(ctx: Context) -> int:
    from .enable_by_id import enable_apis, exit_kind

    runtime = ctx.runtime(dry_run=ctx.args.dry_run)
    stop = StopRequest(ctx.err)
    with stop.installed():
        results = enable_apis(runtime.enabler, ctx.args.ids, should_stop=stop)
    not_tried = ctx.args.ids[len(results):]
    document = {"mode": runtime.config.mode, "dry_run": runtime.config.dry_run,
                "results": [result.as_dict() for result in results], "not_tried": not_tried,
                "management_calls": runtime.stats.management_calls}

    def text() -> str:
        lines = []
        for result in results:
            outcome = result.outcome
            what = outcome.api_id or result.given
            identifier = f"  {outcome.identifier}" if outcome.identifier and outcome.identifier != what else ""
            lines.append(f"{outcome.status:<16} {what}{identifier}  {outcome.reason}")
        lines.extend(f"{'not tried':<16} {given}  (stopped before it)" for given in not_tried)
        return "\n".join(lines)

    ctx.emit(document, text)
    if not_tried:
        return EXIT_INTERRUPTED
    worst = exit_kind(results)
    if worst == "configuration":
        return EXIT_USAGE
    if worst == "unreachable":
        return EXIT_UNREACHABLE
    return EXIT_FAILED if worst else EXIT_OK


# --------------------------------------------------------------------------- reconcile


def cmd_reconcile(ctx: Context) -> int:
    from .reconcile import STOPPED_CONFIGURATION, STOPPED_INTERRUPTED, STOPPED_UNREACHABLE, Reconciler

    args = ctx.args
    runtime = ctx.runtime(dry_run=args.dry_run, max_rate=args.max_rate)
    progress = ProgressLine(ctx.err, every=args.progress_every, quiet=args.quiet)
    stop = StopRequest(ctx.err)

    def on_progress(examined: int, counts: Mapping[str, int]) -> None:
        summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        progress.update(examined, f"reconcile: {examined} APIs examined ({summary}); "
                                  f"{runtime.stats.management_calls} Management API calls")

    reconciler = Reconciler(enabler=runtime.enabler, should_stop=stop, progress=on_progress,
                            per_page=args.per_page)
    with stop.installed():
        report = reconciler.run()
    progress.done()
    ctx.emit(report.as_dict(), lambda: _reconcile_text(report))
    if report.stopped == STOPPED_INTERRUPTED:
        return EXIT_INTERRUPTED
    if report.stopped == STOPPED_CONFIGURATION:
        return EXIT_USAGE
    if report.stopped == STOPPED_UNREACHABLE:
        return EXIT_UNREACHABLE
    return EXIT_OK if report.ok else EXIT_FAILED


def _reconcile_text(report) -> str:
    d = report.as_dict()
    lines = []
    if d["items"]:
        width = max(len(str(i["identifier"] or "")) for i in d["items"][:200]) + 2
        lines.append(f"{'STATUS':<16}{'API ID':<26}{'IDENTIFIER':<{width}}REASON")
        for item in d["items"]:
            lines.append(f"{item['status']:<16}{item['api_id']:<26}{str(item['identifier'] or ''):<{width}}"
                         f"{item['reason']}")
        lines.append("")
    verb = "planned" if report.dry_run else "enabled"
    lines.append(
        f"{d['apis']} APIs ({report.mode}{', dry run' if report.dry_run else ''}): "
        f"{d['already_enabled']} already enabled, {d['planned'] if report.dry_run else d['enabled']} {verb}, "
        f"{d['skipped']} skipped, {d['busy']} busy (locked by another run: not done), {d['failed']} failed; "
        f"{d['management_calls']} Management API calls in {d['seconds']:.1f} s"
    )
    if report.stopped:
        lines.append(f"stopped early ({report.stopped}): {report.error or 'run it again to continue'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- status


def cmd_status(ctx: Context) -> int:
    from .config import status_settings
    from .status import QUEUE_LABELS, collect_status

    env = ctx.env
    settings = status_settings(env)
    mode = settings["mode"]
    queues = ctx.queues()
    if not any(queues.values()) and not env.get("TOKEN_CACHE_SECRET_ID"):
        raise UsageError("nothing to look at: set SOURCE_QUEUE_URL, DEAD_LETTER_QUEUE_URL and "
                         "TOKEN_CACHE_SECRET_ID (or --stack-name)")
    document = collect_status(sqs=ctx.aws("sqs"), secrets=ctx.aws("secretsmanager"), queues=queues,
                              token_cache_secret_id=(env.get("TOKEN_CACHE_SECRET_ID") or "").strip() or None,
                              settings=settings, tasks=ctx.aws_without_retries("sqs"),
                              dashboard_url=(env.get("DASHBOARD_URL") or "").strip() or None)

    def text() -> str:
        lines = [f"{'mode':<28}{mode}{' (dry run)' if settings['dry_run'] else ''}"
                 + (f"   tenant {settings['auth0_domain']}" if settings["auth0_domain"] else "")]
        for name, queue in document["queues"].items():
            label = QUEUE_LABELS.get(name, name)
            if "error" in queue:
                lines.append(f"{label:<28}unreadable ({queue['error']})")
            else:
                lines.append(f"{label:<28}{queue['visible']} waiting, {queue['in_flight']} in flight"
                             + (f", {queue['delayed']} delayed" if queue["delayed"] else ""))
        oldest = document["oldest_dead_letter"]
        if oldest:
            reason = oldest["failure"] + (f" [not replayable: {oldest['problem']}]" if oldest["problem"] else "")
            lines.append(f"{'oldest dead letter':<28}{oldest['age'] or '?'} old ({QUEUE_LABELS[oldest['queue']]}): "
                         f"{reason}")
        task = document["redrive_task"]
        if task:
            lines.append(f"{'last redrive task':<28}{task['status']} {task.get('started_at') or ''}: "
                         f"{task['moved']}/{task.get('to_move')} moved"
                         + (f"; {task['failure']}" if task.get("failure") else ""))
        cache = document["token_cache"]
        if cache:
            state = cache["state"]
            if state in ("valid", "expired"):
                state = f"{state}, expires in {cache['expires_in']}" if state == "valid" else cache["expires_in"]
                state += f"; scope: {cache['scope'] or '(none)'}"
            elif cache.get("error"):
                state += f" ({cache['error']})"
            lines.append(f"{'cached Management API token':<28}{state}")
        if document["dashboard_url"]:
            lines.append(f"{'dashboard':<28}{document['dashboard_url']}")
        return "\n".join(lines)

    ctx.emit(document, text)
    return EXIT_OK


# --------------------------------------------------------------------------- credentials, rotate


def cmd_credentials(ctx: Context) -> int:
    from .credentials import locate

    runtime = ctx.runtime(dry_run=ctx.args.dry_run)  # reads only, dry run or not
    stop = StopRequest(ctx.err)
    reports = []
    with stop.installed():
        for given in ctx.args.ids:
            if stop():
                break
            reports.append(locate(runtime.enabler, given))
    return _credentials_reports(ctx, runtime, reports, interrupted=len(reports) < len(ctx.args.ids))


def cmd_rotate(ctx: Context) -> int:
    from .credentials import rotate

    runtime = ctx.runtime(dry_run=ctx.args.dry_run)
    report = rotate(runtime.enabler, ctx.args.id)
    return _credentials_reports(ctx, runtime, [report], interrupted=False)


def _credentials_reports(ctx: Context, runtime: Any, reports: list, *, interrupted: bool) -> int:
    from .errors import KIND_CONFIGURATION, KIND_TRANSIENT, KIND_UNREACHABLE

    document = {"mode": runtime.config.mode, "dry_run": runtime.config.dry_run,
                "results": [report.as_dict() for report in reports],
                "management_calls": runtime.stats.management_calls}

    def text() -> str:
        lines = []
        for report in reports:
            lines.append(f"{report.status:<14} {report.api_id or report.given}"
                         + (f"  {report.identifier}" if report.identifier else ""))
            if report.client_id:
                made = {True: "created by this product", False: "not created by this product"}.get(
                    report.created_by_product, "")
                lines.append(f"  {'client':<8} {report.client_id}  {made}".rstrip())
            if report.secret_arn or report.secret_name:
                lines.append(f"  {'secret':<8} {report.secret_arn or report.secret_name + ' (does not exist)'}")
            if report.version_id:
                lines.append(f"  {'version':<8} {report.version_id}")
            lines.append(f"  {report.reason}")
        return "\n".join(lines)

    ctx.emit(document, text)
    if interrupted:
        return EXIT_INTERRUPTED
    kinds = {report.error_kind for report in reports if not report.ok}
    if not kinds:
        return EXIT_OK
    if KIND_CONFIGURATION in kinds:
        return EXIT_USAGE
    if kinds <= {KIND_TRANSIENT, KIND_UNREACHABLE}:
        return EXIT_UNREACHABLE
    return EXIT_FAILED


# --------------------------------------------------------------------------- setup


def _exit_for_kind(kind: str | None) -> int:
    from .errors import KIND_CONFIGURATION, KIND_UNREACHABLE

    if kind is None:
        return EXIT_OK
    return {KIND_CONFIGURATION: EXIT_USAGE, KIND_UNREACHABLE: EXIT_UNREACHABLE}.get(kind, EXIT_FAILED)


def cmd_setup(ctx: Context) -> int:
    from .config import MODES, domain_problem, mode_of, parse_downstream_grants
    from .onboarding import SetupOptions, Step, run_setup, update_samconfig

    args, env = ctx.args, ctx.env
    domain = (args.domain or env.get("AUTH0_DOMAIN") or "").strip().lower()
    if not domain:
        raise UsageError("--domain is required: the tenant's domain, e.g. acme.eu.auth0.com")
    problem = domain_problem(domain)
    if problem:
        raise UsageError(problem)
    mode = args.mode or mode_of(env)
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    region = ctx.region()
    if not region:
        raise UsageError("no AWS region: pass --region (the log stream is sent to this region)")
    grants_text = (args.downstream_grants if args.downstream_grants is not None
                   else env.get("DOWNSTREAM_GRANTS", "")).strip()
    grants = parse_downstream_grants(grants_text) if grants_text else ()
    prefix = (args.client_secrets_prefix if args.client_secrets_prefix is not None
              else env.get("CLIENT_SECRETS_PREFIX", "")).strip()
    extra = {}
    if grants_text:
        extra["DownstreamGrants"] = json.dumps(json.loads(grants_text), separators=(",", ":"))
    if prefix:
        extra["ClientSecretsPrefix"] = prefix
    options = SetupOptions(domain=domain, mode=mode, region=region, account_id=args.aws_account_id,
                           secret_name=args.secret_name, kms_key_id=args.kms_key_id, app_name=args.app_name,
                           with_grants=bool(grants), with_credentials=bool(prefix), extra_parameters=extra,
                           dry_run=args.dry_run, source_wait_seconds=args.source_wait)
    api = ctx.admin_api(domain, required=True)
    report = run_setup(options, api=api, aws=ctx.aws, base_url=ctx.auth0_base_url(domain), progress=ctx.note)
    if args.write_samconfig and report.ok:
        from pathlib import Path

        path = Path(args.write_samconfig)
        before = path.read_text() if path.exists() else ""
        after = update_samconfig(before, report.parameters)
        if after == before:
            report.steps.append(Step("samconfig", "unchanged", f"{path}: parameter_overrides already set"))
        elif args.dry_run:
            report.steps.append(Step("samconfig", "would update", f"{path}: parameter_overrides"))
        else:
            path.write_text(after)
            report.steps.append(Step("samconfig", "updated", f"{path}: parameter_overrides"))

    def text() -> str:
        lines = [f"  {step.action:<13} {step.name:<19} {step.detail}" for step in report.steps]
        if report.error:
            lines.append(f"setup stopped: {report.error}")
            lines.append("run setup again once fixed: it continues where it stopped")
        elif args.dry_run:
            lines.append("dry run: nothing changed" + ("" if report.changed else "; nothing to change either"))
        else:
            lines.append("changed what is marked above" if report.changed else "nothing to change: all in place")
        if report.ok and "Auth0CredentialsSecretArn" in report.parameters:
            overrides = " ".join(f"{key}={value}" for key, value in report.parameters.items())
            lines += ["", "deploy with:", "  sam build && sam deploy --parameter-overrides " + overrides,
                      "then check it:", f"  {PROG} doctor --stack-name <your stack> --canary"]
        return "\n".join(lines)

    ctx.emit(report.as_dict(), text)
    return _exit_for_kind(report.error_kind)


# --------------------------------------------------------------------------- doctor, canary


def cmd_doctor(ctx: Context) -> int:
    from .doctor import Check, Doctor
    from .onboarding import DEFAULT_SECRET_NAME

    env = dict(ctx.env)
    notes = []
    if not env.get("AUTH0_CREDENTIALS_SECRET_ID", "").strip():
        env["AUTH0_CREDENTIALS_SECRET_ID"] = DEFAULT_SECRET_NAME
        notes.append(f"AUTH0_CREDENTIALS_SECRET_ID not set: looking at {DEFAULT_SECRET_NAME} (setup's default)")
    if not env.get("TOKEN_CACHE_SECRET_ID", "").strip():
        env["TOKEN_CACHE_SECRET_ID"] = "-"  # noqa: S105  # nosec B105 - the token cache's name; no check reads it
    for note in notes:
        ctx.note(note)
    domain = (env.get("AUTH0_DOMAIN") or "").strip().lower() or None
    admin = ctx.admin_api(domain, required=False)
    doctor = Doctor(env, aws=ctx.aws, admin_api=admin, region=ctx.region(), admin_token_env=ctx.args.admin_token_env)
    report = doctor.run()
    canary = None
    interrupted = False
    if ctx.args.canary:
        if admin is None:
            report.checks.append(Check("canary", False, f"not run: no operator token in {ctx.args.admin_token_env}",
                                       f"export {ctx.args.admin_token_env}=<a Management API token> and run again"))
        elif ctx.args.dry_run:
            canary = _run_canary(ctx, admin, env)
            report.checks.append(Check("canary", True, f"dry run: would create {canary.identifier} and wait up to "
                                                       f"{canary.timeout_seconds:g} s"))
        else:
            canary = _run_canary(ctx, admin, env)
            interrupted = canary.result == "interrupted"
            detail = (f"enabled {canary.latency_ms / 1000:.1f} s after the API was created" if canary.ok
                      else canary.error or canary.result)
            detail += "; cleaned up" if canary.cleaned_up else "; LEFT BEHIND: " + "; ".join(canary.left_behind)
            report.checks.append(Check("canary", canary.ok and canary.cleaned_up, detail,
                                       "the checks above name the broken link; the worker's log says more",
                                       unreachable=canary.unreachable))
    document = report.as_dict()
    if canary is not None:
        document["canary"] = canary.as_dict()

    def text() -> str:
        lines = []
        for check in report.checks:
            lines.append(f"{'ok  ' if check.ok else 'FAIL'}  {check.name:<22} {check.detail}")
            if not check.ok and check.fix:
                lines.append(f"      {'':<22} fix: {check.fix}")
        failed = sum(1 for check in report.checks if not check.ok)
        lines.append("all checks pass" if not failed else f"{failed} of {len(report.checks)} checks fail")
        return "\n".join(lines)

    ctx.emit(document, text)
    if interrupted:
        return EXIT_INTERRUPTED
    if report.unreachable:
        return EXIT_UNREACHABLE
    return EXIT_OK if report.ok else EXIT_FAILED


def _run_canary(ctx: Context, admin: Any, env: Mapping[str, str]):
    from .canary import plan_canary, run_canary
    from .config import mode_of

    if ctx.args.dry_run:
        return plan_canary(mode=mode_of(env), timeout=ctx.args.timeout)

    prefix = (env.get("CLIENT_SECRETS_PREFIX") or "").strip()
    stop = StopRequest(ctx.err)
    with stop.installed():
        return run_canary(admin, mode=mode_of(env), timeout=ctx.args.timeout, poll_interval=ctx.args.poll_interval,
                          should_stop=stop, secret_name=(lambda api_id: prefix + api_id) if prefix else None,
                          secrets_client=ctx.aws("secretsmanager") if prefix else None,
                          delete_grants=bool((env.get("DOWNSTREAM_GRANTS") or "").strip()), progress=ctx.note)


def cmd_canary(ctx: Context) -> int:
    domain = (ctx.env.get("AUTH0_DOMAIN") or "").strip().lower() or None
    admin = ctx.admin_api(domain, required=True)
    report = _run_canary(ctx, admin, ctx.env)

    def text() -> str:
        if report.result == "planned":
            return (f"dry run: would create API {report.identifier}, wait up to {report.timeout_seconds:g} s for "
                    f"it to be enabled ({report.mode}), then delete it and its client(s)")
        if report.ok:
            head = f"enabled {report.latency_ms / 1000:.1f} s after creation: API {report.api_id} ({report.identifier})"
        else:
            head = f"{report.result}: API {report.api_id or '-'} ({report.identifier})" + (
                f": {report.error}" if report.error else "")
        tail = ("cleaned up: the canary API and its client are deleted" if report.cleaned_up
                else "NOT CLEANED UP: " + "; ".join(report.left_behind))
        return head + "\n" + tail

    ctx.emit(report.as_dict(), text)
    if report.result == "interrupted":
        return EXIT_INTERRUPTED
    if report.result == "planned" or report.ok and report.cleaned_up:
        return EXIT_OK
    return EXIT_UNREACHABLE if report.unreachable else EXIT_FAILED


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--profile", help="AWS named profile (as the AWS CLI's --profile)")
    group.add_argument("--region", help="AWS region (default: AWS_REGION / the profile's)")
    group.add_argument("--endpoint-url", help="AWS endpoint for every client, e.g. a local moto server "
                                              "(default: AWS_ENDPOINT_URL if set)")
    group.add_argument("--stack-name", help="read the configuration from this deployed stack's outputs and "
                                            "parameters (they take precedence over environment variables)")
    group.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    group.add_argument("--quiet", "-q", action="store_true", help="no progress or notes on stderr")
    group.add_argument("--progress-every", type=_positive_int, default=100, metavar="N",
                       help="when stderr is not a terminal, a progress line every N items (default 100)")

    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=formatter,
        description="Operate token-exchange-enabler: set up a deployment, check it (doctor, canary), replay "
                    "dead letters, enable APIs, reconcile, status, credentials, rotate.",
        epilog=CONFIGURATION + "\n" + EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    replay = commands.add_parser(
        "replay", parents=[common], formatter_class=formatter,
        help="move dead-lettered events back to the source queue (or --peek at them)",
        description=(
            "Move dead-lettered events back to the queue the worker consumes, once the cause is fixed.\n\n"
            "Uses SQS's redrive (StartMessageMoveTask) where it can, followed until done; elsewhere (or with\n"
            "--one-by-one) moves messages one by one: receive, send the original event, delete. Lambda\n"
            "failure records are unwrapped (their requestPayload is sent). Messages that are not an event the\n"
            "worker can read stay in the dead-letter queue and are listed with the reason. Ctrl-C stops after\n"
            "the message in hand: nothing is lost; only a hard kill between a send and its delete can send one\n"
            "message twice, which the worker absorbs (it reads the API under its lock first)."
        ),
        epilog=(
            "examples:\n"
            "  token-exchange-enabler replay --peek\n"
            "  token-exchange-enabler replay --stack-name token-exchange-enabler --max-per-second 10\n"
            "  token-exchange-enabler replay --one-by-one --limit 1          # try one first\n"
            "  token-exchange-enabler replay --delivery                      # EventBridge's dead letters\n\n"
            + EXIT_CODES
        ),
    )
    replay.add_argument("--dlq-url", help="the dead-letter queue (default: DEAD_LETTER_QUEUE_URL)")
    replay.add_argument("--delivery", action="store_true",
                        help="replay EventBridge's dead-letter queue (DELIVERY_DEAD_LETTER_QUEUE_URL) instead")
    replay.add_argument("--queue-url", help="where to replay to (default: SOURCE_QUEUE_URL)")
    replay.add_argument("--peek", action="store_true", help="list what would be replayed, with each failure "
                                                           "reason; move nothing")
    replay.add_argument("--dry-run", action="store_true", help="same as --peek")
    how = replay.add_mutually_exclusive_group()
    how.add_argument("--one-by-one", action="store_true", help="do not use SQS's redrive")
    how.add_argument("--native", action="store_true", help="only SQS's redrive; fail if it cannot be used")
    replay.add_argument("--max-per-second", type=_positive_float, metavar="N",
                        help="move at most N messages a second (SQS redrive: MaxNumberOfMessagesPerSecond)")
    replay.add_argument("--limit", type=_positive_int, metavar="N",
                        help="move at most N messages (one by one); with --peek, list at most N (default 100)")
    replay.add_argument("--no-wait", action="store_true",
                        help="SQS redrive: start the task and return; `status` shows its progress")
    replay.add_argument("--poll-interval", type=_positive_float, default=5.0, metavar="SECONDS",
                        help="SQS redrive: how often to look at the task's progress (default 5)")
    replay.add_argument("--visibility-timeout", type=_positive_int, default=120, metavar="SECONDS",
                        help="one by one: how long a received message stays hidden (default 120)")
    replay.add_argument("--wait-seconds", type=int, choices=range(0, 21), default=1, metavar="SECONDS",
                        help="long-poll wait of each receive, 0-20 (default 1)")
    replay.set_defaults(handler=cmd_replay)

    enable = commands.add_parser(
        "enable", parents=[common], formatter_class=formatter,
        help="enable token exchange for APIs now, by id or identifier",
        description="Enable token exchange for each API now, with the worker's enabler (same decisions and "
                    "calls).\nAn API is named by its id (24 hex characters) or its identifier (audience).",
        epilog=("examples:\n"
                "  token-exchange-enabler enable 66b1fe07da0f5b2d35c5c011\n"
                "  token-exchange-enabler enable https://orders.acme.com https://billing.acme.com --dry-run\n\n"
                + EXIT_CODES),
    )
    enable.add_argument("ids", nargs="+", metavar="API_ID_OR_IDENTIFIER")
    enable.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")
    enable.set_defaults(handler=cmd_enable)

    reconcile = commands.add_parser(
        "reconcile", parents=[common], formatter_class=formatter,
        help="enable every API of the tenant that is not enabled yet (the sweep)",
        description=(
            "Page through every API of the tenant; skip system APIs and those matching\n"
            "SKIP_IDENTIFIER_PATTERNS; enable every one not yet enabled. The Custom API clients are listed\n"
            "once, so an API already enabled costs no call of its own; one that is not is read again under its\n"
            "lock (the worker's), then written. An API whose lock is held is listed as busy (exit 1).\n"
            "Rate limits: MANAGEMENT_API_RATE_SHARE keeps a share of Auth0's bucket for other clients;\n"
            "--max-rate caps the calls a second on top of it."
        ),
        epilog=("examples:\n"
                "  token-exchange-enabler reconcile --dry-run\n"
                "  token-exchange-enabler reconcile --max-rate 5 --json > sweep.json\n\n" + EXIT_CODES),
    )
    reconcile.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    reconcile.add_argument("--max-rate", type=_positive_float, metavar="CALLS_PER_SECOND",
                           help="at most this many Management API calls a second")
    reconcile.add_argument("--per-page", type=int, choices=range(1, 101), default=100, metavar="N",
                           help="page size of the listings, 1-100 (default 100)")
    reconcile.set_defaults(handler=cmd_reconcile)

    status = commands.add_parser(
        "status", parents=[common], formatter_class=formatter,
        help="queue depths, the oldest dead letter, the cached token's expiry, the mode",
        description="Queue and dead-letter depths, the oldest dead letter's age and failure reason (sampled\n"
                    "without consuming it), the last redrive task, the cached Management API token's expiry\n"
                    "and scope (never the token), and the mode. Needs no Auth0 settings.",
        epilog="examples:\n  token-exchange-enabler status\n  token-exchange-enabler status --json\n\n" + EXIT_CODES,
    )
    status.set_defaults(handler=cmd_status)

    credentials = commands.add_parser(
        "credentials", parents=[common], formatter_class=formatter,
        help="where an API's client credentials are (the secret's ARN and the client id, never the secret)",
        description=(
            "Where the credentials of each API's Custom API client are delivered (CLIENT_SECRETS_PREFIX): the\n"
            "secret's name and ARN, the client id, and whether the secret holds the client's working credentials.\n"
            "The secret is described, never read or printed. Reads only: --dry-run changes nothing either."
        ),
        epilog=("examples:\n"
                "  token-exchange-enabler credentials https://orders.acme.com\n"
                "  token-exchange-enabler credentials 66b1fe07da0f5b2d35c5c011 --json\n\n" + EXIT_CODES),
    )
    credentials.add_argument("ids", nargs="+", metavar="API_ID_OR_IDENTIFIER")
    credentials.add_argument("--dry-run", action="store_true", help="accepted for symmetry: the command only reads")
    credentials.set_defaults(handler=cmd_credentials)

    rotate = commands.add_parser(
        "rotate", parents=[common], formatter_class=formatter,
        help="give an API's Custom API client a new secret and store it, in one step",
        description=(
            "Give the API's Custom API client (one this product created) a new secret, under the API's lock:\n"
            "the new secret is stored first (AWSPENDING), then set in Auth0 (PATCH /api/v2/clients/{id},\n"
            "scope update:client_keys), then made the secret's AWSCURRENT value (the old one stays as\n"
            "AWSPREVIOUS). Auth0 refuses the old secret from then on and may take up to 30 s to accept the new\n"
            "one everywhere: services re-read the secret when Auth0 refuses theirs. If a step fails, the new\n"
            "secret stays stored and the output says how to finish; running rotate again also finishes."
        ),
        epilog=("examples:\n"
                "  token-exchange-enabler rotate https://orders.acme.com --dry-run\n"
                "  token-exchange-enabler rotate 66b1fe07da0f5b2d35c5c011 --json\n\n" + EXIT_CODES),
    )
    rotate.add_argument("id", metavar="API_ID_OR_IDENTIFIER")
    rotate.add_argument("--dry-run", action="store_true", help="say what would be done; take no lock, change nothing")
    rotate.set_defaults(handler=cmd_rotate)

    admin_token = argparse.ArgumentParser(add_help=False)
    admin_token.add_argument("--admin-token-env", default="AUTH0_ADMIN_TOKEN", metavar="NAME",
                             help="the environment variable holding the operator's Management API token "
                                  "(default AUTH0_ADMIN_TOKEN); the token is never printed or stored")

    setup = commands.add_parser(
        "setup", parents=[common, admin_token], formatter_class=formatter,
        help="create or correct what a deployment needs in Auth0 and AWS; print the sam deploy parameters",
        description=(
            "From an empty tenant and account to the `sam deploy` parameters, each step creating what is missing,\n"
            "correcting what differs and leaving the rest (a second run changes nothing):\n"
            "  application         the product's machine-to-machine application, tagged managed_by\n"
            "  client grant        its grant to the Management API with exactly the mode's scopes\n"
            "  credentials secret  its client_id and client_secret in Secrets Manager (checked with a token request;\n"
            "                      when refused, the application gets a new secret, stored)\n"
            "  log stream          an Amazon EventBridge log stream to this account and region, filtered to\n"
            "                      Management API successes (reused, resumed and given the filter if one exists)\n"
            "  event bus           the stream's partner event source associated with a bus of its name\n"
            "The operator's token (--admin-token-env) needs: read:clients create:clients update:clients\n"
            "update:client_keys read:client_grants create:client_grants update:client_grants\n"
            "read:log_streams create:log_streams update:log_streams. AWS: secretsmanager:CreateSecret,\n"
            "PutSecretValue, DescribeSecret, GetSecretValue; events:DescribeEventSource, ListEventBuses,\n"
            "CreateEventBus, ActivateEventSource; sts:GetCallerIdentity."
        ),
        epilog=("examples:\n"
                "  export AUTH0_ADMIN_TOKEN=...   # e.g. from the Dashboard's API Explorer tab\n"
                "  token-exchange-enabler setup --domain acme.eu.auth0.com --region eu-west-1 --dry-run\n"
                "  token-exchange-enabler setup --domain acme.eu.auth0.com --region eu-west-1 --write-samconfig\n\n"
                + EXIT_CODES),
    )
    setup.add_argument("--domain", help="the tenant's domain, e.g. acme.eu.auth0.com (default: AUTH0_DOMAIN)")
    setup.add_argument("--mode", choices=["on_behalf_of", "legacy_resource_server"],
                       help="TOKEN_EXCHANGE_MODE to grant the scopes of (default: TOKEN_EXCHANGE_MODE or on_behalf_of)")
    setup.add_argument("--aws-account-id", help="the account the log stream sends to (default: yours, from STS)")
    setup.add_argument("--secret-name", default="token-exchange-enabler/auth0-credentials",
                       help="the credentials secret (default token-exchange-enabler/auth0-credentials)")
    setup.add_argument("--kms-key-id", help="a customer managed KMS key for the credentials secret")
    setup.add_argument("--app-name", default="token-exchange-enabler",
                       help="the Auth0 application's name (default token-exchange-enabler)")
    setup.add_argument("--downstream-grants", metavar="JSON",
                       help="DOWNSTREAM_GRANTS the stack will use: adds the grant scopes (default: DOWNSTREAM_GRANTS)")
    setup.add_argument("--client-secrets-prefix", metavar="PREFIX",
                       help="CLIENT_SECRETS_PREFIX the stack will use: adds update:client_keys "
                            "(default: CLIENT_SECRETS_PREFIX)")
    setup.add_argument("--write-samconfig", nargs="?", const="samconfig.toml", metavar="PATH",
                       help="write the parameters into samconfig.toml's parameter_overrides (default path "
                            "samconfig.toml), keeping the rest of the file")
    setup.add_argument("--source-wait", type=_positive_float, default=60.0, metavar="SECONDS",
                       help="how long to wait for Auth0's partner event source to appear in AWS (default 60)")
    setup.add_argument("--dry-run", action="store_true", help="say what would be created or changed; change nothing")
    setup.set_defaults(handler=cmd_setup)

    doctor = commands.add_parser(
        "doctor", parents=[common, admin_token], formatter_class=formatter,
        help="check every link from a new API to its token exchange; say how to fix what fails",
        description=(
            "Checks, in order: the configuration; the credentials secret; a Management API token for it; its\n"
            "scopes; the log stream exists, is active and lets Management API successes through (read with the\n"
            "operator's token: read:log_streams); the partner event source is active and associated with the\n"
            "stack's bus; the stack's rule targets the queue; the dead-letter queues are empty; the sweep's\n"
            "schedule is enabled; every DOWNSTREAM_GRANTS audience exists. Reads only. --canary then runs the\n"
            "canary (see `canary --help`). Exit 0: all pass; 1: some fail; 3: Auth0 or AWS unreachable."
        ),
        epilog=("examples:\n"
                "  token-exchange-enabler doctor --stack-name token-exchange-enabler\n"
                "  token-exchange-enabler doctor --stack-name token-exchange-enabler --canary --json\n\n"
                + EXIT_CODES),
    )
    doctor.add_argument("--canary", action="store_true", help="after the checks, run the canary")
    canary = commands.add_parser(
        "canary", parents=[common, admin_token], formatter_class=formatter,
        help="create a throwaway API, wait until the deployment enables it, delete it",
        description=(
            "The end-to-end proof on a live tenant: creates an API (identifier\n"
            "urn:token-exchange-enabler:canary:<random>, name \"token-exchange-enabler canary ...\") with the\n"
            "operator's token, waits until the deployed event path enabled it (its Custom API client allows\n"
            "On-Behalf-Of; legacy mode: token_exchange set), prints the latency from creation, then deletes the\n"
            "API, its client(s) and their delivered credentials - always: also on timeout, failure or Ctrl-C.\n"
            "The operator's token needs create:resource_servers read:resource_servers delete:resource_servers\n"
            "read:clients delete:clients (and read:client_grants delete:client_grants with DOWNSTREAM_GRANTS).\n"
            "Exit 0: enabled in time and cleaned up; 1: not; "
            "130: interrupted (cleaned up all the same)."
        ),
        epilog=("examples:\n"
                "  token-exchange-enabler canary --stack-name token-exchange-enabler\n"
                "  token-exchange-enabler canary --timeout 300 --json\n\n" + EXIT_CODES),
    )
    doctor.add_argument("--dry-run", action="store_true", help="accepted for symmetry: doctor only reads "
                                                                "(with --canary: the canary's plan, not the canary)")
    canary.add_argument("--dry-run", action="store_true", help="say what the canary would create and wait for; "
                                                                "create nothing")
    for command in (doctor, canary):
        command.add_argument("--timeout", type=_positive_float, default=120.0, metavar="SECONDS",
                             help="canary: how long to wait for the API to be enabled (default 120)")
        command.add_argument("--poll-interval", type=_positive_float, default=2.0, metavar="SECONDS",
                             help="canary: how often to look at the tenant (default 2)")
    doctor.set_defaults(handler=cmd_doctor)
    canary.set_defaults(handler=cmd_canary)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None, *, environ: Mapping[str, str] | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (argparse already said why)
        return int(exit_.code or 0)
    if not args.command:
        parser.print_help(err)
        return EXIT_USAGE
    try:
        ctx = Context(args, os.environ if environ is None else environ, out, err)
        return args.handler(ctx)
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - every failure becomes one line and an exit code
        code, message = _failure(error)
        err.write(f"{PROG}: {message}\n")
        return code


def _failure(error: Exception) -> tuple[int, str]:
    """Exit code and one-line message for an error that ended a command."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    from .auth0 import Auth0Error
    from .aws_errors import aws_error_code, aws_unreachable
    from .config import ConfigError
    from .errors import PermanentFailure
    from .replay import NativeRedriveUnavailable

    if isinstance(error, UsageError):
        return EXIT_USAGE, str(error)
    if isinstance(error, ConfigError):
        return EXIT_USAGE, "invalid configuration:\n  " + "\n  ".join(error.problems)
    if isinstance(error, NativeRedriveUnavailable):
        return EXIT_FAILED, f"SQS redrive cannot be used here: {error} (leave out --native)"
    if isinstance(error, NoCredentialsError | NoRegionError | ProfileNotFound):
        return EXIT_USAGE, f"AWS configuration: {error}"
    if isinstance(error, ClientError):
        code = aws_error_code(error)
        operation = getattr(error, "operation_name", "") or "AWS"
        if aws_unreachable(error):
            return EXIT_UNREACHABLE, f"{operation} failed: {code} (AWS unavailable; try again)"
        return EXIT_USAGE, f"{operation} failed: {code} (check the queue/secret names and the permissions)"
    if isinstance(error, EndpointConnectionError | BotoCoreError):
        return EXIT_UNREACHABLE, f"AWS unreachable: {type(error).__name__}"
    if isinstance(error, PermanentFailure):
        return (EXIT_USAGE if error.configuration else EXIT_FAILED), error.reason
    if isinstance(error, Auth0Error):
        if error.configuration:
            return EXIT_USAGE, f"Auth0 configuration: {error}"
        return (EXIT_UNREACHABLE if error.retryable else EXIT_FAILED), f"Auth0: {error}"
    name = type(error).__name__
    if name == "GetParameterError":  # Powertools' wrapper of a Secrets Manager failure
        return EXIT_USAGE, f"could not read the Auth0 credentials secret: {_first_line(str(error))}"
    if isinstance(error, ValueError):  # e.g. a credentials secret without client_id
        return EXIT_USAGE, str(error)
    return EXIT_FAILED, f"unexpected {name}: {_first_line(str(error))}"


def _first_line(text: str, limit: int = 200) -> str:
    line = (text.splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
