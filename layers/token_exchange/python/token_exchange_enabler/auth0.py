"""A small Auth0 client on ``requests``: the client-credentials token grant and the few
Management API calls this project makes.

Why not Auth0's SDK: the project needs control the SDK does not give — waiting for
``x-ratelimit-reset`` only when the wait fits in the Lambda's remaining time, refreshing a
shared token on a 401 exactly once, typed errors by ``errorCode`` — and needs a small import
for cold starts. Retries of 5xx and connection errors are urllib3's ``Retry`` (capped, jittered
backoff); only the rate-limit wait is written here, because no library knows the deadline.

Safety properties:
- TLS always (plain http only for loopback, checked in :mod:`config`); connect/read timeouts.
- Every path parameter is percent-encoded with ``safe=""``: an id containing ``/``, ``..``,
  ``?`` or ``#`` cannot change which URL is called.
- Tokens and client secrets never appear in logs, exceptions or reprs.
- A POST is never retried after it may have reached Auth0 (a 5xx or a read timeout could mean
  the client was created); the caller looks before it creates again.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .token_cache import Token

USER_AGENT = f"token-exchange-enabler/{__version__}"
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
_MAX_MESSAGE = 300


# --------------------------------------------------------------------------- errors


class Auth0Error(Exception):
    """An error answer from Auth0 (or no answer at all).

    ``retryable`` tells the caller whether trying again later may succeed; ``configuration``
    marks errors that only an operator can fix (retrying them only burns rate limit).
    """

    retryable = False
    configuration = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        error_code: str | None = None,
        operation: str = "",
    ):
        self.status = status
        self.error = error
        self.error_code = error_code
        self.operation = operation
        self.message = _clip(message)
        prefix = f"{operation}: " if operation else ""
        code = f" [{error_code}]" if error_code else ""
        status_text = f"{status} " if status else ""
        super().__init__(f"{prefix}{status_text}{error or ''}{code}: {self.message}".strip())


class BadRequest(Auth0Error):
    """400: Auth0 rejected the request; sending it again will not help."""


class Unauthorized(Auth0Error):
    """401: the token was rejected (expired or revoked)."""

    retryable = True


class Forbidden(Auth0Error):
    """403: the Auth0 application lacks a scope (``insufficient_scope``) or is not allowed."""

    configuration = True


class NotFound(Auth0Error):
    """404: the object does not exist (e.g. the API was deleted after it was created)."""


class Conflict(Auth0Error):
    """409: the object already exists."""


class InvalidId(BadRequest):
    """An id that cannot name an object (empty, ``.`` or ``..``): refused before any request."""


class RateLimited(Auth0Error):
    """429 that could not be waited out within the time left; ``retry_after`` in seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServerError(Auth0Error):
    """5xx after the retries."""

    retryable = True


class Unreachable(Auth0Error):
    """No answer: connection refused or reset, DNS, TLS or a timeout, after the retries."""

    retryable = True


class CredentialsRejected(Auth0Error):
    """The token endpoint refused the client credentials or the audience."""

    configuration = True


_BY_STATUS: dict[int, type[Auth0Error]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


# --------------------------------------------------------------------------- plumbing


@dataclass
class CallStats:
    """Counters of what this process sent to Auth0 (for metrics, the demo and benchmarks)."""

    management_calls: int = 0
    token_requests: int = 0
    rate_limited: int = 0
    rate_limit_wait_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


def new_session(*, retries: int = 3, pool_size: int = 10) -> requests.Session:
    """A Session whose adapter retries connection errors and 5xx with capped, jittered backoff.

    POST is not in ``allowed_methods``: a read error or 5xx after a POST is raised, not resent,
    because the object may have been created. Connection errors (nothing was sent) are retried
    for every method.
    """
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=0.25,
        backoff_max=2.0,
        backoff_jitter=0.25,
        status_forcelist=RETRYABLE_STATUSES,
        allowed_methods=frozenset({"GET", "PATCH", "PUT", "DELETE", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False  # no proxies or netrc credentials picked up from the environment
    return session


def segment(value: str) -> str:
    """Percent-encode one path segment; nothing in ``value`` can leave the segment.

    ``quote`` leaves ``.`` as it is (an unreserved character) and HTTP clients resolve dot
    segments (requests sends ``.../resource-servers/..`` as ``/api/v2/``), so an empty, ``.`` or
    ``..`` value would name another resource: it raises ValueError. Encoding the dots would not
    help: a server that normalises percent-encoding reads ``%2E%2E`` as ``..`` (RFC 3986, 6.2.2.2).
    A value that is not valid Unicode (a lone surrogate) cannot be encoded: ValueError too.
    """
    if value in ("", ".", ".."):
        raise ValueError(f"{value!r} cannot be an id in a URL path")
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:
        raise ValueError(f"{repr(value)[:60]} cannot be an id in a URL path: it is not valid Unicode") from None


def _clip(text: object) -> str:
    text = str(text or "")
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _error_from_response(response: requests.Response, operation: str) -> Auth0Error:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, Mapping):
        body = {}
    status = response.status_code
    error = body.get("error") or response.reason or ""
    message = body.get("message") or body.get("error_description") or ""
    error_code = body.get("errorCode")
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else Auth0Error)
    return kind(message, status=status, error=str(error), error_code=error_code, operation=operation)


def _rate_limit_wait(response: requests.Response, now: float) -> float:
    """Seconds until Auth0's bucket has room for one more request.

    ``Retry-After`` (the token endpoint) is taken as given. The Management API sends
    ``x-ratelimit-reset``: the Unix second at which the bucket is full again. Waiting for a
    full bucket would leave capacity unused, so the wait is the time one token takes to come
    back: (time until full) / (tokens missing). The header is rounded up to a whole second, so
    half a second is taken off on average before dividing.
    """
    headers = response.headers
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    try:
        until_full = float(headers["x-ratelimit-reset"]) - now
    except (KeyError, ValueError):
        return 1.0
    try:
        missing = int(headers["x-ratelimit-limit"]) - int(headers.get("x-ratelimit-remaining", 0))
    except (KeyError, ValueError):
        return max(0.0, until_full)
    if missing <= 0:
        return 0.0
    return min(max(0.0, until_full), max(0.05, (until_full - 0.5) / missing))


def _backoff_after_429(response: requests.Response, now: float, attempt: int) -> float:
    """How long to wait after the ``attempt``-th 429 in a row for one call ("full jitter").

    Instances share the tenant's bucket: if every one waited exactly until the next token, all
    but one would meet another 429. The wait is drawn between the soonest moment a token is back
    and a ceiling that doubles with each 429 in a row, capped at the time the bucket is full.
    """
    soonest = _rate_limit_wait(response, now)
    try:
        until_full = max(soonest, float(response.headers["x-ratelimit-reset"]) - now)
    except (KeyError, ValueError):
        until_full = soonest
    ceiling = min(until_full, max(soonest, 0.05) * 2 ** min(attempt + 1, 6))
    return random.uniform(soonest, max(soonest, ceiling))  # noqa: S311 - jitter, not cryptography


class Deadline:
    """Time left in the current invocation (Lambda's ``get_remaining_time_in_millis``)."""

    def __init__(self, remaining_seconds: Callable[[], float] | None = None, *, margin: float = 5.0):
        self._remaining = remaining_seconds
        self.margin = margin

    @classmethod
    def from_context(cls, context: Any, *, margin: float = 5.0) -> Deadline:
        getter = getattr(context, "get_remaining_time_in_millis", None)
        if getter is None:
            return cls(None, margin=margin)
        return cls(lambda: getter() / 1000.0, margin=margin)

    def allows_wait(self, seconds: float) -> bool:
        """Whether sleeping ``seconds`` still leaves ``margin`` seconds to finish the work."""
        if self._remaining is None:
            return seconds <= 60.0
        return seconds + self.margin < self._remaining()


# --------------------------------------------------------------------------- token grant


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def from_secret(cls, value: Any) -> ClientCredentials:
        """From the credentials secret's JSON; a clear error names what is missing, never values."""
        if not isinstance(value, Mapping):
            raise ValueError("the Auth0 credentials secret must be a JSON object with client_id and client_secret")
        missing = [k for k in ("client_id", "client_secret") if not isinstance(value.get(k), str) or not value[k]]
        if missing:
            raise ValueError(f"the Auth0 credentials secret lacks {', '.join(missing)}")
        return cls(client_id=value["client_id"], client_secret=value["client_secret"])


class TokenEndpoint:
    """``POST /oauth/token`` with the client-credentials grant for the Management API audience."""

    def __init__(
        self,
        *,
        base_url: str,
        audience: str,
        credentials: Callable[[], ClientCredentials],
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        stats: CallStats | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_rate_limit_waits: int = 3,
    ):
        self._url = base_url.rstrip("/") + "/oauth/token"
        self._audience = audience
        self._credentials = credentials
        self._session = session or new_session()
        self._timeout = timeout
        self.stats = stats or CallStats()
        self._clock = clock
        self._sleep = sleep
        self._max_waits = max_rate_limit_waits

    def fetch(self) -> Token:
        creds = self._credentials()
        payload = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "audience": self._audience,
        }
        operation = "POST /oauth/token"
        for attempt in range(self._max_waits + 1):
            self.stats.add(token_requests=1)
            try:
                response = self._session.post(self._url, json=payload, timeout=self._timeout)
            except requests.RequestException as exc:
                raise Unreachable(type(exc).__name__, operation=operation) from None
            if response.status_code == 429 and attempt < self._max_waits:
                wait = min(_rate_limit_wait(response, self._clock()), 10.0)
                self.stats.add(rate_limited=1, rate_limit_wait_seconds=wait)
                self._sleep(wait + random.uniform(0, 0.25))  # noqa: S311 - jitter, not cryptography
                continue
            break
        if response.status_code in (401, 403):
            err = _error_from_response(response, operation)
            raise CredentialsRejected(
                f"Auth0 refused the client credentials or audience {self._audience!r}: {err.message}",
                status=response.status_code,
                error=err.error,
                error_code=err.error_code,
                operation=operation,
            )
        if response.status_code == 429:
            raise RateLimited(
                "token endpoint rate limit", retry_after=_rate_limit_wait(response, self._clock()),
                status=429, operation=operation,
            )
        if not response.ok:
            raise _error_from_response(response, operation)
        try:
            body = response.json()
            access_token = body["access_token"]
            expires_in = float(body.get("expires_in", 86400))
        except (ValueError, KeyError, TypeError):
            raise ServerError("token endpoint answered without an access_token", operation=operation) from None
        if not isinstance(access_token, str) or not access_token:
            raise ServerError("token endpoint answered without an access_token", operation=operation)
        return Token(
            access_token=access_token,
            expires_at=self._clock() + expires_in,
            scope=str(body.get("scope", "")),
            token_type=str(body.get("token_type", "Bearer")),
        )


# --------------------------------------------------------------------------- Management API


class TokenSource:
    """What the Management API client needs from the token cache (see :mod:`token_cache`)."""

    def get(self) -> Token: ...  # pragma: no cover - protocol

    def invalidate(self, token: Token) -> None: ...  # pragma: no cover - protocol


class ManagementApi:
    """The Management API calls this project makes, with typed errors and rate-limit handling."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        stats: CallStats | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        # A 429 is waited out while the wait fits in the invocation's time left (``deadline``); the
        # count only bounds callers without one. Instances share the tenant's bucket, so one call
        # can meet several 429s in a row: a count of 5 sent records back to the queue (a visibility
        # timeout later) with time left to wait, which cost a burst's drain ~25% (see bench/).
        max_rate_limit_waits: int = 100,
    ):
        self._base = base_url.rstrip("/") + "/api/v2"
        self._tokens = tokens
        self._session = session or new_session()
        self._timeout = timeout
        self.stats = stats or CallStats()
        self._clock = clock
        self._sleep = sleep
        self._max_waits = max_rate_limit_waits
        self.deadline = Deadline()
        self._not_before = 0.0  # when the bucket is known to be empty: wait for its refill
        self._pace_lock = threading.Lock()

    # ---- resource servers

    def get_resource_server(self, id_or_identifier: str) -> dict:
        return self._call("GET", "/resource-servers/{id}", id_or_identifier)

    def patch_resource_server(self, api_id: str, body: Mapping) -> dict:
        return self._call("PATCH", "/resource-servers/{id}", api_id, json=body)

    def iter_resource_servers(self, *, per_page: int = 100) -> Iterator[dict]:
        """Every resource server, page by page."""
        return self._pages("/resource-servers", "resource_servers", {}, per_page)

    # ---- clients

    def get_client(self, client_id: str) -> dict:
        return self._call("GET", "/clients/{id}", client_id)

    def iter_clients(self, *, app_type: str | None = None, fields: str | None = None, per_page: int = 100
                     ) -> Iterator[dict]:
        params: dict[str, Any] = {}
        if app_type:
            params["app_type"] = app_type
        if fields:
            params.update(fields=fields, include_fields="true")
        return self._pages("/clients", "clients", params, per_page)

    def create_client(self, body: Mapping) -> dict:
        return self._call("POST", "/clients", json=body)

    def patch_client(self, client_id: str, body: Mapping) -> dict:
        return self._call("PATCH", "/clients/{id}", client_id, json=body)

    def create_client_grant(self, body: Mapping) -> dict:
        return self._call("POST", "/client-grants", json=body)

    def _pages(self, route: str, key: str, params: Mapping[str, Any], per_page: int) -> Iterator[dict]:
        """Page-based listing (``page``/``per_page``/``include_totals``); the body is the
        ``{start, limit, total, <key>}`` object or, from older tenants, a bare array."""
        page = 0
        while True:
            body = self._call("GET", route, params={**params, "page": page, "per_page": per_page,
                                                      "include_totals": "true"})
            items = body.get(key, []) if isinstance(body, Mapping) else body
            yield from items
            total = body.get("total") if isinstance(body, Mapping) else None
            page += 1
            if len(items) < per_page or (total is not None and page * per_page >= total):
                return

    # ---- the one place requests are sent

    def _call(self, method: str, route: str, path_id: str | None = None, *, json: Any = None,
              params: Mapping[str, Any] | None = None) -> Any:
        operation = f"{method} /api/v2{route}"
        try:
            url = self._base + (route.replace("{id}", segment(path_id)) if path_id is not None else route)
        except ValueError as error:
            raise InvalidId(str(error), error="invalid_id", operation=operation) from None
        refreshed = False
        waits = 0
        while True:
            self._pace()
            token = self._tokens.get()
            headers = {"Authorization": f"Bearer {token.access_token}"}
            self.stats.add(management_calls=1)
            try:
                response = self._session.request(
                    method, url, json=json, params=params, headers=headers, timeout=self._timeout
                )
            except requests.RequestException as exc:
                raise Unreachable(type(exc).__name__, operation=operation) from None
            self._note_rate_limit(response)

            if response.status_code == 401 and not refreshed:
                self._tokens.invalidate(token)  # an expired or revoked token: get a fresh one, once
                refreshed = True
                continue
            if response.status_code == 429:
                wait = _backoff_after_429(response, self._clock(), waits)
                self.stats.add(rate_limited=1)
                if waits < self._max_waits and self.deadline.allows_wait(wait):
                    waits += 1
                    self.stats.add(rate_limit_wait_seconds=wait)
                    self._sleep(wait)
                    continue
                raise RateLimited("rate limit reached and the wait does not fit in the time left",
                                  retry_after=wait, status=429, error="Too Many Requests",
                                  error_code="too_many_requests", operation=operation)
            if not response.ok:
                raise _error_from_response(response, operation)
            if response.status_code == 204 or not response.content:
                return {}
            try:
                return response.json()
            except ValueError:
                raise ServerError("Auth0 answered with a body that is not JSON", status=response.status_code,
                                  operation=operation) from None

    def _note_rate_limit(self, response: requests.Response) -> None:
        """After the bucket's last token, let the next call wait for one to come back (no 429)."""
        remaining = response.headers.get("x-ratelimit-remaining")
        if remaining is None or response.status_code == 429:
            return
        try:
            empty = int(remaining) <= 0
        except ValueError:
            return
        if empty:
            now = self._clock()
            with self._pace_lock:
                self._not_before = max(self._not_before, now + _rate_limit_wait(response, now))

    def _pace(self) -> None:
        with self._pace_lock:
            wait = self._not_before - self._clock()
        if wait > 0 and self.deadline.allows_wait(wait):
            self.stats.add(rate_limit_wait_seconds=wait)
            self._sleep(wait)
