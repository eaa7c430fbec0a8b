"""The multinode bench's pure parts: agent ids as the config expands them, rows per route."""

from __future__ import annotations

from cc_router.bench.e2e import RouterProbe
from cc_router.bench.multinode import _split_rows, agent_ids, centre
from cc_router.sandbox.nodes import settings_of
from cc_router.testing.multinode import nodes_config


def test_app_queue_members_are_the_router_agents() -> None:
    config = nodes_config(centre(7), settings_of(2))
    expanded = [aid for g in config.agent_groups for aid, _ in g.expand()]
    assert expanded == agent_ids(7)
    assert len(set(agent_ids(20_000))) == 20_000


def test_rows_split_same_and_cross_node_and_time_each_caller_on_its_own_node() -> None:
    p1, p2 = RouterProbe(), RouterProbe()
    # both probes saw both arrivals (listeners see every event), each with its own clock
    for p, t in ((p1, 10.0), (p2, 50.0)):
        p.arrived.update({"node1.a": t, "node2.b": t})
    p1.written["node1.a"] = 10.002  # same node, 2 ms
    p2.written["node2.b"] = 50.010  # node 2's caller to a node-1 agent, 10 ms
    p1.ast_enqueue["node1.a"], p1.ast_agent_channel["node1.a"] = 1.0, 1.004
    routes = {"node1.a": "", "node2.b": "node2->node1"}
    same, cross = _split_rows(4, 30, [("node1.", p1), ("node2.", p2)], routes)
    assert (same["name"], same["offers"]) == ("multinode_same_node", 1)
    assert same["enqueue_to_originate_ms_p50"] == 2.0
    assert (cross["name"], cross["offers"]) == ("multinode_cross_node", 1)
    assert cross["enqueue_to_originate_ms_p99"] == 10.0
    assert same["asterisk_enqueue_to_agent_channel_ms_p50"] == 4.0
    assert cross["asterisk_enqueue_to_agent_channel_ms_p50"] is None
