"""Several Asterisk nodes in the config: trunks, locality, and what the core gets of them."""

from __future__ import annotations

import pytest

from cc_router.config import ConfigError, loads_config
from cc_router.core.spec import TrunkSpec
from cc_router.core.vocabulary import Locality

BASE = """
skills: [zh]
asterisk:
  - {name: node1, port: 15038, secret: s}
  - {name: node2, port: 15138, secret: s}
seat_pools:
  - {name: p1, node: node1}
  - {name: p2, node: node2}
agents:
  - {id: a1, pool: p1, skills: {zh: 1}}
  - {id: a2, pool: p2, skills: {zh: 1}}
queues:
  - {name: q, requirement: zh, locality: only}
  - {name: q2, requirement: zh}
"""


def test_trunks_and_locality_reach_the_core() -> None:
    config = loads_config(BASE + "trunks:\n  - {nodes: [node1, node2], max_calls: 5}\n", env={})
    centre = config.to_centre()
    assert centre.topology.pool_node == {"p1": "node1", "p2": "node2"}
    assert centre.topology.trunks == (TrunkSpec("node1", "node2", 5),)
    assert [q.locality for q in centre.queues] == [Locality.ONLY, Locality.PREFER]
    trunk = config.trunk_between("node2", "node1")
    assert trunk is not None
    assert trunk.endpoint_on("node1") == "ccr-trunk-node2"
    assert trunk.endpoint_on("node2") == "ccr-trunk-node1"


def test_trunk_endpoints_can_be_named() -> None:
    text = BASE + "trunks:\n  - {nodes: [node1, node2], endpoints: {node1: to-b}}\n"
    trunk = loads_config(text, env={}).trunks[0]
    assert trunk.endpoint_on("node1") == "to-b"
    assert trunk.endpoint_on("node2") == "ccr-trunk-node1"


def test_one_node_gives_the_core_no_topology() -> None:
    text = "skills: [zh]\nasterisk: [{name: only, secret: s}]\nqueues: [{name: q, requirement: zh}]\n"
    assert not loads_config(text, env={}).to_centre().topology.pool_node


@pytest.mark.parametrize(
    ("trunks", "path", "reason"),
    [
        ("[{nodes: [node1, node9]}]", "trunks[0].nodes", "unknown Asterisk node 'node9'"),
        ("[{nodes: [node1, node1]}]", "trunks[0]", "two different nodes"),
        ("[{nodes: [node1, node2]}, {nodes: [node2, node1]}]", "trunks[1].nodes", "same two nodes"),
        ("[{nodes: [node1, node2], max_calls: 0}]", "trunks[0].max_calls", "greater than or equal to 1"),
        ("[{nodes: [node1, node2], endpoints: {node3: x}}]", "trunks[0]", "not one of this trunk's nodes"),
    ],
)
def test_bad_trunks_are_clear_errors(trunks: str, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        loads_config(BASE + f"trunks: {trunks}\n", env={})
    assert any(i.path == path and reason in i.message for i in info.value.issues), str(info.value)


def test_bad_locality_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        loads_config(BASE.replace("locality: only", "locality: nearby"), env={})
    assert any(i.path == "queues[0].locality" for i in info.value.issues), str(info.value)


def test_plaintext_ami_to_another_host_is_refused_unless_allowed() -> None:
    text = "asterisk: [{name: far, host: 10.0.0.2, secret: s}]\n"
    with pytest.raises(ConfigError) as info:
        loads_config(text, env={})
    assert any(i.path == "asterisk[0].host" and "plaintext AMI" in i.message for i in info.value.issues)
    assert loads_config(text.replace("secret: s", "secret: s, tls: true"), env={}).asterisk[0].tls
    assert loads_config(text.replace("secret: s", "secret: s, allow_plaintext: true"), env={})
    assert loads_config("asterisk: [{name: near, host: localhost, secret: s}]\n", env={})


def test_locality_off_unquoted_in_yaml_is_the_word_off() -> None:
    config = loads_config(BASE.replace("locality: only", "locality: off"), env={})
    assert config.queues[0].locality is Locality.OFF


def test_reload_says_restart_only_for_a_kept_node_with_other_settings() -> None:
    from cc_router.http.actions import nodes_changed

    old = loads_config(BASE, env={})
    third = "  - {name: node3, port: 15238, secret: s}\nseat_pools:"
    added = loads_config(BASE.replace("seat_pools:", third), env={})
    moved = loads_config(BASE.replace("port: 15138", "port: 15139"), env={})
    assert not nodes_changed(old, added)  # a new node is connected by the reload itself
    assert nodes_changed(old, moved)
