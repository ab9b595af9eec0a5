"""Domain errors raised by operations; views and the API map them to responses."""
from __future__ import annotations


class CaseFlowError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(CaseFlowError):
    """Input failed validation. ``errors`` maps a field path (``parties.0.credit_code``) to a message."""

    status = 422

    def __init__(self, errors: dict[str, str], message: str | None = None):
        super().__init__(message or "; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Conflict(CaseFlowError):
    """The request is well-formed but the object's state forbids it (409)."""

    status = 409


class StaleVersion(Conflict):
    """Someone else saved the object since the user loaded it (optimistic locking)."""


class InvalidTransition(Conflict):
    pass


class PermissionDenied(CaseFlowError):
    status = 403


class NotFound(CaseFlowError):
    status = 404
