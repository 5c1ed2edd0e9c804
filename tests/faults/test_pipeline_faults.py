"""The whole local pipeline (run_pipeline) under injected faults.

Each scenario creates a few APIs in the Auth0 emulator over HTTP, streams their "API created" events
through EventBridge and SQS (moto, deployed from template.yaml) to isolated Lambda-like worker
processes, injects its faults, waits until every API has an outcome and checks it against the
tenant. The common checks (support.run_scenario): every API enabled, or skipped / dead-lettered
with a stated reason, none lost, none with a second Custom API client.

Timing: the template's function timeout is 60 s and its queue's visibility timeout 6 times that.
Scenarios whose records go back to the queue shorten both (PipelineOptions.function_timeout and
visibility_timeout), keeping the visibility timeout above the function timeout as the template
does, so that a retry is seen within seconds.
"""

from __future__ import annotations

import json
import threading

import boto3
import pytest

from local.auth0_emulator import Fault
from local.aws_faults import AwsFault, AwsFaultProxy
from local.pipeline import PipelineOptions
from tests.faults.support import Run, run_scenario

pytestmark = [pytest.mark.faults, pytest.mark.integration]

APIS = 8  # one of them the system API, which is skipped


def options(**kwargs) -> PipelineOptions:
    return PipelineOptions(**{"apis": APIS, "timeout": 120.0, **kwargs})


def counted(run: Run, *names: str) -> dict[str, int]:
    return {name: run.emulator.counters.get(name, 0) for name in names}


def remaining(run: Run) -> list[Fault]:
    return [f for f in run.emulator.faults]


def test_429_storm():
    """A tenant on the Free plan's bucket (burst 2, 2/s) plus injected 429s on the Management API and
    on the token endpoint: the worker waits them out, nothing is dead-lettered."""

    def setup(run: Run) -> None:
        run.emulator.inject(Fault("status", status=429, times=6, path_prefix="/api/v2/clients"))
        run.emulator.inject(Fault("status", status=429, times=4, path_prefix="/api/v2/resource-servers/"))

    def on_api_event(run: Run, event: dict, n: int) -> None:
        if n == 1:  # the creator has its token by now: only the worker meets these
            run.emulator.inject(Fault("status", status=429, times=2, path_prefix="/oauth/token"))

    run = run_scenario(
        "429 storm (Free-plan bucket + injected 429s)",
        options(apis=6, rate_limit="free", function_timeout=12, visibility_timeout=14),
        setup=setup, on_api_event=on_api_event,
        notes=lambda run: (f"{run.summary['rate_limited']} 429s met by the worker, waited out; "
                           f"{run.summary['failed_records']} deliveries retried"),
    )
    summary = run.summary
    assert summary["enabled"] == 6 - 1 and summary["dead_lettered"] == 0
    assert summary["rate_limited"] >= 10
    assert remaining(run) == []


def test_5xx_burst():
    """5xx on reads (retried in place), on creates before and after the client was made (the record
    returns to the queue; the retry finds the client instead of making a second one)."""

    def setup(run: Run) -> None:
        run.emulator.inject(Fault("status", status=503, times=4, path_prefix="/api/v2/resource-servers/"))
        run.emulator.inject(Fault("status", status=500, times=2, path_prefix="/api/v2/clients", method="POST"))
        run.emulator.inject(Fault("status", status=502, times=2, path_prefix="/api/v2/clients", method="POST",
                                  after=True))

    run = run_scenario(
        "5xx burst (reads, creates, after-create)",
        options(function_timeout=5, visibility_timeout=6), setup=setup,
        notes=lambda run: f"8 5xx; {run.summary['failed_records']} deliveries returned to the queue, retried",
    )
    summary = run.summary
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert remaining(run) == []
    assert summary["failed_records"] >= 4  # the four failed creates went back to the queue
    # Two creates took effect but their answer was lost: found on the retry, not made again.
    assert counted(run, "POST /api/v2/clients")["POST /api/v2/clients"] == APIS - 1 + 2


def test_dropped_connections():
    """Connections cut before a read, before a create, and after a create took effect."""

    def setup(run: Run) -> None:
        run.emulator.inject(Fault("drop", times=3, path_prefix="/api/v2/resource-servers/"))
        run.emulator.inject(Fault("drop", times=2, path_prefix="/api/v2/clients", method="POST"))
        run.emulator.inject(Fault("drop", times=2, path_prefix="/api/v2/clients", method="POST", after=True))

    run = run_scenario(
        "dropped connections (read, create, after-create)",
        options(function_timeout=5, visibility_timeout=6), setup=setup,
        notes=lambda run: f"7 drops; {run.summary['failed_records']} deliveries returned to the queue, retried",
    )
    summary = run.summary
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert remaining(run) == []
    assert counted(run, "POST /api/v2/clients")["POST /api/v2/clients"] == APIS - 1 + 2


def test_slow_responses_near_the_function_timeout():
    """Function timeout shortened to 5 s (PipelineOptions.function_timeout): one read slower than the
    timeout (Lambda ends that invocation: its whole batch returns to the queue) and creates slow enough
    to bring other invocations close to it."""

    def setup(run: Run) -> None:
        run.emulator.inject(Fault("latency", delay=6.0, times=1, path_prefix="/api/v2/resource-servers/"))
        run.emulator.inject(Fault("latency", delay=1.5, times=3, path_prefix="/api/v2/clients", method="POST"))

    run = run_scenario(
        "slow responses near the 5 s function timeout",
        options(function_timeout=5, visibility_timeout=7), setup=setup,
        notes=lambda run: f"{run.summary['function_errors']} invocation(s) timed out; batch redelivered",
    )
    summary = run.summary
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert summary["function_errors"] >= 1  # Lambda did end an invocation
    assert remaining(run) == []


def test_401_on_tokens_that_should_still_be_valid():
    """Injected 401s on valid tokens, then the tenant's signing key rotated once every API exists
    (every token issued so far is refused): each instance refreshes and carries on."""

    def setup(run: Run) -> None:
        run.emulator.inject(Fault("unauthorized", times=4, path_prefix="/api/v2/resource-servers/"))

    def on_api_event(run: Run, event: dict, n: int) -> None:
        if n == APIS:  # the creator is done with its token: rotate now
            run.emulator.rotate_signing_key()

    run = run_scenario(
        "401 on still-valid tokens + key rotation",
        options(function_timeout=5, visibility_timeout=6), setup=setup, on_api_event=on_api_event,
        notes=lambda run: f"4 injected 401s + rotation; {run.summary['token_requests']} token requests",
    )
    summary = run.summary
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert summary["token_requests"] >= 2


def test_token_endpoint_down():
    """/oauth/token answers 503 and then drops connections for a while: the records go back to the
    queue and are enabled once it is back."""

    def on_api_event(run: Run, event: dict, n: int) -> None:
        if n == 1:  # after the creator got its own token
            run.emulator.inject(Fault("status", status=503, times=3, path_prefix="/oauth/token"))
            run.emulator.inject(Fault("drop", times=2, path_prefix="/oauth/token"))

    run = run_scenario(
        "token endpoint down (503, then drops)",
        options(function_timeout=6, visibility_timeout=7), on_api_event=on_api_event,
        notes=lambda run: f"5 failed token requests; {run.summary['failed_records']} deliveries retried",
    )
    summary = run.summary
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert summary["failed_records"] >= 1
    assert remaining(run) == []


def _through_proxy(proxy: AwsFaultProxy, **kwargs) -> PipelineOptions:
    """The workers reach AWS through the fault proxy (the pipeline's own AWS calls do not)."""
    return options(extra_environment={"AWS_ENDPOINT_URL": proxy.endpoint_url}, **kwargs)


def test_secrets_manager_throttled():
    """ThrottlingException on every call to the token cache secret for the whole run, and on the
    first reads of the credentials: botocore's retries give up on the cache, each instance fetches
    its own token, nothing fails."""
    with AwsFaultProxy() as proxy:
        def setup(run: Run) -> None:
            import os

            proxy.upstream = os.environ["AWS_ENDPOINT_URL"]  # moto, started by run_pipeline
            proxy.inject(AwsFault("throttle", target="secretsmanager.", times=None,
                                  body_contains=run.stack.token_cache_secret_arn))
            proxy.inject(AwsFault("throttle", target="secretsmanager.GetSecretValue", times=2,
                                  body_contains=run.stack.credentials_secret_arn))  # retried by botocore

        run = run_scenario(
            "Secrets Manager throttled",
            _through_proxy(proxy, function_timeout=20, visibility_timeout=22), setup=setup,
            notes=lambda run: (f"{sum(proxy.faulted.values())} ThrottlingException answers; "
                               f"{run.summary['token_requests']} token requests for "
                               f"{run.summary['cold_starts']} instances"),
        )
    summary = run.summary
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert summary["token_requests"] <= summary["cold_starts"]  # one per instance, kept in memory
    assert any("Token cache secret unavailable" in m for m in run.log_messages())


def test_secrets_manager_unreachable():
    """Every connection to the token cache secret dropped for the whole run, and the first reads of
    the credentials: tokens are fetched directly (once per instance), nothing fails."""
    with AwsFaultProxy() as proxy:
        def setup(run: Run) -> None:
            import os

            proxy.upstream = os.environ["AWS_ENDPOINT_URL"]
            proxy.inject(AwsFault("drop", target="secretsmanager.", times=None,
                                  body_contains=run.stack.token_cache_secret_arn))
            proxy.inject(AwsFault("drop", target="secretsmanager.GetSecretValue", times=2,
                                  body_contains=run.stack.credentials_secret_arn))

        run = run_scenario(
            "Secrets Manager unreachable (cache secret)",
            _through_proxy(proxy, function_timeout=20, visibility_timeout=22), setup=setup,
            notes=lambda run: (f"{sum(proxy.faulted.values())} connections dropped; "
                               f"{run.summary['token_requests']} token requests for "
                               f"{run.summary['cold_starts']} instances"),
        )
    summary = run.summary
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert summary["token_requests"] <= summary["cold_starts"]  # one per instance, kept in memory
    assert any("Token cache secret unavailable" in m for m in run.log_messages())


def test_corrupt_cache_secret():
    """The cache secret holds something that is not a token: it is replaced through the claim."""

    def setup(run: Run) -> None:
        boto3.client("secretsmanager").put_secret_value(SecretId=run.stack.token_cache_secret_arn,
                                                        SecretString='{"access_token": ')

    run = run_scenario(
        "corrupt cache secret", options(), setup=setup,
        notes=lambda run: f"replaced; {run.summary['token_requests']} token request(s)",
    )
    summary = run.summary
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert summary["token_requests"] <= summary["cold_starts"]
    assert any("holds no valid token" in m for m in run.log_messages())


def test_deleted_cache_secret():
    """The cache secret was deleted (no recovery window): each instance fetches its own token."""

    def setup(run: Run) -> None:
        boto3.client("secretsmanager").delete_secret(SecretId=run.stack.token_cache_secret_arn,
                                                     ForceDeleteWithoutRecovery=True)

    run = run_scenario(
        "deleted cache secret", options(), setup=setup,
        notes=lambda run: (f"{run.summary['token_requests']} token request(s) for "
                           f"{run.summary['cold_starts']} instances"),
    )
    summary = run.summary
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert summary["token_requests"] <= summary["cold_starts"]


def test_duplicate_and_out_of_order_events():
    """Each event delivered three times: a copy before the original, the original, and a replay a
    moment later (while or after the first delivery is handled); some copies held back so that
    events arrive out of order."""

    def on_api_event(run: Run, event: dict, n: int) -> None:
        run.stack.put_auth0_event(event)  # a copy ahead of the original, which follows at once
        delay = 0.2 + (n % 4) * 0.6

        def replay() -> None:
            try:
                run.stack.put_auth0_event(json.loads(json.dumps(event)))
            except Exception:  # noqa: BLE001 - a replay after the run ended changes nothing
                pass

        timer = threading.Timer(delay, replay)
        timer.daemon = True
        timer.start()
        with run.lock:
            run.events_in += 2

    run = run_scenario(
        "duplicate + out-of-order events (x3)", options(), on_api_event=on_api_event,
        notes=lambda run: f"{run.events_in - run.summary['apis_created']} extra copies absorbed",
    )
    summary = run.summary
    assert run.events_in == 3 * APIS
    assert summary["enabled"] == APIS - 1 and summary["dead_lettered"] == 0
    assert run.emulator.counters.get("POST /api/v2/clients") == APIS - 1  # one create per API, ever
