"""AMI over TLS to node 2: verified against the sandbox's CA; a wrong CA is refused."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from cc_router.adapters.ami.connection import AmiConnection
from cc_router.adapters.ami.tls import tls_context
from cc_router.config.models import AsteriskNode
from cc_router.sandbox import SandboxSettings
from cc_router.sandbox.certs import make_ca

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


def node2_spec(settings: SandboxSettings, ca: Path) -> AsteriskNode:
    return AsteriskNode(
        name="node2", port=settings.ami_tls_port, tls=True, tls_ca_file=str(ca), username=settings.ami_user
    )


async def test_tls_login_to_node2_and_a_wrong_ca_is_refused(
    nodes: list[SandboxSettings], tmp_path: Path
) -> None:
    s = nodes[1]
    good = node2_spec(s, s.tls_ca_file)
    conn = AmiConnection(
        "127.0.0.1", s.ami_tls_port, s.ami_user, SecretStr(s.ami_secret),
        on_event=lambda n, f: None, name="tls", tls=tls_context(good),
    )  # fmt: skip
    await conn.connect()
    assert conn.logged_in and conn.banner.startswith("Asterisk Call Manager")
    reply = await conn.send_action({"Action": "Ping"})
    assert isinstance(reply, dict) and reply.get("Response") == "Success"
    conn.close()

    wrong_ca, _ = make_ca(tmp_path / "other", "not the sandbox's CA")
    bad = AmiConnection(
        "127.0.0.1", s.ami_tls_port, s.ami_user, SecretStr(s.ami_secret),
        on_event=lambda n, f: None, name="tls-bad", tls=tls_context(node2_spec(s, wrong_ca)),
    )  # fmt: skip
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await bad.connect()
    assert not bad.logged_in
