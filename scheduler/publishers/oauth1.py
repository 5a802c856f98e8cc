"""OAuth 1.0a request signing (HMAC-SHA1), as X's user-context API uses it.

JSON bodies are not part of the signature; only the query string and the
oauth_* parameters are (RFC 5849 section 3.4.1.3).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import quote

import httpx


def _enc(value: str) -> str:
    return quote(value, safe="~-._")


def authorization(
    method: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    nonce: str | None = None,
    timestamp: int | None = None,
    form: dict[str, str] | None = None,
) -> str:
    """The `Authorization: OAuth ...` header value for one request. `form` is
    a form-encoded body, which is signed too; JSON bodies are not."""
    parsed = httpx.URL(url)
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "oauth_token": token,
        "oauth_version": "1.0",
    }
    params = [(k, v) for k, v in parsed.params.multi_items()] + list(oauth.items())
    params += list((form or {}).items())
    normalized = "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in params))
    base_url = str(parsed.copy_with(query=None, fragment=None))
    base = "&".join([method.upper(), _enc(base_url), _enc(normalized)])
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}"
    signature = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest())
    oauth["oauth_signature"] = signature.decode()
    return "OAuth " + ", ".join(f'{_enc(k)}="{_enc(v)}"' for k, v in sorted(oauth.items()))
