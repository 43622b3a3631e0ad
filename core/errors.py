"""Error codes and the domain exception hierarchy that api/errors.py maps to the envelope."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION = "validation_error"
    UNKNOWN_PROFILE = "unknown_profile"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    MODEL_UNAVAILABLE = "model_unavailable"
    ARTIFACT_INTEGRITY = "artifact_integrity"
    UNSUPPORTED = "unsupported"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal_error"


STATUS = {
    ErrorCode.VALIDATION: 422,
    ErrorCode.UNKNOWN_PROFILE: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.MODEL_UNAVAILABLE: 503,
    ErrorCode.ARTIFACT_INTEGRITY: 409,
    ErrorCode.UNSUPPORTED: 400,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}


class StudioError(Exception):
    """Base of every error the service raises on purpose."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, details: Any = None, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code

    @property
    def status(self) -> int:
        return STATUS[self.code]


class ValidationFailed(StudioError):
    code = ErrorCode.VALIDATION


class UnknownProfile(StudioError):
    code = ErrorCode.UNKNOWN_PROFILE


class NotFound(StudioError):
    code = ErrorCode.NOT_FOUND


class Conflict(StudioError):
    code = ErrorCode.CONFLICT


class Forbidden(StudioError):
    code = ErrorCode.FORBIDDEN


class Unauthenticated(StudioError):
    code = ErrorCode.UNAUTHENTICATED


class RateLimited(StudioError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, details={"retry_after_s": round(retry_after_s, 3)})
        self.retry_after_s = retry_after_s


class ModelUnavailable(StudioError):
    code = ErrorCode.MODEL_UNAVAILABLE


class ArtifactIntegrityError(StudioError):
    code = ErrorCode.ARTIFACT_INTEGRITY


class ServiceUnavailable(StudioError):
    """A part of the service this request needs is not running in this process (503)."""

    code = ErrorCode.UNAVAILABLE
