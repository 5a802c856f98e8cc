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


class NotVerbatimError(PlanningError):
    """An edited quote post whose quote is no longer word for word from its
    source; allowed only when a person says so (`--not-verbatim`)."""


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


class SecretKeyError(ConfigError):
    """No key to encrypt credentials with, or stored credentials that the key
    given cannot decrypt."""


class ConnectError(SchedulerError):
    """`channels connect` did not finish: refused, a wrong `state`, no answer."""


class CredentialRejected(PermanentError):
    """The platform refused the access token (HTTP 401 or the platform's own
    equivalent). For a connected channel one refresh may cure it."""


class GrantRevoked(RetryableError):
    """The authorisation server answered `invalid_grant`: the user revoked the
    app or the refresh token died. The channel is paused until it is connected
    again, so its posts wait in the queue instead of failing."""


class TokenEndpointUnavailable(RetryableError):
    """The token endpoint did not answer usefully (5xx, timeout, connection
    refused) after the retries: try again later; the grant is not revoked."""


class FeedError(SchedulerError):
    """A feed that cannot be added, found or read."""
