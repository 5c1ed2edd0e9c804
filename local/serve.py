"""Keep a local Auth0 tenant and AWS account running for the operator CLI: ``python -m local.serve``.

Full mode (the default) runs the whole event path as ``make demo`` does, continuously:

1. moto's server (the local AWS) and the Auth0 emulator, whose EventBridge log streams deliver to
   it (:class:`~local.auth0_emulator.partner.LocalEventBridgePartner`);
2. an admin application in the emulator, allowed every scope the emulator's Management API routes
   use, and its token (``AUTH0_ADMIN_TOKEN``: the operator's token of ``setup``, ``doctor`` and
   ``canary``);
3. ``--apis N`` APIs made before any log stream exists, so that nothing is streamed for them:
   the APIs a reconciliation sweep is for (``token-exchange-enabler reconcile``);
4. the library's ``setup``, exactly as ``token-exchange-enabler setup`` runs it with that token:
   the product's M2M application and its grant, the credentials secret, the EventBridge log stream
   and the partner event source associated with its bus;
5. template.yaml deployed locally (:func:`~local.stack.deploy_local_stack`) with setup's
   parameters (``Auth0CredentialsSecretArn`` among them: the secret setup stored);
6. the worker in the local Lambda stand-in fed by the stack's queue (:func:`~local.event_path.start_worker`).

From then on an API created in the emulator (``token-exchange-enabler canary`` makes one over
HTTP) is logged, streamed to the partner bus, matched by the template's rule, queued and enabled
by the worker, until Ctrl-C or SIGTERM.

``--bare`` starts steps 1 and 2 only: a tenant and an account with nothing of the product in them,
where ``token-exchange-enabler setup`` can be tried from scratch.

Both write ``--env-file`` (``export NAME=value`` lines, then ``# ready``; removed on exit): the local
AWS endpoint, region and test credentials, ``AUTH0_BASE_URL``, ``AUTH0_DOMAIN`` and
``AUTH0_ADMIN_TOKEN``; in full mode also every setting the operator CLI reads from a deployed stack
(its ``STACK_OUTPUTS`` and ``STACK_PARAMETERS``, from :meth:`~local.stack.LocalStack.outputs` and the
stack's parameters) and the operator function's environment. In-process, :func:`serving` does the
same (tests use it).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from token_exchange_enabler.auth0 import ManagementApi, StaticToken
from token_exchange_enabler.cli import STACK_OUTPUTS, STACK_PARAMETERS
from token_exchange_enabler.onboarding import SetupOptions, SetupReport, run_setup

from local.auth0_emulator import Auth0Emulator
from local.auth0_emulator.app import ROUTES
from local.auth0_emulator.partner import LocalEventBridgePartner
from local.auth0_emulator.state import MANAGEMENT_SCOPES
from local.aws import LocalAws, local_aws_environment
from local.event_path import Worker, start_worker
from local.pipeline import ADMIN_CLIENT, DOMAIN, SCOPES
from local.stack import LocalStack, deploy_local_stack

DEFAULT_ENV_FILE = "local-ops.env"
READY_LINE = "# ready"
ADMIN_TOKEN_VARIABLE = "AUTH0_ADMIN_TOKEN"  # noqa: S105 - the variable's name
# Every scope the emulator's Management API routes use, and the log-stream ones (setup, doctor).
LOG_STREAM_SCOPES = ("read:log_streams", "create:log_streams", "update:log_streams", "delete:log_streams")
ADMIN_SCOPES: tuple[str, ...] = tuple(
    sorted({route.scope for route in ROUTES} | set(MANAGEMENT_SCOPES) | set(LOG_STREAM_SCOPES))
)
# The operator function whose environment the CLI's variables start from (as before).
OPERATOR_FUNCTION = "ReplayFunction"


class ServeError(RuntimeError):
    """The local tenant and account could not be brought up (setup failed, ...)."""


@dataclass
class ServeOptions:
    """One ``python -m local.serve``; the defaults are its command line's."""

    mode: str = "on_behalf_of"
    apis: int = 3  # full mode: APIs made before the log stream exists (nothing streamed for them)
    bare: bool = False  # emulator, local AWS and admin application only
    env_file: Path | None = Path(DEFAULT_ENV_FILE)  # None: write none
    # The worker's SQS batching window is at most this (s), as in `make demo`: the template's 5 s
    # would add up to 5 s to each canary.
    batching_window: float = 0.5
    on_worker_log: Callable[[str, str], None] | None = None  # (instance id, line) of each worker line
    progress: Callable[[str], None] = field(default=lambda text: None)


@dataclass
class Served:
    """What :func:`serving` brought up."""

    aws: LocalAws
    emulator: Auth0Emulator
    admin_token: str
    env: dict[str, str]  # what the env file exports
    env_file: Path | None
    stack: LocalStack | None = None  # full mode
    setup: SetupReport | None = None  # full mode
    worker: Worker | None = None  # full mode
    apis: list[dict[str, Any]] = field(default_factory=list)  # made without events (full mode)

    @property
    def bare(self) -> bool:
        return self.stack is None

    def summary(self) -> str:
        """What is up and what to run next, for the operator."""
        shown = (
            "<none>"
            if self.env_file is None
            else (self.env_file if self.env_file.is_absolute() else f"./{self.env_file}")
        )
        head = f"local AWS {self.aws.endpoint_url}, Auth0 {self.emulator.base_url} ({self.emulator.domain})"
        if self.stack is None:
            return (
                f"{head} up, bare: an admin application only (no product application, secret, log stream "
                f"or stack).\nIn another shell:\n  . {shown}\n"
                f"  token-exchange-enabler setup --domain {self.emulator.domain} --region {self.aws_region}\n"
                "Ctrl-C stops."
            )
        steps = "; ".join(f"{step.name} {step.action}" for step in (self.setup.steps if self.setup else []))
        return (
            f"{head} up, with the event path: log stream -> {self.stack.event_bus_name} -> rule "
            f"{self.stack.rule_name} -> {self.stack.queue_url} -> worker.\n"
            f"setup: {steps}.\n"
            f"{len(self.apis)} APIs created before the log stream (none streamed): for "
            "`token-exchange-enabler reconcile`.\n"
            f"In another shell:\n  . {shown}\n  token-exchange-enabler doctor\n  token-exchange-enabler canary\n"
            "Ctrl-C stops."
        )

    @property
    def aws_region(self) -> str:
        return self.aws.env()["AWS_REGION"]


@contextmanager
def serving(options: ServeOptions) -> Iterator[Served]:
    """Bring the local tenant and account up (see the module docstring); take them down on exit.

    boto3 in this process points at the local AWS for the duration (``AWS_ENDPOINT_URL``...). The
    local AWS starts empty: moto's state, which every moto server of a process shares, is reset.
    """
    if options.mode not in SCOPES:
        raise ValueError(f"unknown mode {options.mode!r}; one of {', '.join(sorted(SCOPES))}")
    if options.apis < 0:
        raise ValueError("apis must be 0 or more")
    with ExitStack() as exits:
        aws = exits.enter_context(local_aws_environment())
        # moto keeps its state per process, shared by every server in it (a test session's too):
        # start from an empty account.
        aws.reset()
        emulator = exits.enter_context(
            Auth0Emulator(domain=DOMAIN, event_bridge=LocalEventBridgePartner(endpoint_url=aws.endpoint_url))
        )
        emulator.add_m2m_client(*ADMIN_CLIENT, scopes=ADMIN_SCOPES)
        admin_token = emulator.issue_token(ADMIN_CLIENT[0])
        env = {
            **aws.env(),
            "AUTH0_BASE_URL": emulator.base_url,
            "AUTH0_DOMAIN": emulator.domain,
            ADMIN_TOKEN_VARIABLE: admin_token,
        }
        served = Served(aws=aws, emulator=emulator, admin_token=admin_token, env=env, env_file=options.env_file)
        options.progress(f"local AWS {aws.endpoint_url} and Auth0 emulator {emulator.base_url} up")
        if not options.bare:
            work = exits.enter_context(tempfile.TemporaryDirectory(prefix="tee-serve-"))
            _bring_up_the_product(served, options, Path(work), exits)
        if options.env_file is not None:
            path = options.env_file
            exits.callback(path.unlink, missing_ok=True)
            write_env_file(path, served.env, full=not served.bare)
        yield served


def _bring_up_the_product(served: Served, options: ServeOptions, work_dir: Path, exits: ExitStack) -> None:
    emulator, aws = served.emulator, served.aws
    for i in range(options.apis):
        served.apis.append(
            emulator.create_resource_server(
                {"identifier": f"https://forgotten-{i}.example.com", "name": f"Forgotten API {i}"}
            )
        )
    options.progress("setup: the product's application, grant, credentials secret, log stream and event bus")
    session = boto3.session.Session()
    report = run_setup(
        SetupOptions(domain=emulator.domain, mode=options.mode, region=served.aws_region, account_id=None),
        api=ManagementApi(base_url=emulator.base_url, tokens=StaticToken(served.admin_token)),
        aws=session.client,
        base_url=emulator.base_url,
        progress=options.progress,
    )
    served.setup = report
    if not report.ok:
        raise ServeError(f"setup failed: {report.error}")
    options.progress("deploying template.yaml locally with setup's parameters")
    stack = deploy_local_stack(dict(report.parameters))
    served.stack = stack
    served.worker = start_worker(
        stack,
        aws=aws,
        auth0_base_url=emulator.base_url,
        work_dir=work_dir,
        batching_window=options.batching_window,
        on_log=options.on_worker_log,
    )
    exits.callback(served.worker.stop)
    served.env = {**operator_environment(stack), **served.env}


def operator_environment(stack: LocalStack) -> dict[str, str]:
    """What the operator CLI reads: the operator function's environment, then what ``--stack-name``
    reads from a deployed stack (its outputs and parameters, by the CLI's own tables)."""
    parameters = {
        variable: _text(stack.parameters[name])
        for name, variable in STACK_PARAMETERS.items()
        if name in stack.parameters
    }
    outputs = stack.outputs()
    from_outputs = {variable: outputs[name] for name, variable in STACK_OUTPUTS.items() if name in outputs}
    return {**stack.functions[OPERATOR_FUNCTION].environment, **parameters, **from_outputs}


def _text(value: Any) -> str:
    return ",".join(str(item) for item in value) if isinstance(value, list) else str(value)


def write_env_file(path: Path, env: Mapping[str, str], *, full: bool) -> None:
    """``export NAME=value`` lines (shell-quoted) and ``# ready`` last, written whole (a reader
    never sees half a file)."""
    lines = [
        f"# python -m local.serve ({'full' if full else 'bare'}): source this file (. ./{path.name}) in the shell "
        "that runs token-exchange-enabler. Removed when local.serve stops.",
        f"# {ADMIN_TOKEN_VARIABLE} is a token of the local Auth0 emulator's admin application: local only, "
        "worthless anywhere else.",
        *(f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())),
        READY_LINE,
    ]
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text("\n".join(lines) + "\n")
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.serve", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--env-file", default=DEFAULT_ENV_FILE, help="where to write the settings to source")
    parser.add_argument(
        "--apis",
        type=int,
        default=3,
        help="full mode: APIs to create before the log stream exists (no events: for reconcile)",
    )
    parser.add_argument("--mode", choices=sorted(SCOPES), default="on_behalf_of")
    parser.add_argument(
        "--bare",
        action="store_true",
        help="the local AWS, the Auth0 emulator and an admin application only: try setup yourself",
    )
    parser.add_argument("--quiet", action="store_true", help="do not copy the worker's log lines to stderr")
    args = parser.parse_args(argv)

    def worker_line(instance: str, line: str) -> None:
        print(f"[worker {instance}] {line}", file=sys.stderr, flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    options = ServeOptions(
        mode=args.mode,
        apis=args.apis,
        bare=args.bare,
        env_file=Path(args.env_file),
        on_worker_log=None if args.quiet else worker_line,
        progress=lambda text: print(text, file=sys.stderr, flush=True),
    )
    try:
        with serving(options) as served:
            print(served.summary(), file=sys.stderr, flush=True)
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    except ServeError as error:
        print(f"local.serve: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
