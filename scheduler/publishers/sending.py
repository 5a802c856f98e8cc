"""Helpers adapters share when sending: the usual reading of a failed status,
JSON bodies that may not be JSON, masking secrets in httpx's request logs, and
multipart uploads with a boundary fixed by their content.
`send` is the base's `send_classified`, which takes each platform's `classify`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable

import httpx

from scheduler.errors import CredentialRejected, PermanentError, PublishError, RetryableError
from scheduler.publishers.base import PreparedRequest, error_message

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


def multipart(
    url: str,
    *,
    fields: dict[str, str],
    files: list[tuple[str, str, bytes, str]],
    headers: dict[str, str] | None = None,
    secrets: tuple[str, ...] = (),
    method: str = "POST",
) -> PreparedRequest:
    """A multipart/form-data request; `files` are (field, file name, bytes, mime).
    The boundary comes from the content, so the same upload is the same bytes
    in a preview, a dry run and every retry."""
    digest = hashlib.sha256()
    for name, value in sorted(fields.items()):
        digest.update(f"{name}={value}\n".encode())
    for name, filename, data, mime in files:
        digest.update(f"{name}:{filename}:{mime}:".encode() + hashlib.sha256(data).digest())
    boundary = f"scheduler-{digest.hexdigest()[:32]}"
    built = httpx.Request(
        method,
        url,
        data=fields,
        files=[(name, (filename, data, mime)) for name, filename, data, mime in files],
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    body = built.read()
    shown = ", ".join(f"{n}={v!r}" for n, v in fields.items())
    listed = ", ".join(
        f"{name}: {filename} ({mime}, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:12]})"
        for name, filename, data, mime in files
    )
    return PreparedRequest(
        method,
        url,
        headers={**(headers or {}), "Content-Type": built.headers["Content-Type"]},
        content=body,
        secrets=secrets,
        note=f"multipart form: {'; '.join(p for p in (shown, listed) if p)}",
    )
