"""Credentials at rest: the key, and encrypting with it.

The key is a Fernet key (cryptography) from `SCHEDULER_SECRET_KEY`, or from the
system keyring (the optional `keyring` package) where there is one. The
variable may list several keys separated by commas: the first encrypts, every
one decrypts (cryptography's MultiFernet), which is how a rotation that was
interrupted stays readable. `rotate` re-encrypts every stored credential under
a new key in one transaction.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from scheduler.errors import SecretKeyError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

ENV = "SCHEDULER_SECRET_KEY"
KEYRING_SERVICE = "scheduler"
KEYRING_NAME = "secret-key"
_HOW = (
    f"set {ENV} to a key made by "
    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
)


@dataclass(frozen=True)
class Keys:
    """The keys in use: `keys[0]` encrypts; `source` says where they came from."""

    keys: tuple[str, ...]
    source: str  # "env" or "keyring"

    def fernet(self) -> MultiFernet:
        return MultiFernet([_fernet(k) for k in self.keys])


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.strip().encode())
    except (ValueError, TypeError):
        # The message never quotes the key: it is a secret even when malformed.
        raise SecretKeyError(
            f"{ENV} holds something that is not a Fernet key (32 url-safe base64 bytes); {_HOW}"
        ) from None


def _keyring() -> Any | None:
    """The keyring module when it has a usable backend (not the fail one)."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        usable = float(keyring.get_keyring().priority) > 0  # type: ignore[attr-defined]
    except Exception:
        return None
    return keyring if usable else None


def load_keys(*, create: bool = False) -> Keys:
    """The keys from the environment, else the keyring. With `create`, a
    machine with a keyring and no key yet gets a new key stored there."""
    value = os.environ.get(ENV, "").strip()
    if value:
        keys = tuple(k.strip() for k in value.split(",") if k.strip())
        for key in keys:
            _fernet(key)
        return Keys(keys, "env")
    ring = _keyring()
    if ring is not None:
        try:
            stored = ring.get_password(KEYRING_SERVICE, KEYRING_NAME)
            if not stored and create:
                stored = Fernet.generate_key().decode()
                ring.set_password(KEYRING_SERVICE, KEYRING_NAME, stored)
            previous = ring.get_password(KEYRING_SERVICE, KEYRING_NAME + "-previous")
        except Exception as exc:
            raise SecretKeyError(
                f"the system keyring failed ({type(exc).__name__}); {_HOW}"
            ) from None
        if stored:
            return Keys(tuple(k for k in (stored, previous) if k), "keyring")
    raise SecretKeyError(f"no key to encrypt credentials with: {_HOW}")


def encrypt(data: dict[str, Any], keys: Keys | None = None) -> str:
    keys = keys or load_keys(create=True)
    return keys.fernet().encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()


def decrypt(token: str, keys: Keys | None = None) -> dict[str, Any]:
    keys = keys or load_keys()
    try:
        return json.loads(keys.fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretKeyError(
            f"stored credentials do not decrypt with the key from {keys.source} "
            f"(was it rotated? during a rotation {ENV} may list NEW,OLD)"
        ) from None


def rotate(engine: Engine, new_key: str | None) -> dict[str, Any]:
    """Re-encrypt every credential under `new_key` (None: a new key, kept in
    the keyring) in one transaction: all rows move, or none do."""
    from sqlmodel import Session, select

    from scheduler.storage.models import Credential

    current = load_keys()
    if new_key is None:
        if current.source != "keyring":
            raise SecretKeyError(
                f"the key comes from {ENV}: give the new one with --new-key-env NAME"
            )
        new_key = Fernet.generate_key().decode()
    new = Keys((new_key.strip(),), "new key")
    new.fernet()
    with Session(engine) as session:
        rows = list(session.exec(select(Credential).with_for_update()))
        for row in rows:
            row.secret = encrypt(decrypt(row.secret, current), new)
            row.version += 1
            session.add(row)
        if current.source == "keyring":
            # The keyring learns the new key before the commit; should the commit
            # fail, the old one is kept beside it so both stay readable.
            ring = _keyring()
            assert ring is not None
            ring.set_password(KEYRING_SERVICE, KEYRING_NAME + "-previous", current.keys[0])
            ring.set_password(KEYRING_SERVICE, KEYRING_NAME, new_key)
        session.commit()
    return {"re_encrypted": len(rows), "key_in": current.source}
