"""The per-API lock: one holder writes to an API at a time, on every entry point.

The rules, in one place:

* Every write to an API (create its Custom API client, merge the profile into it, PATCH the
  resource server, make its grants) happens while holding that API's lock, and the state the
  write is built from is read *after* the lock was taken. A dry run writes nothing and takes no
  lock.
* The lock is a lease: it ends at the holder's own deadline — the Lambda function's timeout for
  the worker and the sweep, :data:`DEFAULT_LEASE_SECONDS` for the command line (whose Auth0 waits
  are bounded by the same lease). A holder that dies (killed, timed out) therefore blocks the API
  for at most its lease, never for the table's record lifetime.
* A holder releases on the way out, however it leaves (success, error, Ctrl-C); release is
  conditional on still being the holder, so a holder whose lease ran out never frees a successor.
* Meeting a held lock raises :class:`~token_exchange_enabler.errors.LockBusy`: the worker returns
  the record to the queue, ``enable`` and the sweep report the API as not done. It is never an
  acknowledged outcome.

Backends: :class:`DynamoDbLocks` (``IDEMPOTENCY_TABLE_NAME``; shared by every instance and the
operator tools) and :class:`ProcessLocks` (no table: one process only — two processes without a
table can still race, which the README says).

Written by hand rather than with Powertools Idempotency (which this table served before): that
utility caches results (a stale "enabled" would be replayed after the client was deleted), and
outside Lambda its in-progress records last until the record expires (an hour). What is needed
is a lease with a holder-bounded expiry and a conditional release: one conditional PutItem and
one conditional DeleteItem.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from .errors import LockBusy

__all__ = ["DEFAULT_LEASE_SECONDS", "ApiLocks", "DynamoDbLocks", "ProcessLocks", "lock_key"]

DEFAULT_LEASE_SECONDS = 120.0
_MIN_LEASE_SECONDS = 1.0
# The table's TTL attribute (the template enables TTL on it): DynamoDB removes a lock item some
# time after this; the lease itself ends at ``lease_until``, which is what the condition reads.
_TTL_ATTRIBUTE = "expiration"
_TTL_AFTER_LEASE = 3600


def lock_key(mode: str, api_id: str) -> str:
    return f"lock#{mode}#{api_id}"


class ApiLocks(Protocol):
    def hold(self, key: str, api_id: str, lease_seconds: float) -> contextlib.AbstractContextManager[None]:
        """Hold ``key`` for at most ``lease_seconds``; raise LockBusy if someone else holds it."""
        ...


class ProcessLocks:
    """Leases within one process (no table configured)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._mutex = threading.Lock()
        self._held: dict[str, tuple[object, float]] = {}

    @contextlib.contextmanager
    def hold(self, key: str, api_id: str, lease_seconds: float) -> Iterator[None]:
        me = object()
        now = self._clock()
        with self._mutex:
            holder = self._held.get(key)
            if holder is not None and holder[1] > now:
                raise LockBusy(api_id, holder[1] - now)
            self._held[key] = (me, now + max(lease_seconds, _MIN_LEASE_SECONDS))
        try:
            yield
        finally:
            with self._mutex:
                if self._held.get(key, (None,))[0] is me:
                    del self._held[key]


class DynamoDbLocks:
    """Leases in a DynamoDB table keyed on ``id`` (string), shared by every instance and tool."""

    def __init__(self, table: str, client: Any = None, *, clock: Callable[[], float] = time.time):
        self._table = table
        self._client = client
        self._clock = clock
        self.holder = uuid.uuid4().hex  # this process; each hold adds its own suffix

    def _dynamodb(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    @contextlib.contextmanager
    def hold(self, key: str, api_id: str, lease_seconds: float) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        dynamodb = self._dynamodb()
        me = f"{self.holder}:{uuid.uuid4().hex[:8]}"
        now = self._clock()
        until = now + max(lease_seconds, _MIN_LEASE_SECONDS)
        try:
            dynamodb.put_item(
                TableName=self._table,
                Item={"id": {"S": key}, "holder": {"S": me}, "lease_until": {"N": f"{until:.3f}"},
                      _TTL_ATTRIBUTE: {"N": str(int(until) + _TTL_AFTER_LEASE)}},
                ConditionExpression="attribute_not_exists(id) OR lease_until < :now",
                ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raise LockBusy(api_id, _seconds_left(error.response.get("Item"), now)) from None
        try:
            yield
        finally:
            # Not ours any more (the lease ran out), or the table is unreachable: the lease ends it.
            with contextlib.suppress(ClientError, BotoCoreError):
                dynamodb.delete_item(
                    TableName=self._table, Key={"id": {"S": key}},
                    ConditionExpression="holder = :me", ExpressionAttributeValues={":me": {"S": me}},
                )


def _seconds_left(item: Any, now: float) -> float | None:
    try:
        return max(0.0, float(item["lease_until"]["N"]) - now)
    except (TypeError, KeyError, ValueError):
        return None
