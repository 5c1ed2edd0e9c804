"""Where the credentials of each Custom API client the product creates are delivered: AWS Secrets Manager.

With ``CLIENT_SECRETS_PREFIX`` set, the API's service finds its Custom API client's credentials in
the secret ``<prefix><API id>``, a JSON object::

    {"client_id", "client_secret", "audience", "domain", "token_endpoint"}

(``audience``: the API's identifier, the audience of the tokens the service receives; ``domain``:
the tenant; ``token_endpoint``: where the service exchanges tokens). The secret is encrypted with
``CLIENT_SECRETS_KMS_KEY_ID`` when given (else the AWS managed key) and tagged ``managed_by``,
``api_id`` and ``api_identifier`` (when the identifier is a valid tag value), so that a service's
role can be granted exactly its own secret, by name or by tag (see the README).

What "stored" means. The tag ``client_id`` names the client whose working credentials the
secret's current version (``AWSCURRENT``) holds. It is written only once that is known: with the
value (after the create call or a rotation answered by Auth0), or after the value (overwriting a
secret of a former client: put, then tag). A secret without the tag, or tagged with another
client, or without a current version, holds no credentials of the API's client: the decision core
gives the client a new secret and stores it (``decision.Credentials.ROTATE_AND_STORE``).

Errors: a secret that is not the product's (no ``managed_by`` tag) or that is scheduled for
deletion, and AWS refusals retrying cannot fix (access denied, a KMS key that cannot be used, a
bad parameter) are :class:`~token_exchange_enabler.errors.PermanentFailure` naming what to fix;
anything else (throttling, 5xx, network) is
:class:`~token_exchange_enabler.errors.CredentialsNotStored`: try again. Messages carry the AWS
error code, never AWS's message (which may echo parameters) and never a value.

Operator rotation (``credentials.rotate``) stores first, then switches: :meth:`stage` puts the new
credentials as ``AWSPENDING`` (Auth0 still has the old secret), Auth0 is told the new secret, and
:meth:`promote` makes them ``AWSCURRENT``. A failure at any step leaves the new secret stored.

Permissions (on ``arn:...:secret:<prefix>*`` only): ``secretsmanager:DescribeSecret``,
``CreateSecret``, ``PutSecretValue``, ``TagResource`` (tags of CreateSecret need it too), and with
a customer managed key ``kms:GenerateDataKey`` and ``kms:Decrypt`` on it (Secrets Manager's own
requirement); ``UpdateSecretVersionStage`` for the operator's ``rotate`` only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .aws_errors import aws_error_code, aws_errors
from .config import Config
from .decision import MANAGED_BY_KEY, PRODUCT, StoredCredentials
from .errors import CredentialsNotStored, PermanentFailure

__all__ = ["ClientSecretStore", "Staged", "TAG_API_ID", "TAG_API_IDENTIFIER", "TAG_CLIENT_ID", "credentials_document"]

TAG_API_ID = "api_id"
TAG_API_IDENTIFIER = "api_identifier"
TAG_CLIENT_ID = "client_id"
CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"

# Tag values Secrets Manager (and IAM conditions) take everywhere: at most 256 characters of letters,
# digits, spaces and + - = . _ : / @, and no "aws:" prefix.
_TAG_VALUE = re.compile(r"^[\w\s+\-=.:/@]{0,256}$")
# What retrying cannot fix: the role, the key or the request must change.
_CONFIGURATION_CODES = frozenset({
    "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "EncryptionFailure",
    "DecryptionFailure", "InvalidParameterException", "ValidationException", "MalformedPolicyDocumentException",
    "KMSAccessDeniedException", "KMSDisabledException", "KMSInvalidStateException", "KMSNotFoundException",
})


@dataclass(frozen=True, slots=True)
class Staged:
    """New credentials put by :meth:`ClientSecretStore.stage`: ``version_id`` carries ``AWSPENDING``,
    or ``AWSCURRENT`` already when it is the secret's first value (``current``)."""

    secret_arn: str
    version_id: str
    current: bool


def credentials_document(config: Config, *, identifier: str, client_id: str, client_secret: str) -> str:
    """The secret's value: everything the API's service needs to exchange tokens as its client."""
    return json.dumps({
        "client_id": client_id,
        "client_secret": client_secret,
        "audience": identifier,
        "domain": config.auth0_domain,
        # Where the requests of the product go: https://<domain> on a tenant, the emulator locally.
        "token_endpoint": f"{config.base_url}/oauth/token",
    })


def tag_value_ok(value: str) -> bool:
    return bool(_TAG_VALUE.fullmatch(value)) and not value.lower().startswith("aws:")


class ClientSecretStore:
    """The secrets under ``CLIENT_SECRETS_PREFIX``; ``client`` a secretsmanager client (None: one
    from boto3's default session, made on first use)."""

    def __init__(self, config: Config, client: Any = None):
        if not config.client_secrets_prefix:
            raise ValueError("CLIENT_SECRETS_PREFIX is not set")
        self.config = config
        self._client = client

    def _secrets(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config as BotoConfig

            # Short timeouts, as for the token cache: a slow call must not eat the function's time.
            self._client = boto3.client("secretsmanager", config=BotoConfig(
                connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}))
        return self._client

    def name(self, api_id: str) -> str:
        return self.config.client_secret_name(api_id)

    # ---- reading

    def find(self, api_id: str) -> StoredCredentials | None:
        """The secret as described (never read), or None when there is none."""
        name = self.name(api_id)
        described = self._describe(name)
        if described is None:
            return None
        stages = described.get("VersionIdsToStages") or {}
        current = any(CURRENT in labels for labels in stages.values())
        pending = any(PENDING in labels and CURRENT not in labels for labels in stages.values())
        tags = _tags(described)
        return StoredCredentials(secret_arn=str(described.get("ARN") or ""),
                                 client_id=tags.get(TAG_CLIENT_ID) if current else None, pending=pending)

    def _describe(self, name: str) -> dict[str, Any] | None:
        """DescribeSecret, refusing a secret that is not the product's or that is being deleted."""
        try:
            described = self._secrets().describe_secret(SecretId=name)
        except aws_errors() as error:
            if aws_error_code(error) == "ResourceNotFoundException":
                return None
            raise _failure("describe", name, error) from None
        if described.get("DeletedDate"):
            raise PermanentFailure(
                f"the credentials secret {name} is scheduled for deletion: restore it (aws secretsmanager "
                f"restore-secret --secret-id {name}) or delete it for good (aws secretsmanager delete-secret "
                f"--secret-id {name} --force-delete-without-recovery), then replay: the Custom API client is "
                "given a new secret and it is stored", configuration=True)
        if _tags(described).get(MANAGED_BY_KEY) != PRODUCT:
            raise PermanentFailure(
                f"a secret named {name} exists that this product did not create (no tag {MANAGED_BY_KEY}={PRODUCT}): "
                "rename or delete it, or choose another CLIENT_SECRETS_PREFIX, then replay", configuration=True)
        return dict(described)

    # ---- delivery (the decision core, under the API's lock)

    def store(self, *, api_id: str, identifier: str, client_id: str, client_secret: str) -> str:
        """Store the client's working credentials as the current value; the secret's ARN.

        A secret left by a former client of the API (or a first value that was never confirmed) is
        overwritten: its value first, then the ``client_id`` tag, so that a failure in between
        leaves it unconfirmed (the next attempt renews and stores again), never wrongly confirmed.
        """
        name = self.name(api_id)
        value = credentials_document(self.config, identifier=identifier, client_id=client_id,
                                     client_secret=client_secret)
        tags = self._tags(api_id, identifier, client_id)
        request: dict[str, Any] = {"Name": name, "SecretString": value, "Tags": tags,
                                   "Description": self._description(identifier)}
        if self.config.client_secrets_kms_key_id:
            request["KmsKeyId"] = self.config.client_secrets_kms_key_id
        try:
            return str(self._secrets().create_secret(**request)["ARN"])
        except aws_errors() as error:
            if aws_error_code(error) != "ResourceExistsException":
                raise _failure("create", name, error) from None
        self._describe(name)  # the product's, not being deleted
        try:
            arn = str(self._secrets().put_secret_value(SecretId=name, SecretString=value)["ARN"])
        except aws_errors() as error:
            raise _failure("write", name, error) from None
        self._tag(name, tags)
        return arn

    # ---- the operator's rotation (credentials.rotate, under the API's lock)

    def stage(self, *, api_id: str, identifier: str, client_id: str, client_secret: str) -> Staged:
        """Put new credentials before Auth0 has them: ``AWSPENDING`` beside the current value, or,
        in a secret that does not exist yet, its first (unconfirmed: no ``client_id`` tag) value."""
        name = self.name(api_id)
        value = credentials_document(self.config, identifier=identifier, client_id=client_id,
                                     client_secret=client_secret)
        if self._describe(name) is None:
            request: dict[str, Any] = {"Name": name, "SecretString": value,
                                       "Tags": self._tags(api_id, identifier, None),
                                       "Description": self._description(identifier)}
            if self.config.client_secrets_kms_key_id:
                request["KmsKeyId"] = self.config.client_secrets_kms_key_id
            try:
                created = self._secrets().create_secret(**request)
            except aws_errors() as error:
                raise _failure("create", name, error) from None
            return Staged(str(created["ARN"]), str(created["VersionId"]), current=True)
        try:
            put = self._secrets().put_secret_value(SecretId=name, SecretString=value, VersionStages=[PENDING])
        except aws_errors() as error:
            raise _failure("stage new credentials in", name, error) from None
        return Staged(str(put["ARN"]), str(put["VersionId"]), current=CURRENT in (put.get("VersionStages") or ()))

    def promote(self, staged: Staged, *, api_id: str, identifier: str, client_id: str, client_secret: str) -> str:
        """Auth0 took the staged secret: make it the current value and confirm it (``client_id``
        tag); the version id of the current value. ``AWSPENDING`` is then taken off the staged
        version (best effort: a label left there holds the same secret)."""
        name = self.name(api_id)
        version = staged.version_id
        if not staged.current:
            value = credentials_document(self.config, identifier=identifier, client_id=client_id,
                                         client_secret=client_secret)
            try:
                version = str(self._secrets().put_secret_value(SecretId=name, SecretString=value)["VersionId"])
            except aws_errors() as error:
                raise _failure("make the new credentials current in", name, error) from None
        self._tag(name, self._tags(api_id, identifier, client_id))
        if not staged.current:
            try:
                self._secrets().update_secret_version_stage(SecretId=name, VersionStage=PENDING,
                                                            RemoveFromVersionId=staged.version_id)
            except aws_errors():  # the label only marks an unfinished rotation; the value is the current one
                pass
        return version

    # ---- helpers

    def _tag(self, name: str, tags: list[dict[str, str]]) -> None:
        try:
            self._secrets().tag_resource(SecretId=name, Tags=tags)
        except aws_errors() as error:
            raise _failure("tag", name, error) from None

    @staticmethod
    def _tags(api_id: str, identifier: str, client_id: str | None) -> list[dict[str, str]]:
        tags = {MANAGED_BY_KEY: PRODUCT, TAG_API_ID: api_id}
        if tag_value_ok(identifier):
            tags[TAG_API_IDENTIFIER] = identifier
        if client_id:
            tags[TAG_CLIENT_ID] = client_id
        return [{"Key": key, "Value": value} for key, value in tags.items()]

    @staticmethod
    def _description(identifier: str) -> str:
        return f"Credentials of the Custom API client of Auth0 API {identifier[:200]} (token-exchange-enabler)"


def _tags(described: dict[str, Any] | Any) -> dict[str, str]:
    return {str(t.get("Key")): str(t.get("Value")) for t in described.get("Tags") or () if isinstance(t, dict)}


def _failure(what: str, name: str, error: BaseException) -> Exception:
    """The error to raise for a failed Secrets Manager call: permanent when retrying cannot help."""
    code = aws_error_code(error)
    if code in _CONFIGURATION_CODES or code.startswith("KMS"):
        return PermanentFailure(
            f"could not {what} the credentials secret {name} ({code}): check CLIENT_SECRETS_PREFIX, "
            "CLIENT_SECRETS_KMS_KEY_ID and the function role's permissions, then replay: the Custom API client "
            "is given a new secret and it is stored", configuration=True)
    return CredentialsNotStored(f"could not {what} the credentials secret {name} ({code}); "
                                "the next attempt stores them")

