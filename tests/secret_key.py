"""One APPPROFILE_SECRET_KEY for the test run: stores that hold user-given secrets are sealed."""

from __future__ import annotations

from cryptography.fernet import Fernet

from bot.store.sealing import Sealer

KEY = Fernet.generate_key().decode()


def sealer() -> Sealer:
    return Sealer(KEY)
