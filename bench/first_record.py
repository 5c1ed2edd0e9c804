"""Cold start to the first record's outcome: the product and both peers, in fresh processes.

"Import the handler" leaves out what a real cold start also does before its first record has an
outcome: the product imports boto3 lazily, builds its boto3 clients, reads its secrets (and, with
an empty token cache, fetches and shares a token), takes its per-API lock in DynamoDB, and makes its
Management API calls. This measures all of it. Each sample is a new interpreter (``-I -S``, the
function's Lambda-like ``sys.path`` and the template's environment; see bench/first_record_probe.py)
that imports the handler and invokes it once with an SQS batch holding one "API created" record
for an API created just before (so every sample really creates a Custom API client). Auth0 is the
emulator and AWS is moto's server, both serving from this process over loopback HTTP: their work
shows up as the latency of each call, as a real service's would, but nothing else of theirs is
timed.

Contenders, taking turns within each round (the order rotates, so that a change in the machine's
load hits them alike), after one untimed round that writes the bytecode caches:

- ``product, token cache empty``: the cache secret holds ``{}`` (first instance after a deploy, or
  after a token lifetime without any instance);
- ``product, token cache warm``: the cache secret holds a valid token (any instance started while
  another one has fetched a token within its lifetime: the usual case);
- ``naive``: bench/peers/naive (one Secrets Manager client, a token per invocation);
- ``auth0-python``: bench/peers/auth0_python (the SDK, a token per process).

The peers have no shared cache, so they run once per round; both product figures are divided by
the same naive samples. A second set of rounds runs with the probe's phase stamps on (see the
probe's docstring) to say where the time goes; the timed figures come from the rounds without them.

Run inside ``make bench`` (measurement ``first_record``) or alone:
``python -m bench.first_record [--runs 21] [--phase-runs 7] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import AUTH0_PYTHON, BENCH_DIR, NAIVE, ROOT, STARTED, progress

PROBE_SOURCE = (BENCH_DIR / "first_record_probe.py").read_text()
DOMAIN = "acme.eu.auth0.com"
WORKER_CLIENT = ("tee5b0e0a2f4c4d8a9b7e1c3d5f7a9b1c", "bench-worker-secret-" + "0" * 40)
SCOPES = ["read:resource_servers", "read:clients", "create:clients", "update:clients"]
OBO = "on_behalf_of_token_exchange"

PRODUCT_EMPTY = "product, token cache empty"
PRODUCT_WARM = "product, token cache warm"
CONTENDERS = (NAIVE.name, AUTH0_PYTHON.name, PRODUCT_EMPTY, PRODUCT_WARM)
LABELS = {NAIVE.name: "naive peer", AUTH0_PYTHON.name: "auth0-python peer",
          PRODUCT_EMPTY: PRODUCT_EMPTY, PRODUCT_WARM: PRODUCT_WARM}
TARGET_RATIO = 1.3  # to the naive peer, in the same run


class Harness:
    """The local stack, the emulator and what each contender's process is given."""

    def __init__(self, aws, emulator, stack, work: Path, sdk_view: Path | None):
        import boto3

        from local.layer_view import lambda_sys_path

        self.aws, self.emulator, self.stack = aws, emulator, stack
        self.spec = stack.function
        self.sqs = boto3.client("sqs")
        self.secrets = boto3.client("secretsmanager")
        product_path = lambda_sys_path(self.spec.code_dir, work / "product")
        self.code = {PRODUCT_EMPTY: (self.spec.code_dir, self.spec.handler, product_path),
                     PRODUCT_WARM: (self.spec.code_dir, self.spec.handler, product_path)}
        for peer in (NAIVE, AUTH0_PYTHON):
            assert peer.function_dir is not None  # noqa: S101 - the peers have their own folders
            path = lambda_sys_path(peer.function_dir, work / peer.name)
            if peer.needs_auth0_sdk and sdk_view is not None:
                path.append(str(sdk_view))
            self.code[peer.name] = (peer.function_dir, "app.lambda_handler", path)
        self.seq = 0
        self.run_id = uuid.uuid4().hex[:6]

    # ---- state before a sample

    def new_api_event(self) -> tuple[dict, dict]:
        """A new API in the tenant, its "API created" event through the template's rule and queue."""
        from local.auth0_emulator import eventbridge_envelope
        from local.event_source import lambda_sqs_record

        captured: list[dict] = []
        self.emulator.on_log_event = captured.append
        self.seq += 1
        try:
            server = self.emulator.create_resource_server(
                {"identifier": f"https://cold-{self.run_id}-{self.seq:04d}.example.com", "name": f"Cold {self.seq}",
                 "signing_alg": "RS256"})
        finally:
            self.emulator.on_log_event = None
        self.stack.put_auth0_event(eventbridge_envelope(captured[0], DOMAIN))
        messages = self.sqs.receive_message(QueueUrl=self.stack.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=2,
                                            AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
        self.sqs.delete_message(QueueUrl=self.stack.queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
        record = lambda_sqs_record(messages[0], self.stack.queue_arn, "us-east-1")
        return server, {"Records": [record]}

    def set_token_cache(self, warm: bool) -> None:
        """The cache secret's current value: ``{}``, or a valid token as an instance would have written it."""
        if not warm:
            self.secrets.put_secret_value(SecretId=self.stack.token_cache_secret_arn, SecretString="{}")
            return
        version = str(uuid.uuid4())
        now = time.time()
        value = {"access_token": self.emulator.issue_token(WORKER_CLIENT[0]), "token_type": "Bearer",
                 "scope": " ".join(SCOPES), "expires_at": now + 86400, "fetched_at": now, "generation": version,
                 "fetched_by": "bench"}
        self.secrets.put_secret_value(SecretId=self.stack.token_cache_secret_arn, ClientRequestToken=version,
                                      SecretString=json.dumps(value))

    # ---- one sample

    def sample(self, contender: str, phases: bool = False) -> dict:
        if contender in (PRODUCT_EMPTY, PRODUCT_WARM):
            self.set_token_cache(warm=contender == PRODUCT_WARM)
        server, event = self.new_api_event()
        code_dir, handler, sys_path = self.code[contender]
        read_fd, write_fd = os.pipe()
        env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "HOME")},
            **self.spec.environment, **self.aws.env(), "AUTH0_BASE_URL": self.emulator.base_url,
            "_HANDLER": handler, "AWS_LAMBDA_FUNCTION_NAME": self.spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "LAMBDA_TASK_ROOT": str(code_dir),
            "PROBE_SYS_PATH": json.dumps(sys_path), "PROBE_EVENT": json.dumps(event),
            "PROBE_RESULT_FD": str(write_fd), "PROBE_TIMEOUT_MS": str(int(self.spec.timeout * 1000)),
            "PROBE_PHASES": "1" if phases else "0",
        }
        spawned_at = time.time()
        process = subprocess.Popen([sys.executable, "-I", "-S", "-c", PROBE_SOURCE], cwd=code_dir, env=env,  # noqa: S603
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(write_fd,), text=True)
        os.close(write_fd)
        with os.fdopen(read_fd) as results:
            raw = results.read()
        output, _ = process.communicate(timeout=120)
        if process.returncode != 0 or not raw:
            raise RuntimeError(f"{contender}: the probe failed ({process.returncode}): {output[-3000:]}")
        report = json.loads(raw)
        status = _outcome(output, server["id"])
        if status != "enabled" or report["result"].get("batchItemFailures"):
            raise RuntimeError(f"{contender}: first record not enabled ({status}): {output[-3000:]}")
        if not self._enabled_in_tenant(server["identifier"]):
            raise RuntimeError(f"{contender}: the tenant has no Custom API client allowing On-Behalf-Of for the API")
        report["interpreter_ms"] = (report["started_at"] - spawned_at) * 1000
        report["log_bytes"] = len(output.encode())
        report["log_lines"] = len(output.splitlines())
        return report

    def _enabled_in_tenant(self, identifier: str) -> bool:
        return any(c.get("resource_server_identifier") == identifier
                   and OBO in ((c.get("token_exchange") or {}).get("allow_any_profile_of_type") or [])
                   for c in self.emulator.clients)


def _outcome(output: str, api_id: str) -> str | None:
    """The status the handler logged for ``api_id`` (product: its log line; peers: their JSON line)."""
    for line in output.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("api_id") == api_id and entry.get("status"):
            return entry["status"]
    return None


def _stats(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values), 1), "min_ms": round(min(values), 1),
            "max_ms": round(max(values), 1)}


def _phase_table(samples: list[dict]) -> dict:
    """Median exclusive ms (and calls) per phase, split into init (the import) and first invocation."""
    names = sorted({name for s in samples for name in s["phases_ms"]})
    out = {}
    for name in names:
        init = [s["phases_init_ms"].get(name, 0.0) for s in samples]
        total = [s["phases_ms"].get(name, 0.0) for s in samples]
        invoke = [t - i for t, i in zip(total, init, strict=True)]
        calls = [s["phase_calls"].get(name, 0) for s in samples]
        out[name] = {"init_ms": round(statistics.median(init), 1), "invoke_ms": round(statistics.median(invoke), 1),
                     "total_ms": round(statistics.median(total), 1), "calls": int(statistics.median(calls))}
    measured = [s["init_ms"] + s["invoke_ms"] for s in samples]
    stamped = [sum(s["phases_ms"].values()) for s in samples]
    out["other Python (handler logic, logging, metrics)"] = {
        "init_ms": round(statistics.median(s["init_ms"] - sum(s["phases_init_ms"].values()) for s in samples), 1),
        "invoke_ms": round(statistics.median(
            s["invoke_ms"] - (sum(s["phases_ms"].values()) - sum(s["phases_init_ms"].values())) for s in samples), 1),
        "total_ms": round(statistics.median(m - t for m, t in zip(measured, stamped, strict=True)), 1),
        "calls": 0}
    out["interpreter start-up"] = {"init_ms": round(statistics.median(s["interpreter_ms"] for s in samples), 1),
                                   "invoke_ms": 0.0, "total_ms": round(statistics.median(
                                       s["interpreter_ms"] for s in samples), 1), "calls": 0}
    return out


def run(runs: int, phase_runs: int, sdk_view: Path | None) -> dict:
    from local.auth0_emulator import Auth0Emulator
    from local.aws import local_aws_environment
    from local.stack import deploy_local_stack

    timed: dict[str, list[dict]] = {c: [] for c in CONTENDERS}
    stamped: dict[str, list[dict]] = {c: [] for c in CONTENDERS}
    with local_aws_environment() as aws, Auth0Emulator(domain=DOMAIN) as emulator, \
            tempfile.TemporaryDirectory(prefix="bench-first-") as work:
        emulator.add_m2m_client(*WORKER_CLIENT, scopes=SCOPES)
        stack = deploy_local_stack({"Auth0Domain": DOMAIN},
                                   credentials={"client_id": WORKER_CLIENT[0], "client_secret": WORKER_CLIENT[1]})
        harness = Harness(aws, emulator, stack, Path(work), sdk_view)
        for contender in CONTENDERS:  # untimed: bytecode caches written, files in the page cache
            harness.sample(contender)
        for round_ in range(runs + phase_runs):
            phases = round_ >= runs
            if round_ in (0, runs):
                progress(f"first record: {'phase-stamped' if phases else 'timed'} rounds "
                         f"({phase_runs if phases else runs} × {len(CONTENDERS)} fresh processes)")
            order = CONTENDERS[round_ % len(CONTENDERS):] + CONTENDERS[:round_ % len(CONTENDERS)]
            for contender in order:
                (stamped if phases else timed)[contender].append(harness.sample(contender, phases=phases))
        memory_mb, function_timeout = stack.function.memory_mb, stack.function.timeout

    contenders = {}
    for contender in CONTENDERS:
        samples = timed[contender]
        first = [s["init_ms"] + s["invoke_ms"] for s in samples]
        contenders[contender] = {
            "label": LABELS[contender],
            "import_and_first_invocation": _stats(first),
            "import": _stats([s["init_ms"] for s in samples]),
            "first_invocation": _stats([s["invoke_ms"] for s in samples]),
            "interpreter_start": _stats([s["interpreter_ms"] for s in samples]),
            "spawn_to_outcome": _stats([s["interpreter_ms"] + s["init_ms"] + s["invoke_ms"] for s in samples]),
            "modules": samples[-1]["modules"],
            "log_bytes": int(statistics.median(s["log_bytes"] for s in samples)),
            "log_lines": int(statistics.median(s["log_lines"] for s in samples)),
            "phases": _phase_table(stamped[contender]) if stamped[contender] else {},
        }
    naive = contenders[NAIVE.name]["import_and_first_invocation"]["median_ms"]
    for c in contenders.values():
        c["ratio_to_naive"] = round(c["import_and_first_invocation"]["median_ms"] / naive, 2)
    return {"runs": runs, "phase_runs": phase_runs, "target_ratio_to_naive": TARGET_RATIO,
            "memory_mb": memory_mb, "function_timeout_s": function_timeout, "contenders": contenders,
            "setting": "Auth0 emulator (no rate limit) and moto's server in the bench process, over loopback HTTP; "
                       "the template's environment; -I -S interpreters, bytecode caches written"}


def measure(quick: bool, sdk_view: Path | None) -> dict:
    """``run`` in a child process (moto keeps its state per process)."""
    runs, phase_runs = (2, 1) if quick else (21, 9)
    progress(f"first record: cold start to the first record's outcome, {runs} timed + {phase_runs} "
             f"phase-stamped rounds of {len(CONTENDERS)} fresh processes")
    command = [sys.executable, "-m", "bench.first_record", "--runs", str(runs), "--phase-runs", str(phase_runs),
               "--json"]
    if sdk_view is not None:
        command += ["--sdk-view", str(sdk_view)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["BENCH_STARTED"] = str(STARTED)
    # stderr is the child's progress (and, on a failure, its reason): passed through as it comes
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=1800,  # noqa: S603
                          check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"first record measurement failed ({done.returncode}); its error is above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def render(results: dict) -> str:
    lines = [f"{'contender':<28} {'import+1st':>10} {'import':>8} {'1st inv':>8} {'interp':>7} {'ratio':>6}"]
    for c in results["contenders"].values():
        lines.append(f"{c['label']:<28} {c['import_and_first_invocation']['median_ms']:>10} "
                     f"{c['import']['median_ms']:>8} {c['first_invocation']['median_ms']:>8} "
                     f"{c['interpreter_start']['median_ms']:>7} {c['ratio_to_naive']:>6}")
    for c in results["contenders"].values():
        if c["phases"]:
            lines += ["", f"{c['label']}: phase (median of {results['phase_runs']})     init ms  1st inv ms  calls"]
            for name, p in sorted(c["phases"].items(), key=lambda item: -item[1]["total_ms"]):
                lines.append(f"  {name:<58} {p['init_ms']:>7} {p['invoke_ms']:>10} {p['calls']:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_record", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--phase-runs", type=int, default=9)
    parser.add_argument("--sdk-view", type=Path, help="folder holding auth0-python (default: built here)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-sdk-") as work:
        sdk_view = args.sdk_view
        if sdk_view is None:
            from bench.common import auth0_sdk_view

            sdk_view = auth0_sdk_view(Path(work))
        results = run(args.runs, args.phase_runs, sdk_view)
    print(json.dumps(results) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
