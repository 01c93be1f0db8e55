"""The UserError family: everything a person can get wrong, with a message fit to show them."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the person can fix; shown to them ephemerally, never logged as a failure."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint  # e.g. a usage line, shown under the message

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(UserError):
    """The command text could not be understood."""


class NotFound(UserError):
    """A release, item, person or channel that the text names does not exist."""


class Ambiguous(UserError):
    """The text matches more than one thing."""


class PermissionDenied(UserError):
    """The person may not do this here."""


class Conflict(UserError):
    """The request clashes with the current state (a duplicate name, a closed release)."""


class InvalidInput(UserError):
    """A value is present but unacceptable (a past date, a too-long name)."""
