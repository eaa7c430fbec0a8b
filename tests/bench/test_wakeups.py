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


def test_timed_lines_give_sleep_lengths_and_busy_time_after() -> None:
    # strace -ttt -T: when each wait began, and <how long it took>.
    lines = [
        "100.000000 epoll_pwait(3, [], 1024, 50, NULL, 8) = 0 <0.020000>",  # slept 20 ms
        "100.020500 epoll_pwait(3, [], 1024, 0, NULL, 8) = 0 <0.000010>",  # a poll: still busy
        "100.021000 epoll_pwait(3, [{events=EPOLLIN, data={u32=9, u64=9}}], 1024, -1, NULL, 8)"
        " = 1 <0.000500>",  # busy 1 ms after the first; slept 0.5 ms
        "100.021700 epoll_pwait(3, [], 1024, 5, NULL, 8) = 0 <0.005000>",  # busy 0.2 ms
    ]
    w = wk.Wakeups().feed(lines)
    assert w.total == 3
    assert [round(s * 1e3, 3) for s, _ in w.sleeps] == [20.0, 0.5, 5.0]
    assert [round(b * 1e6) for _, b in w.sleeps] == [1000, 200, 0]
    got = w.by_sleep(per=1)
    assert got["10-33 ms"] == {"per_call": 1.0, "share": 0.333, "busy_after_us": 1000.0}
    assert got["0.1-1 ms"]["busy_after_us"] == 200.0
    assert got["3.3-10 ms"]["per_call"] == 1.0
    assert "0-0.1 ms" not in got


def test_untimed_lines_give_no_sleep_figures() -> None:
    assert wk.Wakeups().feed(LINES).by_sleep(per=1) == {}
