"""The wake-up counter reads strace's epoll lines and names the descriptors that woke the loop."""

from __future__ import annotations

from cc_router.bench import wakeups as wk

LINES = [
    "epoll_pwait(3, [], 1024, 0, NULL, 8)    = 0",  # a poll: callbacks pending, no sleep
    "epoll_pwait(3, [], 1024, 12, NULL, 8)    = 0",  # slept, a timer fell due
    "epoll_pwait(3, [{events=EPOLLIN, data={u32=9, u64=9}}], 1024, -1, NULL, 8) = 1",
    "epoll_pwait(3, [{events=EPOLLIN, data={u32=9, u64=9}}, {events=EPOLLIN, data={u32=14, u64=14}}], "
    "1024, 250, NULL, 8) = 2",
    "epoll_wait(3, [{events=EPOLLIN, data={u32=14, u64=14}}], 1024, 0) = 1",  # ready at once: a poll
    "epoll_pwait(3, 0x7ffd, 1024, 100, NULL, 8) = -1 EINTR (Interrupted system call)",
    "write(1, \"x\", 1) = 1",
]  # fmt: skip


def test_sleeps_are_counted_by_what_woke_them() -> None:
    w = wk.Wakeups().feed(LINES)
    assert w.total == 3
    assert w.polls == 2
    assert w.timers == 1
    assert dict(w.by_fd) == {9: 2, 14: 1}
    names = {9: "AMI socket", 14: wk.THREAD}
    assert w.by_source(names) == {"AMI socket": 2, wk.TIMER: 1, wk.THREAD: 1}
    assert w.by_source({}) == {
        "fd 9 (closed before it was named)": 2,
        wk.TIMER: 1,
        "fd 14 (closed before it was named)": 1,
    }


def test_descriptors_are_named_by_peer_and_local_port() -> None:
    ports = {"111": (40000, 15038), "222": (8080, 51000), "333": (8080, 0), "444": (40001, 5432)}
    name = lambda target: wk.classify(target, ports, ami_port=15038, http_port=8080)  # noqa: E731
    assert name("socket:[111]") == "AMI socket"
    assert name("socket:[222]") == "HTTP (API, SSE, /metrics)"
    assert name("socket:[333]") == "HTTP listener (new connections)"
    assert name("socket:[444]").startswith("other socket")
    assert name("anon_inode:[eventfd]") == wk.THREAD
    assert name("pipe:[9]").startswith("pipe")
    assert name("/tmp/x.journal").startswith("other (")


def test_syscall_summary_per_call_busiest_first() -> None:
    table = """% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 60.00    0.600000          20     30000           write
 30.00    0.300000          10     30000      1200 recvfrom
 10.00    0.100000           5     20000           epoll_pwait
------ ----------- ----------- --------- --------- ----------------
100.00    1.000000          12     80000      1200 total
"""
    out = wk.syscall_summary(table, calls=1000, top=2)
    assert list(out) == ["write", "recvfrom"]
    assert out["write"] == {"per_call": 30.0, "us_per_call": 600.0}
    assert out["recvfrom"] == {"per_call": 30.0, "us_per_call": 300.0}
    assert wk.syscall_summary(table, calls=0) == {}
