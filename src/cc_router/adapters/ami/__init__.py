"""Asterisk AMI adapter: one `AmiNode` per `asterisk:` entry of the config.

`build(service)` creates the nodes, adds each as a command sink and returns them as
components; `service.parts.nodes` is the list of nodes (`node.ready` for /readyz,
`node.health()` for details).

Hooks for other adapters (e.g. omnichannel):

- `node.on_user_event("CCRMessage", callback)`: `callback(headers: dict[str, str])` for
  every `UserEvent: CCRMessage` (same for CCRFax, CCRCallback, ...); headers are decoded
  from whole messages, so UTF-8 is intact.
- `await node.send_action({"Action": "MessageSend", ...})`: any AMI action; returns the
  Response headers (a list of items for list actions). Raises `ConnectionLost` when the
  node is down or drops before the reply; nothing is ever re-sent.
- `node.enqueue(action, on_reply=None)`: fire-and-forget through the node's send queue.

Benchmark: `cc_router.adapters.ami.protocol.bench_ami_parser()`.
"""

from __future__ import annotations

from pydantic import SecretStr

from cc_router.adapters.ami.connection import AmiConnection, AmiError, ConnectionLost, LoginFailed
from cc_router.adapters.ami.node import AmiNode
from cc_router.adapters.ami.protocol import bench_ami_parser
from cc_router.config import environment
from cc_router.service import Component, Service


def build(service: Service) -> list[Component]:
    """One node per configured Asterisk; attaches sinks and `service.parts.nodes`."""
    specs = service.config.asterisk
    env_secret = environment.ami_secret()
    nodes: list[AmiNode] = []
    for spec in specs:
        secret = spec.secret or (SecretStr(env_secret) if env_secret else None)
        node = AmiNode(service, spec, multi_node=len(specs) > 1, secret=secret)
        node.attach()
        nodes.append(node)
    service.parts.nodes = list(nodes)
    return list(nodes)


__all__ = [
    "AmiConnection",
    "AmiError",
    "AmiNode",
    "ConnectionLost",
    "LoginFailed",
    "bench_ami_parser",
    "build",
]
