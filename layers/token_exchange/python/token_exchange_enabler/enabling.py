"""The one way an API gets enabled: read under its lock, decide, write — for every entry point.

:meth:`Enabler.enable` is what the worker, ``enable`` (CLI and the replay function) and the
sweep call. It

1. skips what needs no read (a system or excluded API named by its event);
2. in a dry run: reads, decides, and reports what it would do — no lock, no write, grants
   included;
3. otherwise takes the API's lock (:mod:`~token_exchange_enabler.locks`; an operator's
   identifier is first resolved to the API's id, so that every entry point locks the same key),
   reads the API and its Custom API client *under the lock*, decides with
   :func:`~token_exchange_enabler.decision.plan`, and makes the writes the plan calls for
   (:meth:`Enabler.apply`).

With ``CLIENT_SECRETS_PREFIX`` the read under the lock also describes the stored credentials of a
client the product made (:mod:`~token_exchange_enabler.client_secrets`), and the writes deliver
them: a new client's secret, from the create call's answer, is stored before anything else is
written; a client whose store failed is given a new secret (``rotate-secret``) and stored. With
``NOTIFICATION_BUS_NAME`` the outcome of every API enabled or found enabled under the lock is
announced (:mod:`~token_exchange_enabler.notifications`) before the caller acknowledges anything.

404s mean what they say: only a 404 on the API itself means "deleted" (or, for an operator's
input, "not found"). A 404 on the Custom API client while merging means it was deleted meanwhile
(:class:`~token_exchange_enabler.errors.StateChanged`: try again); on a downstream grant, that the
configured audience is not an API of the tenant (a configuration failure naming it).

Raises :class:`~token_exchange_enabler.errors.PermanentFailure`,
:class:`~token_exchange_enabler.errors.TryAgain` (the lock is held; the state changed) or a
retryable :class:`~token_exchange_enabler.auth0.Auth0Error`. Entry points turn these into their
own reports; the decision and its outcome are the same everywhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from .auth0 import Auth0Error, BadRequest, Conflict, Deadline, ManagementApi, NotFound
from .client_secrets import ClientSecretStore
from .config import MODE_LEGACY, Config
from .decision import (
    CUSTOM_API_APP_TYPE,
    LEGACY_BODY,
    NOT_MARKED_NOTE,
    NOT_OURS_NOTE,
    USER_SUBJECT,
    Action,
    ApiRef,
    ApiState,
    ClientState,
    Credentials,
    GrantChange,
    GrantState,
    Observed,
    Outcome,
    Plan,
    Status,
    plan,
    plan_from_ref,
)
from .errors import (
    KIND_BUSY,
    PermanentFailure,
    StateChanged,
    TryAgain,
    describe_failure,
    permanent_from,
)
from .locks import DEFAULT_LEASE_SECONDS, ApiLocks, ProcessLocks, lock_key
from .notifications import ANNOUNCED, Notifier

__all__ = ["Enabler", "attempt", "failed", "outcome_of"]

CLIENT_FIELDS = "client_id,app_type,resource_server_identifier,token_exchange,client_metadata"

# What became of the credentials (Outcome.credentials), by the plan's Credentials.
CREDENTIALS_RESULT = {
    Credentials.STORE_CREATED: "stored",
    Credentials.ROTATE_AND_STORE: "renewed_and_stored",
    Credentials.STORED: "already_stored",
    Credentials.NOT_OURS: "not_delivered",
    Credentials.NOT_MARKED: "not_delivered",
    Credentials.UNCHECKED: "not_checked",
}
_CREDENTIALS_NOTES = {Credentials.NOT_OURS: NOT_OURS_NOTE, Credentials.NOT_MARKED: NOT_MARKED_NOTE}


class Enabler:
    """The decision core with its adapters: the Management API client, the configuration, the locks."""

    def __init__(self, api: ManagementApi, config: Config, locks: ApiLocks | None = None, *,
                 secrets: ClientSecretStore | None = None, notifier: Notifier | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.api = api
        self.config = config
        self.locks: ApiLocks = locks if locks is not None else ProcessLocks()
        # Credentials delivery and the platform's event, when configured (their AWS clients are made on first use).
        self.secrets = secrets if secrets is not None or not config.delivers_credentials else ClientSecretStore(config)
        self.notifier = notifier if notifier is not None or not config.notification_bus else \
            Notifier(config.notification_bus)
        self._clock = clock

    @property
    def mode(self) -> str:
        return self.config.mode

    # ---- the entry point

    def enable(self, ref: ApiRef, *, time_left: float | None = None, client_hint: str | None = None) -> Outcome:
        """Enable one API; see the module's docstring.

        ``time_left``: seconds until the caller's deadline (a Lambda function's); the lock's
        lease ends there. None (the command line): a lease of ``DEFAULT_LEASE_SECONDS``, and the
        Management API's waits are bounded by it for as long as the lock is held.
        ``client_hint``: a Custom API client the caller saw naming this API (the sweep's
        listing), for a resource server that does not link it.
        """
        skip = plan_from_ref(ref, self.config)
        if skip is not None:
            return outcome_of(skip, ref)
        if self.config.dry_run:
            return self._dry_run(self.plan(self.observe(ref, client_hint)), ref)
        if not ref.known_id:  # an operator's id or identifier: lock on the id the worker would use
            found = self.read_api(ref.api_id)
            if found is None:
                return outcome_of(plan(Observed(ref, None), self.config), ref)
            ref = ApiRef(api_id=found.api_id, identifier=found.identifier, name=found.name, is_system=found.is_system)
            skip = plan_from_ref(ref, self.config)
            if skip is not None:
                return outcome_of(skip, ref)
        with self.holding(ref.api_id, time_left):
            decided = self.plan(self.observe(ref, client_hint))
            outcome = self.apply(decided) if decided.writes else outcome_of(decided, ref)
            return self.announce(outcome)

    @contextlib.contextmanager
    def holding(self, api_id: str, time_left: float | None = None) -> Iterator[None]:
        """Hold the API's lock (every write to an API happens inside; see :mod:`locks`), for at most
        ``time_left`` seconds, or :data:`DEFAULT_LEASE_SECONDS` bounding the Auth0 waits too."""
        with self._lease(time_left) as lease_seconds, \
                self.locks.hold(lock_key(self.mode, api_id), api_id, lease_seconds):
            yield

    def read_api(self, id_or_identifier: str) -> ApiState | None:
        """The API named by an id or an identifier, or None when Auth0 knows none."""
        try:
            return ApiState.from_auth0(self._call(lambda: self.api.get_resource_server(id_or_identifier)))
        except NotFound:
            return None

    def announce(self, outcome: Outcome) -> Outcome:
        """Send the platform's event for an API enabled or found enabled (``NOTIFICATION_BUS_NAME``);
        the outcome, marked ``notified``. A failure raises: the caller acknowledges nothing."""
        if self.notifier is None or self.config.dry_run or outcome.status not in ANNOUNCED:
            return outcome
        self.notifier.announce(outcome, self.mode)
        return dataclasses.replace(outcome, notified=True)

    def plan(self, observed: Observed) -> Plan:
        return plan(observed, self.config)

    # ---- reading

    def observe(self, ref: ApiRef, client_hint: str | None = None) -> Observed:
        """Read the API and (``on_behalf_of``) its Custom API client."""
        if self.mode == MODE_LEGACY and ref.known_id and ref.identifier:
            # The event carries the API as Auth0 created it and the PATCH sets an absolute value:
            # nothing to read (a deleted API answers the PATCH with a 404).
            return Observed(ref, ApiState(api_id=ref.api_id, identifier=ref.identifier, name=ref.name,
                                          is_system=ref.is_system))
        try:
            api = ApiState.from_auth0(self._call(lambda: self.api.get_resource_server(ref.api_id)))
        except NotFound:
            return Observed(ref, None)
        if self.mode == MODE_LEGACY:
            return Observed(ref, api)
        client = self.custom_api_client(api, client_hint)
        stored, read = None, False
        if self.secrets is not None and client is not None and client.delivers_credentials:
            stored, read = self.secrets.find(api.api_id), True  # described, never read
        return Observed(ref, api, client, self._grants_of(client), stored=stored, credentials_read=read)

    def _grants_of(self, client: ClientState | None) -> tuple[GrantState, ...] | None:
        """The client's user-delegated grants, read only when DOWNSTREAM_GRANTS asks for some."""
        if client is None or not self.config.downstream_grants:
            return None
        return tuple(GrantState.from_auth0(grant) for grant in self._call(lambda: list(self.api.iter_client_grants(
            client_id=client.client_id, subject_type=USER_SUBJECT))))

    def custom_api_client(self, api: ApiState, hint: str | None = None) -> ClientState | None:
        """The API's Custom API client, or None.

        Auth0 names the linked client in the resource server's read-only ``client_id``: a fresh
        read without it (and no hint) means there is none, so a new API needs no client search.
        If the link or the hint names a client that is gone, Custom API clients are listed and
        matched on the identifier (the list endpoint has no filter for it).
        """
        wanted = [client_id for client_id in (api.client_id, hint) if client_id]
        for client_id in dict.fromkeys(wanted):
            try:
                client = ClientState.from_auth0(self._call(partial(self.api.get_client, client_id)))
            except NotFound:
                continue
            if client.resource_server_identifier in (None, api.identifier):
                return client
        if not wanted:
            return None
        named = [ClientState.from_auth0(c) for c in self._call(lambda: list(self.api.iter_clients(
            app_type=CUSTOM_API_APP_TYPE, fields=CLIENT_FIELDS)))
            if c.get("resource_server_identifier") == api.identifier]
        return next((c for c in named if "on_behalf_of_token_exchange" in c.profiles), named[0] if named else None)

    # ---- writing

    def apply(self, decided: Plan) -> Outcome:
        """Make the writes ``decided`` calls for (the caller holds the API's lock)."""
        client_id, created, secret = decided.client_id, False, None
        if decided.action is Action.CREATE_CLIENT:
            body = dict(decided.create_body or {})
            answer = self._call(lambda: self.api.create_client(body), passing=())
            client_id, secret, created = answer.get("client_id"), answer.get("client_secret"), True
            reason = "created its Custom API client with On-Behalf-Of enabled"
        elif decided.action is Action.ENABLE_ON_CLIENT and client_id:
            change = {"token_exchange": dict(decided.token_exchange or {})}
            try:
                self._call(partial(self.api.patch_client, client_id, change))
            except NotFound:
                raise StateChanged(f"Custom API client {client_id} of API {decided.api_id} was deleted while it was "
                                   "being enabled; the next attempt reads the API again") from None
            reason = "On-Behalf-Of enabled on its existing Custom API client"
        elif decided.action is Action.PATCH_RESOURCE_SERVER:
            try:
                self._legacy_patch(decided.api_id)
            except NotFound:
                return outcome_of(Plan(Action.SKIP, decided.api_id, decided.identifier,
                                       "the API no longer exists (deleted after it was created)",
                                       name=decided.name, not_found=True), None)
            reason = "token_exchange set on the resource server (legacy mode)"
        elif decided.action in (Action.ENSURE_GRANTS, Action.NONE) and (
                decided.action is Action.ENSURE_GRANTS or decided.credentials.writes):
            reason = decided.reason
        else:
            raise ValueError(f"nothing to apply for action {decided.action}")
        # The credentials first: a new client's secret exists only in this answer until it is stored.
        secret_arn, note = self._deliver(decided, client_id, secret)
        del secret
        if note:
            reason += "; " + note
        if client_id and decided.grant_changes:
            self._apply_grants(client_id, decided.grant_changes)
            reason += "; downstream grants: " + ", ".join(change.describe() for change in decided.grant_changes)
        status = Status.ENABLED if decided.action in (
            Action.CREATE_CLIENT, Action.ENABLE_ON_CLIENT, Action.PATCH_RESOURCE_SERVER) else Status.ALREADY_ENABLED
        return Outcome(status, decided.api_id, reason, identifier=decided.identifier, name=decided.name,
                       action=decided.action, client_id=client_id, created_client=created,
                       credentials=CREDENTIALS_RESULT.get(decided.credentials), secret_arn=secret_arn)

    def _deliver(self, decided: Plan, client_id: str | None, secret: str | None) -> tuple[str | None, str | None]:
        """Store the client's credentials where the plan says: (the secret's ARN, a note for the reason)."""
        wanted = decided.credentials
        if not wanted.writes:
            return decided.secret_arn, _CREDENTIALS_NOTES.get(wanted)
        if self.secrets is None or not client_id or not decided.identifier:
            raise ValueError("credentials to deliver without a secret store, a client or an identifier")
        if wanted is Credentials.ROTATE_AND_STORE:
            # A client this product made whose credentials were never stored (the store failed after
            # the create, or the secret was deleted): nobody holds its secret, so it gets a new one.
            try:
                secret = self._call(partial(self.api.rotate_client_secret, client_id), passing=(NotFound,)).get(
                    "client_secret")
            except NotFound:
                raise StateChanged(f"Custom API client {client_id} of API {decided.api_id} was deleted while its "
                                   "credentials were being renewed; the next attempt reads the API again") from None
        if not secret:
            raise PermanentFailure(
                f"Auth0 answered for client {client_id} without its client_secret, so its credentials cannot be "
                "stored; replay once the client has a client secret (token_endpoint_auth_method)")
        arn = self.secrets.store(api_id=decided.api_id, identifier=decided.identifier, client_id=client_id,
                                 client_secret=secret)
        if wanted is Credentials.ROTATE_AND_STORE:
            return arn, f"its credentials were not stored: gave client {client_id} a new secret and stored it in " \
                        f"{decided.secret_name}"
        return arn, f"credentials stored in {decided.secret_name}"

    def _legacy_patch(self, api_id: str) -> None:
        try:
            self._call(lambda: self.api.patch_resource_server(api_id, LEGACY_BODY), passing=(NotFound, BadRequest))
        except BadRequest as error:
            if "token_exchange" in (error.message or ""):
                raise PermanentFailure(
                    "this tenant does not support the legacy resource-server token_exchange field "
                    f"(Auth0 answered: {error.message}); set TOKEN_EXCHANGE_MODE=on_behalf_of",
                    configuration=True,
                ) from None
            raise permanent_from(error) from None

    def _apply_grants(self, client_id: str, changes: tuple[GrantChange, ...]) -> None:
        """User-delegated grants from the Custom API client to each downstream API, created or
        brought to the configured scopes."""
        for change in changes:
            try:
                if change.grant_id is None:
                    self._call(partial(self.api.create_client_grant, change.create_body(client_id)),
                               passing=(NotFound, Conflict))
                else:
                    self._call(partial(self.api.update_client_grant, change.grant_id, change.update_body()))
            except Conflict:
                raise StateChanged(f"a grant from client {client_id} to {change.audience} appeared while it was "
                                   "being made; the next attempt reads the grants again") from None
            except NotFound:
                if change.grant_id is not None:
                    raise StateChanged(f"grant {change.grant_id} was deleted while it was being updated; the next "
                                       "attempt reads the grants again") from None
                raise PermanentFailure(
                    f"downstream API {change.audience!r} (DOWNSTREAM_GRANTS) is not an API of this tenant: "
                    "create it or remove it from the setting", configuration=True) from None

    def _call(self, run: Callable[[], Any], *, passing: tuple[type[Auth0Error], ...] = (NotFound,)) -> Any:
        """One Management API call. Errors of the ``passing`` types and retryable ones propagate
        as they are; any other Auth0 error becomes a PermanentFailure with the operator's reason."""
        try:
            return run()
        except passing:
            raise
        except Auth0Error as error:
            if error.retryable:
                raise
            raise permanent_from(error) from None

    # ---- dry run and leases

    def _dry_run(self, decided: Plan, ref: ApiRef) -> Outcome:
        if not decided.writes:
            return outcome_of(decided, ref)
        return Outcome(Status.DRY_RUN, decided.api_id, decided.would(), identifier=decided.identifier,
                       name=decided.name, action=decided.action, client_id=decided.client_id)

    @contextlib.contextmanager
    def _lease(self, time_left: float | None) -> Iterator[float]:
        if time_left is not None:
            yield time_left
            return
        # No deadline of its own (the command line): the lease is the deadline for as long as the
        # lock is held, with a margin of one HTTP read so no request outlives the lease.
        ends = self._clock() + DEFAULT_LEASE_SECONDS
        previous = self.api.deadline
        self.api.deadline = Deadline(lambda: ends - self._clock(), margin=self.config.http_timeout[1] + 1.0)
        try:
            yield DEFAULT_LEASE_SECONDS
        finally:
            self.api.deadline = previous


def outcome_of(decided: Plan, ref: ApiRef | None) -> Outcome:
    """The outcome of a plan that writes nothing (already enabled, skipped, not found)."""
    if decided.action is Action.NONE:
        status = Status.ALREADY_ENABLED
    elif decided.not_found and ref is not None and not ref.known_id:
        status = Status.NOT_FOUND
    elif decided.action is Action.SKIP:
        status = Status.SKIPPED
    else:
        raise ValueError(f"plan {decided.action} writes: apply it")
    note = _CREDENTIALS_NOTES.get(decided.credentials)
    return Outcome(status, decided.api_id, decided.reason + (f"; {note}" if note else ""),
                   identifier=decided.identifier, name=decided.name, action=decided.action,
                   client_id=decided.client_id, credentials=CREDENTIALS_RESULT.get(decided.credentials),
                   secret_arn=decided.secret_arn)


# --------------------------------------------------------------------------- operator reports


def attempt(run: Callable[[], Outcome], ref: ApiRef) -> Outcome:
    """Run one API through the core for an operator's report (``enable``, the sweep): a failure becomes an outcome
    (``failed`` with its kind, or ``busy``) instead of an exception. Nothing is retried here."""
    try:
        return run()
    except (PermanentFailure, TryAgain, Auth0Error) as error:
        reason, kind = describe_failure(error)
        if kind == KIND_BUSY:
            return Outcome(Status.BUSY, ref.api_id, reason, identifier=ref.identifier, name=ref.name,
                           error_kind=kind)
        return failed(ref, reason, kind)


def failed(ref: ApiRef, reason: str, kind: str) -> Outcome:
    return Outcome(Status.FAILED, ref.api_id, reason, identifier=ref.identifier, name=ref.name, error_kind=kind)
