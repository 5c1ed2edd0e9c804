"""Auth0's side of its Amazon EventBridge partner integration, for the emulator's log streams.

When a log stream of type ``eventbridge`` is created, Auth0 creates a *partner event source* named
``aws.partner/auth0.com/<tenant>-<uuid>/auth0.logs`` for the customer's AWS account and region
(``sink.awsAccountId``/``sink.awsRegion``); the stream's answer gives that name as
``sink.awsPartnerEventSource``. The customer associates the source with an event bus of the same
name (``CreateEventBus(Name=<source>, EventSourceName=<source>)``); until then the source is
pending "and all the events sent to that Event Source will be dropped"
(https://auth0.com/docs/customize/log-streams/stream-logs-to-amazon-eventbridge). Each log record
the stream carries then arrives on that bus as an event whose ``detail`` is the record
(:func:`~local.auth0_emulator.logstream.eventbridge_envelope`).

:class:`PartnerEventBridge` is what the emulator needs from that integration;
:class:`LocalEventBridgePartner` implements it on the local AWS (moto's server, through boto3), the
way ``local/stack.py`` plays the partner:

- ``create_source``/``delete_source``: ``CreatePartnerEventSource``/``DeletePartnerEventSource``
  (moto then reports the source's ``State`` as ``DELETED`` in ``DescribeEventSource``).
- ``deliver``: only when a bus named after the source exists (``ListEventBuses``), i.e. the source
  is associated; then ``PutEvents`` on that bus with the envelope's ``source``, ``detail-type``,
  ``detail``, ``time`` and ``resources`` (:func:`put_events_entry`, which ``LocalStack`` uses too). moto's
  ``PutPartnerEvents`` would deliver to the default bus instead, hence ``PutEvents``.

moto gap (the one ``local/stack.py``'s module docstring describes): moto finds the bus of
``PutEvents``/``PutRule``/``PutTargets`` by the last "/"-separated segment of its name, so the put
lands on a *routing bus* named ``auth0.logs``, where rules made with the partner bus's name live
too. :meth:`LocalEventBridgePartner.deliver` creates that routing bus when it is missing. Two
tenants (or two streams of one tenant) therefore share one routing bus in one moto.

The partner acts with the credentials boto3 finds (moto's default account, ``123456789012``,
locally): for the customer's side to see the source, the stream's ``awsAccountId`` must be the
account the customer's calls are made in.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol


class PartnerEventBridge(Protocol):
    """What the emulator's EventBridge log streams need from the AWS side (see the module docstring)."""

    def create_source(self, name: str, account: str, region: str) -> None:
        """Create the partner event source ``name`` for ``account`` in ``region`` (a stream was created)."""
        ...

    def delete_source(self, name: str, account: str, region: str) -> None:
        """Delete the partner event source ``name`` (its stream was deleted)."""
        ...

    def deliver(self, name: str, account: str, region: str, event: dict[str, Any]) -> bool:
        """Put one EventBridge event on the bus associated with ``name``; ``False`` if none is.

        A failed put raises.
        """
        ...


class PartnerDeliveryError(RuntimeError):
    """``PutEvents`` answered, but refused the event."""


def put_events_entry(bus_name: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The ``PutEvents`` entry for an EventBridge envelope (Auth0's partner delivery, and the local
    stack's ``put_auth0_events``): EventBridge itself assigns the id, account and region."""
    entry: dict[str, Any] = {
        "EventBusName": bus_name,
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": list(event.get("resources", [])),
    }
    if event.get("time"):
        entry["Time"] = datetime.fromisoformat(event["time"])
    return entry


class LocalEventBridgePartner:
    """:class:`PartnerEventBridge` on the local AWS, with one boto3 ``events`` client per region.

    ``endpoint_url``: where the local AWS listens; ``None`` leaves it to boto3 (``AWS_ENDPOINT_URL``,
    which ``local.aws.local_aws_environment`` sets). Thread-safe.
    """

    def __init__(self, endpoint_url: str | None = None) -> None:
        import boto3  # here, not at module level: the emulator is imported where boto3 is not needed
        from botocore.config import Config

        self.endpoint_url = endpoint_url
        self._lock = threading.Lock()
        self._session = boto3.session.Session()
        # Short timeouts and one retry: a put is made while a Management API request waits for its answer.
        self._config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})
        self._clients: dict[str, Any] = {}

    def _client(self, region: str) -> Any:
        with self._lock:  # a boto3 session is not thread-safe; its clients are
            client = self._clients.get(region)
            if client is None:
                options: dict[str, Any] = {"region_name": region, "config": self._config}
                if self.endpoint_url:
                    options["endpoint_url"] = self.endpoint_url
                client = self._session.client("events", **options)
                self._clients[region] = client
            return client

    def create_source(self, name: str, account: str, region: str) -> None:
        self._client(region).create_partner_event_source(Name=name, Account=account)

    def delete_source(self, name: str, account: str, region: str) -> None:
        self._client(region).delete_partner_event_source(Name=name, Account=account)

    def is_associated(self, name: str, region: str) -> bool:
        """Whether an event bus named ``name`` exists in ``region`` (the source is associated)."""
        client = self._client(region)
        options: dict[str, Any] = {"NamePrefix": name}
        while True:
            page = client.list_event_buses(**options)
            if any(bus.get("Name") == name for bus in page.get("EventBuses", [])):
                return True
            if not page.get("NextToken"):
                return False
            options["NextToken"] = page["NextToken"]

    def deliver(self, name: str, account: str, region: str, event: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        if not self.is_associated(name, region):
            return False
        client = self._client(region)
        if "/" in name:  # moto gap: the put lands on the bus named after the last segment
            try:
                client.create_event_bus(Name=name.rsplit("/", 1)[1])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise
        response = client.put_events(Entries=[put_events_entry(name, event)])
        if response.get("FailedEntryCount"):
            failures = [
                {k: e[k] for k in ("ErrorCode", "ErrorMessage") if k in e} for e in response.get("Entries", [])
            ]
            raise PartnerDeliveryError(f"PutEvents on {name} refused the event: {failures}")
        return True
