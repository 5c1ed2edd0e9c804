"""The failures of the decision core, shared by every entry point.

Two kinds, and what each entry point does with them:

* :class:`PermanentFailure` — retrying will not help; an operator must act. The worker sends the
  record to the dead-letter queue with ``reason``; ``enable`` and the sweep report it as failed
  (``configuration`` errors end a sweep early, since every other API would fail the same way).
* :class:`LockBusy` — another holder is working on this API right now. Never an outcome: the
  worker returns the record to the queue, ``enable`` and the sweep report the API as not done.
* :class:`CredentialsNotStored`, :class:`NotificationNotSent` — an AWS call after the Auth0 writes
  failed for now (Secrets Manager, EventBridge): the record is not acknowledged and comes back;
  its next attempt finds the Auth0 writes done and does only what is left.

The HTTP client's own errors (:class:`~token_exchange_enabler.auth0.Auth0Error` and its
subclasses) say whether they are ``retryable``; :func:`permanent_from` turns the others into a
:class:`PermanentFailure` with an operator's reason.
"""

from __future__ import annotations

from .auth0 import Auth0Error, Unreachable

__all__ = [
    "CredentialsNotStored",
    "LockBusy",
    "NotificationNotSent",
    "PermanentFailure",
    "StateChanged",
    "TryAgain",
    "describe_failure",
    "permanent_from",
]

# error_kind values carried by a failed outcome
KIND_CONFIGURATION = "configuration"
KIND_REJECTED = "rejected"
KIND_TRANSIENT = "transient"
KIND_UNREACHABLE = "unreachable"
KIND_BUSY = "busy"


class PermanentFailure(Exception):
    """Retrying will not help; an operator must act. ``reason`` says what to do."""

    def __init__(self, reason: str, *, configuration: bool = False):
        self.reason = reason
        self.configuration = configuration
        super().__init__(reason)

    @property
    def kind(self) -> str:
        return KIND_CONFIGURATION if self.configuration else KIND_REJECTED


class TryAgain(Exception):
    """Not done now, and nothing is wrong: the same request later will do it."""

    retryable = True


class LockBusy(TryAgain):
    """Another holder has this API's lock; ``seconds_left`` until its lease ends (None: unknown)."""

    def __init__(self, api_id: str, seconds_left: float | None = None):
        self.api_id = api_id
        self.seconds_left = seconds_left
        until = f" for up to {seconds_left:.0f} s more" if seconds_left is not None else ""
        super().__init__(f"another run is enabling API {api_id} right now (it holds the API's lock{until})")


class StateChanged(TryAgain):
    """What a write was built from changed under it (e.g. the client was deleted meanwhile)."""


class CredentialsNotStored(TryAgain):
    """Secrets Manager did not take the credentials now (throttling, 5xx, network). The message
    names the secret and the AWS error code, never a value."""


class NotificationNotSent(TryAgain):
    """EventBridge did not take the platform's event now. The message names the bus and the code."""


# A create beyond the tenant's plan limits (Auth0's Entity Limit Policy): 403 too_many_entities.
TOO_MANY_ENTITIES = "too_many_entities"


def permanent_from(error: Auth0Error) -> PermanentFailure:
    """The operator's view of an Auth0 error that retrying will not fix."""
    if error.error_code == TOO_MANY_ENTITIES or "limit of entities" in (error.message or ""):
        return PermanentFailure(
            f"the tenant reached its plan's entity limit ({error}): every Custom API client is an application "
            "and every downstream grant a client grant, and the plan caps both. Delete applications or grants "
            "that are no longer used, or move to a plan with higher limits, then replay this record",
            configuration=True)
    if error.configuration:
        hint = ""
        if error.error_code == "insufficient_scope":
            hint = " (grant the Auth0 application the scopes listed in the README for this mode)"
        return PermanentFailure(f"configuration error: {error}{hint}", configuration=True)
    return PermanentFailure(f"Auth0 rejected the request: {error}")


def describe_failure(error: PermanentFailure | TryAgain | Auth0Error) -> tuple[str, str]:
    """``(reason, error_kind)`` of a failure an operator's report shows instead of raising it
    (``enable``, the sweep, ``credentials``/``rotate``): the one mapping they share."""
    if isinstance(error, PermanentFailure):
        return error.reason, error.kind
    if isinstance(error, LockBusy):
        return f"not done: {error}", KIND_BUSY
    if isinstance(error, Unreachable):
        return f"transient: Auth0 unreachable ({error})", KIND_UNREACHABLE
    if isinstance(error, TryAgain) or error.retryable:  # a rate limit beyond the time left, 5xx
        return f"transient: {error}", KIND_TRANSIENT
    refused = permanent_from(error)
    return refused.reason, refused.kind
