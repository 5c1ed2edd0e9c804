"""A small Auth0 client on ``requests``: the client-credentials token grant and the few
Management API calls this project makes.

Why not Auth0's SDK: the project needs control the SDK does not give — waiting for
``x-ratelimit-reset`` only when the wait fits in the Lambda's remaining time, refreshing a
shared token on a 401 exactly once, typed errors by ``errorCode`` — and needs a small import
for cold starts. Retries of 5xx and connection errors are urllib3's ``Retry`` (capped, jittered
backoff); only the rate-limit wait is written here, because no library knows the deadline.

Rate limits (429), on the Management API and the token endpoint alike: every wait is at least
``Retry-After`` when Auth0 sends one, else one token's refill time from the ``x-ratelimit-*``
headers, else (headers missing, unparsable, or a reset already past: clock skew) 1 s, and grows
with jitter on each 429 in a row. A wait that does not fit in the time left (:class:`Deadline`)
is not made: :class:`RateLimited` (retryable) is raised instead. The token endpoint uses its own
``deadline`` when set and, while it fetches for a Management API call, that call's deadline.

Tokens: a 401 drops the token and retries once with a fresh one (expired or revoked); so does a
403 ``insufficient_scope`` (an operator may have granted the scope since the token was issued),
and so does a token that cannot even be sent (not a valid header value): the request is refused
before it leaves, the token dropped, a fresh one fetched once, and :class:`UnusableToken` raised
if that one cannot be sent either.

Safety properties:
- TLS always (plain http only for loopback, checked in :mod:`config`); connect/read timeouts.
- Every path parameter is percent-encoded with ``safe=""``: an id containing ``/``, ``..``,
  ``?`` or ``#`` cannot change which URL is called.
- Tokens and client secrets never appear in logs, exceptions or reprs.
- A POST is never retried after it may have reached Auth0 (a 5xx or a read timeout could mean
  the client was created); the caller looks before it creates again.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .token_cache import TimeLeft, Token

USER_AGENT = f"token-exchange-enabler/{__version__}"
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
_MAX_MESSAGE = 300

# 429 waits (seconds). The shortest the headers may ask for (one token of a fast bucket), the
# base when they tell nothing usable, and the ceiling of the jittered growth in that case.
MIN_RATE_LIMIT_WAIT = 0.05
FALLBACK_RATE_LIMIT_WAIT = 1.0
_MAX_BLIND_CEILING = 30.0
_MAX_DOUBLINGS = 6

# What an access token may contain to be sent as ``Authorization: Bearer <token>``: visible ASCII
# only (RFC 6750's b64token is a subset). Anything else (a line break, a space, a non-ASCII
# character) makes requests or http.client refuse the header before anything is sent.
_SENDABLE_TOKEN = re.compile(r"[\x21-\x7e]+")


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


class UnusableToken(ServerError):
    """An access token that cannot be sent in an ``Authorization`` header (e.g. it holds a line
    break), from the token endpoint or a cache, even after a fresh one was fetched."""


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
    rate_limited: int = 0  # 429 answers, from the Management API and the token endpoint
    rate_limit_wait_seconds: float = 0.0  # waits after a 429, and before a call that would empty the bucket
    paced: int = 0  # calls held back to keep the tenant's reserve (MANAGEMENT_API_RATE_SHARE)
    scope_refreshes: int = 0  # tokens dropped and fetched again after a 403 insufficient_scope
    unusable_tokens: int = 0  # tokens dropped because they could not be sent at all
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


class HttpSession(Protocol):
    """What the clients below send requests through: a ``requests.Session`` (see :func:`new_session`),
    or anything that answers like one (e.g. the benchmark's in-memory tenant)."""

    def post(self, url: str, *, json: Any = ..., timeout: Any = ...) -> requests.Response: ...

    def request(self, method: str, url: str, *, json: Any = ..., params: Any = ..., headers: Any = ...,
                timeout: Any = ...) -> requests.Response: ...


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


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); None when absent, unparsable or
    not in the future."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _until_reset(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until ``x-ratelimit-reset``; None when absent, unparsable or already past."""
    try:
        reset = float(headers["x-ratelimit-reset"])
    except (KeyError, ValueError, TypeError):
        return None
    until = reset - now
    return until if math.isfinite(until) and until > 0 else None


_PACING_HEADROOM = 5.0  # tokens; about the worker's MaximumConcurrency (see _reserve_wait)


def _reserve_wait(headers: Mapping[str, str], now: float, share: float) -> float:
    """Seconds to hold the next Management API call so that the tenant's bucket keeps
    ``(1 - share)`` of its tokens for the tenant's other clients (0: go ahead).

    Written by hand because it reads Auth0's own ``x-ratelimit-*`` headers: every instance sees the
    same shared bucket in them, so no coordination beyond the headers is needed. Above the reserve
    the product spends freely (a burst of new APIs drains at the tenant's rate when nobody else
    needs it); at or below it, it waits for as many tokens to come back as it would take to stay
    above the reserve after one more call. The refill rate is read off the headers like
    :func:`_rate_limit_wait` does: (time until full) / (tokens missing). Headers that say nothing
    usable hold a call only when the bucket is empty.

    The reserve is never below a small headroom (a tenth of the bucket, at most
    :data:`_PACING_HEADROOM` tokens), even with a share of 1: instances that read "one token
    left" at the same moment would otherwise all spend it, and all but one meet a 429 (measured:
    0.69 429s per served call for 300 new APIs on the Enterprise bucket with no headroom, 0 with
    it; see bench/results.md).
    """
    try:
        limit = int(headers["x-ratelimit-limit"])
        remaining = int(headers["x-ratelimit-remaining"])
    except (KeyError, ValueError, TypeError):
        return 0.0
    reserve = max((1.0 - share) * limit, min(_PACING_HEADROOM, 0.1 * limit))
    if limit <= 0 or remaining > reserve:
        return 0.0
    until_full = _until_reset(headers, now)
    missing = limit - remaining
    if until_full is None or missing <= 0:
        return FALLBACK_RATE_LIMIT_WAIT if remaining <= 0 else 0.0
    per_token = max(MIN_RATE_LIMIT_WAIT, (until_full - 0.5) / missing)
    return per_token * (math.floor(reserve - remaining) + 1)


def _rate_limit_wait(response: requests.Response, now: float) -> float:
    """Seconds until Auth0's bucket has room for one more request; never less than
    :data:`MIN_RATE_LIMIT_WAIT`.

    ``Retry-After`` (the token endpoint) is honoured as given. The Management API sends
    ``x-ratelimit-reset``: the Unix second at which the bucket is full again. Waiting for a
    full bucket would leave capacity unused, so the wait is the time one token takes to come
    back: (time until full) / (tokens missing). The header is rounded up to a whole second, so
    half a second is taken off on average before dividing. Headers that tell nothing usable
    (absent, unparsable, contradictory, or a reset already past: clock skew) give
    :data:`FALLBACK_RATE_LIMIT_WAIT`.
    """
    headers = response.headers
    retry_after = _retry_after_seconds(headers.get("Retry-After"), now)
    if retry_after is not None:
        return max(MIN_RATE_LIMIT_WAIT, retry_after)
    until_full = _until_reset(headers, now)
    if until_full is None:
        return FALLBACK_RATE_LIMIT_WAIT
    try:
        missing = int(headers["x-ratelimit-limit"]) - int(headers.get("x-ratelimit-remaining", 0))
    except (KeyError, ValueError):
        return max(MIN_RATE_LIMIT_WAIT, until_full)
    if missing <= 0:  # a full bucket that answers 429 contradicts itself
        return FALLBACK_RATE_LIMIT_WAIT
    return max(MIN_RATE_LIMIT_WAIT, min(until_full, (until_full - 0.5) / missing))


def _backoff_after_429(response: requests.Response, now: float, attempt: int) -> float:
    """How long to wait after the ``attempt``-th 429 in a row for one call ("full jitter").

    Instances share the tenant's bucket: if every one waited exactly until the next token, all
    but one would meet another 429. The wait is drawn between the soonest moment a token is back
    (:func:`_rate_limit_wait`, never 0) and a ceiling that doubles with each 429 in a row, capped
    at the time the bucket is full when the headers say it, else at 30 s. A ``Retry-After``
    without a bucket reset names the moment itself: the wait is spread over a quarter more.
    """
    soonest = _rate_limit_wait(response, now)
    until_full = _until_reset(response.headers, now)
    if until_full is None and _retry_after_seconds(response.headers.get("Retry-After"), now) is not None:
        ceiling = soonest * 1.25
    else:
        ceiling = soonest * 2 ** min(attempt + 1, _MAX_DOUBLINGS)
        ceiling = min(ceiling, until_full) if until_full is not None else min(ceiling, _MAX_BLIND_CEILING)
    return random.uniform(soonest, max(soonest, ceiling))  # noqa: S311 - jitter, not cryptography


def _sendable(access_token: str) -> bool:
    """Whether ``access_token`` can be sent as a bearer token (see ``_SENDABLE_TOKEN``)."""
    return _SENDABLE_TOKEN.fullmatch(access_token) is not None


class Deadline:
    """Time left in the current invocation (Lambda's ``get_remaining_time_in_millis``).

    Without ``remaining_seconds`` there is no deadline: a single wait of up to 60 s is allowed.
    """

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

    def time_left(self) -> float | None:
        """Seconds that may still be spent waiting (``margin`` kept back; negative once past);
        None without a deadline. What :class:`~token_exchange_enabler.token_cache.TokenProvider`
        bounds its wait for another instance's refresh by."""
        if self._remaining is None:
            return None
        return self._remaining() - self.margin

    def fit(self, soonest: float, wanted: float) -> float | None:
        """``wanted`` seconds if that wait fits, else ``soonest`` if that fits, else None."""
        if self.allows_wait(max(soonest, wanted)):
            return max(soonest, wanted)
        return soonest if self.allows_wait(soonest) else None


# The deadline of the Management API call in progress in this thread (context): a token fetched
# for that call waits out the token endpoint's 429s only within it. See TokenEndpoint.deadline.
_CALL_DEADLINE: ContextVar[Deadline | None] = ContextVar("token_exchange_enabler_call_deadline", default=None)


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
    """``POST /oauth/token`` with the client-credentials grant for the Management API audience.

    A 429 is waited out (at most ``max_rate_limit_waits`` times) only while the wait fits in the
    time left: in ``deadline`` when set (assign it per invocation, as ``ManagementApi.deadline``)
    and in the deadline of the Management API call the token is fetched for, if any; with
    neither, a single wait may last up to 60 s. Otherwise :class:`RateLimited` is raised.
    """

    def __init__(
        self,
        *,
        base_url: str,
        audience: str,
        credentials: Callable[[], ClientCredentials],
        session: HttpSession | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        stats: CallStats | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_rate_limit_waits: int = 3,
        deadline: Deadline | None = None,
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
        self.deadline: Deadline | None = deadline

    def _fit(self, soonest: float, wanted: float) -> float | None:
        """The wait to make after a 429 (see :meth:`Deadline.fit`), within every deadline known."""
        deadlines = [d for d in (self.deadline, _CALL_DEADLINE.get()) if d is not None] or [Deadline()]
        wait: float | None = max(soonest, wanted)
        for deadline in deadlines:
            if wait is None:
                break
            wait = deadline.fit(soonest, wait)
        return wait

    def fetch(self) -> Token:
        creds = self._credentials()
        payload = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "audience": self._audience,
        }
        operation = "POST /oauth/token"
        attempt = 0
        while True:
            self.stats.add(token_requests=1)
            try:
                response = self._session.post(self._url, json=payload, timeout=self._timeout)
            except requests.RequestException as exc:
                raise Unreachable(type(exc).__name__, operation=operation) from None
            if response.status_code != 429:
                break
            self.stats.add(rate_limited=1)
            now = self._clock()
            soonest = _rate_limit_wait(response, now)
            wait = (self._fit(soonest, _backoff_after_429(response, now, attempt))
                    if attempt < self._max_waits else None)
            if wait is None:
                raise RateLimited(
                    "token endpoint rate limit reached and the wait does not fit in the time left",
                    retry_after=soonest, status=429, error="too_many_requests", operation=operation,
                )
            attempt += 1
            self.stats.add(rate_limit_wait_seconds=wait)
            self._sleep(wait)
        if response.status_code in (401, 403):
            err = _error_from_response(response, operation)
            raise CredentialsRejected(
                f"Auth0 refused the client credentials or audience {self._audience!r}: {err.message}",
                status=response.status_code,
                error=err.error,
                error_code=err.error_code,
                operation=operation,
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
        if not _sendable(access_token):
            raise UnusableToken(
                "token endpoint answered with an access_token that cannot be sent in an Authorization "
                "header (it holds whitespace, control or non-ASCII characters)",
                operation=operation,
            )
        return Token(
            access_token=access_token,
            expires_at=self._clock() + expires_in,
            scope=str(body.get("scope", "")),
            token_type=str(body.get("token_type", "Bearer")),
        )


# --------------------------------------------------------------------------- Management API


class TokenSource(Protocol):
    """What the Management API client needs from the token cache (see :mod:`token_cache`)."""

    def get(self) -> Token: ...  # pragma: no cover - protocol

    def invalidate(self, token: Token) -> None: ...  # pragma: no cover - protocol


class StaticToken:
    """A token given by the operator (``AUTH0_ADMIN_TOKEN``: setup, doctor, canary), not fetched.

    There is nothing to refresh: when Auth0 refuses it (expired, revoked, or without a scope),
    the error says so and the operator gets a new one. ``repr()`` never shows it.
    """

    def __init__(self, access_token: str, *, name: str = "AUTH0_ADMIN_TOKEN"):
        token = access_token.strip()
        if not token:
            raise ValueError(f"{name} is empty")
        if not _sendable(token):
            raise ValueError(f"{name} is not a token that can be sent (it holds spaces, control or "
                             "non-ASCII characters)")
        self._token = Token(access_token=token, expires_at=time.time() + 86400 * 365)  # unknown: never refreshed
        self.name = name

    def __repr__(self) -> str:
        return f"StaticToken(name={self.name!r})"

    def get(self) -> Token:
        return self._token

    def invalidate(self, token: Token) -> None:
        """Nothing to refresh: the next call sends the same token and meets the same answer."""


@runtime_checkable
class DeadlineAwareTokenSource(TokenSource, Protocol):
    """A token source that bounds its own waits by the caller's deadline (``TokenProvider``):
    ``ManagementApi.deadline = d`` hands ``d`` on to it."""

    deadline: TimeLeft | None


class ManagementApi:
    """The Management API calls this project makes, with typed errors and rate-limit handling."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        session: HttpSession | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        stats: CallStats | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        # A 429 is waited out while the wait fits in the invocation's time left (``deadline``); the
        # count only bounds callers without one. Instances share the tenant's bucket, so one call
        # can meet several 429s in a row: a count of 5 sent records back to the queue (a visibility
        # timeout later) with time left to wait, which cost a burst's drain ~25% (see bench/).
        max_rate_limit_waits: int = 100,
        # The share of the tenant's Management API bucket this client may use (see _reserve_wait);
        # 1.0: all of it (wait only before a call that would find the bucket empty).
        rate_share: float = 1.0,
    ):
        if not 0 < rate_share <= 1:
            raise ValueError("rate_share must be in (0, 1]")
        self._rate_share = rate_share
        self._base = base_url.rstrip("/") + "/api/v2"
        self._tokens = tokens
        self._session = session or new_session()
        self._timeout = timeout
        self.stats = stats or CallStats()
        self._clock = clock
        self._sleep = sleep
        self._max_waits = max_rate_limit_waits
        self._deadline = Deadline()
        self._not_before = 0.0  # when the bucket is known to be empty: wait for its refill
        self._pace_lock = threading.Lock()

    @property
    def deadline(self) -> Deadline:
        """The time left for the calls being made (per invocation); every 429 wait must fit in it.

        Assigning it also hands it to the token source when that takes one (``TokenProvider``:
        its wait for another instance's refresh), and a token fetched during a call waits out
        the token endpoint's 429s within it too (see :class:`TokenEndpoint`).
        """
        return self._deadline

    @deadline.setter
    def deadline(self, deadline: Deadline) -> None:
        self._deadline = deadline
        if isinstance(self._tokens, DeadlineAwareTokenSource):
            self._tokens.deadline = deadline

    # ---- resource servers

    def get_resource_server(self, id_or_identifier: str) -> dict[str, Any]:
        return self._call("GET", "/resource-servers/{id}", id_or_identifier)

    def patch_resource_server(self, api_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", "/resource-servers/{id}", api_id, json=body)

    def iter_resource_servers(self, *, per_page: int = 100) -> Iterator[dict[str, Any]]:
        """Every resource server, page by page."""
        return self._pages("/resource-servers", "resource_servers", {}, per_page)

    # ---- clients

    def get_client(self, client_id: str) -> dict[str, Any]:
        return self._call("GET", "/clients/{id}", client_id)

    def iter_clients(self, *, app_type: str | None = None, fields: str | None = None, per_page: int = 100
                     ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {}
        if app_type:
            params["app_type"] = app_type
        if fields:
            params.update(fields=fields, include_fields="true")
        return self._pages("/clients", "clients", params, per_page)

    def create_client(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/clients", json=body)

    def patch_client(self, client_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", "/clients/{id}", client_id, json=body)

    def rotate_client_secret(self, client_id: str) -> dict[str, Any]:
        """``POST /api/v2/clients/{id}/rotate-secret`` (scope ``update:client_keys``): the client with
        its new ``client_secret``. A POST: never resent after it may have reached Auth0."""
        return self._call("POST", "/clients/{id}/rotate-secret", client_id)

    def delete_client(self, client_id: str) -> None:
        self._call("DELETE", "/clients/{id}", client_id)

    # ---- resource servers an operator tool creates and deletes (the canary)

    def create_resource_server(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/resource-servers", json=body)

    def delete_resource_server(self, api_id: str) -> None:
        self._call("DELETE", "/resource-servers/{id}", api_id)

    # ---- log streams (setup and doctor; scopes read:/create:/update:log_streams)

    def list_log_streams(self) -> list[dict[str, Any]]:
        """``GET /api/v2/log-streams``: every log stream of the tenant (a bare array, not paged)."""
        body = self._call("GET", "/log-streams")
        return [stream for stream in body if isinstance(stream, dict)] if isinstance(body, list) else []

    def create_log_stream(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/log-streams", json=body)

    def update_log_stream(self, stream_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", "/log-streams/{id}", stream_id, json=body)

    # ---- client grants

    def create_client_grant(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/client-grants", json=body)

    def update_client_grant(self, grant_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", "/client-grants/{id}", grant_id, json=body)

    def delete_client_grant(self, grant_id: str) -> None:
        self._call("DELETE", "/client-grants/{id}", grant_id)

    def iter_client_grants(self, *, client_id: str | None = None, audience: str | None = None,
                           subject_type: str | None = None, per_page: int = 100) -> Iterator[dict[str, Any]]:
        """Client grants, filtered as ``GET /api/v2/client-grants`` allows, page by page."""
        params = {name: value for name, value in (("client_id", client_id), ("audience", audience),
                                                  ("subject_type", subject_type)) if value}
        return self._pages("/client-grants", "client_grants", params, per_page)

    def _pages(self, route: str, key: str, params: Mapping[str, Any], per_page: int) -> Iterator[dict[str, Any]]:
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
        refreshed = False  # after a 401
        scope_refreshed = False  # after a 403 insufficient_scope
        replaced_unsendable = False  # after a token that could not be sent
        waits = 0
        while True:
            self._pace()
            token = self._token()
            if not _sendable(token.access_token):
                self._drop_unsendable(token, operation, again=replaced_unsendable)
                replaced_unsendable = True
                continue
            headers = {"Authorization": f"Bearer {token.access_token}"}
            try:
                response = self._session.request(
                    method, url, json=json, params=params, headers=headers, timeout=self._timeout
                )
            except requests.exceptions.InvalidHeader:
                # Refused before anything was sent, and only the token varies among the headers
                # (a backstop: _sendable is meant to catch such a token first).
                self._drop_unsendable(token, operation, again=replaced_unsendable)
                replaced_unsendable = True
                continue
            except requests.RequestException as exc:
                self.stats.add(management_calls=1)
                raise Unreachable(type(exc).__name__, operation=operation) from None
            self.stats.add(management_calls=1)
            self._note_rate_limit(response)

            if response.status_code == 401 and not refreshed:
                self._tokens.invalidate(token)  # an expired or revoked token: get a fresh one, once
                refreshed = True
                continue
            if response.status_code == 429:
                now = self._clock()
                soonest = _rate_limit_wait(response, now)
                wanted = _backoff_after_429(response, now, waits)
                self.stats.add(rate_limited=1)
                wait = self.deadline.fit(soonest, wanted) if waits < self._max_waits else None
                if wait is not None:
                    waits += 1
                    self.stats.add(rate_limit_wait_seconds=wait)
                    self._sleep(wait)
                    continue
                raise RateLimited("rate limit reached and the wait does not fit in the time left",
                                  retry_after=wanted, status=429, error="Too Many Requests",
                                  error_code="too_many_requests", operation=operation)
            if not response.ok:
                failure = _error_from_response(response, operation)
                if failure.status == 403 and failure.error_code == "insufficient_scope" and not scope_refreshed:
                    # The token was issued before the scope was granted (tokens keep the scopes
                    # they were issued with): drop it here and in the shared cache, try once more.
                    self._tokens.invalidate(token)
                    scope_refreshed = True
                    self.stats.add(scope_refreshes=1)
                    continue
                raise failure
            if response.status_code == 204 or not response.content:
                return {}
            try:
                return response.json()
            except ValueError:
                raise ServerError("Auth0 answered with a body that is not JSON", status=response.status_code,
                                  operation=operation) from None

    def _token(self) -> Token:
        """The token source's token; a fetch it makes waits within this call's deadline."""
        previous = _CALL_DEADLINE.set(self._deadline)
        try:
            return self._tokens.get()
        finally:
            _CALL_DEADLINE.reset(previous)

    def _drop_unsendable(self, token: Token, operation: str, *, again: bool) -> None:
        """Drop a token that cannot be sent (here and in the shared cache) so that the next one
        is fetched afresh; raise if this was already the fresh one (``again``)."""
        self._tokens.invalidate(token)
        self.stats.add(unusable_tokens=1)
        if again:
            raise UnusableToken(
                "the Management API token cannot be sent in an Authorization header (it holds "
                "whitespace, control or non-ASCII characters), even after fetching a fresh one",
                operation=operation,
            )

    def _note_rate_limit(self, response: requests.Response) -> None:
        """After an answer that shows the bucket at or below the reserve left to the tenant's other
        clients (the last token, with a share of 1), let the next call wait for tokens to come back."""
        if response.status_code == 429:
            return
        now = self._clock()
        wait = _reserve_wait(response.headers, now, self._rate_share)
        if wait > 0:
            # A little jitter, so that instances reading the same headers do not all go at once.
            wait *= random.uniform(1.0, 1.25)  # noqa: S311 - jitter, not cryptography
            with self._pace_lock:
                self._not_before = max(self._not_before, now + wait)

    def _pace(self) -> None:
        with self._pace_lock:
            wait = self._not_before - self._clock()
        if wait > 0 and self.deadline.allows_wait(wait):
            self.stats.add(rate_limit_wait_seconds=wait, paced=1)
            self._sleep(wait)
