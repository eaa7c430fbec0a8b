"""`cc-router run` as a child process: started, asked over HTTP, SIGKILLed, as a user would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TOKEN = "ha-test-token"

CENTRE = """
centre: {name: restart test}
skills: [lang_zh, billing, sales]
agents:
  - {id: "1001", name: 张伟, skills: {lang_zh: 5, billing: 3}}
  - {id: "1002", name: 王芳, skills: {lang_zh: 4, sales: 4}}
  - {id: "1003", name: 李娜, skills: {lang_zh: 2, billing: 2}}
queues:
  - {name: billing, requirement: "billing >= 2"}
  - {name: sales, requirement: "sales"}
http: {host: 127.0.0.1, port: %d, token: %s}
store: {flush_interval_s: %s, batch_size: 100000}
logging: {level: info}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp: Path, flush_interval_s: float = 0.5, name: str = "centre.yaml") -> Path:
    """A config of its own per process (each needs its own HTTP port)."""
    path = tmp / name
    path.write_text(CENTRE % (free_port(), TOKEN, flush_interval_s), encoding="utf-8")
    return path


CLI = str(Path(sys.executable).with_name("cc-router"))


@dataclass
class Router:
    config: Path
    store_url: str
    log_path: Path
    proc: subprocess.Popen[bytes] = field(init=False)
    _seen_ports: int = 0

    def start(self) -> Router:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CC_ROUTER_")}
        env["CC_ROUTER_JOURNAL_DIR"] = str(self.log_path.parent / "journal")
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [CLI, "run", "--config", str(self.config), "--store-url", self.store_url],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        return self

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log_path.read_bytes().splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append({"event": raw.decode(errors="replace")})
        return out

    def wait_log(self, event: str, timeout_s: float = 20.0, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [ln for ln in self.lines()[after:] if ln.get("event") == event]
            if found:
                return found[-1]
            if self.proc.poll() is not None and event != "exit":
                raise AssertionError(f"router exited ({self.proc.returncode}):\n{self.log_path.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"no {event!r} in {timeout_s}s:\n{self.log_path.read_text()[-4000:]}")

    def url(self, after: int = 0) -> str:
        port = self.wait_log("http_listening", after=after)["port"]
        return f"http://127.0.0.1:{port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def ready(url: str, timeout_s: float = 20.0, role: str = "leader") -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"{url}/readyz", timeout=2).json()
        except httpx.HTTPError:
            body = {}
        if body.get("role") == role and (role != "leader" or body.get("ready")):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{url} not {role} in {timeout_s}s: {body}")


def act(url: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{url}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )


def agent(url: str, aid: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{url}/api/agents/{aid}", timeout=5).json()
    return data
