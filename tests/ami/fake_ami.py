"""A scripted AMI server on 127.0.0.1 for connection tests (half-open links, drops)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cc_router.adapters.ami.protocol import FrameSplitter, encode_action, parse_frame

Msg = dict[str, str]
Script = Callable[["FakeSession", Msg], str | None]
"""Return None to answer normally, "silent" to stop answering anything (half-open),
"drop" to close the connection without answering."""


_CRITERION = re.compile(r"(\w+)\(([^)]*)\)")


@dataclass
class SessionFilter:
    """One advanced AMI filter (`MatchCriteria` + `Filter`), as Asterisk 20+ applies it."""

    include: bool
    name: str
    header: str
    method: str
    value: str

    @classmethod
    def of(cls, criteria: str, expression: str) -> SessionFilter:
        parts = dict(_CRITERION.findall(criteria))
        return cls(
            parts.get("action", "include") == "include",
            parts.get("name", ""),
            parts.get("header", ""),
            parts.get("method", ""),
            expression,
        )

    def matches(self, msg: Msg) -> bool:
        if self.name and msg.get("Event") != self.name:
            return False
        if not self.header:
            return True
        got = msg.get(self.header)
        if got is None:
            return False
        return got.startswith(self.value) if self.method == "starts_with" else got == self.value


@dataclass
class FakeSession:
    number: int
    writer: asyncio.StreamWriter
    silent: bool = False
    filters: list[SessionFilter] = field(default_factory=list)

    def send(self, msg: dict[str, str]) -> None:
        if not self.silent and not self.writer.is_closing():
            self.writer.write(encode_action(msg))

    def passes(self, msg: Msg) -> bool:
        """Asterisk's rule: with include filters, one must match; no exclude may."""
        includes = [f for f in self.filters if f.include]
        if includes and not any(f.matches(msg) for f in includes):
            return False
        return not any(f.matches(msg) for f in self.filters if not f.include)

    def event(self, msg: Msg) -> None:
        if self.passes(msg):
            self.send(msg)


@dataclass
class FakeAmi:
    script: Script = lambda s, m: None
    channels: list[Msg] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    channel_variables: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per channel name; a channel not listed here answers from `variables`."""
    received: list[tuple[int, Msg]] = field(default_factory=list)
    sessions: list[FakeSession] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        # The port it had, if any: started again, it is the same Asterisk back.
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for s in self.sessions:
            s.writer.close()
        if self._server is not None:
            self._server.close()

    def emit(self, msg: Msg) -> None:
        """An event to every open session its filters let it through, as Asterisk does."""
        for s in self.sessions:
            s.event(msg)

    def actions(self, name: str) -> list[tuple[int, Msg]]:
        return [(n, m) for n, m in self.received if m.get("Action") == name]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = FakeSession(len(self.sessions) + 1, writer)
        self.sessions.append(session)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        splitter = FrameSplitter()
        splitter.banner = ""
        try:
            while data := await reader.read(65536):
                for frame in splitter.feed(data):
                    msg = parse_frame(frame)
                    self.received.append((session.number, msg))
                    verdict = self.script(session, msg)
                    if verdict == "silent":
                        session.silent = True
                    if verdict == "drop":
                        writer.close()
                        return
                    if not session.silent:
                        self._answer(session, msg)
        except ConnectionError:
            pass

    def _answer(self, s: FakeSession, msg: Msg) -> None:
        aid = msg.get("ActionID", "")
        action = msg.get("Action", "")
        if action in ("CoreShowChannels", "DeviceStateList"):
            s.send({"Response": "Success", "ActionID": aid, "EventList": "start"})
            items = self.channels if action == "CoreShowChannels" else []
            for ch in items:
                s.send({"Event": "CoreShowChannel", "ActionID": aid, **ch})
            s.send({"Event": f"{action}Complete", "ActionID": aid, "EventList": "Complete"})
        elif action == "Getvar":
            name = msg.get("Variable", "")
            values = self.channel_variables.get(msg.get("Channel", ""), self.variables)
            if name.startswith("EVAL(") and name.endswith(")"):
                # As Asterisk's EVAL(): each ${NAME} replaced by the channel's value.
                value = re.sub(r"\$\{([^}]*)\}", lambda m: values.get(m.group(1), ""), name[5:-1])
            else:
                value = values.get(name, "")
            s.send({"Response": "Success", "ActionID": aid, "Variable": name, "Value": value})
        elif action == "Ping":
            s.send({"Response": "Success", "ActionID": aid, "Ping": "Pong"})
        elif action == "Filter":
            s.filters.append(SessionFilter.of(msg.get("MatchCriteria", ""), msg.get("Filter", "")))
            s.send({"Response": "Success", "ActionID": aid})
        elif action == "Originate":
            s.send({"Response": "Success", "ActionID": aid, "Message": "Originate successfully queued"})
        else:
            s.send({"Response": "Success", "ActionID": aid})
            if action == "Login":
                s.send({"Event": "FullyBooted", "Status": "Fully Booted"})
