"""The pure parts of the end-to-end benchmark (the run itself needs the sandbox: `make bench`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cc_router.bench import e2e
from cc_router.bench.asterisk_cpu import ms_per, parse_host_busy_ticks, parse_stat_cpu_ticks
from cc_router.bench.sipp_load import SippLoad, parse_stat_csv, result_from_stats
from cc_router.config import parse_config
from cc_router.sandbox import SandboxSettings


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert e2e.percentile(values, 50) == 50.0
    assert e2e.percentile(values, 99) == 99.0
    assert e2e.percentile(values, 100) == 100.0
    assert e2e.percentile([3.0], 99) == 3.0
    assert e2e.percentile([], 50) is None


def test_latencies_only_for_keys_in_both() -> None:
    starts = {"a": 1.0, "b": 2.0, "c": 3.0}
    ends = {"a": 1.002, "c": 3.5, "x": 9.0}
    assert sorted(round(v, 3) for v in e2e.latencies_ms(starts, ends)) == [2.0, 500.0]


def test_agent_ids_fit_the_sim_agent_dialplan() -> None:
    ids = e2e.agent_ids(2000)
    assert ids[0] == "ccrb0001" and ids[-1] == "ccrb2000"
    assert len(set(ids)) == 2000
    assert all(i.isalnum() and len(i) >= 2 for i in ids)
    assert e2e.agent_ids(12345)[-1] == "ccrb12345"


def test_calls_for() -> None:
    params = e2e.E2eParams()
    assert e2e.calls_for(50, None, params) == 300
    assert e2e.calls_for(100, None, params) == 600
    assert e2e.calls_for(100, 42, params) == 42
    assert e2e.calls_for(100, {50: 1, 100: 7}, params) == 7


def test_header_reads_raw_frames() -> None:
    frame = (
        b"Event: AgentCalled\r\nPrivilege: agent,all\r\nTimestamp: 1795966984.768701\r\n"
        b"Channel: PJSIP/bench-apq-00000001\r\nUniqueid: 1795966984.12\r\n"
        b"DestUniqueid: 1795966984.13\r\nQueue: apq"
    )
    assert e2e.header(frame, b"Uniqueid") == "1795966984.12"
    assert e2e.header(frame, b"Timestamp") == "1795966984.768701"
    assert e2e.header(frame, b"Queue") == "apq"
    assert e2e.header(frame, b"Event") == "AgentCalled"
    assert e2e.header(frame, b"Missing") is None


def test_apq_tap_pairs_join_and_first_called() -> None:
    tap = e2e.ApqTap()

    def ev(name: str, uid: str, ts: str) -> None:
        tap(name, f"Event: {name}\r\nTimestamp: {ts}\r\nUniqueid: {uid}".encode())

    ev("QueueCallerJoin", "u1", "100.000")
    ev("AgentCalled", "u1", "100.004")
    ev("AgentCalled", "u1", "101.000")  # a second ring attempt is not the routing latency
    ev("AgentConnect", "u1", "100.010")
    ev("QueueCallerJoin", "u2", "100.5")
    ev("QueueCallerAbandon", "u2", "110.5")
    ev("Newchannel", "u3", "100.0")  # ignored
    assert [round(v, 3) for v in e2e.latencies_ms(tap.joined, tap.called)] == [4.0]
    assert tap.connected == {"u1"} and tap.abandoned == {"u2"}


def test_ccrouter_config_is_valid() -> None:
    settings = SandboxSettings(ami_secret="s3cret")
    data = e2e.ccrouter_config(e2e.agent_ids(3), settings, "sqlite+aiosqlite:///x.db", 18080)
    cfg = parse_config(data, source="<test>")
    assert [a.id for a in cfg.agents] == ["ccrb0001", "ccrb0002", "ccrb0003"]
    assert cfg.numbers[e2e.CCR_NUMBER].queue == e2e.CCR_QUEUE
    assert cfg.asterisk[0].port == settings.ami_port
    assert cfg.asterisk[0].secret is not None and cfg.asterisk[0].secret.get_secret_value() == "s3cret"
    centre = cfg.to_centre()
    endpoints = {a.id: a.endpoint for a in centre.agents}
    assert endpoints["ccrb0002"] == "Local/ccrb0002@ccr-sim-agent"


def test_sipp_argv() -> None:
    load = SippLoad(number="55501", rate=50, calls=300, hold_ms=20_000, source_ip="127.0.0.2")
    argv = load.argv("sipp", Path("/tmp/s.csv"))
    assert argv[0] == "sipp" and argv[-1] == "127.0.0.1:15060"
    pairs = dict(zip(argv[1:-1:2], argv[2:-1:2], strict=False))
    assert pairs["-i"] == "127.0.0.2"
    assert pairs["-r"] == "50" and pairs["-m"] == "300" and pairs["-s"] == "55501"
    assert pairs["-recv_timeout"] == "20000"
    assert argv[argv.index("-stf") + 1] == "/tmp/s.csv"
    assert load.send_s == 6.0


def test_sipp_stats_skip_appended_log_lines() -> None:
    header = "StartTime;OutgoingCall(C);TotalCallCreated;SuccessfulCall(C);FailedCall(C);"
    text = (
        f"{header}\n"
        "t0;0;0;0;0;\n"
        "t1;300;300;298;2;\n"
        "2026-11-29 15:43:07.777340: Call-Id: 1-18865@127.0.0.2, receive timeout on message\n"
        "Resolving remote host '127.0.0.1'... Done.\n"
    )
    stats = parse_stat_csv(text)
    assert stats["OutgoingCall(C)"] == "300"
    res = result_from_stats(stats, 1, 7.5)
    assert (res.created, res.successful, res.failed, res.clean) == (300, 298, 2, False)
    assert parse_stat_csv("") == {}


def test_proc_stat_parsing() -> None:
    # a command name with a space and a parenthesis must not shift the fields
    stat = "7728 (aster isk)) S 1 7727 7727 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 60 0 1000"
    assert parse_stat_cpu_ticks(stat) == 1234 + 567
    host = "cpu  146193 176 21487 202231 1410 0 760 1458 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"
    assert parse_host_busy_ticks(host) == 146193 + 176 + 21487 + 0 + 760 + 1458
    with pytest.raises(ValueError):
        parse_host_busy_ticks("intr 1 2 3\n")
    assert ms_per(0.3, 300) == 1.0
    assert ms_per(1.0, 0) is None


def test_side_by_side_pairs_each_rates_two_sides() -> None:
    rows = [
        {"name": "e2e_app_queue_30cps", "rate": 30, "agents": 20000, "sipp_created": 900, "lost": 281,
         "abandoned": 3, "join_to_called_p50_ms": 78.0, "p99_ms": 1277.0, "asterisk_cpu_ms_per_call": 87.7,
         "members_load_s": 40.2, "other_load_cores": 0.1},
        {"name": "e2e_ccrouter_30cps", "rate": 30, "agents": 20000, "sipp_created": 900, "lost": 0,
         "abandoned": 0, "asterisk_enqueue_to_agent_channel_p50_ms": 1.1,
         "asterisk_enqueue_to_agent_channel_p99_ms": 7.2, "asterisk_cpu_ms_per_call": 21.8,
         "router_cpu_ms_per_call": 3.9, "p99_ms": 2.0, "other_load_cores": 0.2},
        {"name": "e2e_app_queue_50cps", "rate": 50, "agents": 20000, "sipp_created": 10, "lost": 1},
    ]  # fmt: skip
    out = e2e.side_by_side(rows)
    assert [r["name"] for r in out] == ["e2e_side_by_side_20000_30cps", "e2e_side_by_side_20000_50cps"]
    first = out[0]
    assert first["lost"] == {"ccrouter": 0, "app_queue": 281}
    assert first["enqueue_to_agent_leg_p50_ms"] == {"ccrouter": 1.1, "app_queue": 78.0}
    assert first["enqueue_to_agent_leg_p99_ms"] == {"ccrouter": 7.2, "app_queue": 1277.0}
    assert first["asterisk_cpu_ms_per_call"] == {"ccrouter": 21.8, "app_queue": 87.7}
    assert first["router_cpu_ms_per_call"] == 3.9
    assert first["app_queue_members_load_s"] == 40.2
    # A rate with one side only says so (None) rather than borrowing the other's figures.
    assert out[1]["lost"] == {"ccrouter": None, "app_queue": 1}
