"""Password hashing: argon2id through argon2-cffi (maintained, the PHC winner, with
parameters stored in each hash so they can be raised later without breaking old ones)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
MIN_LENGTH = 8


@functools.cache
def _dummy() -> str:
    """Verified when the user does not exist, so "no such user" takes as long as "wrong
    password". Made at the first login, not at import: hashing costs ~0.4 s of CPU, which
    every `cc-router run` (and every restart) paid before it could route."""
    return _HASHER.hash("no such user, never a password")


class PasswordError(ValueError):
    pass


def check_new(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")


def hash_password(password: str) -> str:
    check_new(password)
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
