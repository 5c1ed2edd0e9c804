"""The command line itself: help, exit codes, --stack-name, and the installed console script."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import boto3
import pytest
from token_exchange_enabler.cli import main

from tests.conftest import ROOT

COMMANDS = ["replay", "enable", "reconcile", "status"]
CONSOLE_SCRIPT = ROOT / ".venv" / "bin" / "token-exchange-enabler"


def run(*argv: str, environ: dict | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ=environ or {}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples_and_exit_codes(command, capsys):
    assert run(command, "--help")[0] == 0
    text = capsys.readouterr().out
    assert f"usage: token-exchange-enabler {command}" in text
    assert "exit codes:" in text and "130" in text
    assert "--json" in text and "--profile" in text and "--endpoint-url" in text
    if command != "status":
        assert "--dry-run" in text
    assert "examples:" in text


def test_top_level_help_lists_commands_configuration_and_exit_codes(capsys):
    assert run("--help")[0] == 0
    text = capsys.readouterr().out
    assert all(command in text for command in COMMANDS)
    assert "SOURCE_QUEUE_URL" in text and "exit codes:" in text


def test_usage_errors_are_exit_code_2(capsys):
    assert run()[0] == 2  # no command
    assert run("replay", "--bogus")[0] == 2
    assert run("reconcile", "--per-page", "500")[0] == 2
    assert run("enable")[0] == 2  # no API
    code, _, err = run("replay", environ={"SOURCE_QUEUE_URL": "https://sqs.example/q"})
    assert code == 2 and "DEAD_LETTER_QUEUE_URL" in err


def test_an_unknown_profile_is_a_configuration_error(ops):
    result = ops.cli("status", "--profile", "no-such-profile")
    assert result.code == 2 and "no-such-profile" in result.err


def test_a_missing_queue_is_a_configuration_error(ops):
    missing = ops.stack.dlq_url.rsplit("/", 1)[0] + "/no-such-queue"
    result = ops.cli("replay", "--dlq-url", missing, "--one-by-one")
    assert result.code == 2 and "QueueDoesNotExist" in result.err or "NonExistentQueue" in result.err


def test_stack_name_reads_the_configuration_from_the_deployed_stack(ops):
    cloudformation = boto3.client("cloudformation")
    template = {
        "Parameters": {"Auth0Domain": {"Type": "String"}, "TokenExchangeMode": {"Type": "String"}},
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "ApiCreatedQueueUrl": {"Value": ops.stack.queue_url},
            "DeadLetterQueueUrl": {"Value": ops.stack.dlq_url},
            "TokenCacheSecretArn": {"Value": ops.stack.token_cache_secret_arn},
        },
    }
    cloudformation.create_stack(StackName="deployed", TemplateBody=json.dumps(template), Parameters=[
        {"ParameterKey": "Auth0Domain", "ParameterValue": "acme.eu.auth0.com"},
        {"ParameterKey": "TokenExchangeMode", "ParameterValue": "legacy_resource_server"},
    ])
    ops.dead_letter("not JSON")
    # Nothing in the environment but AWS's settings (and a mode the stack overrides).
    result = run("status", "--stack-name", "deployed", "--json", environ={"TOKEN_EXCHANGE_MODE": "on_behalf_of"})
    assert result[0] == 0, result[2]
    status = json.loads(result[1])
    assert status["settings"]["mode"] == "legacy_resource_server"
    assert status["settings"]["auth0_domain"] == "acme.eu.auth0.com"
    assert status["queues"]["dead_letter"]["url"] == ops.stack.dlq_url
    assert status["queues"]["dead_letter"]["visible"] == 1
    assert status["token_cache"] == {"state": "empty"}


def test_the_console_script_runs_as_a_process(ops):
    """The installed entry point (``pip install -e .``), with the configuration in its environment."""
    assert CONSOLE_SCRIPT.exists(), "run `.venv/bin/pip install --no-deps -e .`"
    ops.dead_letter("not JSON")
    environ = {key: value for key, value in os.environ.items() if key.startswith(("AWS_", "PATH", "HOME"))}
    environ |= {key: value for key, value in ops.env.items() if not key.startswith("AUTH0_")}
    process = subprocess.run([str(CONSOLE_SCRIPT), "replay", "--json", "--wait-seconds", "0"], env=environ,
                             capture_output=True, text=True, timeout=60, check=False)
    assert process.returncode == 1, process.stderr  # the malformed message stays in the queue
    report = json.loads(process.stdout)
    assert report["moved"] == 0 and report["left"][0]["problem"] == "malformed event: SQS message body is not JSON"
    module = subprocess.run([sys.executable, "-m", "token_exchange_enabler", "--version"], env=environ,
                            capture_output=True, text=True, timeout=60, check=False)
    assert module.returncode == 0 and module.stdout.startswith("token-exchange-enabler ")


def test_progress_is_a_line_every_n_items_or_one_line_rewritten_on_a_terminal():
    from token_exchange_enabler.cli import ProgressLine

    log = io.StringIO()
    progress = ProgressLine(log, every=2)
    for done in range(1, 6):
        progress.update(done, f"{done} done")
    progress.update(5, "task polled", force=True)
    assert log.getvalue() == "2 done\n4 done\ntask polled\n"

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    now = [0.0]
    tty = Terminal()
    progress = ProgressLine(tty, clock=lambda: now[0])
    for done in range(1, 4):
        now[0] += 0.2
        progress.update(done, f"{done} done")
    progress.done()
    assert tty.getvalue() == "\r\x1b[2K1 done\r\x1b[2K2 done\r\x1b[2K3 done\r\x1b[2K"
    quiet = io.StringIO()
    ProgressLine(quiet, quiet=True).update(100, "x")
    assert quiet.getvalue() == ""
