"""A stand-in for the Lambda service: warm instances of one function, as separate processes.

Each instance is a Python process started in isolated mode (``-I -S``: no site-packages, no
user path) whose ``sys.path`` holds only what Lambda would give it (see :mod:`local.layer_view`).
It imports the handler once (the cold start) and then serves invocations one at a time, so
module-level state — the in-memory token cache — lives as long as the instance, as on Lambda.
An invocation that outlives the function timeout kills the instance, as Lambda does.

Protocol: the parent writes one JSON line per invocation to the child's stdin; the child
answers with one JSON line on a dedicated pipe; whatever the function prints (its
logs) goes to stdout/stderr and is collected as the instance's "CloudWatch" log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_BOOTSTRAP = r"""
import json, os, sys, time, traceback
sys.path[:0] = json.loads(os.environ.pop("LOCAL_LAMBDA_SYS_PATH"))
results = os.fdopen(int(os.environ.pop("LOCAL_LAMBDA_RESULT_FD")), "w", buffering=1)
module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)


class Context:
    def __init__(self, request_id, deadline, timeout_ms):
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = os.environ["LOCAL_LAMBDA_FUNCTION_ARN"]
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


started = time.perf_counter()
try:
    import importlib
    handler = getattr(importlib.import_module(module_name), function_name)
    init_error = None
except Exception as exc:  # reported on every invocation, as Lambda reports an init error
    handler, init_error = None, {"errorType": type(exc).__name__, "errorMessage": str(exc)}
results.write(json.dumps({"ready": True, "init_ms": (time.perf_counter() - started) * 1000,
                          "init_error": init_error}) + "\n")
for line in sys.stdin:
    request = json.loads(line)
    context = Context(request["request_id"], request["deadline"], request["timeout_ms"])
    try:
        if init_error:
            raise RuntimeError(init_error["errorType"] + ": " + init_error["errorMessage"])
        answer = {"result": handler(request["event"], context)}
    except Exception as exc:
        traceback.print_exc()
        answer = {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}}
    sys.stdout.flush(); sys.stderr.flush()
    results.write(json.dumps(answer, default=str) + "\n")
"""


class InvocationError(RuntimeError):
    """The function raised, timed out or its instance crashed."""


@dataclass
class Instance:
    process: subprocess.Popen[str]
    requests: IO[str]  # the process's stdin: one JSON line per invocation
    results: IO[str]  # the result pipe: one JSON line per answer
    init_ms: float
    invocations: int = 0
    busy: bool = False


@dataclass
class LocalFunction:
    """One Lambda function: its code, configuration and pool of warm instances."""

    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    sys_path: list[str]
    timeout: float = 60.0
    memory_mb: int = 256
    max_instances: int = 10
    on_log: Callable[[str, str], None] | None = None  # (instance id, line)
    _instances: list[Instance] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    cold_starts: int = 0
    init_ms: list[float] = field(default_factory=list)

    def invoke(self, event: dict) -> dict:
        instance = self._acquire()
        try:
            return self._invoke(instance, event)
        finally:
            with self._lock:
                instance.busy = False

    def _acquire(self) -> Instance:
        with self._lock:
            for instance in self._instances:
                if not instance.busy and instance.process.poll() is None:
                    instance.busy = True
                    return instance
            if len([i for i in self._instances if i.process.poll() is None]) >= self.max_instances:
                raise InvocationError("TooManyRequestsException: concurrency limit reached")
        instance = self._start()
        with self._lock:
            self._instances = [i for i in self._instances if i.process.poll() is None] + [instance]
        return instance

    def _start(self) -> Instance:
        read_fd, write_fd = os.pipe()
        env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "HOME")},
            **self.environment,
            "_HANDLER": self.handler,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "LOCAL_LAMBDA_FUNCTION_ARN": f"arn:aws:lambda:us-east-1:123456789012:function:{self.name}",
            "LOCAL_LAMBDA_SYS_PATH": json.dumps(self.sys_path),
            "LOCAL_LAMBDA_RESULT_FD": str(write_fd),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and bootstrap
            [sys.executable, "-I", "-S", "-c", _BOOTSTRAP],
            cwd=self.code_dir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, pass_fds=(write_fd,), text=True, bufsize=1,
        )
        os.close(write_fd)  # the child holds its own copy
        # Both are pipes (stdin=PIPE, stdout=PIPE above); Popen types them as optional.
        assert process.stdin is not None and process.stdout is not None
        results = os.fdopen(read_fd, "r", buffering=1)
        instance_id = uuid.uuid4().hex[:8]
        threading.Thread(target=self._pump_logs, args=(instance_id, process.stdout), daemon=True).start()
        ready = json.loads(results.readline() or "{}")
        if not ready.get("ready"):
            process.kill()
            raise InvocationError("the instance died during init")
        self.cold_starts += 1
        self.init_ms.append(ready["init_ms"])
        return Instance(process=process, requests=process.stdin, results=results, init_ms=ready["init_ms"],
                        busy=True)

    def _pump_logs(self, instance_id: str, logs: IO[str]) -> None:
        for line in logs:
            if self.on_log:
                self.on_log(instance_id, line.rstrip("\n"))

    def _invoke(self, instance: Instance, event: dict) -> dict:
        deadline = time.time() + self.timeout
        request = {"event": event, "request_id": str(uuid.uuid4()), "deadline": deadline,
                   "timeout_ms": int(self.timeout * 1000)}
        instance.invocations += 1
        instance.requests.write(json.dumps(request) + "\n")
        instance.requests.flush()
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(instance.results.readline()), daemon=True)
        reader.start()
        reader.join(self.timeout + 1.0)
        if not answer or not answer[0]:
            instance.process.kill()  # Lambda ends an instance that timed out or crashed
            raise InvocationError(f"Task timed out after {self.timeout:.2f} seconds"
                                  if reader.is_alive() else "the instance exited")
        reply = json.loads(answer[0])
        if "error" in reply:
            raise InvocationError(f"{reply['error']['errorType']}: {reply['error']['errorMessage']}")
        return reply["result"]

    def stop(self) -> None:
        with self._lock:
            instances, self._instances = self._instances, []
        for instance in instances:
            if instance.process.poll() is None:
                instance.requests.close()
                try:
                    instance.process.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    instance.process.kill()
