"""The Management API token, fetched about once per token lifetime across every Lambda instance.

Two cache levels sit in front of the client-credentials fetch (a callable supplied by the caller):

* memory: one ``_Entry`` per warm instance, guarded by a lock (the worker may use threads);
* shared: the current version (``AWSCURRENT``) of a Secrets Manager secret, a JSON object
  ``{"access_token", "token_type", "scope", "expires_at", "fetched_at", "generation", "fetched_by"}``
  (``generation`` repeats the version's ``VersionId``, for people reading the value).

A token is *fresh* while more than ``max(refresh_ahead * lifetime, floor)`` seconds remain and
*usable* while at least ``floor`` seconds remain, where ``floor`` is ``min_remaining`` capped at
``floor_fraction`` of the token's lifetime (so that a short-lived token is still worth caching).
Fresh tokens are served from memory or the shared cache; a token that is usable but not fresh is due for refresh.

One refresher at a time
-----------------------
Every version of a secret has an id (``VersionId``), and ``PutSecretValue`` is idempotent on its
``ClientRequestToken``: a second put with the same token and *different* content fails with
``ResourceExistsException``. Ids derived deterministically from what they replace therefore act
as compare-and-set slots that exactly one writer can fill:

1. Read ``AWSCURRENT``. Its ``VersionId`` is the *generation* a refresh would replace (``"none"``
   when the secret has no value yet).
2. To refresh, CLAIM it: put ``{"claim": instance_id, "replaces", "attempt", "lease_until"}`` as
   version ``uuid5(secret, generation, attempt)`` under the custom staging label
   ``TEE_REFRESH_CLAIM`` (``AWSCURRENT``, the still-usable token, is untouched). One instance
   wins; the others get ``ResourceExistsException``, read the winning claim by its ``VersionId``
   and learn who holds it and until when.
3. The winner fetches a token and writes it as ``AWSCURRENT`` with version id
   ``uuid5(secret, generation)``: at most one token ever succeeds a generation, so a slow or
   late writer can never roll the cache back.
4. Losers keep serving a token that is still usable; without one they poll ``AWSCURRENT`` every
   ``poll_interval`` for the winner's token — for as long as the caller's ``deadline`` leaves
   time, or ``wait_timeout`` seconds without one — then fetch one themselves (an extra fetch,
   never a failure) and offer it as that same successor version.
5. A claimant that dies leaves its claim to expire at ``lease_until``; the next attempt number
   gives the next id, which a new claim can take. An instance finding its own live claim (its
   fetch failed) simply retries.

``invalidate(token)`` (after a 401, a 403 ``insufficient_scope``, or a token that cannot be sent)
drops the memory copy and remembers a SHA-256 fingerprint of the token, never the token: a
shared-cache value with that fingerprint is treated as stale. If the shared cache still holds that
token, it is replaced by a TOMBSTONE ``{"invalidated": true, "replaces": generation}`` written as
the generation's successor version (the same compare-and-set slot a refreshed token would take:
if a token got there first, the rejected one is no longer current and nothing is written). The
tombstone is an empty cache to every instance, so the next ``get()`` anywhere claims and
refreshes as above, and other instances that hit the same 401 wait for that refresh instead of
starting their own (their tombstones are the same version with the same content: a no-op).

Failures
--------
A cache value that is not a token (corrupt JSON, a wrong shape) is logged (never its content),
reported as ``cache_error`` and replaced through the claim protocol; ``{}``, a blank string and a
missing value are simply empty. Any Secrets Manager error (throttling, access denied, network,
a deleted secret, a version quota) makes the shared cache unavailable for this call: a warning
naming the operation and error code (never a value), the ``cache_error`` event, and then a
still-usable token is kept (rechecking the cache every ``recheck_interval``) or a token is
fetched directly and written best-effort. Errors of ``fetch`` itself propagate unchanged: the
caller decides on retries.

Growth of the secret
--------------------
A refresh adds two versions (a claim and a token); each moves a staging label off an older
version, so at most three versions carry labels (``AWSCURRENT``, ``AWSPREVIOUS``,
``TEE_REFRESH_CLAIM``). Secrets Manager deletes unlabelled versions once a secret has more than
100 versions, sparing those younger than 24 hours, and asks for at most one ``PutSecretValue``
every ten minutes on average: two per token lifetime (plus two per invalidation) stays far
below that; an invalidation adds a tombstone as well. Were the quota ever hit, the put fails and
the cache falls back as described above.

Permissions: ``secretsmanager:GetSecretValue`` and ``secretsmanager:PutSecretValue`` on the cache
secret (with ``kms:Decrypt`` and ``kms:GenerateDataKey`` if it uses a customer managed key).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, TypeGuard

from aws_lambda_powertools import Logger

__all__ = ["CLAIM_STAGE", "TimeLeft", "Token", "TokenEvent", "TokenProvider"]

logger = Logger(child=True)

# What on_event receives (names only, for metrics):
#   fetched           this instance fetched a token from the token endpoint
#   cache_hit_memory  get() was served from this instance's memory
#   cache_hit_shared  get() was served from the shared cache
#   cache_write       this instance wrote a token to the shared cache
#   cache_write_lost  another instance won the refresh (its claim or its write came first)
#   cache_error       the shared cache was unavailable, or held something that is not a token
#   invalidated       invalidate() was called
TokenEvent = Literal[
    "fetched",
    "cache_hit_memory",
    "cache_hit_shared",
    "cache_write",
    "cache_write_lost",
    "cache_error",
    "invalidated",
]

CLAIM_STAGE: Final = "TEE_REFRESH_CLAIM"
_CURRENT_STAGE: Final = "AWSCURRENT"
_NO_GENERATION: Final = "none"
# Fixed and arbitrary: every instance must derive the same version ids from the same inputs.
_VERSION_ID_NAMESPACE: Final = uuid.UUID("0f6c1f5e-8a4b-4d2e-9c57-3b1d7e2a9f40")
# How many expired claims (claimants that died) one refresh steps over before it stops claiming
# and relies on its bounded wait and a direct fetch.
_MAX_CLAIM_ATTEMPTS: Final = 10
_REJECTED_FINGERPRINTS_KEPT: Final = 32


class TimeLeft(Protocol):
    """The caller's deadline as the provider needs it (``auth0.Deadline`` is one)."""

    def time_left(self) -> float | None:
        """Seconds that may still be spent waiting; None when the caller has no deadline."""
        ...  # pragma: no cover - protocol


@dataclass(frozen=True, slots=True)
class Token:
    """An OAuth 2.0 access token. ``repr()`` and ``str()`` never show ``access_token``."""

    access_token: str = field(repr=False)
    expires_at: float  # Unix time
    scope: str = ""
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a credential

    def __post_init__(self) -> None:
        # The messages deliberately name the field and never echo the value.
        if not isinstance(self.access_token, str) or not self.access_token:
            raise ValueError("Token.access_token must be a non-empty string")
        if not _is_finite_number(self.expires_at):
            raise ValueError("Token.expires_at must be a finite Unix time")

    def remaining(self, now: float) -> float:
        """Seconds until the token expires (negative once it has)."""
        return self.expires_at - now


class TokenProvider:
    """Hands out a Management API token, refreshing it once for all instances (module docstring).

    ``cache_secret_id=None`` disables the shared cache (memory only). ``instance_id`` defaults to
    a random id per provider, i.e. per warm instance when the provider is a module-level
    singleton. ``on_event`` receives one of :data:`TokenEvent` (for metrics); its failures are
    logged and ignored.

    Waiting for another instance's refresh (with no usable token in hand) polls the shared cache
    every ``poll_interval`` seconds for as long as ``deadline`` (the caller's time left, e.g.
    ``auth0.Deadline``; ``ManagementApi.deadline = d`` sets it) has time for another poll; without
    a deadline, for ``wait_timeout`` seconds of ``sleep`` (default: ``claim_lease``, by when the
    claimant has delivered or its claim has lapsed). A claim's lease lasts ``claim_lease`` seconds
    (longer than a fetch with its retries takes); after losing a claim while holding a usable
    token, the shared cache is looked at again after at most ``recheck_interval`` seconds.
    """

    def __init__(
        self,
        *,
        fetch: Callable[[], Token],
        cache_secret_id: str | None,
        secrets_client: Any = None,
        clock: Callable[[], float] = time.time,
        refresh_ahead: float = 0.1,
        min_remaining: float = 60.0,
        floor_fraction: float = 0.5,
        instance_id: str | None = None,
        on_event: Callable[[str], None] | None = None,
        claim_lease: float = 30.0,
        wait_timeout: float | None = None,
        poll_interval: float = 0.25,
        recheck_interval: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        deadline: TimeLeft | None = None,
    ) -> None:
        if wait_timeout is None:
            wait_timeout = claim_lease
        if not 0 <= refresh_ahead < 1:
            raise ValueError("refresh_ahead must be a fraction in [0, 1)")
        if not 0 < floor_fraction <= 0.5:
            raise ValueError("floor_fraction must be a fraction in (0, 0.5]")
        if min_remaining < 0 or wait_timeout < 0 or recheck_interval < 0:
            raise ValueError("min_remaining, wait_timeout and recheck_interval must not be negative")
        if claim_lease <= 0 or poll_interval <= 0:
            raise ValueError("claim_lease and poll_interval must be positive")
        self._fetch = fetch
        self._shared = _SharedCache(cache_secret_id, secrets_client) if cache_secret_id else None
        self._clock = clock
        self._refresh_ahead = refresh_ahead
        self._min_remaining = min_remaining
        self._floor_fraction = floor_fraction
        self._instance_id = instance_id or uuid.uuid4().hex
        self._on_event = on_event
        self._claim_lease = claim_lease
        # Rounded first so that e.g. 0.2 / 0.05 (4.000000000000001) makes 4 polls, not 5.
        self._max_polls = math.ceil(round(wait_timeout / poll_interval, 6))
        self._poll_interval = poll_interval
        self._recheck_interval = recheck_interval
        self._sleep = sleep
        self.deadline: TimeLeft | None = deadline

        self._refresh_lock = threading.Lock()  # one refresher per instance; held across I/O
        self._lock = threading.Lock()  # guards the fields below; never held across I/O
        self._memory: _Entry | None = None
        self._recheck_after = -math.inf  # until then, a usable (not fresh) memory token is served
        self._rejected: deque[str] = deque(maxlen=_REJECTED_FINGERPRINTS_KEPT)
        self._fetch_count = 0

    def __repr__(self) -> str:
        shared = "shared" if self._shared else "memory-only"
        return f"TokenProvider(instance_id={self._instance_id!r}, cache={shared})"

    @property
    def fetch_count(self) -> int:
        """How many tokens this provider fetched itself."""
        with self._lock:
            return self._fetch_count

    def get(self) -> Token:
        """A token with at least ``min_remaining`` seconds left (capped at half its lifetime).

        A cached token is returned only under that condition; a token just fetched is returned as
        it comes. Raises whatever ``fetch`` raises; Secrets Manager problems never raise.
        """
        now = self._clock()
        with self._lock:
            held = self._memory
            recheck_after = self._recheck_after
        if held is not None and (
            self._is_fresh(held, now) or (self._is_usable(held, now) and now < recheck_after)
        ):
            self._emit("cache_hit_memory")
            return held.token

        held_usable = held is not None and self._is_usable(held, now)
        # With a usable token in hand, never queue behind another thread's refresh.
        if not self._refresh_lock.acquire(blocking=not held_usable):
            assert held is not None  # nosec B101  # for type checkers only: held_usable implies it
            self._emit("cache_hit_memory")
            return held.token
        try:
            return self._get_holding_refresh_lock()
        finally:
            self._refresh_lock.release()

    def invalidate(self, token: Token) -> None:
        """Forget ``token`` (the Management API rejected it): ``get()`` will not return it again,
        and the shared cache no longer offers it to any instance (module docstring). Secrets
        Manager problems never raise; they are logged and reported as ``cache_error``."""
        fingerprint = _fingerprint(token)
        with self._lock:
            if fingerprint not in self._rejected:
                self._rejected.append(fingerprint)
            if self._memory is not None and _fingerprint(self._memory.token) == fingerprint:
                self._memory = None
            self._recheck_after = -math.inf
        if self._shared is not None:
            self._retire_shared(self._shared, fingerprint)
        self._emit("invalidated")

    def _retire_shared(self, shared: _SharedCache, fingerprint: str) -> None:
        """Replace the shared copy of a rejected token by a tombstone, if it is still current."""
        try:
            snapshot = shared.read_current()
            if snapshot.entry is None or _fingerprint(snapshot.entry.token) != fingerprint:
                return  # not (or no longer) the current token
            tombstone = {"invalidated": True, "replaces": snapshot.generation}
            # The successor slot of its generation: the same content from every instance, so a
            # second instance's put is a no-op; a refreshed token already there wins (False).
            shared.put(
                json.dumps(tombstone),
                version_id=_successor_version_id(shared.secret_id, snapshot.generation),
                stage=_CURRENT_STAGE,
            )
        except _SharedCacheError as error:
            logger.warning(
                "Could not retire a rejected token from the token cache secret (%s: %s)",
                error.operation,
                error.code,
                extra={"operation": error.operation, "error_code": error.code},
            )
            self._emit("cache_error")

    def _may_poll_again(self, polls_done: int) -> bool:
        """Whether to wait ``poll_interval`` more for another instance's refresh."""
        time_left = self.deadline.time_left() if self.deadline is not None else None
        if time_left is None:
            return polls_done <= self._max_polls
        return time_left >= self._poll_interval

    # -- the slow path (one thread per instance at a time) ----------------------------------------

    def _get_holding_refresh_lock(self) -> Token:
        now = self._clock()
        held = self._memory_entry()
        # Another thread may have refreshed while this one waited for the lock.
        if held is not None and self._is_fresh(held, now):
            self._emit("cache_hit_memory")
            return held.token
        if self._shared is None:
            return self._fetch_entry().token
        return self._refresh_through(self._shared, held)

    def _refresh_through(self, shared: _SharedCache, held: _Entry | None) -> Token:
        corrupt_reported = False
        lost_generation: str | None = None
        lost_until = -math.inf
        generation: str | None = None
        polls = 0
        while True:
            if polls:
                self._sleep(self._poll_interval)
            polls += 1
            now = self._clock()
            try:
                snapshot = shared.read_current()
            except _SharedCacheError as error:
                return self._without_shared_cache(shared, error, held, generation)
            generation = snapshot.generation
            if snapshot.corrupt and not corrupt_reported:
                corrupt_reported = True
                logger.warning("Token cache secret holds no valid token; it will be replaced")
                self._emit("cache_error")
            cached = snapshot.entry
            if cached is not None and self._is_rejected(cached.token):
                cached = None
            if cached is not None and self._is_fresh(cached, now):
                self._remember(cached)
                self._emit("cache_hit_shared")
                return cached.token

            if generation != lost_generation or now >= lost_until:
                try:
                    claim = self._claim(shared, generation, now)
                except _SharedCacheError as error:
                    usable = self._newest_usable(now, held, cached)
                    return self._without_shared_cache(shared, error, usable, generation)
                if claim.won:
                    return self._refresh_as_claimant(shared, generation)
                self._emit("cache_write_lost")
                lost_generation, lost_until = generation, claim.lease_until

            # Another instance is refreshing: a still-usable token bridges the gap.
            bridge = self._newest_usable(now, held, cached)  # held first: preferred on a tie
            if bridge is not None:
                self._remember(bridge, recheck_after=min(now + self._recheck_interval, lost_until))
                self._emit("cache_hit_memory" if bridge is held else "cache_hit_shared")
                return bridge.token
            if not self._may_poll_again(polls):
                break

        # The claimant did not deliver in time. A missing token must never fail the caller: it
        # only costs a fetch, offered as the same successor so that it cannot add a generation.
        logger.info("No token from the refreshing instance in time; fetching one directly")
        entry = self._fetch_entry()
        self._write_best_effort(shared, entry, generation)
        return entry.token

    def _claim(self, shared: _SharedCache, generation: str, now: float) -> _ClaimResult:
        for attempt in range(_MAX_CLAIM_ATTEMPTS):
            version_id = _claim_version_id(shared.secret_id, generation, attempt)
            lease_until = now + self._claim_lease
            claim = {
                "claim": self._instance_id,
                "replaces": generation,
                "attempt": attempt,
                "claimed_at": now,
                "lease_until": lease_until,
            }
            if shared.put(json.dumps(claim), version_id=version_id, stage=CLAIM_STAGE):
                return _ClaimResult(won=True, lease_until=lease_until)
            holder = _parse_claim(shared.read_version(version_id))
            if holder is None:  # unreadable: assume it is live
                return _ClaimResult(won=False, lease_until=now + self._claim_lease)
            claimant, holder_lease_until = holder
            if holder_lease_until > now:
                # Our own live claim means our earlier fetch failed: retry it.
                return _ClaimResult(won=claimant == self._instance_id, lease_until=holder_lease_until)
            # That claimant died mid-refresh; the next attempt's version id is free.
        return _ClaimResult(won=False, lease_until=now + self._claim_lease)

    def _refresh_as_claimant(self, shared: _SharedCache, generation: str) -> Token:
        entry = self._fetch_entry()  # its errors propagate; the claim then expires or is retried
        self._write_best_effort(shared, entry, generation)
        return entry.token

    def _without_shared_cache(
        self, shared: _SharedCache, error: _SharedCacheError, usable: _Entry | None, generation: str | None
    ) -> Token:
        now = self._clock()
        usable = usable if usable is not None and self._is_usable(usable, now) else None
        action = "keeping the current token" if usable else "fetching a token directly"
        logger.warning(
            "Token cache secret unavailable (%s: %s); %s",
            error.operation,
            error.code,
            action,
            extra={"operation": error.operation, "error_code": error.code},
        )
        self._emit("cache_error")
        if usable is not None:
            self._remember(usable, recheck_after=now + self._recheck_interval)
            return usable.token
        entry = self._fetch_entry()
        self._write_best_effort(shared, entry, generation)
        return entry.token

    def _write_best_effort(self, shared: _SharedCache, entry: _Entry, generation: str | None) -> None:
        # The successor of a known generation has a fixed id (one token per generation, ever);
        # with the generation unknown (the read failed) any id will do.
        version_id = _successor_version_id(shared.secret_id, generation) if generation else str(uuid.uuid4())
        value = {
            "access_token": entry.token.access_token,
            "token_type": entry.token.token_type,
            "scope": entry.token.scope,
            "expires_at": entry.token.expires_at,
            "fetched_at": entry.fetched_at,
            "generation": version_id,
            "fetched_by": self._instance_id,
        }
        try:
            written = shared.put(json.dumps(value), version_id=version_id, stage=_CURRENT_STAGE)
        except _SharedCacheError as error:
            logger.warning(
                "Could not write the token cache secret (%s: %s)",
                error.operation,
                error.code,
                extra={"operation": error.operation, "error_code": error.code},
            )
            self._emit("cache_error")
            return
        # Not written: another instance already replaced that generation. Both tokens are valid.
        self._emit("cache_write" if written else "cache_write_lost")

    # -- memory, policy, events ---------------------------------------------------------------

    def _fetch_entry(self) -> _Entry:
        token = self._fetch()
        if not isinstance(token, Token):
            raise TypeError(f"fetch() must return a Token, not {type(token).__name__}")
        entry = _Entry(token=token, fetched_at=self._clock())
        with self._lock:
            self._fetch_count += 1
        self._emit("fetched")
        self._remember(entry)
        return entry

    def _memory_entry(self) -> _Entry | None:
        with self._lock:
            return self._memory

    def _remember(self, entry: _Entry, *, recheck_after: float = -math.inf) -> None:
        fingerprint = _fingerprint(entry.token)
        with self._lock:
            # An invalidate() may have raced with the read that produced this entry.
            if fingerprint not in self._rejected:
                self._memory = entry
                self._recheck_after = recheck_after

    def _is_rejected(self, token: Token) -> bool:
        fingerprint = _fingerprint(token)
        with self._lock:
            return fingerprint in self._rejected

    def _floor(self, entry: _Entry) -> float:
        lifetime = entry.lifetime
        if lifetime is None:
            return self._min_remaining
        return min(self._min_remaining, lifetime * self._floor_fraction)

    def _is_usable(self, entry: _Entry, now: float) -> bool:
        return entry.token.remaining(now) >= self._floor(entry)

    def _is_fresh(self, entry: _Entry, now: float) -> bool:
        lifetime = entry.lifetime
        refresh_within = self._floor(entry)
        if lifetime is not None:
            refresh_within = max(refresh_within, self._refresh_ahead * lifetime)
        return entry.token.remaining(now) > refresh_within

    def _newest_usable(self, now: float, *entries: _Entry | None) -> _Entry | None:
        usable = [
            entry
            for entry in entries
            if entry is not None and self._is_usable(entry, now) and not self._is_rejected(entry.token)
        ]
        return max(usable, key=lambda entry: entry.token.expires_at, default=None)

    def _emit(self, event: TokenEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception as error:  # noqa: BLE001 - a metrics hook must never cost a token
            logger.warning("on_event hook failed for %s (%s)", event, type(error).__name__)


# -- the shared cache: Secrets Manager access -------------------------------------------------


class _SharedCacheError(Exception):
    """Secrets Manager failed; carries the operation and error code only, never a value."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"Secrets Manager {operation} failed: {code}")
        self.operation = operation
        self.code = code


@dataclass(frozen=True, slots=True)
class _Entry:
    token: Token
    fetched_at: float | None  # when the token was fetched, for its lifetime

    @property
    def lifetime(self) -> float | None:
        if self.fetched_at is None or self.token.expires_at <= self.fetched_at:
            return None
        return self.token.expires_at - self.fetched_at


@dataclass(frozen=True, slots=True)
class _Snapshot:
    generation: str  # what a refresh replaces: AWSCURRENT's VersionId, or "none"
    entry: _Entry | None  # the cached token, when the value holds one
    corrupt: bool = False  # the value is neither empty nor a token (nor a first claim)


@dataclass(frozen=True, slots=True)
class _ClaimResult:
    won: bool
    lease_until: float


class _SharedCache:
    """Typed access to the cache secret; every Secrets Manager failure becomes _SharedCacheError.

    This uses the boto3 client directly, not Powertools' SecretsProvider, because:
    - the protocol keys on each version's VersionId, which SecretsProvider.get() does not return
      (and its value cache, keyed by name only, would mix versions up);
    - SecretsProvider.set() answers ResourceNotFoundException with CreateSecret: the cache secret
      belongs to the deployed stack, and a deleted one must not be re-created from here;
    - both wrap errors in exceptions that keep the error code only inside their message text.
    """

    def __init__(self, secret_id: str, client: Any = None) -> None:
        self.secret_id = secret_id
        self._client = client

    def read_current(self) -> _Snapshot:
        try:
            response = self._call("GetSecretValue", SecretId=self.secret_id, VersionStage=_CURRENT_STAGE)
        except _SharedCacheError as error:
            # Also what a secret without any value answers; for a missing secret, the claim's put
            # fails next with the same code.
            if error.code == "ResourceNotFoundException":
                return _Snapshot(generation=_NO_GENERATION, entry=None)
            raise
        version_id = response["VersionId"]
        document = _load_object(response.get("SecretString"))
        if document is None:
            return _Snapshot(generation=version_id, entry=None, corrupt=True)
        if not document:
            return _Snapshot(generation=version_id, entry=None)
        if "claim" in document:
            # The secret had no value, so the first claim became AWSCURRENT as well (Secrets
            # Manager labels a secret's first version AWSCURRENT whatever the request says).
            replaces = document.get("replaces")
            return _Snapshot(generation=replaces if isinstance(replaces, str) else version_id, entry=None)
        if document.get("invalidated") is True:  # a tombstone: empty, and the generation to replace
            return _Snapshot(generation=version_id, entry=None)
        entry = _entry_from_document(document)
        return _Snapshot(generation=version_id, entry=entry, corrupt=entry is None)

    def read_version(self, version_id: str) -> str | None:
        response = self._call("GetSecretValue", SecretId=self.secret_id, VersionId=version_id)
        return response.get("SecretString")

    def put(self, value: str, *, version_id: str, stage: str) -> bool:
        """Create version ``version_id``; False when that id already holds different content."""
        try:
            self._call(
                "PutSecretValue",
                SecretId=self.secret_id,
                ClientRequestToken=version_id,
                SecretString=value,
                VersionStages=[stage],
            )
        except _SharedCacheError as error:
            if error.code == "ResourceExistsException":
                return False
            raise
        return True

    def _call(self, operation: str, **parameters: Any) -> dict[str, Any]:
        # Imported here: boto3 costs a cold start ~150 ms that a memory-only provider never needs.
        from botocore.exceptions import BotoCoreError, ClientError

        method_name = {"GetSecretValue": "get_secret_value", "PutSecretValue": "put_secret_value"}[operation]
        try:
            return getattr(self._get_client(), method_name)(**parameters)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code") or "ClientError"
        except BotoCoreError as error:  # network, timeouts, credentials, parameter validation
            code = type(error).__name__
        # Raised outside the except blocks so no botocore exception (some echo request
        # parameters, i.e. the secret value) is chained to it.
        raise _SharedCacheError(operation, code)

    def _get_client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # A slow cache must not cost more than fetching: short timeouts, few retries.
            config = Config(
                connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}
            )
            self._client = boto3.client("secretsmanager", config=config)
        return self._client


# -- pure helpers --------------------------------------------------------------------------------


def _fingerprint(token: Token) -> str:
    return hashlib.sha256(token.access_token.encode()).hexdigest()


def _claim_version_id(secret_id: str, generation: str, attempt: int) -> str:
    return str(uuid.uuid5(_VERSION_ID_NAMESPACE, f"claim\n{secret_id}\n{generation}\n{attempt}"))


def _successor_version_id(secret_id: str, generation: str) -> str:
    return str(uuid.uuid5(_VERSION_ID_NAMESPACE, f"token\n{secret_id}\n{generation}"))


def _is_finite_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _load_object(raw: str | None) -> dict[str, Any] | None:
    """The JSON object in ``raw`` (``{}`` when blank), or None when it is not one."""
    if raw is None:
        return None
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _entry_from_document(document: dict[str, Any]) -> _Entry | None:
    access_token = document.get("access_token")
    expires_at = document.get("expires_at")
    fetched_at = document.get("fetched_at")
    scope = document.get("scope", "")
    token_type = document.get("token_type", "Bearer")
    if not (isinstance(access_token, str) and access_token and isinstance(scope, str) and isinstance(token_type, str)):
        return None
    if not _is_finite_number(expires_at) or not (fetched_at is None or _is_finite_number(fetched_at)):
        return None
    token = Token(access_token=access_token, expires_at=float(expires_at), scope=scope, token_type=token_type)
    return _Entry(token=token, fetched_at=None if fetched_at is None else float(fetched_at))


def _parse_claim(raw: str | None) -> tuple[str, float] | None:
    """(claimant, lease_until) of a claim version, or None when it is not one."""
    document = _load_object(raw)
    if not document:
        return None
    claimant = document.get("claim")
    lease_until = document.get("lease_until")
    if not isinstance(claimant, str) or not _is_finite_number(lease_until):
        return None
    return claimant, float(lease_until)
