"""A fault-injecting HTTP proxy in front of the local AWS (moto's server).

Point a process's boto3 at :attr:`AwsFaultProxy.endpoint_url` (``AWS_ENDPOINT_URL``, or a
service's own ``AWS_ENDPOINT_URL_<SERVICE>``) and every AWS call goes through the proxy, which
forwards it to moto unchanged, except the calls an :class:`AwsFault` selects:

- ``"throttle"``: answer ``400 {"__type": "ThrottlingException"}`` as AWS's JSON protocol does
  (botocore retries it with backoff, then raises ``ClientError`` code ``ThrottlingException``);
- ``"error"``: answer ``status`` with ``{"__type": code}`` (e.g. 500 ``InternalServiceError``,
  400 ``AccessDeniedException``);
- ``"drop"``: close the connection without an answer (botocore: ``ConnectionClosedError``);
- ``"latency"``: wait ``delay`` seconds, then forward (with a client read timeout shorter than the
  delay, botocore raises ``ReadTimeoutError``).

A fault selects calls by ``X-Amz-Target`` (the JSON protocol's operation, e.g.
``secretsmanager.GetSecretValue``; a value ending in ``.`` or ``.*`` matches a whole service, e.g.
``secretsmanager.``) and optionally by a substring of the request body (e.g. a secret's name), and
applies ``times`` times (``None``: until :meth:`AwsFaultProxy.clear`); the first matching fault in
order of injection applies. :attr:`AwsFaultProxy.calls` and :attr:`AwsFaultProxy.faulted` count
requests per target.

Only for the JSON-protocol services (Secrets Manager, DynamoDB, SQS with botocore >= 1.31, ...);
calls without ``X-Amz-Target`` are always forwarded. Example::

    with AwsFaultProxy(upstream=aws.endpoint_url) as proxy:
        proxy.inject(AwsFault("throttle", target="secretsmanager.GetSecretValue", times=3))
        env = {"AWS_ENDPOINT_URL": proxy.endpoint_url}
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULT_KINDS = ("throttle", "error", "drop", "latency")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "content-length"}


@dataclass
class AwsFault:
    """One injected fault; see the module docstring for the kinds."""

    kind: str
    target: str
    times: int | None = 1
    body_contains: str | None = None
    status: int = 500
    code: str = "InternalServiceError"
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or None for 'until cleared'")
        if self.kind == "throttle":
            self.status, self.code = 400, "ThrottlingException"

    def matches(self, target: str, body: bytes) -> bool:
        wanted = self.target.removesuffix("*")
        hit = target.startswith(wanted) if wanted.endswith(".") else target == wanted
        return hit and (self.body_contains is None or self.body_contains.encode() in body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        target = self.headers.get("X-Amz-Target", "")
        fault = self.server.proxy.take(target, body)
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault is not None and fault.kind in ("throttle", "error"):
            message = "Rate exceeded" if fault.kind == "throttle" else "injected fault"
            self._send(fault.status, {"Content-Type": "application/x-amz-json-1.1",
                                      "x-amzn-ErrorType": fault.code, "x-amzn-RequestId": "fault-injected"},
                       json.dumps({"__type": fault.code, "message": message}).encode())
            return
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.delay)
        try:
            status, headers, payload = self.server.proxy.forward(self.command, self.path, self.headers, body)
        except OSError as error:  # moto unreachable: answer like a gateway
            self._send(502, {"Content-Type": "text/plain"}, f"upstream error: {type(error).__name__}".encode())
            return
        self._send(status, headers, payload)

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's signature
        pass


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], proxy: AwsFaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        pass  # a client that went away, or a dropped connection


@dataclass
class AwsFaultProxy:
    """The proxy; ``upstream`` (moto's endpoint URL) may be set after it starts."""

    upstream: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    calls: Counter = field(default_factory=Counter)
    faulted: Counter = field(default_factory=Counter)
    _faults: list[AwsFault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _ProxyServer | None = None
    _thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> str:
        if self._server is None:
            self._server = _ProxyServer((self.host, self.port), self)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="aws-fault-proxy", daemon=True)
            self._thread.start()
        return self.endpoint_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> AwsFaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running: call start() first")
        return f"http://{self.host}:{self._server.server_port}"

    # ---- faults

    def inject(self, fault: AwsFault) -> AwsFault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def active(self) -> list[AwsFault]:
        with self._lock:
            return list(self._faults)

    def take(self, target: str, body: bytes) -> AwsFault | None:
        """The fault that applies to this request, if any, counting it down (and the request)."""
        with self._lock:
            self.calls[target or "(no target)"] += 1
            for fault in self._faults:
                if fault.matches(target, body):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    self.faulted[target] += 1
                    return fault
        return None

    # ---- forwarding

    def forward(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if not self.upstream:
            raise ConnectionRefusedError("no upstream set")
        parts = urlsplit(self.upstream)
        if not parts.hostname:
            raise ConnectionRefusedError(f"upstream {self.upstream!r} names no host")
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP and k.lower() != "host"}
            sent["Host"] = parts.netloc
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            payload = response.read()
            answer = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            return response.status, answer, payload
        finally:
            connection.close()
