"""Benchmark peer: enables On-Behalf-Of with Auth0's Python SDK (auth0-python), token cached per process.

The token is handled the way the SDK's ``ManagementClient(domain, client_id, client_secret)`` does
it: its own ``TokenProvider`` keeps the token in the process until 10 s before it expires. Only
the fetch itself goes through the SDK's ``GetToken`` with ``protocol="http"``, because
``TokenProvider`` always builds ``https://{domain}/oauth/token`` and the local Auth0 is plain http
on loopback. After a 401 the token is dropped and fetched again (once per call). The Management
API client is the SDK's ``Auth0`` pointed at the emulator with ``base_url``; its own retries wait
out a 429 until ``x-ratelimit-reset``. Same contract as the product's worker.
"""

import json
import os
import time
from datetime import UTC, datetime

import boto3
from auth0.authentication import GetToken
from auth0.management import Auth0, NotFoundError, UnauthorizedError
from auth0.management.token_provider import TokenProvider

OBO = "on_behalf_of_token_exchange"
DOMAIN = os.environ["AUTH0_DOMAIN"]
BASE = os.environ.get("AUTH0_BASE_URL") or f"https://{DOMAIN}"
AUDIENCE = f"https://{DOMAIN}/api/v2/"


class _HttpTokenProvider(TokenProvider):
    """The SDK's per-process token cache, fetching through ``GetToken`` (which can use http)."""

    def _fetch_token(self):
        protocol, host = BASE.split("://", 1)
        token = GetToken(host, self._client_id, client_secret=self._client_secret,
                         protocol=protocol).client_credentials(audience=self._audience)
        self._access_token = token["access_token"]
        self._expires_at = time.time() + token["expires_in"]

    def drop(self):
        with self._lock:
            self._access_token = None


_tokens = None
_api = None


def _log(api_id, status, reason):
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S,%f%z")
    print(json.dumps({"api_id": api_id, "status": status, "reason": reason, "timestamp": stamp}), flush=True)


def _client():
    global _tokens, _api
    if _api is None:
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["AUTH0_CREDENTIALS_SECRET_ID"])
        creds = json.loads(secret["SecretString"])
        _tokens = _HttpTokenProvider(domain=DOMAIN, client_id=creds["client_id"],
                                     client_secret=creds["client_secret"], audience=AUDIENCE)
        _api = Auth0(base_url=f"{BASE}/api/v2", token=_tokens.get_token, max_retries=10)
    return _api


def _once_more_on_401(call):
    try:
        return call()
    except UnauthorizedError:
        if _tokens is not None:
            _tokens.drop()
        return call()


def _created_api(record):
    """The new API of an "API created" log event, or None for any other event."""
    data = json.loads(record["body"]).get("detail", {}).get("data", {})
    details = data.get("details", {})
    request, response = details.get("request", {}), details.get("response", {})
    if (data.get("type") != "sapi" or request.get("method") != "post"
            or request.get("path", "").split("?")[0] != "/api/v2/resource-servers"
            or not 200 <= int(response.get("statusCode", 0)) < 300):
        return None
    return response.get("body") or None


def _enable(api, new):
    if new.get("is_system"):
        return "skipped", "system API"
    try:
        server = _once_more_on_401(lambda: api.resource_servers.get(new["id"]))
    except NotFoundError:
        return "skipped", "the API no longer exists"
    if server.is_system:
        return "skipped", "system API"
    if server.client_id:
        client = _once_more_on_401(lambda: api.clients.get(server.client_id))
        exchange = client.token_exchange.model_dump(exclude_none=True) if client.token_exchange else {}
        profiles = list(exchange.get("allow_any_profile_of_type") or [])
        if OBO in profiles:
            return "already_enabled", "On-Behalf-Of already enabled"
        merged = {**exchange, "allow_any_profile_of_type": [*profiles, OBO]}
        _once_more_on_401(lambda: api.clients.update(server.client_id, token_exchange=merged))
        return "enabled", "On-Behalf-Of enabled on its existing Custom API client"
    name = (server.name or server.identifier).replace("<", "").replace(">", "")[:110]
    _once_more_on_401(lambda: api.clients.create(
        name=f"{name} (token exchange)", app_type="resource_server", resource_server_identifier=server.identifier,
        token_exchange={"allow_any_profile_of_type": [OBO]}))
    return "enabled", "created its Custom API client with On-Behalf-Of enabled"


def lambda_handler(event, context):
    api = _client()
    failures = []
    for record in event["Records"]:
        try:
            new = _created_api(record)
            if new is not None:
                _log(new["id"], *_enable(api, new))
        except Exception:  # noqa: BLE001 - the record goes back to the queue
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
