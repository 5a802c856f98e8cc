"""Helpers adapters share when sending: the usual reading of a failed status,
JSON bodies that may not be JSON, and masking secrets in httpx's request logs.
`send` is the base's `send_classified`, which takes each platform's `classify`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import httpx

from scheduler.errors import CredentialRejected, PermanentError, PublishError, RetryableError
from scheduler.publishers.base import error_message

Classifier = Callable[[httpx.Response], None]


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
    if status == 401:
        return CredentialRejected(text, status_code=status)
    return PermanentError(text, status_code=status)


def json_body(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


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
