"""``token-exchange-enabler canary``: the end-to-end proof on a live tenant.

Creates a throwaway API (identifier ``urn:token-exchange-enabler:canary:<random>``, name
beginning "token-exchange-enabler canary") with the operator's token, then watches the tenant
until the deployed event path has enabled it — its Custom API client (the API's read-only
``client_id``) allows On-Behalf-Of, or, in the legacy mode, the API has ``token_exchange`` —
and reports the latency from the create call to the first look that saw it enabled (an upper
bound: the tenant is looked at every ``poll_interval`` seconds).

Whatever happens — enabled, timeout, a failure, Ctrl-C — the canary's Custom API client(s), their
client grants, the credentials secret delivered for it (``CLIENT_SECRETS_PREFIX``) and the API
itself are deleted. The clients are looked for again after the API is deleted, since the worker
may have been creating one at that moment; ``cleaned_up`` says whether nothing is left.

The operator's token needs ``create:resource_servers``, ``read:resource_servers``,
``delete:resource_servers``, ``read:clients`` and ``delete:clients`` (and ``read:client_grants``,
``delete:client_grants`` when downstream grants are configured). The product's own application
keeps its least privilege.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .auth0 import Auth0Error, Forbidden, ManagementApi, NotFound
from .aws_errors import aws_error_code, aws_errors
from .config import MODE_LEGACY
from .decision import CUSTOM_API_APP_TYPE, OBO_PROFILE

IDENTIFIER_PREFIX = "urn:token-exchange-enabler:canary:"
NAME_PREFIX = "token-exchange-enabler canary"

RESULT_ENABLED = "enabled"
RESULT_TIMEOUT = "timeout"
RESULT_INTERRUPTED = "interrupted"
RESULT_FAILED = "failed"
RESULT_PLANNED = "planned"  # --dry-run: nothing created


@dataclass
class CanaryReport:
    identifier: str
    mode: str
    timeout_seconds: float
    result: str = RESULT_FAILED
    api_id: str | None = None
    latency_ms: float | None = None
    cleaned_up: bool = False
    left_behind: list[str] = field(default_factory=list)  # what could not be deleted
    error: str | None = None
    unreachable: bool = False

    @property
    def ok(self) -> bool:
        return self.result == RESULT_ENABLED

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "latency_ms": self.latency_ms, "api_id": self.api_id, "cleaned_up": self.cleaned_up,
                "result": self.result, "identifier": self.identifier, "mode": self.mode,
                "timeout_seconds": self.timeout_seconds, "left_behind": list(self.left_behind), "error": self.error}


def plan_canary(*, mode: str, timeout: float) -> CanaryReport:
    """What the canary would do (``--dry-run``): the identifier it would create; nothing is created."""
    return CanaryReport(identifier=IDENTIFIER_PREFIX + secrets.token_hex(6), mode=mode, timeout_seconds=timeout,
                        result=RESULT_PLANNED, cleaned_up=True)


def run_canary(api: ManagementApi, *, mode: str, timeout: float = 120.0, poll_interval: float = 2.0,
               should_stop: Callable[[], bool] = lambda: False,
               secret_name: Callable[[str], str] | None = None, secrets_client: Any = None,
               delete_grants: bool = False, progress: Callable[[str], None] = lambda text: None,
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
               ) -> CanaryReport:
    """Create the canary API, wait until it is enabled (or ``timeout``, or ``should_stop()``), clean up.

    ``secret_name(api_id)``: where the worker delivers its client's credentials (None: delivery off);
    ``secrets_client`` deletes that secret; ``delete_grants``: downstream grants are configured, so the
    canary client's client grants are deleted first. A KeyboardInterrupt while waiting is a stop too; one during
    the clean-up ends it (``left_behind`` then names what stays).
    """
    suffix = secrets.token_hex(6)
    report = CanaryReport(identifier=IDENTIFIER_PREFIX + suffix, mode=mode, timeout_seconds=timeout)
    try:
        started = clock()
        created = api.create_resource_server({"identifier": report.identifier, "name": f"{NAME_PREFIX} {suffix}"})
        report.api_id = str(created["id"])
        progress(f"canary: created API {report.api_id} ({report.identifier}); waiting for it to be enabled")
        deadline = started + timeout
        while True:
            if _enabled(api, report.api_id, mode):
                report.result = RESULT_ENABLED
                report.latency_ms = round((clock() - started) * 1000, 1)
                break
            if should_stop():
                report.result = RESULT_INTERRUPTED
                break
            if clock() >= deadline:
                report.result = RESULT_TIMEOUT
                report.error = (f"not enabled within {timeout:g} s: run `token-exchange-enabler doctor` to find the "
                                "broken link, and look at the worker's log")
                break
            sleep(min(poll_interval, max(0.0, deadline - clock())))
    except KeyboardInterrupt:
        report.result = RESULT_INTERRUPTED
    except Auth0Error as error:
        report.result = RESULT_FAILED
        report.error = f"Auth0: {error}"
        report.unreachable = error.retryable
    finally:
        _clean_up(api, report, secret_name=secret_name, secrets_client=secrets_client, delete_grants=delete_grants,
                  progress=progress)
    return report


def _enabled(api: ManagementApi, api_id: str, mode: str) -> bool:
    server = api.get_resource_server(api_id)
    if mode == MODE_LEGACY:
        return bool(server.get("token_exchange"))
    client_id = server.get("client_id")
    if not client_id:
        return False
    try:
        client = api.get_client(str(client_id))
    except NotFound:
        return False
    profiles = (client.get("token_exchange") or {}).get("allow_any_profile_of_type") or []
    return OBO_PROFILE in profiles


def _clean_up(api: ManagementApi, report: CanaryReport, *, secret_name: Callable[[str], str] | None,
              secrets_client: Any, delete_grants: bool, progress: Callable[[str], None]) -> None:
    """Delete the canary's clients (with their grants), its delivered secret and the API; then look
    for clients again (one may have been created meanwhile). Never raises: what stays is listed."""
    left: list[str] = []
    try:
        if report.api_id is None:
            # The create may have reached Auth0 without its answer reaching us: look it up.
            try:
                report.api_id = str(api.get_resource_server(report.identifier)["id"])
            except NotFound:
                report.cleaned_up = True
                return
        progress(f"canary: cleaning up API {report.api_id}")
        _delete_clients(api, report.identifier, left, delete_grants)
        try:
            api.delete_resource_server(report.api_id)
        except NotFound:
            pass
        _delete_clients(api, report.identifier, left, delete_grants)  # created while the API was being deleted
        if secret_name is not None and secrets_client is not None:
            name = secret_name(report.api_id)
            try:
                secrets_client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
            except aws_errors() as error:
                if aws_error_code(error) != "ResourceNotFoundException":
                    left.append(f"secret {name} ({aws_error_code(error)})")
    except KeyboardInterrupt:
        left.append(f"the clean-up was interrupted: API {report.api_id} ({report.identifier}) and its client may "
                    "remain")
    except Auth0Error as error:
        left.append(f"API {report.api_id} ({report.identifier}): {error}")
    report.left_behind = left
    report.cleaned_up = not left


def _delete_clients(api: ManagementApi, identifier: str, left: list[str], delete_grants: bool) -> None:
    clients = [client for client in api.iter_clients(app_type=CUSTOM_API_APP_TYPE,
                                                     fields="client_id,resource_server_identifier")
               if client.get("resource_server_identifier") == identifier]
    for client in clients:
        client_id = str(client["client_id"])
        if delete_grants:
            try:
                for grant in list(api.iter_client_grants(client_id=client_id)):
                    api.delete_client_grant(str(grant["id"]))
            except Forbidden as error:
                left.append(f"client grants of {client_id} (the operator's token may not read or delete them: "
                            f"{error})")
        try:
            api.delete_client(client_id)
        except NotFound:
            pass
