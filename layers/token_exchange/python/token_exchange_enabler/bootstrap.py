"""Builds the worker from configuration: the one place where adapters are created.

The Lambda handler, the operator CLI and the local stack all come through here, so they run
the same code with the same settings. Heavy or optional parts (boto3 clients) are
imported only when configured, to keep cold starts short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from .auth0 import CallStats, ClientCredentials, Deadline, ManagementApi, TokenEndpoint, new_session
from .config import Config
from .enabling import Enabler
from .locks import ApiLocks, DynamoDbLocks, ProcessLocks
from .token_cache import TokenProvider
from .worker import DeadLetters, Worker

if TYPE_CHECKING:  # imported when used, to keep cold starts short
    from aws_lambda_powertools.utilities.parameters import SecretsProvider


class TokenRefresh(TypedDict):
    """The refresh settings of token_cache.TokenProvider, as keyword arguments."""

    refresh_ahead: float
    min_remaining: float
    floor_fraction: float


# When the worker refreshes its Management API token: 5 % of the lifetime ahead, and never hands
# out one with less than 10 s (or a tenth of a short lifetime) left. That is ~1.05 fetches per
# lifetime for Auth0's default 24 h tokens and ~1.1 for one-minute tokens; a token that still
# expires during a call costs one 401 and one refresh (see auth0.ManagementApi).
TOKEN_REFRESH: TokenRefresh = {"refresh_ahead": 0.05, "min_remaining": 10.0, "floor_fraction": 0.1}

# Token-cache events worth a metric (see token_cache.TokenProvider's on_event).
_TOKEN_METRICS = {"fetched": "TokenFetched", "cache_error": "TokenCacheErrors"}

AwsClients = Callable[..., Any]
"""``aws(service, **client_kwargs)`` -> a boto3 client, e.g. from a ``boto3.Session`` with a profile."""


@dataclass
class Runtime:
    config: Config
    stats: CallStats
    tokens: TokenProvider
    api: ManagementApi
    enabler: Enabler  # the decision core: every entry point enables through it, under its locks
    worker: Worker


class SecretCredentials:
    """The Auth0 client credentials, read through Powertools Parameters (cached for 5 minutes).

    After Auth0 rejects them, the next read bypasses the cache: an operator who fixes the secret
    sees it used within one retry, not after the cache expires.
    """

    def __init__(self, secret_id: str, max_age: int = 300, client: Any = None):
        self._secret_id = secret_id
        self._max_age = max_age
        self._force = False
        self._client = client  # a secretsmanager client; None: one from boto3's default session
        self._provider: SecretsProvider | None = None

    def __call__(self) -> ClientCredentials:
        from aws_lambda_powertools.utilities import parameters

        if self._provider is None:  # one provider, so that its cache (max_age) lasts
            if self._client is None:
                # boto3's default session, which the token cache and the locks use too: Powertools'
                # own default provider builds a session of its own, and loading botocore's models
                # twice cost a cold start ~45 ms (see bench/results.md).
                import boto3

                self._client = boto3.client("secretsmanager")
            self._provider = parameters.SecretsProvider(boto3_client=self._client)
        value: object = self._provider.get(self._secret_id, transform="json", max_age=self._max_age,
                                           force_fetch=self._force)  # any JSON: from_secret checks it
        self._force = False
        return ClientCredentials.from_secret(value)

    def rejected(self) -> None:
        self._force = True


def _short_timeouts() -> Any:
    """botocore settings of the AWS calls made inside an invocation: a slow call must not eat its time."""
    from botocore.config import Config as BotoConfig

    return BotoConfig(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


def build_runtime(config: Config, *, metrics: Any = None, session=None, aws: AwsClients | None = None) -> Runtime:
    """Every adapter, wired. ``session``: the ``requests`` session for Auth0; ``aws``: where boto3
    clients come from (the operator CLI passes its ``--profile``/``--region``/``--endpoint-url``
    session); None: boto3's default session, as on Lambda."""
    stats = CallStats()
    session = session or new_session()
    credentials = SecretCredentials(config.credentials_secret_id,
                                    client=aws("secretsmanager") if aws else None)
    endpoint = TokenEndpoint(base_url=config.base_url, audience=config.audience, credentials=credentials,
                             session=session, timeout=config.http_timeout, stats=stats)

    def fetch():
        from .auth0 import CredentialsRejected

        try:
            return endpoint.fetch()
        except CredentialsRejected:
            credentials.rejected()
            raise

    def on_token_event(name: str) -> None:
        metric = _TOKEN_METRICS.get(name)
        if metric and metrics is not None:
            from aws_lambda_powertools.metrics import MetricUnit

            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)

    cache_client = None
    if aws is not None:
        # The same short timeouts as token_cache's own client: a slow cache must not cost more than fetching.
        cache_client = aws("secretsmanager", config=_short_timeouts())
    tokens = TokenProvider(fetch=fetch, cache_secret_id=config.token_cache_secret_id, on_event=on_token_event,
                           secrets_client=cache_client, **TOKEN_REFRESH)
    api = ManagementApi(base_url=config.base_url, tokens=tokens, session=session, timeout=config.http_timeout,
                        stats=stats, rate_share=config.rate_share)
    # The per-API locks (locks.py): in the table when there is one, shared by every instance,
    # the sweep and the operator tools; else within this process only.
    locks: ApiLocks = (DynamoDbLocks(config.idempotency_table, aws("dynamodb") if aws else None)
                       if config.idempotency_table else ProcessLocks())
    # Credentials delivery and the platform's event, only when configured (nothing imported otherwise).
    secrets = notifier = None
    if config.delivers_credentials:
        from .client_secrets import ClientSecretStore

        secrets = ClientSecretStore(config, client=aws("secretsmanager", config=_short_timeouts()) if aws else None)
    if config.notification_bus:
        from .notifications import Notifier

        notifier = Notifier(config.notification_bus, client=aws("events", config=_short_timeouts()) if aws else None)
    enabler = Enabler(api, config, locks, secrets=secrets, notifier=notifier)

    def set_deadline(deadline: Deadline) -> None:
        api.deadline = deadline  # also the token provider's (waiting for another instance's refresh)
        endpoint.deadline = deadline  # token-endpoint 429 waits, also for fetches outside a Management API call

    worker = Worker(
        enabler=enabler,
        dead_letters=(DeadLetters(config.dead_letter_queue_url, aws("sqs") if aws else None)
                      if config.dead_letter_queue_url else None),
        stats=stats,
        deadline_setter=set_deadline,
        metrics=metrics,
    )
    return Runtime(config=config, stats=stats, tokens=tokens, api=api, enabler=enabler, worker=worker)
