"""The platform hears of every API the product enables: one EventBridge event on ``NOTIFICATION_BUS_NAME``.

The event (``source`` ``token-exchange-enabler``, ``detail-type`` ``Token Exchange Enabled``)::

    {"api_id", "identifier", "client_id", "mode", "created_client", "secret_arn", "first_time"}

never carries a secret: ``secret_arn`` says where the API's service finds its credentials (null
when they are not delivered). It is sent by the decision core under the API's lock, after the
writes succeeded and before the record is acknowledged, for every API that ends ``enabled`` and
for every one found ``already_enabled`` there. ``first_time`` is true only when this run made the
write that enabled it: a record whose event could not be sent comes back, finds the API enabled,
writes nothing and sends the event again with ``first_time: false`` — the product cannot tell that
retry from a duplicate, so consumers act idempotently on ``api_id`` and ``client_id``. Dry runs
send nothing, and the sweep sends nothing for APIs its listings show already enabled.

Failures: a bus that does not exist or a role without ``events:PutEvents`` on it is a
:class:`~token_exchange_enabler.errors.PermanentFailure` (configuration); anything else, including
an entry EventBridge did not accept, is :class:`~token_exchange_enabler.errors.NotificationNotSent`
(the record comes back).
"""

from __future__ import annotations

import json
from typing import Any

from .aws_errors import aws_error_code, aws_errors
from .decision import Outcome, Status
from .errors import NotificationNotSent, PermanentFailure

__all__ = ["DETAIL_TYPE", "SOURCE", "Notifier", "event_detail"]

SOURCE = "token-exchange-enabler"
DETAIL_TYPE = "Token Exchange Enabled"
ANNOUNCED = frozenset({Status.ENABLED, Status.ALREADY_ENABLED})
_CONFIGURATION_CODES = frozenset({"AccessDeniedException", "AccessDenied", "ResourceNotFoundException",
                                  "ValidationException", "UnrecognizedClientException"})


def event_detail(outcome: Outcome, mode: str) -> dict[str, Any]:
    """The event's detail (pure): made of the outcome's ids, never of a secret."""
    return {
        "api_id": outcome.api_id,
        "identifier": outcome.identifier,
        "client_id": outcome.client_id,
        "mode": mode,
        "created_client": outcome.created_client,
        "secret_arn": outcome.secret_arn,
        "first_time": outcome.status == Status.ENABLED,
    }


class Notifier:
    """Sends the platform's events to ``bus`` (a name or an ARN); ``client`` an events client
    (None: one from boto3's default session, made on first use)."""

    def __init__(self, bus: str, client: Any = None):
        self.bus = bus
        self._client = client

    def _events(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config as BotoConfig

            self._client = boto3.client("events", config=BotoConfig(
                connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}))
        return self._client

    def announce(self, outcome: Outcome, mode: str) -> None:
        entry = {"Source": SOURCE, "DetailType": DETAIL_TYPE, "EventBusName": self.bus,
                 "Detail": json.dumps(event_detail(outcome, mode))}
        try:
            answer = self._events().put_events(Entries=[entry])
        except aws_errors() as error:
            code = aws_error_code(error)
            if code in _CONFIGURATION_CODES:
                raise PermanentFailure(
                    f"could not send the event to the bus {self.bus} ({code}): check NOTIFICATION_BUS_NAME and the "
                    "function role's events:PutEvents permission, then replay", configuration=True) from None
            raise NotificationNotSent(f"could not send the event to the bus {self.bus} ({code}); "
                                      "the next attempt sends it") from None
        if answer.get("FailedEntryCount"):
            entries = answer.get("Entries") or [{}]
            code = str(entries[0].get("ErrorCode") or "FailedEntry")
            raise NotificationNotSent(f"EventBridge did not accept the event for the bus {self.bus} ({code}); "
                                      "the next attempt sends it")
