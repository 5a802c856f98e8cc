"""Typed errors. Every error a user can cause is a `SchedulerError` whose message
is one line fit to print after `error:`; anything else is a bug."""

from __future__ import annotations


class SchedulerError(Exception):
    """An error caused by input or environment, reported as one line."""

    exit_code = 1


class ConfigError(SchedulerError):
    pass


class DatabaseError(SchedulerError):
    pass


class DatabaseUnavailable(DatabaseError):
    """The database did not answer (server down, disk full, locked past the
    busy timeout): trying again later may work, unlike a missing schema."""


class NotFoundError(SchedulerError):
    pass


class IngestError(SchedulerError):
    pass


class TemplateError(SchedulerError):
    pass


class PlanningError(SchedulerError):
    pass


class PublishError(SchedulerError):
    """A send failed. Subclasses say whether trying again can help."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableError(PublishError):
    """Worth trying again later (429, 5xx, a connection refused before sending)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after
        #: The request may have reached the platform (no answer after it left);
        #: a resend is safe only because the platform dedupes by key.
        self.maybe_delivered = maybe_delivered


class PermanentError(PublishError):
    """Trying again will fail the same way (validation, auth, a gone endpoint)."""


class UnknownOutcomeError(PublishError):
    """The request may have reached the platform; resending could post twice."""


class MediaError(SchedulerError):
    """A file, a card or an attachment cannot be used (type, size, alt text,
    a quote a card cannot show)."""
