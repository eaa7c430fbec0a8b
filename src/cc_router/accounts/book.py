"""`AccountBook`: users and live sessions in memory, written through to the store.

Every request's token is checked against memory (a dict lookup, no SQL on the request
path); the store is the truth across restarts and for `cc-router users ...`, re-read every
`accounts.refresh_s` so a disabled user or a changed password takes effect within that time.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.accounts.passwords import verify
from cc_router.accounts.ratelimit import FailureLimiter
from cc_router.accounts.roles import Principal
from cc_router.accounts.tables import SessionRow
from cc_router.accounts.users import User, load_users
from cc_router.config.desk import AccountsConfig
from cc_router.store.tables import utc

log = structlog.get_logger("cc_router.accounts")


def token_hash(token: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 is enough (no dictionary to slow down).
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LiveSession:
    user: str
    expires_at: float


@dataclass(frozen=True)
class LoginResult:
    token: str | None = None
    expires_at: float = 0.0
    user: User | None = None
    error: str = ""
    retry_after_s: float | None = None


class AccountBook:
    def __init__(
        self, engine: AsyncEngine, config: AccountsConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.users: dict[str, User] = {}
        self.sessions: dict[str, LiveSession] = {}
        self.limiter = FailureLimiter(
            config.max_failures_per_user, config.max_failures_per_address, config.failure_window_s
        )
        self.loaded = asyncio.Event()
        # Logins and logouts while a refresh reads the store, replayed over what it read.
        self._added: dict[str, LiveSession] = {}
        self._removed: set[str] = set()

    # -------------------------------------------------------------- request path
    def principal(self, token: str) -> Principal | None:
        s = self.sessions.get(token_hash(token))
        if s is None or s.expires_at <= self.clock():
            return None
        user = self.users.get(s.user)
        if user is None or user.disabled:
            return None
        return user.principal()

    def user_of(self, token: str) -> User | None:
        p = self.principal(token)
        return None if p is None else self.users.get(p.user)

    async def login(self, name: str, password: str, address: str) -> LoginResult:
        now = self.clock()
        wait = self.limiter.retry_after(name, address, now)
        if wait is not None:
            log.warning("login_refused_rate_limit", user=name, client=address, retry_after_s=round(wait))
            return LoginResult(error="too many failed logins; try again later", retry_after_s=wait)
        user = self.users.get(name)
        # Hashing takes tens of milliseconds: off the event loop, which routes calls.
        ok = await asyncio.to_thread(verify, user.password_hash if user else None, password)
        if not ok or user is None or user.disabled:
            self.limiter.failed(name, address, now)
            why = "no such user" if user is None else "disabled" if user.disabled else "wrong password"
            log.warning("login_failed", user=name, client=address, why=why)
            return LoginResult(error="wrong user name or password")
        token = secrets.token_urlsafe(32)
        digest, expires = token_hash(token), now + self.config.session_ttl_s
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(SessionRow).values(
                    token_hash=digest, user_name=name, created_at=utc(now), expires_at=utc(expires)
                )
            )
        self.sessions[digest] = self._added[digest] = LiveSession(name, expires)
        log.info("login", user=name, role=user.role.value, client=address)
        return LoginResult(token=token, expires_at=expires, user=user)

    async def logout(self, token: str) -> bool:
        digest = token_hash(token)
        s = self.sessions.pop(digest, None)
        self._removed.add(digest)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(SessionRow)
                .where(SessionRow.token_hash == digest, SessionRow.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        if s is not None:
            log.info("logout", user=s.user)
        return s is not None

    # -------------------------------------------------------------- store
    async def refresh(self) -> None:
        self._added, self._removed = {}, set()
        users = await load_users(self.engine)
        now = self.clock()
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(SessionRow.token_hash, SessionRow.user_name, SessionRow.expires_at).where(
                        SessionRow.revoked_at.is_(None), SessionRow.expires_at > utc(now)
                    )
                )
            ).all()
        self.users = users
        sessions = {r.token_hash: LiveSession(r.user_name, r.expires_at.timestamp()) for r in rows}
        sessions.update(self._added)
        for digest in self._removed:
            sessions.pop(digest, None)
        self.sessions = sessions
        self.loaded.set()


class AccountsComponent:
    """Loads the book once the store is migrated, then re-reads it every `refresh_s`."""

    name = "accounts"

    def __init__(self, book: AccountBook) -> None:
        self.book = book

    async def run(self) -> None:
        while True:
            try:
                await self.book.refresh()
            except (OperationalError, ProgrammingError) as e:
                # Tables not there yet: the store component is still migrating.
                if not self.book.loaded.is_set():
                    log.info("accounts_waiting_for_store", error=type(e).__name__)
                    await asyncio.sleep(0.2)
                    continue
                raise
            await asyncio.sleep(self.book.config.refresh_s)
