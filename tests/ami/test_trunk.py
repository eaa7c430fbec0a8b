"""The agent leg of a cross-node offer: the Originate on the caller's node goes over the trunk."""

from __future__ import annotations

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.trunk import TRUNK_OUT_CHANNEL, remote_leg, with_remote
from cc_router.config import loads_config
from cc_router.sandbox.layout import directories, trunk_endpoint, trunk_sections

CONFIG = """
asterisk:
  - {name: node1, secret: s}
  - {name: node2, secret: s}
trunks: [{nodes: [node1, node2]}]
"""


def test_originate_over_the_trunk_keeps_the_agent_first_contract() -> None:
    config = loads_config(CONFIG, env={})
    leg = remote_leg(config, "node1", "node2", "Local/m21@ccr-sim-agent", 15.0)
    assert leg is not None
    base = act.originate(
        action_id="x1", endpoint="Local/m21@ccr-sim-agent", timeout_s=15.0, channel_id="ccr-t-1",
        other_channel_id="ccr-t-1-2", caller_uniqueid="123.4", interaction_id="node1.123.4",
        agent_id="m21", caller_name="张伟", caller_num="139",
    )  # fmt: skip
    action = with_remote(base, leg)
    assert action["Channel"] == TRUNK_OUT_CHANNEL == "Local/agent@ccr-trunk-out/n"
    for key in ("Context", "Exten", "Timeout", "ChannelId", "OtherChannelId"):
        assert action[key] == base[key]
    variables = action["Variable"]
    assert isinstance(variables, list)
    assert "CCR_DEVICE=Local/m21@ccr-sim-agent" in variables
    assert "CCR_TRUNK=ccr-trunk-node2" in variables
    assert "CCR_RING=20" in variables
    assert "CCR_CALLER=123.4" in variables


def test_no_trunk_no_remote_leg_and_a_device_list_is_defused() -> None:
    config = loads_config(CONFIG.replace("trunks: [{nodes: [node1, node2]}]", ""), env={})
    assert remote_leg(config, "node1", "node2", "PJSIP/x", 15.0) is None
    config = loads_config(CONFIG, env={})
    leg = remote_leg(config, "node2", "node1", "PJSIP/a&PJSIP/b,,U(x)", 15.0)
    assert leg is not None
    assert "CCR_DEVICE=PJSIP/a_PJSIP/b__U(x)" in leg.variables()


def test_sandbox_layout_of_two_nodes() -> None:
    assert directories(1).startswith(";")
    assert "astetcdir => /etc/asterisk-node2" in directories(2)
    text = trunk_sections(2, [(1, 15060), (2, 15160)])
    assert f"[{trunk_endpoint(1)}]" in text and "[ccr-trunk-node2]" not in text
    assert "contact = sip:127.0.0.1:15060" in text
    assert "from_user = ccr-trunk-node2" in text


def test_node_two_ports_and_placeholders() -> None:
    from cc_router.sandbox import SandboxSettings

    s = SandboxSettings.for_node(2, ami_secret="x")
    assert (s.ami_port, s.sip_port, s.agent_sip_port(1), s.rtp_start) == (15138, 15160, 15171, 32000)
    assert s.asterisk_argv() == ["asterisk", "-C", "/etc/asterisk-node2/asterisk.conf"]
    values = s.placeholders()
    assert "contact = sip:127.0.0.1:15060" in values["NODE_TRUNKS"]
    one = SandboxSettings(ami_secret="x")
    assert (one.etc_dir, one.run_dir, one.asterisk_argv()) == ("etc/asterisk", "run/asterisk", ["asterisk"])
    assert "contact = sip:127.0.0.1:15160" in one.placeholders()["NODE_TRUNKS"]


def test_contact_status_of_a_trunk_becomes_trunk_down_then_up() -> None:
    from cc_router.adapters.ami.events_in import AmiToCore
    from cc_router.adapters.ami.registry import Registry
    from cc_router.core import events as ev
    from cc_router.service import Service

    config = loads_config(CONFIG, env={})
    ami_in = AmiToCore(Registry("t"), Service.from_config(config), config.asterisk[0], prefix="node1.")

    def status(aor: str, state: str) -> bytes:
        lines = ["Event: ContactStatus", "URI: sip:127.0.0.1:15160", f"ContactStatus: {state}", f"AOR: {aor}"]
        return ("\r\n".join(lines) + "\r\n").encode()

    assert ami_in.feed("ContactStatus", status("ccr-trunk-node2", "Unreachable"), 1.0) == (
        ev.TrunkDown("node1", "node2"),
    )
    assert ami_in.feed("ContactStatus", status("ccr-trunk-node2", "Unreachable"), 2.0) == ()
    assert ami_in.feed("ContactStatus", status("agent-sip-1", "Unreachable"), 2.0) == ()
    assert ami_in.feed("ContactStatus", status("ccr-trunk-node2", "Reachable"), 3.0) == (
        ev.TrunkUp("node1", "node2"),
    )
