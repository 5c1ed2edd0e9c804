"""Auth0's error bodies, for the Management API and for the token endpoint.

Management API errors are ``{"statusCode", "error", "message", "errorCode"}``; authentication
errors (401) carry no ``errorCode`` but an ``attributes`` object, as Auth0's JWT layer sends them.
Token endpoint errors follow OAuth 2.0: ``{"error", "error_description"}``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

#: 401 messages Auth0 sends for a Management API request with a bad or missing token.
MISSING_AUTHENTICATION = "Missing authentication"
INVALID_TOKEN = "Invalid token"
EXPIRED_TOKEN = "Expired token received for JSON Web Token validation"
INVALID_SIGNATURE = "Invalid signature received for JSON Web Token validation"


def reason(status: int) -> str:
    """The HTTP reason phrase Auth0 puts in ``error`` (e.g. 404 -> "Not Found")."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ApiError(Exception):
    """A Management API error response: raised by the tenant's operations, rendered by the app."""

    def __init__(self, status: int, message: str, error_code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body Auth0 would send."""
        body: dict[str, Any] = {
            "statusCode": self.status,
            "error": reason(self.status),
            "message": self.message,
        }
        if self.error_code is not None:
            body["errorCode"] = self.error_code
        body.update(self.extra)
        return body


def bad_request(message: str, error_code: str = "invalid_body") -> ApiError:
    """400 with an Auth0 error code (``invalid_body``, ``invalid_query_string``, ...)."""
    return ApiError(400, message, error_code)


def not_found(message: str = "Not Found", error_code: str | None = None) -> ApiError:
    """404: without an error code for an unknown route, with one for a missing entity."""
    return ApiError(404, message, error_code)


def unauthorized(message: str) -> ApiError:
    """401 as Auth0's JWT layer answers it: no ``errorCode``, the message repeated in ``attributes``."""
    if message == MISSING_AUTHENTICATION:
        return ApiError(401, message)
    return ApiError(401, message, attributes={"error": message})


def insufficient_scope(scope: str) -> ApiError:
    """403 for a token that lacks the route's scope."""
    return ApiError(403, f"Insufficient scope, expected any of: {scope}", "insufficient_scope")


def too_many_requests() -> ApiError:
    """429 for an empty tenant bucket."""
    return ApiError(429, "Global limit has been reached", "too_many_requests")


def status_error(status: int) -> ApiError:
    """A generic error for an injected ``status`` fault."""
    if status == 429:
        return too_many_requests()
    if status == 401:
        return unauthorized(INVALID_SIGNATURE)
    return ApiError(status, reason(status))


def oauth_error(error: str, description: str) -> dict[str, str]:
    """An OAuth 2.0 error body, as ``/oauth/token`` sends it."""
    return {"error": error, "error_description": description}
