"""In-memory stand-ins for Secrets Manager and the Auth0 HTTP session, injected through the
library's own seams (``TokenProvider(secrets_client=...)``, ``ManagementApi(session=...)``,
``TokenEndpoint(session=...)``): nothing is patched.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable

import requests
from botocore.exceptions import ClientError
from requests.structures import CaseInsensitiveDict


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeSecretsManager:
    """``get_secret_value`` / ``put_secret_value`` with Secrets Manager's version semantics.

    ``PutSecretValue`` is idempotent on ``ClientRequestToken``: the same token with other content
    is ``ResourceExistsException``; a staging label moves to the new version; a secret without a
    value answers ``ResourceNotFoundException`` (what the token cache's claim protocol relies on).
    """

    def __init__(self) -> None:
        self.versions: dict[str, dict[str, str]] = {}  # secret -> version id -> value
        self.stages: dict[str, dict[str, str]] = {}  # secret -> stage -> version id
        self.calls = 0

    def get_secret_value(self, SecretId: str, VersionStage: str | None = None,  # noqa: N803 - boto3's names
                         VersionId: str | None = None) -> dict:
        self.calls += 1
        versions = self.versions.get(SecretId, {})
        version = VersionId or self.stages.get(SecretId, {}).get(VersionStage or "AWSCURRENT")
        if version is None or version not in versions:
            raise _client_error("ResourceNotFoundException", "GetSecretValue")
        return {"Name": SecretId, "VersionId": version, "SecretString": versions[version]}

    def put_secret_value(self, SecretId: str, ClientRequestToken: str, SecretString: str,  # noqa: N803
                         VersionStages: list[str] | None = None) -> dict:
        self.calls += 1
        versions = self.versions.setdefault(SecretId, {})
        if ClientRequestToken in versions:
            if versions[ClientRequestToken] != SecretString:
                raise _client_error("ResourceExistsException", "PutSecretValue")
            return {"VersionId": ClientRequestToken}
        first = not versions
        versions[ClientRequestToken] = SecretString
        stages = self.stages.setdefault(SecretId, {})
        for stage in VersionStages or ["AWSCURRENT"]:
            if stage == "AWSCURRENT" and "AWSCURRENT" in stages:
                stages["AWSPREVIOUS"] = stages["AWSCURRENT"]
            stages[stage] = ClientRequestToken
        if first:
            stages["AWSCURRENT"] = ClientRequestToken  # a secret's first version is always AWSCURRENT
        return {"VersionId": ClientRequestToken}


class FakeAuth0Session:
    """Answers the token grant and the Management API calls of a new API, as a tenant would.

    ``GET /resource-servers/{id}``: the API, with no Custom API client yet; ``POST /clients``: the
    created client; ``POST /oauth/token``: a token living ``token_lifetime`` seconds. Every answer
    carries a bucket that is far from empty, so no rate-limit wait is ever taken.
    """

    def __init__(self, token_lifetime: float = 86400.0, clock: Callable[[], float] = time.time):
        self._ids = itertools.count(1)
        self._lifetime = token_lifetime
        self._clock = clock
        self.calls: dict[str, int] = {}

    def _answer(self, status: int, body: dict, url: str) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({
            "content-type": "application/json; charset=utf-8", "x-ratelimit-limit": "50",
            "x-ratelimit-remaining": "49", "x-ratelimit-reset": str(int(self._clock()) + 1)})
        response.encoding = "utf-8"
        response.url = url
        response.reason = "OK"
        return response

    def _count(self, key: str) -> None:
        self.calls[key] = self.calls.get(key, 0) + 1

    def post(self, url: str, json: dict | None = None, timeout: object = None, **_: object) -> requests.Response:
        if url.endswith("/oauth/token"):
            self._count("POST /oauth/token")
            return self._answer(200, {"access_token": f"token-{next(self._ids)}", "expires_in": self._lifetime,
                                      "scope": "read:resource_servers create:clients", "token_type": "Bearer"}, url)
        return self.request("POST", url, json=json)

    def request(self, method: str, url: str, json: dict | None = None, params: object = None,
                headers: object = None, timeout: object = None) -> requests.Response:
        path = url.split("/api/v2", 1)[-1]
        if method == "GET" and path.startswith("/resource-servers/"):
            self._count("GET /resource-servers/{id}")
            api_id = path.rsplit("/", 1)[-1]
            return self._answer(200, {"id": api_id, "identifier": f"https://{api_id}.example.com",
                                      "name": f"API {api_id}", "is_system": False, "signing_alg": "RS256"}, url)
        if method == "POST" and path == "/clients":
            self._count("POST /clients")
            return self._answer(201, {**(json or {}), "client_id": f"c{next(self._ids):031d}"}, url)
        self._count(f"{method} {path}")
        return self._answer(404, {"statusCode": 404, "error": "Not Found", "message": "not emulated"}, url)
