"""Sending one prepared request with a platform's own error classification.

The base's `send_classified` applies one generic reading of status codes; the
platforms differ (Telegram and Slack put the reason in the body, Bluesky reports
an expired token as a 400), so each adapter passes its own `classify`. Transport
failures are judged the same way everywhere: nothing sent is retryable, a request
that may have arrived is retryable only where the platform dedupes it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import httpx

from scheduler.errors import PermanentError, PublishError, RetryableError, UnknownOutcomeError
from scheduler.publishers.base import PreparedRequest, error_message, raise_for_status

Classifier = Callable[[httpx.Response], None]


async def send(
    client: httpx.AsyncClient,
    request: PreparedRequest,
    *,
    idempotent: bool,
    classify: Classifier = raise_for_status,
) -> httpx.Response:
    """Send `request`; raise a typed PublishError for every failure."""
    host = httpx.URL(request.url).host or "the platform"
    try:
        response = await client.send(request.to_httpx())
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise RetryableError(f"cannot connect to {host}: {_why(exc, request)}") from None
    except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        message = f"no answer from {host}: {_why(exc, request)}"
        if idempotent:
            raise RetryableError(message) from None
        raise UnknownOutcomeError(message) from None
    except httpx.HTTPError as exc:
        raise RetryableError(f"request to {host} failed: {_why(exc, request)}") from None
    classify(response)
    return response


def by_status(
    response: httpx.Response,
    message: str | None = None,
    *,
    wait: float | None = None,
) -> PublishError:
    """The usual reading of a failed status: 429 and 5xx retry, the rest is permanent."""
    status = response.status_code
    text = f"HTTP {status}: {message or error_message(response)}"
    if status == 429 or status >= 500:
        return RetryableError(text, status_code=status, retry_after=wait)
    return PermanentError(text, status_code=status)


def json_body(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _why(exc: Exception, request: PreparedRequest) -> str:
    # httpx messages can quote the URL, which carries the token on some platforms.
    return request._hide(str(exc) or type(exc).__name__)


# Telegram bot tokens, Discord/Slack webhook secrets and the Graph API's
# access_token parameter (Threads) travel in the URL,
# and httpx logs every request URL at INFO. Whatever logging the application
# sets up, these records have the secret parts masked before any handler sees
# them.
_URL_SECRETS = (
    re.compile(r"(/bot)[0-9]+:[A-Za-z0-9_-]+"),
    re.compile(r"(/webhooks/[0-9]+/)[A-Za-z0-9_.-]+"),
    re.compile(r"(/services/)[A-Za-z0-9/_-]+"),
    re.compile(r"([?&]access_token=)[^&\s\"']+"),
)


def mask_url_secrets(text: str) -> str:
    for pattern in _URL_SECRETS:
        text = pattern.sub(r"\1***", text)
    return text


class UrlSecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = mask_url_secrets(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def _install_filter() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, UrlSecretFilter) for f in logger.filters):
            logger.addFilter(UrlSecretFilter())


_install_filter()
