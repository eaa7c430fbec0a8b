"""Where each node of a several-node sandbox lives: ports, directories, trunks (pure).

Every node runs from the same chroot root. Node 1 keeps Asterisk's compiled-in
directories (/etc/asterisk, /run/asterisk ...) and the ports the single-node sandbox has
always had; node N > 1 gets its own etc, run, log, spool and AstDB directories (named in
its asterisk.conf, started with ``asterisk -C``) and every port moved up by
``(N - 1) * PORT_STEP``: node 2 has AMI 15138, SIP 15160.

Between every two nodes there is a PJSIP trunk: on node N the endpoint
``ccr-trunk-node<M>`` reaches node M, and calls arriving from node M are recognised on N
by their From user (``ccr-trunk-node<M>``, ``endpoint_identifier_order = username,...``),
not by address, because every node and every SIPp caller is on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterable

PORT_STEP = 100
RTP_BASE = 31000
RTP_STEP = 1000
"""Node N > 1 takes RTP ports RTP_BASE + (N - 1) * RTP_STEP onwards (node 2: 32000-32999)."""
MAX_NODES = 9
TRUNK_CONTEXT = "ccr-trunk-in"


def instance(node: int) -> str:
    """Name of a node's directories inside the root ("" for node 1: Asterisk's defaults)."""
    return "" if node == 1 else f"node{node}"


def trunk_endpoint(to_node: int) -> str:
    """The PJSIP endpoint, on any other node, whose calls go to `to_node`."""
    return f"ccr-trunk-node{to_node}"


def directories(node: int) -> str:
    """The [directories] lines of a node's asterisk.conf (none for node 1)."""
    name = instance(node)
    if not name:
        return "; node 1: the distribution's compiled-in directories"
    return "\n".join(
        (
            "[directories]",
            f"astetcdir => /etc/asterisk-{name}",
            f"astrundir => /run/asterisk-{name}",
            f"astlogdir => /var/log/asterisk-{name}",
            f"astspooldir => /var/spool/asterisk-{name}",
            f"astdbdir => /var/lib/asterisk-{name}",
        )
    )


def trunk_sections(node: int, peers: Iterable[tuple[int, int]]) -> str:
    """pjsip.conf sections on `node` for a trunk to each (peer node, peer SIP port)."""
    parts: list[str] = []
    for peer, sip_port in peers:
        if peer == node:
            continue
        name = trunk_endpoint(peer)
        parts.append(
            f"""[{name}]
type = endpoint
transport = transport-udp
context = {TRUNK_CONTEXT}
disallow = all
allow = ulaw,alaw
direct_media = no
media_address = 127.0.0.1
bind_rtp_to_media_address = yes
rtp_timeout = 0
; the other side recognises this node by the From user
from_user = {trunk_endpoint(node)}
from_domain = 127.0.0.1
; the caller's number and name cross the trunk in P-Asserted-Identity
send_pai = yes
trust_id_inbound = yes
trust_id_outbound = yes
; a node that dies sends no BYE: a failed session refresh ends the call on this side
timers = always
timers_sess_expires = 90
aors = {name}

[{name}]
type = aor
contact = sip:127.0.0.1:{sip_port}
; the router takes the trunk out of routing while its far end does not answer (ContactStatus)
qualify_frequency = 5
qualify_timeout = 2
"""
        )
    return "\n".join(parts) if parts else "; no other nodes"
