"""A CA and a server certificate per sandbox node, for AMI over TLS (manager.conf tlsenable).

Made once with the host's openssl into the node's etc directory (keys/): `ccr-ca.pem` is
what a router configured with `tls: true` verifies the node against; the server
certificate names 127.0.0.1 and localhost.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

CA = "ccr-ca.pem"
CA_KEY = "ccr-ca.key"
CERT = "ccr-ami.pem"
KEY = "ccr-ami.key"

_LEAF_EXT = """basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
"""


class CertError(RuntimeError):
    pass


def _openssl(*argv: str) -> None:
    proc = subprocess.run(["openssl", *argv], capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise CertError(f"openssl {argv[0]} failed: {proc.stderr.strip()[-500:]}")


def make_ca(directory: Path, name: str = "cc-router sandbox CA") -> tuple[Path, Path]:
    """A self-signed CA (certificate, key) in `directory`; also for tests' wrong CAs."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, key = directory / CA, directory / CA_KEY
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(key), "-out", str(ca),
    )  # fmt: skip
    return ca, key


def ensure_node_certs(keys: Path) -> Path:
    """CA and server certificate in `keys` (made the first time); returns the CA file."""
    if all((keys / f).is_file() for f in (CA, CA_KEY, CERT, KEY)):
        return keys / CA
    ca, ca_key = make_ca(keys)
    with tempfile.TemporaryDirectory() as tmp:
        csr, ext = Path(tmp) / "ami.csr", Path(tmp) / "ext.cnf"
        ext.write_text(_LEAF_EXT)
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", str(keys / KEY), "-out", str(csr),
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "3650", "-extfile", str(ext), "-out", str(keys / CERT),
        )  # fmt: skip
    for f in (CA_KEY, KEY):
        (keys / f).chmod(0o600)
    return ca
