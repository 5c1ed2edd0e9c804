"""Configuration from the environment, validated once at start.

Every problem is collected and reported together, one clear line per variable, so that a
deployment with two mistakes is fixed in one round trip. Nothing here does I/O.

The names are a contract shared with the SAM template, the operator CLI and the local stack;
see the README's configuration table.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MODE_ON_BEHALF_OF = "on_behalf_of"
MODE_LEGACY = "legacy_resource_server"
MODES = (MODE_ON_BEHALF_OF, MODE_LEGACY)

# A tenant's canonical domain: labels of letters, digits and hyphens, at least one dot.
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


# The share of the tenant's Management API bucket the product may use when nothing says otherwise:
# half. The product is a background job sharing one bucket with every other client of the tenant
# (Terraform and Deploy CLI runs, the Dashboard, the customer's own services); keeping half of the
# bucket's burst in reserve lets them go on as if the product were not there, while a burst of new
# APIs still drains at the tenant's rate whenever nobody else is using it.
DEFAULT_RATE_SHARE = 0.5
_SCOPE = re.compile(r"^[^\s\x00-\x1f]{1,280}$")
# Secrets Manager's secret names: letters, digits and /_+=.@- (at most 512 characters, the API id
# included); the prefix must leave room for the 24-character API id.
_SECRET_PREFIX = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,256}$")
# A KMS key as Secrets Manager's KmsKeyId takes it: key id, key ARN, alias name or alias ARN.
_KMS_KEY = re.compile(r"^[A-Za-z0-9:/_+=.@-]{1,2048}$")
# An EventBridge bus: its name (EventBridge's naming rule) or its ARN.
_BUS_NAME = r"[/.\-_A-Za-z0-9]{1,256}"
_EVENT_BUS = re.compile(rf"^({_BUS_NAME}|arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{{12}}:event-bus/{_BUS_NAME})$")


@dataclass(frozen=True, slots=True)
class DownstreamGrant:
    """One entry of ``DOWNSTREAM_GRANTS``: a user-delegated grant from each Custom API client to
    ``audience``, for ``scopes`` (None: every scope of that API, Auth0's ``allow_all_scopes``)."""

    audience: str
    scopes: tuple[str, ...] | None

    @property
    def all_scopes(self) -> bool:
        return self.scopes is None

    def describe(self) -> str:
        return f"{self.audience} ({'all scopes' if self.scopes is None else ' '.join(self.scopes)})"


class ConfigError(ValueError):
    """The environment does not describe a usable configuration."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class Config:
    auth0_domain: str
    credentials_secret_id: str
    token_cache_secret_id: str
    mode: str = MODE_ON_BEHALF_OF
    base_url: str = ""
    dead_letter_queue_url: str | None = None
    idempotency_table: str | None = None
    skip_identifier_patterns: tuple[str, ...] = ()
    dry_run: bool = False
    downstream_grants: tuple[DownstreamGrant, ...] = ()
    rate_share: float = DEFAULT_RATE_SHARE
    skip_created_by_client_ids: frozenset[str] = frozenset()
    client_name_suffix: str = " (token exchange)"
    http_timeout: tuple[float, float] = field(default=(3.05, 10.0))
    # Credentials delivery (client_secrets.py): where each Custom API client the product creates has
    # its credentials stored (None: off), and the customer managed KMS key that encrypts them.
    client_secrets_prefix: str | None = None
    client_secrets_kms_key_id: str | None = None
    # The EventBridge bus that hears of every API enabled (notifications.py); None: off.
    notification_bus: str | None = None

    @property
    def delivers_credentials(self) -> bool:
        return bool(self.client_secrets_prefix)

    def client_secret_name(self, api_id: str) -> str:
        """Where the credentials of the API's Custom API client are stored: ``<prefix><API id>``."""
        if not self.client_secrets_prefix:
            raise ValueError("CLIENT_SECRETS_PREFIX is not set")
        return f"{self.client_secrets_prefix}{api_id}"

    @property
    def audience(self) -> str:
        """The Management API audience: always the canonical domain, whatever base_url says."""
        return f"https://{self.auth0_domain}/api/v2/"

    def is_skipped_identifier(self, identifier: str) -> str | None:
        """The skip pattern that matches ``identifier``, if any (case-sensitive fnmatch)."""
        for pattern in self.skip_identifier_patterns:
            if fnmatch.fnmatchcase(identifier, pattern):
                return pattern
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is required")
            return value

        domain = required("AUTH0_DOMAIN").lower()
        if domain and not _DOMAIN.match(domain):
            problems.append(
                f"AUTH0_DOMAIN must be the tenant's domain such as 'acme.eu.auth0.com' "
                f"(no scheme, no path), got {_shorten(domain)!r}"
            )
        credentials = required("AUTH0_CREDENTIALS_SECRET_ID")
        cache = required("TOKEN_CACHE_SECRET_ID")

        mode = env.get("TOKEN_EXCHANGE_MODE", "").strip() or MODE_ON_BEHALF_OF
        if mode not in MODES:
            problems.append(_mode_problem(mode))

        base_url = env.get("AUTH0_BASE_URL", "").strip().rstrip("/")
        if base_url:
            problem = base_url_problem(base_url)
            if problem:
                problems.append(f"AUTH0_BASE_URL {problem}")
        elif domain:
            base_url = f"https://{domain}"

        dry_run = env.get("DRY_RUN", "").strip().lower()
        if dry_run not in _TRUE | _FALSE:
            problems.append(_flag_problem("DRY_RUN", dry_run))

        timeout_text = env.get("AUTH0_HTTP_TIMEOUT", "").strip()
        timeout = (3.05, 10.0)
        if timeout_text:
            try:
                read = float(timeout_text)
                if not 0 < read <= 300:
                    raise ValueError
                timeout = (min(3.05, read), read)
            except ValueError:
                problems.append(f"AUTH0_HTTP_TIMEOUT must be seconds between 0 and 300, got {_shorten(timeout_text)!r}")

        if env.get("DOWNSTREAM_GRANT_AUDIENCES", "").strip():
            problems.append(
                "DOWNSTREAM_GRANT_AUDIENCES is no longer read (its grants allowed no scope): set DOWNSTREAM_GRANTS, "
                'a JSON object from audience to scopes, e.g. {"https://orders.acme.com": ["read:orders"]}, '
                'or "*" for all of that API\'s scopes')
        grants = _downstream_grants(env.get("DOWNSTREAM_GRANTS", "").strip(), problems)
        if grants and mode != MODE_ON_BEHALF_OF:
            problems.append("DOWNSTREAM_GRANTS applies only to TOKEN_EXCHANGE_MODE=on_behalf_of")
        rate_share = _rate_share(env.get("MANAGEMENT_API_RATE_SHARE", "").strip(), problems)
        secrets_prefix, secrets_key = _client_secrets(env, mode, problems)
        bus = env.get("NOTIFICATION_BUS_NAME", "").strip()
        if bus and not _EVENT_BUS.match(bus):
            problems.append(f"NOTIFICATION_BUS_NAME must be an EventBridge bus name or ARN, got {_shorten(bus)!r}")

        if problems:
            raise ConfigError(problems)
        return cls(
            auth0_domain=domain,
            credentials_secret_id=credentials,
            token_cache_secret_id=cache,
            mode=mode,
            base_url=base_url,
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", "").strip() or None,
            idempotency_table=env.get("IDEMPOTENCY_TABLE_NAME", "").strip() or None,
            skip_identifier_patterns=_csv(env.get("SKIP_IDENTIFIER_PATTERNS", "")),
            dry_run=dry_run in _TRUE,
            downstream_grants=grants,
            rate_share=rate_share,
            skip_created_by_client_ids=frozenset(_csv(env.get("SKIP_CREATED_BY_CLIENT_IDS", ""))),
            http_timeout=timeout,
            client_secrets_prefix=secrets_prefix,
            client_secrets_kms_key_id=secrets_key,
            notification_bus=bus or None,
        )


def flag(environ: Mapping[str, str], name: str) -> bool:
    """A true/false variable (``1/true/yes/on``, ``0/false/no/off`` or empty); ConfigError otherwise.
    The one parser of such variables, for the Lambda functions and the operator tools alike."""
    value = environ.get(name, "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise ConfigError([_flag_problem(name, value)])
    return value in _TRUE


def mode_of(environ: Mapping[str, str]) -> str:
    """``TOKEN_EXCHANGE_MODE``, validated (default ``on_behalf_of``)."""
    mode = environ.get("TOKEN_EXCHANGE_MODE", "").strip() or MODE_ON_BEHALF_OF
    if mode not in MODES:
        raise ConfigError([_mode_problem(mode)])
    return mode


def status_settings(environ: Mapping[str, str]) -> dict[str, object]:
    """The settings ``status`` shows, read without requiring the Auth0 variables."""
    return {
        "mode": mode_of(environ),
        "dry_run": flag(environ, "DRY_RUN"),
        "auth0_domain": environ.get("AUTH0_DOMAIN", "").strip() or None,
        "skip_identifier_patterns": environ.get("SKIP_IDENTIFIER_PATTERNS", "").strip() or None,
    }


def parse_downstream_grants(text: str) -> tuple[DownstreamGrant, ...]:
    """``DOWNSTREAM_GRANTS`` parsed and checked as at start; ConfigError names each bad entry."""
    problems: list[str] = []
    grants = _downstream_grants(text, problems)
    if problems:
        raise ConfigError(problems)
    return grants


def domain_problem(domain: str) -> str | None:
    """Why ``domain`` is not a tenant's canonical domain (None: it is one)."""
    if _DOMAIN.match(domain.strip().lower()):
        return None
    return (f"the domain must be the tenant's domain such as 'acme.eu.auth0.com' (no scheme, no path), "
            f"got {_shorten(domain)!r}")


def _downstream_grants(text: str, problems: list[str]) -> tuple[DownstreamGrant, ...]:
    """``DOWNSTREAM_GRANTS``: ``{"<audience>": ["<scope>", ...] | "*"}``; each bad entry is named."""
    if not text:
        return ()
    example = 'e.g. {"https://orders.acme.com": ["read:orders"], "urn:acme:billing": "*"}'
    try:
        value = json.loads(text)
    except ValueError as error:
        problems.append(f"DOWNSTREAM_GRANTS is not valid JSON ({getattr(error, 'msg', error)}); {example}")
        return ()
    if not isinstance(value, dict):
        problems.append("DOWNSTREAM_GRANTS must be a JSON object from audience to a list of scopes or "
                        f'"*"; {example}')
        return ()
    grants = []
    for audience, scopes in value.items():
        where = f"DOWNSTREAM_GRANTS[{_shorten(audience)!r}]"
        if not audience.strip() or audience != audience.strip():
            problems.append(f"{where}: an audience must be an API identifier, without surrounding spaces")
            continue
        if scopes == "*":
            grants.append(DownstreamGrant(audience, None))
        elif isinstance(scopes, list) and scopes and all(isinstance(s, str) and _SCOPE.match(s) for s in scopes):
            grants.append(DownstreamGrant(audience, tuple(dict.fromkeys(scopes))))
        elif scopes == []:
            problems.append(f"{where}: an empty list grants nothing; list the scopes, use \"*\", or remove the entry")
        else:
            problems.append(f"{where} must be a list of scopes (strings without spaces) or \"*\", "
                            f"got {_shorten(json.dumps(scopes))}")
    return tuple(grants)


def _client_secrets(env: Mapping[str, str], mode: str, problems: list[str]) -> tuple[str | None, str | None]:
    """``CLIENT_SECRETS_PREFIX`` and ``CLIENT_SECRETS_KMS_KEY_ID``, each bad value named."""
    prefix = env.get("CLIENT_SECRETS_PREFIX", "").strip()
    key = env.get("CLIENT_SECRETS_KMS_KEY_ID", "").strip()
    if prefix and not _SECRET_PREFIX.match(prefix):
        problems.append("CLIENT_SECRETS_PREFIX must be the start of a Secrets Manager secret name (letters, digits "
                        f"and /_+=.@-, at most 256 characters), e.g. token-exchange/clients/, got {_shorten(prefix)!r}")
    if prefix and mode != MODE_ON_BEHALF_OF:
        problems.append("CLIENT_SECRETS_PREFIX applies only to TOKEN_EXCHANGE_MODE=on_behalf_of (the legacy mode "
                        "creates no client)")
    if key and not _KMS_KEY.match(key):
        problems.append(f"CLIENT_SECRETS_KMS_KEY_ID must be a KMS key id, key ARN or alias, got {_shorten(key)!r}")
    if key and not prefix:
        problems.append("CLIENT_SECRETS_KMS_KEY_ID needs CLIENT_SECRETS_PREFIX (it encrypts the secrets stored there)")
    return prefix or None, key or None


def _rate_share(text: str, problems: list[str]) -> float:
    if not text:
        return DEFAULT_RATE_SHARE
    try:
        share = float(text)
    except ValueError:
        share = float("nan")
    if not 0 < share <= 1:  # also refuses NaN
        problems.append("MANAGEMENT_API_RATE_SHARE must be a number with 0 < share <= 1 (e.g. 0.5), "
                        f"got {_shorten(text)!r}")
        return DEFAULT_RATE_SHARE
    return share


def _flag_problem(name: str, value: str) -> str:
    return f"{name} must be true or false, got {_shorten(value)!r}"


def _mode_problem(mode: str) -> str:
    return f"TOKEN_EXCHANGE_MODE must be one of {', '.join(MODES)}, got {_shorten(mode)!r}"


def base_url_problem(url: str) -> str | None:
    """Why ``url`` may not be used as the Auth0 base URL, or None if it may.

    TLS is always required, except for a loopback host (a local emulator): a token must never
    travel in clear text over a network.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"must be an absolute https:// URL, got {_shorten(url)!r}"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "must not contain credentials, a query or a fragment"
    if parts.path not in ("", "/"):
        return "must not contain a path"
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return f"may use plain http:// only for a loopback host, got {parts.hostname!r}"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _csv(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
