"""User rows in the store: what `cc-router users ...` and the login path read and write."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.accounts.passwords import check_new, hash_password
from cc_router.accounts.roles import Principal, Role
from cc_router.accounts.tables import SessionRow, UserRow

NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    agent_id: str | None
    queues: frozenset[str]
    pools: frozenset[str]
    password_hash: str
    disabled: bool

    def principal(self) -> Principal:
        return Principal(self.name, self.role, self.agent_id, self.queues, self.pools)

    def public(self) -> dict[str, Any]:
        """Without the hash: what listings and `/api/auth/me` show."""
        return {
            "user": self.name,
            "role": self.role.value,
            "agent_id": self.agent_id,
            "queues": sorted(self.queues),
            "pools": sorted(self.pools),
            "disabled": self.disabled,
        }


def _user(row: Any) -> User:
    scope = row.scope or {}
    return User(
        row.name,
        Role(row.role),
        row.agent_id,
        frozenset(scope.get("queues", ())),
        frozenset(scope.get("pools", ())),
        row.password_hash,
        bool(row.disabled),
    )


def validate(name: str, role: str, agent_id: str | None) -> Role:
    if not NAME.match(name):
        raise UserError(f"user name {name!r}: 1-128 letters, digits or _ . @ -")
    try:
        r = Role(role)
    except ValueError:
        raise UserError(f"role {role!r}: one of {', '.join(x.value for x in Role)}") from None
    if r is Role.AGENT and not agent_id:
        raise UserError(f"user {name!r}: an agent user needs --agent-id")
    if r is not Role.AGENT and agent_id:
        raise UserError(f"user {name!r}: only agent users are bound to an agent id")
    return r


async def load_users(engine: AsyncEngine) -> dict[str, User]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(UserRow.__table__))).all()
    return {r.name: _user(r) for r in rows}


async def add_user(
    engine: AsyncEngine,
    name: str,
    role: str,
    password: str,
    *,
    agent_id: str | None = None,
    queues: frozenset[str] = frozenset(),
    pools: frozenset[str] = frozenset(),
    replace: bool = False,
) -> User:
    r = validate(name, role, agent_id)
    check_new(password)
    now = datetime.now(UTC)
    values = {
        "role": r.value,
        "agent_id": agent_id,
        "scope": {"queues": sorted(queues), "pools": sorted(pools)},
        "password_hash": hash_password(password),
        "disabled": False,
        "updated_at": now,
    }
    async with engine.begin() as conn:
        exists = (await conn.execute(select(UserRow.name).where(UserRow.name == name))).first()
        if exists and not replace:
            raise UserError(f"user {name!r} exists (use `users passwd` to change the password)")
        if exists:
            await conn.execute(update(UserRow).where(UserRow.name == name).values(**values))
        else:
            await conn.execute(insert(UserRow).values(name=name, created_at=now, **values))
    return User(name, r, agent_id, queues, pools, str(values["password_hash"]), False)


async def set_password(engine: AsyncEngine, name: str, password: str) -> None:
    digest = hash_password(password)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        done = await conn.execute(
            update(UserRow).where(UserRow.name == name).values(password_hash=digest, updated_at=now)
        )
        if done.rowcount == 0:
            raise UserError(f"no user {name!r}")
        # A new password ends the sessions the old one opened.
        await _revoke_all(conn, name, now)


async def set_disabled(engine: AsyncEngine, name: str, disabled: bool = True) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        done = await conn.execute(
            update(UserRow).where(UserRow.name == name).values(disabled=disabled, updated_at=now)
        )
        if done.rowcount == 0:
            raise UserError(f"no user {name!r}")
        if disabled:
            await _revoke_all(conn, name, now)


async def _revoke_all(conn: Any, name: str, now: datetime) -> None:
    await conn.execute(
        update(SessionRow)
        .where(SessionRow.user_name == name, SessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )


CSV_COLUMNS = ("user", "role", "agent_id", "queues", "pools", "password")


def parse_csv(text: str) -> list[dict[str, Any]]:
    """Rows of `user,role,agent_id,queues,pools,password` (queues/pools `;`-separated).
    Every row is checked before any is written, so a bad file changes nothing."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("user", "role", "password") if c not in (reader.fieldnames or [])]
    if missing:
        raise UserError(f"CSV header lacks {', '.join(missing)} (columns: {', '.join(CSV_COLUMNS)})")
    out, problems = [], []
    for n, row in enumerate(reader, start=2):
        name = (row.get("user") or "").strip()
        agent_id = (row.get("agent_id") or "").strip() or None
        try:
            validate(name, (row.get("role") or "").strip(), agent_id)
            check_new(row.get("password") or "")
        except ValueError as e:
            problems.append(f"line {n}: {e}")
            continue

        def split(key: str, row: dict[str, Any] = row) -> frozenset[str]:
            return frozenset(x.strip() for x in (row.get(key) or "").split(";") if x.strip())

        out.append(
            {
                "name": name,
                "role": row["role"].strip(),
                "password": row["password"],
                "agent_id": agent_id,
                "queues": split("queues"),
                "pools": split("pools"),
            }
        )
    if problems:
        raise UserError("; ".join(problems))
    return out
