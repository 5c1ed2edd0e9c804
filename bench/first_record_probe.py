"""One cold start to the first record's outcome, in the fresh interpreter bench.first_record starts.

Not imported by the benchmark: its source is passed to ``python -I -S -c``, so that the process
holds nothing but the standard library until the handler imports what it needs from the
function's Lambda-like ``sys.path`` (``PROBE_SYS_PATH``). It then does what Lambda's runtime does
for a cold start: import the handler module (init), call the handler once with the SQS batch in
``PROBE_EVENT``, and report on the file descriptor ``PROBE_RESULT_FD``:

- ``started_at``: ``time.time()`` at the first statement (the parent subtracts its spawn time:
  the interpreter's own start-up);
- ``init_ms`` (the import), ``invoke_ms`` (the first invocation), the handler's result.

With ``PROBE_PHASES=1`` it also attributes the time to phases, by perf_counter stamps around the
code that does the work, wherever it is called from: module imports (a meta-path finder wraps
every loader), boto3 session and client creation, each AWS API call (by service, operation and
secret), and each HTTP request to Auth0 (token endpoint or Management API). Spans nest; each
phase gets its exclusive time, so the phases add up to the total and the rest is "other Python"
(the handler's own logic, logging, metrics). The stamps cost a few microseconds per import and
call: the timed figures come from probes without them.
"""

import time

STARTED_AT = time.time()

import functools  # noqa: E402 - the first stamp comes first
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import uuid  # noqa: E402

_perf = time.perf_counter


class Spans:
    """Exclusive time per phase, from nested enter/leave pairs on the main thread."""

    def __init__(self):
        self._main = threading.main_thread().ident
        self._ident = threading.get_ident
        self.stack = []  # [phase, start, time spent in child spans]
        self.ms = {}
        self.count = {}

    def enter(self, phase):
        if self._ident() != self._main:
            return False
        self.stack.append([phase, _perf(), 0.0])
        return True

    def leave(self, counted=True):
        phase, start, children = self.stack.pop()
        spent = _perf() - start
        self.ms[phase] = self.ms.get(phase, 0.0) + (spent - children) * 1000
        if counted:
            self.count[phase] = self.count.get(phase, 0) + 1
        if self.stack:
            self.stack[-1][2] += spent

    def timed(self, phase_of, function):
        """``function`` wrapped: each call is a span of phase ``phase_of(*args, **kwargs)``."""
        spans = self

        def wrapper(*args, **kwargs):
            if not spans.enter(phase_of(*args, **kwargs)):
                return function(*args, **kwargs)
            try:
                return function(*args, **kwargs)
            finally:
                spans.leave()

        return functools.wraps(function)(wrapper)


def _secret_kind(secret_id):
    if secret_id and secret_id == os.environ.get("AUTH0_CREDENTIALS_SECRET_ID"):
        return "credentials"
    if secret_id and secret_id == os.environ.get("TOKEN_CACHE_SECRET_ID"):
        return "token cache"
    return "other secret"


def _aws_phase(client, operation, params):
    service = client.meta.service_model.service_name
    if service == "secretsmanager":
        return f"aws secretsmanager {operation} ({_secret_kind(params.get('SecretId'))})"
    return f"aws {service} {operation}"


def _client_phase(session, service_name, *_, **__):
    return f"boto3 client creation ({service_name})"


def _http_phase(client, request, *_, **__):
    """requests' Session.send or httpx's Client.send (auth0-python's Management API client)."""
    path = request.path_url.split("?", 1)[0] if hasattr(request, "path_url") else request.url.path
    if path.endswith("/oauth/token"):
        return "auth0 POST /oauth/token"
    return "auth0 Management API"


def _patches(spans):
    """Module name -> what to wrap once that module has been executed."""

    def botocore_session(module):
        module.Session.create_client = spans.timed(_client_phase, module.Session.create_client)

    def boto3_session(module):
        module.Session.__init__ = spans.timed(lambda *a, **k: "boto3 Session()", module.Session.__init__)

    def botocore_client(module):
        module.BaseClient._make_api_call = spans.timed(_aws_phase, module.BaseClient._make_api_call)

    def requests_sessions(module):
        module.Session.send = spans.timed(_http_phase, module.Session.send)

    def httpx_client(module):
        module.Client.send = spans.timed(_http_phase, module.Client.send)

    return {"botocore.session": botocore_session, "boto3.session": boto3_session,
            "botocore.client": botocore_client, "requests.sessions": requests_sessions,
            "httpx._client": httpx_client}


class _TimedLoader:
    """A module's own loader, its create/exec steps timed as the phase "import"."""

    def __init__(self, loader, spans, patch):
        self._loader = loader
        self._spans = spans
        self._patch = patch

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        if create is None:
            return None
        entered = self._spans.enter("import")
        try:
            return create(spec)
        finally:
            if entered:
                self._spans.leave(counted=False)  # a module is counted once, at exec_module

    def exec_module(self, module):
        entered = self._spans.enter("import")
        try:
            self._loader.exec_module(module)
        finally:
            if entered:
                self._spans.leave()
        if self._patch is not None:
            self._patch(module)


class _TimedImports:
    """A meta-path finder that hands every other finder's spec back with a timed loader."""

    def __init__(self, spans):
        self._spans = spans
        self._patches = _patches(spans)

    def find_spec(self, name, path=None, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    # a stand-in with the loader's whole interface (attributes are delegated)
                    spec.loader = _TimedLoader(spec.loader, self._spans, self._patches.get(name))  # type: ignore[assignment]
                return spec
        return None


class Context:
    """What Lambda passes as ``context``."""

    def __init__(self, timeout_ms):
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "probe"
        self._deadline = time.time() + timeout_ms / 1000

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


def main():
    spans = Spans() if os.environ.pop("PROBE_PHASES", "") == "1" else None
    if spans is not None:
        sys.meta_path.insert(0, _TimedImports(spans))
    results = os.fdopen(int(os.environ.pop("PROBE_RESULT_FD")), "w")
    sys.path[:0] = json.loads(os.environ.pop("PROBE_SYS_PATH"))
    event = json.loads(os.environ.pop("PROBE_EVENT"))
    timeout_ms = int(os.environ.pop("PROBE_TIMEOUT_MS"))
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)

    started = _perf()
    handler = getattr(importlib.import_module(module_name), function_name)
    imported = _perf()
    init_ms = dict(spans.ms) if spans else {}
    result = handler(event, Context(timeout_ms))
    done = _perf()
    sys.stdout.flush()
    report = {"started_at": STARTED_AT, "init_ms": (imported - started) * 1000,
              "invoke_ms": (done - imported) * 1000, "result": result, "modules": len(sys.modules)}
    if spans is not None:
        total = {k: round(v, 3) for k, v in spans.ms.items()}
        report["phases_init_ms"] = {k: round(v, 3) for k, v in init_ms.items()}
        report["phases_ms"] = total
        report["phase_calls"] = spans.count
    results.write(json.dumps(report, default=str))
    results.close()


if __name__ == "__main__":
    main()
