"""Secret values at rest: the columns that can hold them are sealed with Fernet.

A profile's secret properties (a password a person typed) live in its version's YAML, and the
objects a run will apply (a Secret's data) in the run's plan. With `APPPROFILE_SECRET_KEY` set
those two columns are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`,
never home-made); without a key the bot refuses to store a user-given secret at all
(`bot.main` refuses to start when the database already holds one in clear).

A sealed value is text prefixed `fernet:`, so rows written before a key was set still read.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["PREFIX", "Fernet", "Sealer", "SealingError"]

from bot.core.errors import UserError

PREFIX = "fernet:"
PUBLIC_SUBKEY_SEED = b"appprofile: no APPPROFILE_SECRET_KEY set"


class SealingError(Exception):
    """The operator's key is missing, malformed or not the one the data was sealed with."""


class Sealer:
    def __init__(self, key: str | None) -> None:
        self._fernet: Fernet | None = None
        self._key = (key or "").encode()
        if key:
            try:
                self._fernet = Fernet(key.encode())
            except (ValueError, TypeError) as exc:
                raise SealingError(
                    "APPPROFILE_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes); make one "
                    'with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
                ) from exc

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def subkey(self, purpose: str) -> bytes:
        """A key for `purpose` derived from the sealing key (HMAC-SHA256), never the key itself.
        Without a sealing key: a fixed public one. Digests made with it then rest only on what
        they digest — generated passwords, long and random; user-given secrets cannot be stored
        without a sealing key, so they are never digested with the public one."""
        return hmac.new(self._key or PUBLIC_SUBKEY_SEED, purpose.encode(), hashlib.sha256).digest()

    def seal(self, text: str) -> str:
        if self._fernet is None:
            return text
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        if self._fernet is None:
            raise SealingError("the database holds sealed secrets but APPPROFILE_SECRET_KEY is not set")
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken as exc:
            raise SealingError("APPPROFILE_SECRET_KEY does not open the sealed data in the database") from exc

    def require(self, what: str) -> None:
        """Refuse to store `what` (a user-given secret) in clear text."""
        if self._fernet is None:
            raise UserError(
                f"{what} would be stored in clear text: this bot has no APPPROFILE_SECRET_KEY",
                "leave the secret out to have it generated at the first deploy (kept only in the "
                "cluster), or ask the operator to set APPPROFILE_SECRET_KEY",
            )
