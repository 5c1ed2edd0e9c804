"""``credentials`` and ``rotate``: where an API's client credentials are, and a new secret for them.

Both name the API by id or identifier, like ``enable``, and never show a secret: a report holds
ids, the secret's name and ARN, and what was done.

``locate`` reads the API, its Custom API client and the description of its secret (never the
secret's value), and says whether the secret holds the client's working credentials.

``rotate`` gives the API's Custom API client a new secret and stores it, under the API's lock
(the worker, the sweep, ``enable`` and another ``rotate`` wait their turn). It stores first and
switches second, so that the new secret can never exist only in Auth0:

1. a new secret is drawn here (``secrets.token_urlsafe``: 384 random bits, as long as Auth0's own)
   and put in the secret as ``AWSPENDING`` — the current value still works;
2. Auth0 is told it (``PATCH /api/v2/clients/{id}`` with ``client_secret``, scope
   ``update:client_keys``): from now on the old secret is refused, and Auth0 may take up to 30 s
   to accept the new one everywhere;
3. the pending value becomes ``AWSCURRENT`` (the old one ``AWSPREVIOUS``) and is confirmed (tag
   ``client_id``).

A failure in 1 changes nothing. A failure in 2 leaves Auth0 on the old secret (or, on a lost
answer, perhaps on the new one: run ``rotate`` again, which repeats the whole with a newer secret).
A failure in 3 leaves the new secret in ``AWSPENDING``, working, with the way to finish in the
report; ``rotate`` again finishes too. Auth0's own ``rotate-secret`` endpoint generates the secret
itself and answers it once: a store failing after it would lose that secret, which is why the
rotation sets one it has already stored (the worker, which has nothing stored to lose, renews an
unstored client's secret with ``rotate-secret``: see ``enabling``).

A client made by someone else is not rotated (its owner holds its secret). One the product made
before credentials delivery was turned on is rotated on request and marked, so that the product
looks after its credentials from then on.
"""

from __future__ import annotations

import secrets as random_source
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .auth0 import Auth0Error, Unreachable
from .client_secrets import ClientSecretStore, Staged
from .decision import (
    CREDENTIALS_IN_SECRETS_MANAGER,
    CREDENTIALS_KEY,
    NOT_FOUND_REASON,
    ApiState,
    ClientState,
    StoredCredentials,
)
from .enabling import Enabler
from .errors import (
    KIND_BUSY,
    KIND_REJECTED,
    KIND_TRANSIENT,
    KIND_UNREACHABLE,
    CredentialsNotStored,
    LockBusy,
    PermanentFailure,
    TryAgain,
    describe_failure,
    permanent_from,
)

__all__ = ["CredentialsReport", "locate", "new_secret", "rotate"]

# Report statuses
STORED = "stored"  # the secret holds the client's working credentials
NOT_STORED = "not_stored"  # a client the product made, whose credentials are not (or not yet) stored
NOT_DELIVERED = "not_delivered"  # a client someone else made: the product does not hold its secret
NO_CLIENT = "no_client"  # the API has no Custom API client (not enabled yet)
NOT_FOUND = "not_found"
ROTATED = "rotated"
DRY_RUN = "dry_run"
BUSY = "busy"
FAILED = "failed"
OK_STATUSES = frozenset({STORED, ROTATED, DRY_RUN})

PROPAGATION_NOTE = ("Auth0 refuses the previous secret from now on and may take up to 30 s to accept the new one "
                    "everywhere: a service that is refused re-reads the secret (AWSCURRENT) and retries")
_PROMOTE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class CredentialsReport:
    """What ``credentials`` or ``rotate`` found or did for one API (never a secret)."""

    given: str
    status: str
    reason: str
    api_id: str | None = None
    identifier: str | None = None
    client_id: str | None = None
    created_by_product: bool | None = None
    secret_name: str | None = None
    secret_arn: str | None = None
    version_id: str | None = None  # rotate: the version that holds the new secret
    rotation_pending: bool = False  # a version staged by a rotation that did not finish
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def as_dict(self) -> dict[str, Any]:
        return {"input": self.given, "status": self.status, "api_id": self.api_id, "identifier": self.identifier,
                "client_id": self.client_id, "created_by_product": self.created_by_product,
                "secret_name": self.secret_name, "secret_arn": self.secret_arn, "version_id": self.version_id,
                "rotation_pending": self.rotation_pending, "reason": self.reason, "error_kind": self.error_kind}


def new_secret() -> str:
    """A client secret as strong as Auth0's (64 URL-safe characters, 384 random bits)."""
    return random_source.token_urlsafe(48)


# --------------------------------------------------------------------------- locate


def locate(enabler: Enabler, given: str) -> CredentialsReport:
    """Where the API's client credentials are. Reads only (the secret is described, never read)."""
    return _guarded(given, lambda: _locate(enabler, given))


def _locate(enabler: Enabler, given: str) -> CredentialsReport:
    store = _store(enabler)
    api = enabler.read_api(given.strip())
    if api is None:
        return CredentialsReport(given, NOT_FOUND, NOT_FOUND_REASON, error_kind=KIND_REJECTED)
    client = enabler.custom_api_client(api)
    if client is None or not client.managed:
        return _refusal(given, api, client, "credentials not delivered")
    stored = store.find(api.api_id)
    base = _base(store, api, client, stored)
    if stored is not None and stored.client_id == client.client_id:
        reason = "the secret holds the client's credentials (read its AWSCURRENT value)"
        if stored.pending:
            reason += "; a rotation did not finish: run rotate again"
        return CredentialsReport(given, STORED, reason, **base)
    if client.delivers_credentials:
        reason = ("not stored (a store that failed, or a secret deleted): `enable` gives the client a new secret and "
                  "stores it, and so does the worker's next attempt; `rotate` does it too")
    else:
        reason = ("not stored: the client was created before CLIENT_SECRETS_PREFIX was set (its secret may be in use "
                  "elsewhere); `rotate` gives it a new secret and stores it")
    return CredentialsReport(given, NOT_STORED, reason, error_kind=KIND_REJECTED, **base)


# --------------------------------------------------------------------------- rotate


def rotate(enabler: Enabler, given: str, *, generate: Callable[[], str] = new_secret,
           sleep: Callable[[float], None] = time.sleep) -> CredentialsReport:
    """A new secret for the API's Custom API client, stored; see the module's docstring. A dry run
    (``enabler.config.dry_run``) reads, takes no lock and writes nothing."""
    return _guarded(given, lambda: _rotate(enabler, given, generate, sleep))


def _rotate(enabler: Enabler, given: str, generate: Callable[[], str],
            sleep: Callable[[float], None]) -> CredentialsReport:
    store = _store(enabler)
    found = enabler.read_api(given.strip())
    if found is None:
        return CredentialsReport(given, NOT_FOUND, NOT_FOUND_REASON, error_kind=KIND_REJECTED)
    if enabler.config.dry_run:
        return _rotate_plan(enabler, store, given, found)
    with enabler.holding(found.api_id):
        api = enabler.read_api(found.api_id)  # again, under the lock
        if api is None or not api.identifier:
            return CredentialsReport(given, NOT_FOUND, "the API was deleted meanwhile", error_kind=KIND_REJECTED)
        client = enabler.custom_api_client(api)
        if client is None or not client.managed:
            return _refusal(given, api, client, "not rotated")
        base = _base(store, api, client, None)
        secret = generate()
        keys = {"api_id": api.api_id, "identifier": api.identifier, "client_id": client.client_id,
                "client_secret": secret}
        staged = store.stage(**keys)  # 1. stored first: a failure here changes nothing
        change: dict[str, Any] = {"client_secret": secret}
        if not client.delivers_credentials:  # from now on the product looks after its credentials
            change["client_metadata"] = {**client.metadata, CREDENTIALS_KEY: CREDENTIALS_IN_SECRETS_MANAGER}
        try:
            enabler.api.patch_client(client.client_id, change)  # 2. Auth0 switches
        except Auth0Error as error:
            return _not_switched(given, base, staged, error)
        return _promote(given, store, staged, base, keys, sleep)  # 3. the stored secret becomes current


def _promote(given: str, store: ClientSecretStore, staged: Staged, base: dict[str, Any], keys: dict[str, str],
             sleep: Callable[[float], None]) -> CredentialsReport:
    """Retried: Auth0 refuses the old secret already, so the new one must become current."""
    failure: Exception | None = None
    for attempt in range(_PROMOTE_ATTEMPTS):
        if attempt:
            sleep(float(attempt))
        try:
            version = store.promote(staged, **keys)
        except (CredentialsNotStored, PermanentFailure) as error:
            failure = error
            continue
        return CredentialsReport(given, ROTATED, f"new secret stored as AWSCURRENT (version {version}); "
                                 + PROPAGATION_NOTE, version_id=version, **(base | {"secret_arn": staged.secret_arn}))
    name = base["secret_name"]
    finish = (f"aws secretsmanager update-secret-version-stage --secret-id {name} --version-stage AWSCURRENT "
              f"--move-to-version-id {staged.version_id} --remove-from-version-id <the version that has AWSCURRENT>")
    return CredentialsReport(
        given, FAILED, f"Auth0 uses the new secret, stored in {name} as AWSPENDING (version {staged.version_id}) "
        f"but not made current ({_reason_of(failure)}): run rotate again, or finish by hand: {finish}",
        version_id=staged.version_id, error_kind=KIND_UNREACHABLE,
        **(base | {"secret_arn": staged.secret_arn, "rotation_pending": True}))


def _not_switched(given: str, base: dict[str, Any], staged: Staged, error: Auth0Error) -> CredentialsReport:
    if error.retryable:
        kind = KIND_UNREACHABLE if isinstance(error, Unreachable) else KIND_TRANSIENT
        what = (f"Auth0 did not answer the change of secret ({error}): it may or may not use the new one, which is "
                f"stored as AWSPENDING (version {staged.version_id}); run rotate again")
    else:
        refused = permanent_from(error)
        kind = refused.kind
        what = (f"Auth0 refused the new secret ({refused.reason}); the stored credentials are unchanged (the unused "
                f"new secret waits as AWSPENDING version {staged.version_id}, replaced by the next rotate)")
    return CredentialsReport(given, FAILED, what, version_id=staged.version_id, error_kind=kind,
                             **(base | {"secret_arn": staged.secret_arn, "rotation_pending": True}))


def _rotate_plan(enabler: Enabler, store: ClientSecretStore, given: str, api: ApiState) -> CredentialsReport:
    client = enabler.custom_api_client(api)
    if client is None or not client.managed:
        return _refusal(given, api, client, "not rotated")
    stored = store.find(api.api_id)
    working = stored is not None and stored.client_id == client.client_id
    where = "replacing the credentials stored there" if working else "where no working credentials are stored now"
    return CredentialsReport(given, DRY_RUN, f"would give client {client.client_id} a new secret and store it in "
                             f"{store.name(api.api_id)}, {where}", **_base(store, api, client, stored))


def _refusal(given: str, api: ApiState, client: ClientState | None, verb: str) -> CredentialsReport:
    """Why there is nothing to locate or rotate: no client, or one someone else made."""
    if client is None:
        return CredentialsReport(given, NO_CLIENT, "the API has no Custom API client: enable it first",
                                 api_id=api.api_id, identifier=api.identifier, error_kind=KIND_REJECTED)
    return CredentialsReport(given, NOT_DELIVERED, f"{verb}: the client was not created by this product; its owner "
                             "holds its secret", api_id=api.api_id, identifier=api.identifier,
                             client_id=client.client_id, created_by_product=False, error_kind=KIND_REJECTED)


def _base(store: ClientSecretStore, api: ApiState, client: ClientState,
          stored: StoredCredentials | None) -> dict[str, Any]:
    return {"api_id": api.api_id, "identifier": api.identifier, "client_id": client.client_id,
            "created_by_product": client.managed, "secret_name": store.name(api.api_id),
            "secret_arn": stored.secret_arn if stored else None, "rotation_pending": bool(stored and stored.pending)}


# --------------------------------------------------------------------------- plumbing


def _store(enabler: Enabler) -> ClientSecretStore:
    if enabler.secrets is None:
        raise PermanentFailure("CLIENT_SECRETS_PREFIX is not set: credentials are not delivered", configuration=True)
    return enabler.secrets


def _guarded(given: str, run: Callable[[], CredentialsReport]) -> CredentialsReport:
    """A failure becomes a report, as ``enable`` reports its failures (nothing is retried here)."""
    try:
        return run()
    except CredentialsNotStored as error:
        return CredentialsReport(given, FAILED, f"transient: {error}; nothing was changed in Auth0",
                                 error_kind=KIND_TRANSIENT)
    except (PermanentFailure, TryAgain, Auth0Error) as error:
        reason, kind = describe_failure(error)
        return CredentialsReport(given, BUSY if kind == KIND_BUSY else FAILED, reason, error_kind=kind,
                                 api_id=error.api_id if isinstance(error, LockBusy) else None)


def _reason_of(error: Exception | None) -> str:
    if isinstance(error, PermanentFailure):
        return error.reason
    return str(error) if error else "unknown"
