"""AMI across hosts is encrypted: Asterisk's manager over TLS (manager.conf `tlsenable`).

The server's certificate is verified against the configured CA (or the system's) and
its name against the node's host (or `tls_server_name`); a certificate that does not
verify fails the connect with the reason, and nothing falls back to plaintext. Whether
plaintext to a non-loopback host is allowed at all is a config check (`plaintext_issue`).
"""

from __future__ import annotations

import ssl

from cc_router.config.models import AsteriskNode


def tls_context(spec: AsteriskNode) -> ssl.SSLContext | None:
    """The client context for the node, or None for plaintext AMI."""
    if not spec.tls:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=spec.tls_ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
