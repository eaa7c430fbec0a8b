"""`cc-router users add|passwd|import|list|disable` on a SQLite store: what each command
writes, that hashes never show, and that bad input changes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from cc_router.accounts.passwords import verify
from cc_router.accounts.users import User, load_users
from cc_router.cli.main import app

runner = CliRunner()


def _users(url: str) -> dict[str, User]:
    async def go() -> dict[str, User]:
        engine = create_async_engine(url)
        try:
            return await load_users(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _cli(url: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    r = runner.invoke(app, ["users", *args, "--store-url", url], input=stdin)
    return r.exit_code, r.output


def test_add_passwd_list_disable(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'u.db'}"
    code, out = _cli(url, "add", "zhang", "--role", "agent", "--agent-id", "1001", "--password-stdin",
                     stdin="first-pass-1\n")  # fmt: skip
    assert code == 0, out
    code, out = _cli(url, "add", "lead", "--role", "supervisor", "--queues", "billing,sales",
                     "--password-stdin", stdin="lead-pass-1\n")  # fmt: skip
    assert code == 0, out
    users = _users(url)
    assert users["zhang"].agent_id == "1001" and users["zhang"].role.value == "agent"
    assert users["lead"].queues == frozenset({"billing", "sales"})
    assert users["zhang"].password_hash.startswith("$argon2id$")
    assert verify(users["zhang"].password_hash, "first-pass-1")

    code, out = _cli(url, "passwd", "zhang", "--password-stdin", stdin="second-pass-2\n")
    assert code == 0, out
    h = _users(url)["zhang"].password_hash
    assert verify(h, "second-pass-2") and not verify(h, "first-pass-1")

    code, out = _cli(url, "list", "--json")
    assert code == 0
    listed = {x["user"]: x for x in map(json.loads, out.splitlines())}
    assert set(listed) == {"zhang", "lead"} and "argon2" not in out and "pass" not in out
    assert listed["lead"]["queues"] == ["billing", "sales"]

    assert _cli(url, "disable", "zhang")[0] == 0
    assert _users(url)["zhang"].disabled
    assert _cli(url, "disable", "zhang", "--enable")[0] == 0
    assert not _users(url)["zhang"].disabled


def test_bad_input_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'u.db'}"
    for args, stdin in (
        (("add", "x1", "--role", "boss", "--password-stdin"), "long-enough-1\n"),  # no such role
        (("add", "x2", "--role", "agent", "--password-stdin"), "long-enough-1\n"),  # no agent id
        (("add", "x3", "--role", "admin", "--password-stdin"), "short\n"),  # too short
        (("add", "bad name", "--role", "admin", "--password-stdin"), "long-enough-1\n"),
        (("passwd", "nobody", "--password-stdin"), "long-enough-1\n"),
        (("disable", "nobody"), None),
    ):
        code, out = _cli(url, *args, stdin=stdin)
        assert code == 2 and "error:" in out, (args, out)
    assert _users(url) == {}
    # A user that exists is not silently replaced.
    assert _cli(url, "add", "root", "--role", "admin", "--password-stdin", stdin="root-pass-1\n")[0] == 0
    code, out = _cli(url, "add", "root", "--role", "viewer", "--password-stdin", stdin="other-pass-1\n")
    assert code == 2 and "exists" in out
    assert _users(url)["root"].role.value == "admin"


def test_import_csv_all_or_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'u.db'}"
    good = tmp_path / "good.csv"
    good.write_text(
        "user,role,agent_id,queues,pools,password\n"
        "wang,agent,1002,,,wang-pass-1\n"
        "north,supervisor,,,north;east,north-pass-1\n"
        "screen,viewer,,,,screen-pass-1\n",
        encoding="utf-8",
    )
    code, out = _cli(url, "import", str(good))
    assert code == 0 and "imported 3 users" in out, out
    users = _users(url)
    assert users["north"].pools == frozenset({"north", "east"}) and users["screen"].role.value == "viewer"
    assert verify(users["wang"].password_hash, "wang-pass-1")

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "user,role,agent_id,queues,pools,password\n"
        "li,agent,1003,,,li-pass-1\n"
        "zhao,agent,,,,zhao-pass-1\n",  # an agent without an agent id
        encoding="utf-8",
    )
    code, out = _cli(url, "import", str(bad))
    assert code == 2 and "line 3" in out, out
    assert "li" not in _users(url)
    # Users that exist stop the whole file too, unless --replace.
    again = tmp_path / "again.csv"
    again.write_text(
        "user,role,agent_id,queues,pools,password\nli,agent,1003,,,li-pass-1\nwang,agent,1002,,,new-pass-22\n",
        encoding="utf-8",
    )
    code, out = _cli(url, "import", str(again))
    assert code == 2 and "wang" in out, out
    assert "li" not in _users(url)
    code, out = _cli(url, "import", str(again), "--replace")
    assert code == 0, out
    users = _users(url)
    assert "li" in users and verify(users["wang"].password_hash, "new-pass-22")
