"""The HTTP transport: a standard-library ``ThreadingHTTPServer`` on a loopback port.

HTTP/1.1 with keep-alive (clients such as ``requests`` sessions and ``httpx`` reuse connections),
one daemon thread per connection, and a fast, complete stop: the accept loop polls every 10 ms, and
connections still open when the server stops are shut down, so a pooled connection can never reach
a stopped emulator.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .app import EmulatorApp, HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.01


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "auth0-emulator"
    server: EmulatorHttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes: without this, Nagle's algorithm meets the client's
        # delayed ACK and each response waits ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return self.server_version

    def _handle(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return
        body = self.rfile.read(length) if length > 0 else b""
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=self.headers,
            body=body,
            client_ip=self.client_address[0],
        )
        try:
            response = self.server.app.handle(request)
        except Exception:  # noqa: BLE001 - answer like a real server instead of dropping the connection
            logger.exception("emulator failed on %s %s", self.command, self.path)
            response = HttpResponse(
                500,
                {"statusCode": 500, "error": "Internal Server Error", "message": "Internal Server Error"},
                {"Content-Type": "application/json; charset=utf-8"},
            )
        if response.drop:
            self._drop()
            return
        payload = b"" if response.body is None else json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _drop(self) -> None:
        """Close the connection without answering (the ``drop`` fault)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = _handle

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's signature
        logger.debug("%s - %s", self.address_string(), format % args)


class EmulatorHttpServer(ThreadingHTTPServer):
    """A threading HTTP server that remembers its open connections so it can close them on stop."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's default of 5 makes bursts of connections wait for SYN retries

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        # A client that went away, or a connection closed by stop(): not worth a traceback on stderr.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut down every connection still open (idle keep-alive ones included)."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ServerThread:
    """Runs an :class:`EmulatorHttpServer` in a daemon thread."""

    def __init__(self, app: EmulatorApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = EmulatorHttpServer((host, port), app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"auth0-emulator-{self.port}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return self._server.server_address[1]

    @property
    def host(self) -> str:
        """The address the server is bound to."""
        return str(self._server.server_address[0])

    def start(self) -> None:
        """Start serving."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close every open connection and release the port."""
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=1)
