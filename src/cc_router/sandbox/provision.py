"""Provision a real Asterisk 22 in a cached Debian sid chroot (see docs/asterisk-sandbox.md).

Debian 12 ships no Asterisk; Debian unstable does. ``up`` builds a minimal sid root with
debootstrap once per machine (cached under /var/cache/cc-router), copies the project's
Asterisk config and dialplans into it, and starts Asterisk in it. The chroot shares the
host's network namespace, so AMI and SIP are on 127.0.0.1 at non-default ports.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cc_router.config import environment
from cc_router.sandbox import certs, layout
from cc_router.sandbox.tiff import minimal_fax_tiff

log = logging.getLogger(__name__)

SUITE = "sid"
#: Packages installed in the root. asterisk-modules carries app_voicemail, res_fax and
#: res_fax_spandsp (libspandsp comes as a dependency); the core sounds come with asterisk.
PACKAGES: tuple[str, ...] = (
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en-gsm",
    "asterisk-moh-opsound-gsm",
    "libtiff-tools",
)
HOST_PACKAGES: Mapping[str, str] = {"debootstrap": "debootstrap", "sipp": "sip-tester"}
MARKER = ".cc-router-built"
#: Bump when PACKAGES or the post-build steps change: older roots are rebuilt.
BUILD_VERSION = "1"
TEST_FAX = "/var/spool/asterisk/fax/ccr-test.tif"
CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}
_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")


def _repo_root() -> Path:
    # src/cc_router/sandbox/provision.py -> repository root
    return Path(__file__).resolve().parents[3]


def _default_secret() -> str:
    return environment.sandbox_ami_secret()


class SandboxError(RuntimeError):
    """The sandbox could not be built, started or stopped; the message says why."""


@dataclass
class SandboxSettings:
    root: Path = Path("/var/cache/cc-router/asterisk-root")
    ami_port: int = 15038
    ami_tls_port: int = 15039
    sip_port: int = 15060
    ami_user: str = "ccrouter"
    ami_secret: str = field(default_factory=_default_secret)
    config_dir: Path = field(default_factory=lambda: _repo_root() / "config" / "asterisk")
    dialplans_dir: Path = field(default_factory=lambda: _repo_root() / "dialplans")
    #: agent-sip-N listens on agent_sip_port_base + N (SIPp "-sn uas -p PORT")
    agent_sip_port_base: int = 15070
    #: 4,000 ports: one RTP session (an even port and its RTCP neighbour) per call, so node 1
    #: holds 2,000 callers at once (the restart benchmark's floor); below the kernel's
    #: ephemeral range (32768-) and away from a default Asterisk's 10000-20000.
    rtp_start: int = 26000
    rtp_end: int = 29999
    #: Debian mirror; None = the one the host's apt uses
    mirror: str | None = None
    boot_timeout: float = 60.0
    node: int = 1
    """Which node of a several-node sandbox (layout.py); 1 is the single-node sandbox."""
    trunk_nodes: int = 2
    """Nodes the trunks are configured for: the same files whether one or two nodes run."""

    @classmethod
    def for_node(cls, node: int, **kw: object) -> SandboxSettings:
        """Settings of node `node`: every port moved up by (node - 1) * layout.PORT_STEP."""
        if not 1 <= node <= layout.MAX_NODES:
            raise SandboxError(f"node {node}: the sandbox has nodes 1..{layout.MAX_NODES}")
        step = (node - 1) * layout.PORT_STEP
        base = cls(**kw)  # type: ignore[arg-type]
        base.node = node
        base.ami_port += step
        base.ami_tls_port += step
        base.sip_port += step
        base.agent_sip_port_base += step
        if node > 1:
            # Further nodes (tests, the two-node bench) carry fewer callers each.
            base.rtp_start = layout.RTP_BASE + (node - 1) * layout.RTP_STEP
            base.rtp_end = base.rtp_start + layout.RTP_STEP - 1
        base.trunk_nodes = max(base.trunk_nodes, node)
        return base

    @property
    def instance(self) -> str:
        return layout.instance(self.node)

    def node_dir(self, base: str) -> str:
        """`base` (e.g. etc/asterisk) as this node's own directory."""
        return f"{base}-{self.instance}" if self.instance else base

    @property
    def etc_dir(self) -> str:
        """Inside the root, e.g. etc/asterisk (node 1) or etc/asterisk-node2."""
        return self.node_dir("etc/asterisk")

    @property
    def run_dir(self) -> str:
        return self.node_dir("run/asterisk")

    @property
    def log_dir(self) -> str:
        return self.node_dir("var/log/asterisk")

    @property
    def keys_dir(self) -> Path:
        """Host path of the node's TLS files (certs.py)."""
        return self.root / self.etc_dir / "keys"

    @property
    def tls_ca_file(self) -> Path:
        """The CA a router verifies this node's AMI TLS certificate against."""
        return self.keys_dir / certs.CA

    def asterisk_argv(self) -> list[str]:
        """`asterisk` for this node: node N > 1 reads its own asterisk.conf (-C)."""
        if not self.instance:
            return ["asterisk"]
        return ["asterisk", "-C", f"/{self.etc_dir}/asterisk.conf"]

    @property
    def ami(self) -> str:
        return f"127.0.0.1:{self.ami_port}"

    @property
    def sip(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    def agent_sip_port(self, n: int) -> int:
        return self.agent_sip_port_base + n

    def placeholders(self) -> dict[str, str]:
        values = {
            "AMI_PORT": str(self.ami_port),
            "AMI_TLS_PORT": str(self.ami_tls_port),
            "AMI_TLS_CERT": f"/{self.etc_dir}/keys/{certs.CERT}",
            "AMI_TLS_KEY": f"/{self.etc_dir}/keys/{certs.KEY}",
            "SIP_PORT": str(self.sip_port),
            "AMI_USER": self.ami_user,
            "AMI_SECRET": self.ami_secret,
            "RTP_START": str(self.rtp_start),
            "RTP_END": str(self.rtp_end),
        }
        for n in range(1, 5):
            values[f"AGENT_SIP_PORT_{n}"] = str(self.agent_sip_port(n))
        values["DIRECTORIES"] = layout.directories(self.node)
        peers = [
            (n, SandboxSettings.sip_port + (n - 1) * layout.PORT_STEP) for n in range(1, self.trunk_nodes + 1)
        ]
        values["NODE_TRUNKS"] = layout.trunk_sections(self.node, peers)
        return values


@dataclass(frozen=True)
class SandboxStatus:
    built: bool
    running: bool
    version: str | None
    ami: str
    sip: str
    pid: int | None = None
    root: str = ""
    node: int = 1


# --------------------------------------------------------------------------- helpers


def _run(
    argv: Sequence[str],
    *,
    timeout: float | None = 120.0,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as exc:
        raise SandboxError(f"{argv[0]} not found: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"{' '.join(argv)} timed out after {timeout} s") from exc
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise SandboxError(f"{' '.join(argv)} failed ({proc.returncode}): {tail}")
    return proc


def _require_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError("the Asterisk sandbox needs root (debootstrap, chroot, mount); run it with sudo")


def _chroot(settings: SandboxSettings, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return _run(["chroot", str(settings.root), *argv], env=CHROOT_ENV, **kw)  # type: ignore[arg-type]


@contextlib.contextmanager
def _lock(settings: SandboxSettings) -> Iterator[None]:
    settings.root.parent.mkdir(parents=True, exist_ok=True)
    path = settings.root.parent / f"{settings.root.name}.lock"
    with path.open("a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _ensure_host_packages(commands: Sequence[str]) -> None:
    missing = [HOST_PACKAGES[c] for c in commands if shutil.which(c) is None]
    if not missing:
        return
    log.info("installing host packages %s", " ".join(missing))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if _run(install, timeout=600, check=False, env=env).returncode != 0:
        _run(["apt-get", "update"], timeout=600, check=False, env=env)
        proc = _run(install, timeout=600, check=False, env=env)
        if proc.returncode != 0:
            raise SandboxError(
                f"cannot install {' '.join(missing)} with apt-get (no access to the package "
                f"mirror?): {(proc.stderr or proc.stdout).strip()[-1000:]}"
            )
    still = [c for c in commands if shutil.which(c) is None]
    if still:
        raise SandboxError(f"{' '.join(still)} still missing after apt-get install")


def host_mirror() -> str:
    """The Debian mirror the host's apt uses (deb822 .sources or sources.list)."""
    uris: list[str] = []
    apt = Path("/etc/apt")
    for src in sorted((apt / "sources.list.d").glob("*.sources")):
        for line in src.read_text(errors="replace").splitlines():
            if line.startswith("URIs:"):
                uris.extend(line.split(":", 1)[1].split())
    lists = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]
    for lst in lists:
        if not lst.is_file():
            continue
        for line in lst.read_text(errors="replace").splitlines():
            m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
            if m:
                uris.append(m.group(1))
    for uri in uris:
        if uri.rstrip("/").endswith("/debian") and uri.startswith(("http://", "https://")):
            return uri
    raise SandboxError(
        "cannot find the Debian mirror in /etc/apt/sources.list{,.d}: pass SandboxSettings(mirror=...)"
    )


def _is_mounted(path: Path) -> bool:
    target = str(path.resolve())
    with open("/proc/mounts", encoding="utf-8", errors="replace") as fh:
        return any(line.split()[1] == target for line in fh if len(line.split()) > 1)


def _mount_proc(settings: SandboxSettings) -> None:
    proc_dir = settings.root / "proc"
    if not _is_mounted(proc_dir):
        _run(["mount", "-t", "proc", "proc", str(proc_dir)])


def _umount_proc(settings: SandboxSettings) -> None:
    proc_dir = settings.root / "proc"
    if (
        proc_dir.exists()
        and _is_mounted(proc_dir)
        and _run(["umount", str(proc_dir)], check=False).returncode != 0
    ):
        _run(["umount", "-l", str(proc_dir)], check=False)


def is_built(settings: SandboxSettings) -> bool:
    marker = settings.root / MARKER
    try:
        built_version = marker.read_text().strip()
    except OSError:
        return False
    return built_version == BUILD_VERSION and (settings.root / "usr/sbin/asterisk").is_file()


def _safe_to_delete(path: Path) -> bool:
    resolved = path.resolve()
    return len(resolved.parts) >= 4 and resolved != Path("/").resolve()


def _build(settings: SandboxSettings) -> None:
    _ensure_host_packages(["debootstrap"])
    mirror = settings.mirror or host_mirror()
    root = settings.root
    tmp = root.with_name(root.name + ".building")
    for stale in (tmp, root):
        if stale.exists():
            if not _safe_to_delete(stale):
                raise SandboxError(f"refusing to delete {stale}")
            _umount_proc(SandboxSettings(root=stale))
            log.info("removing stale sandbox root %s", stale)
            shutil.rmtree(stale)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    log.info("building the Asterisk root with debootstrap (%s, %s); about a minute", SUITE, mirror)
    started = time.monotonic()
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(tmp),
        mirror,
    ]
    proc = _run(argv, timeout=1800, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        debootstrap_log = tmp / "debootstrap" / "debootstrap.log"
        if debootstrap_log.is_file():
            tail += "\n" + "\n".join(debootstrap_log.read_text(errors="replace").splitlines()[-15:])
        raise SandboxError(
            f"debootstrap of Debian {SUITE} from {mirror} failed (is the mirror reachable?):\n{tail}"
        )
    tmp.rename(root)
    _post_build(settings)
    (root / MARKER).write_text(BUILD_VERSION + "\n")
    log.info("sandbox root built in %.0f s", time.monotonic() - started)


def _post_build(settings: SandboxSettings) -> None:
    root = settings.root
    fax_dir = root / "var/spool/asterisk/fax"
    fax_dir.mkdir(parents=True, exist_ok=True)
    raw = fax_dir / "ccr-test-raw.tif"
    raw.write_bytes(minimal_fax_tiff())
    # G3 1-D compression: what a fax machine sends and what spandsp reads back.
    _chroot(settings, "tiffcp", "-c", "g3:1d", str(Path(TEST_FAX).parent / raw.name), TEST_FAX)
    raw.unlink()


OWNED_DIRS = ("var/lib/asterisk", "var/log/asterisk", "var/spool/asterisk", "run/asterisk", "etc/asterisk")


def _fix_ownership(settings: SandboxSettings) -> None:
    # The package's files belong to the chroot's "asterisk" uid, which is some other user
    # on the host; Asterisk runs as root here and must own its state.
    made = (
        settings.run_dir,
        settings.node_dir("var/spool/asterisk") + "/fax",
        settings.node_dir("var/lib/asterisk"),
        settings.log_dir,
        settings.etc_dir + "/cc-router",
    )
    dirs = " ".join(f"/{d}" for d in made)
    owned = " ".join(f"/{settings.node_dir(d)}" for d in OWNED_DIRS)
    _chroot(settings, "sh", "-c", f"mkdir -p {dirs} && chown -R root:root {owned}")


def render(text: str, values: Mapping[str, str], source: str = "<template>") -> str:
    """Substitute ``{{NAME}}`` placeholders; unknown names are an error."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise SandboxError(f"{source}: unknown placeholder {{{{{name}}}}}")
        return values[name]

    return _PLACEHOLDER.sub(sub, text)


#: Files whose changes "core reload" does not apply (transports, modules, core options):
#: when one of them changed, a running sandbox is restarted instead of reloaded.
RESTART_ON_CHANGE = frozenset({"asterisk.conf", "modules.conf", "pjsip.conf", "logger.conf"})


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    path.write_text(text)
    return True


def install_config(settings: SandboxSettings) -> set[str]:
    """Copy config/asterisk/*.conf and dialplans/*.conf into the root, templated.

    Returns the names of the files whose content changed.
    """
    etc = settings.root / settings.etc_dir
    dialplans = etc / "cc-router"
    dialplans.mkdir(parents=True, exist_ok=True)
    values = settings.placeholders()
    confs = sorted(settings.config_dir.glob("*.conf"))
    if not confs:
        raise SandboxError(f"no *.conf in {settings.config_dir}")
    changed: set[str] = set()
    for src in confs:
        if _write_if_changed(etc / src.name, render(src.read_text(), values, str(src))):
            changed.add(src.name)
    wanted = {src.name: src for src in sorted(settings.dialplans_dir.glob("*.conf"))}
    for old in dialplans.glob("*.conf"):
        if old.name not in wanted:
            old.unlink()
            changed.add(f"cc-router/{old.name}")
    for name, src in wanted.items():
        if _write_if_changed(dialplans / name, render(src.read_text(), values, str(src))):
            changed.add(f"cc-router/{name}")
    os.chmod(etc / "manager.conf", 0o600)
    return changed


def _pid(settings: SandboxSettings) -> int | None:
    pid_file = settings.root / settings.run_dir / "asterisk.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        proc_root = os.readlink(f"/proc/{pid}/root")
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    if Path(proc_root).resolve() != settings.root.resolve() or not exe.endswith("asterisk"):
        return None
    return pid


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _log_tail(settings: SandboxSettings, lines: int = 30) -> str:
    path = settings.root / settings.log_dir / "messages"
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no /var/log/asterisk/messages in the sandbox root)"


def _wait_booted(settings: SandboxSettings, started: float) -> None:
    deadline = started + settings.boot_timeout
    while time.monotonic() < deadline:
        if _pid(settings) is not None:
            remaining = max(1.0, deadline - time.monotonic())
            argv = (*settings.asterisk_argv(), "-rx", "core waitfullybooted")
            proc = _chroot(settings, *argv, timeout=remaining, check=False)
            if proc.returncode == 0 and _port_open(settings.ami_port):
                return
        time.sleep(0.2)
    raise SandboxError(
        f"Asterisk did not come up within {settings.boot_timeout:.0f} s "
        f"(AMI {settings.ami}); tail of its log:\n{_log_tail(settings)}"
    )


def _start(settings: SandboxSettings) -> None:
    log.info("starting Asterisk in %s", settings.root)
    started = time.monotonic()
    # Without -f Asterisk forks into the background (setsid) and writes its pid file.
    _chroot(settings, *settings.asterisk_argv(), "-U", "root", "-G", "root", timeout=30)
    _wait_booted(settings, started)
    log.info("Asterisk up in %.1f s", time.monotonic() - started)


def _wait_gone(settings: SandboxSettings, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid(settings) == pid:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _stop(settings: SandboxSettings, pid: int, timeout: float) -> None:
    log.info("stopping Asterisk (pid %d)", pid)
    try:
        _chroot(settings, *settings.asterisk_argv(), "-rx", "core stop now", timeout=timeout, check=False)
    except SandboxError as exc:
        # A wedged Asterisk can hang its own CLI; the signals below still stop it.
        log.warning("core stop now did not return: %s", exc)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if _wait_gone(settings, pid, timeout):
            return
        log.warning("Asterisk (pid %d) still running: sending %s", pid, sig.name)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    if not _wait_gone(settings, pid, timeout):
        raise SandboxError(f"Asterisk (pid {pid}) does not stop")


# --------------------------------------------------------------------------- public API


def ensure_sipp() -> str:
    """Install SIPp (Debian package sip-tester) on the host if missing; return its path."""
    _require_root()
    _ensure_host_packages(["sipp"])
    path = shutil.which("sipp")
    if path is None:  # pragma: no cover - _ensure_host_packages checked it
        raise SandboxError("sipp not found")
    return path


def cli(settings: SandboxSettings, command: str, timeout: float = 30.0) -> str:
    """Run an Asterisk CLI command in the sandbox (``asterisk -rx``) and return stdout."""
    proc = _chroot(settings, *settings.asterisk_argv(), "-rx", command, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise SandboxError(
            f"asterisk -rx {command!r} failed ({proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-500:]}"
        )
    return proc.stdout


def status(settings: SandboxSettings | None = None) -> SandboxStatus:
    settings = settings or SandboxSettings()
    built = is_built(settings)
    pid = _pid(settings) if built else None
    version: str | None = None
    if built:
        proc = _chroot(settings, "asterisk", "-V", timeout=10, check=False)
        if proc.returncode == 0:
            version = proc.stdout.strip() or None
    return SandboxStatus(
        built=built,
        running=pid is not None,
        version=version,
        ami=settings.ami,
        sip=settings.sip,
        pid=pid,
        root=str(settings.root),
        node=settings.node,
    )


def up(settings: SandboxSettings | None = None) -> SandboxStatus:
    """Build (once, cached), configure and start the sandbox; reload it if already up."""
    settings = settings or SandboxSettings()
    _require_root()
    with _lock(settings):
        if not is_built(settings):
            if _pid(settings) is not None:
                raise SandboxError(
                    f"{settings.root} is not a complete build but Asterisk runs in it: run 'down' first"
                )
            _build(settings)
        _mount_proc(settings)
        try:
            certs.ensure_node_certs(settings.keys_dir)
        except (certs.CertError, OSError) as exc:
            raise SandboxError(f"AMI TLS certificates: {exc}") from exc
        changed = install_config(settings)
        _fix_ownership(settings)
        pid = _pid(settings)
        if pid is not None and changed & RESTART_ON_CHANGE:
            log.info("%s changed: restarting Asterisk", ", ".join(sorted(changed & RESTART_ON_CHANGE)))
            _stop(settings, pid, 15.0)
            pid = None
        if pid is not None:
            log.info("Asterisk already running: reloading config")
            cli(settings, "core reload")
            _wait_booted(settings, time.monotonic())
        else:
            _start(settings)
        return status(settings)


def node_settings(settings: SandboxSettings) -> list[SandboxSettings]:
    """Every node that may run from `settings.root` (1 .. layout.MAX_NODES)."""
    out = [settings if settings.node == 1 else SandboxSettings(root=settings.root)]
    for n in range(2, layout.MAX_NODES + 1):
        out.append(settings if settings.node == n else SandboxSettings.for_node(n, root=settings.root))
    return out


def down(settings: SandboxSettings | None = None, timeout: float = 15.0) -> None:
    """Stop every node's Asterisk in the root and unmount /proc. Safe when already down.

    All nodes, whichever `settings` names: the shared lock's holders expect one
    `down` to leave nothing of theirs running."""
    settings = settings or SandboxSettings()
    _require_root()
    with _lock(settings):
        for node in node_settings(settings):
            pid = _pid(node)
            if pid is not None:
                _stop(node, pid, timeout)
        if settings.root.exists():
            _umount_proc(settings)


def stop_node(settings: SandboxSettings, timeout: float = 15.0, *, kill: bool = False) -> None:
    """Stop one node only (tests: a node that fails). `kill`: SIGKILL, no clean shutdown."""
    _require_root()
    with _lock(settings):
        pid = _pid(settings)
        if pid is None:
            return
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not _wait_gone(settings, pid, timeout):
                raise SandboxError(f"Asterisk node {settings.node} (pid {pid}) does not stop")
            # A killed Asterisk leaves its pid file and control socket behind.
            for stale in ("asterisk.pid", "asterisk.ctl"):
                with contextlib.suppress(OSError):
                    (settings.root / settings.run_dir / stale).unlink()
            return
        _stop(settings, pid, timeout)
