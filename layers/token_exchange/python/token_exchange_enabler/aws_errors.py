"""What a boto3 failure is called, without what it says (AWS messages may echo parameters)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["UNAVAILABLE_CODES", "aws_error_code", "aws_errors", "aws_unreachable"]


def aws_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a boto3 call raises (imported late: boto3 is not needed to import this module)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def aws_error_code(error: BaseException) -> str:
    """The AWS error code of a boto3 exception (never its message, which may echo parameters)."""
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        code = (response.get("Error") or {}).get("Code")
        if code:
            return str(code)
    return type(error).__name__


# Error codes that mean AWS could not serve the call now (throttling, its own failure): try again.
UNAVAILABLE_CODES = frozenset({"Throttling", "ThrottlingException", "RequestThrottled", "ServiceUnavailable",
                               "InternalFailure", "InternalError", "InternalServiceError", "RequestTimeout"})


def aws_unreachable(error: BaseException) -> bool:
    """Whether a boto3 failure says AWS could not be reached or could not serve now (network,
    throttling, 5xx), as opposed to a refusal an operator must fix (permissions, names, missing
    credentials or region)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound

    if isinstance(error, ClientError):
        code = aws_error_code(error)
        return code in UNAVAILABLE_CODES or code.startswith("5")
    return isinstance(error, BotoCoreError) and not isinstance(error, NoCredentialsError | NoRegionError |
                                                                      ProfileNotFound)
