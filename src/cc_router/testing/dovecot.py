"""A private Dovecot (IMAP + LMTP) on loopback, for the e-mail tests and the `conv` bench:
its own temp directory, config and ports; no system service is touched."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "mail-test-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MailServer:
    root: Path
    imap_port: int
    lmtp_port: int

    def deliver(self, msg: EmailMessage | bytes, to: str, sender: str = "someone@example.test") -> None:
        """Into `to`'s INBOX, as the MTA of the domain would (LMTP)."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as lmtp:
            data = msg if isinstance(msg, bytes) else msg.as_bytes()
            lmtp.sendmail(sender, [to], data)

    def deliver_many(self, msgs: Iterable[bytes], to: str, sender: str = "someone@example.test") -> int:
        """Many messages over one LMTP session (filling a mailbox for a benchmark)."""
        n = 0
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as lmtp:
            for data in msgs:
                lmtp.sendmail(sender, [to], data)
                n += 1
        return n


def _config(root: Path, imap: int, lmtp: int, user: pwd.struct_passwd, extra: str = "") -> str:
    return (
        extra
        + f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user.pw_name}
default_internal_group = {user.pw_name}
default_login_user = {"dovenull" if os.geteuid() == 0 else user.pw_name}
first_valid_uid = {min(user.pw_uid, 100)}
mail_location = maildir:{root}/mail/%u
postmaster_address = postmaster@example.test
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
"""
    )


@contextlib.contextmanager
def dovecot(users: list[str], extra: str = "") -> Iterator[MailServer]:
    """`extra`: more dovecot.conf settings (e.g. `imap_capability` without IDLE)."""
    assert Path(DOVECOT).exists(), "apt-get install -y dovecot-imapd dovecot-lmtpd (make system-deps)"
    # Its own directory, not pytest's tmp_path: Dovecot's unprivileged processes must reach it.
    with (
        tempfile.TemporaryDirectory(prefix="ccr-dovecot-") as tmp,
        _dovecot(Path(tmp), users, extra) as server,
    ):
        yield server


@contextlib.contextmanager
def _dovecot(root: Path, users: list[str], extra: str) -> Iterator[MailServer]:
    # Mail is owned by an unprivileged account: Dovecot refuses uid 0 for mail access.
    owner = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.getuid())
    for d in ("run", "state", "mail"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "users").write_text(
        "".join(f"{u}:{{PLAIN}}{PASSWORD}:{owner.pw_uid}:{owner.pw_gid}::{root}/mail/{u}\n" for u in users)
    )
    if os.geteuid() == 0:
        os.chmod(root, 0o755)
        shutil.chown(root / "mail", owner.pw_uid, owner.pw_gid)
    imap, lmtp = free_port(), free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, imap, lmtp, owner, extra))
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", imap), 0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot did not start: {out}\n{log}")
            time.sleep(0.1)
        yield MailServer(root, imap, lmtp)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
