"""Benchmark peer: enables On-Behalf-Of with a new Management API token on every invocation.

What a first version often looks like: read the M2M credentials, ``POST /oauth/token``, then for
each "API created" record ``GET`` the API and create its Custom API client with ``token_exchange``
(or merge the profile into the existing client). A 429 is waited out until ``x-ratelimit-reset``.
Same contract as the product's worker: SQS batch in, ``batchItemFailures`` out.
"""

import json
import os
import random
import time
from datetime import UTC, datetime
from urllib.parse import quote

import boto3
import requests

OBO = "on_behalf_of_token_exchange"
BASE = os.environ.get("AUTH0_BASE_URL") or f"https://{os.environ['AUTH0_DOMAIN']}"
AUDIENCE = f"https://{os.environ['AUTH0_DOMAIN']}/api/v2/"
_session = requests.Session()
_credentials = None


def _log(api_id, status, reason):
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S,%f%z")
    print(json.dumps({"api_id": api_id, "status": status, "reason": reason, "timestamp": stamp}), flush=True)


def _get_credentials():
    global _credentials
    if _credentials is None:
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["AUTH0_CREDENTIALS_SECRET_ID"])
        _credentials = json.loads(secret["SecretString"])
    return _credentials


def _get_token():
    creds = _get_credentials()
    response = _session.post(f"{BASE}/oauth/token", timeout=10, json={
        "grant_type": "client_credentials", "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "audience": AUDIENCE})
    response.raise_for_status()
    return response.json()["access_token"]


def _call(token, method, path, body=None):
    for _ in range(20):
        response = _session.request(method, f"{BASE}/api/v2{path}", json=body, timeout=10,
                                    headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 429:
            return response
        reset = float(response.headers.get("x-ratelimit-reset", time.time() + 1))
        time.sleep(min(5.0, max(0.1, reset - time.time())) + random.uniform(0, 0.2))  # noqa: S311
    return response


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


def _enable(token, api):
    if api.get("is_system"):
        return "skipped", "system API"
    got = _call(token, "GET", f"/resource-servers/{quote(api['id'], safe='')}")
    if got.status_code == 404:
        return "skipped", "the API no longer exists"
    got.raise_for_status()
    server = got.json()
    if server.get("is_system"):
        return "skipped", "system API"
    if server.get("client_id"):
        client = _call(token, "GET", f"/clients/{quote(server['client_id'], safe='')}")
        client.raise_for_status()
        exchange = client.json().get("token_exchange") or {}
        profiles = exchange.get("allow_any_profile_of_type") or []
        if OBO in profiles:
            return "already_enabled", "On-Behalf-Of already enabled"
        patched = _call(token, "PATCH", f"/clients/{quote(server['client_id'], safe='')}",
                        {"token_exchange": {**exchange, "allow_any_profile_of_type": [*profiles, OBO]}})
        patched.raise_for_status()
        return "enabled", "On-Behalf-Of enabled on its existing Custom API client"
    name = (server.get("name") or server["identifier"]).replace("<", "").replace(">", "")[:110]
    created = _call(token, "POST", "/clients", {
        "name": f"{name} (token exchange)", "app_type": "resource_server",
        "resource_server_identifier": server["identifier"],
        "token_exchange": {"allow_any_profile_of_type": [OBO]}})
    created.raise_for_status()
    return "enabled", "created its Custom API client with On-Behalf-Of enabled"


def lambda_handler(event, context):
    token = _get_token()  # every invocation
    failures = []
    for record in event["Records"]:
        try:
            api = _created_api(record)
            if api is not None:
                _log(api["id"], *_enable(token, api))
        except Exception:  # noqa: BLE001 - the record goes back to the queue
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
