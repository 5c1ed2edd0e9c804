"""What a boto3 failure is called, without what it says (AWS messages may echo parameters)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["aws_error_code", "aws_errors"]


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
