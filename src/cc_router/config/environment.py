"""Every `CC_ROUTER_*` environment variable, read here and nowhere else.

Each reader looks at the environment when called (not at import), so a variable set by a
test or a wrapper script after start-up is seen. An unset variable reads as None.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, overload

from pydantic import SecretStr

from cc_router.config.issues import ConfigIssue, Loc

AMI_SECRET = "CC_ROUTER_AMI_SECRET"
"""Secret of every `asterisk:` node that has none in the file."""
STORE_URL = "CC_ROUTER_STORE_URL"
"""The store's database URL; overrides `store.url`."""
API_TOKEN = "CC_ROUTER_API_TOKEN"
"""Bearer token of the control API (HTTP and MQTT) when `http.token` is not set."""
MQTT_PASSWORD = "CC_ROUTER_MQTT_PASSWORD"
"""Broker password when `mqtt.password` is not set."""
CONFIG = "CC_ROUTER_CONFIG"
"""Config file of the commands that take `--config` without it being given."""
SMS_REPLY_DESTINATION = "CC_ROUTER_SMS_REPLY_DESTINATION"
"""Template of the SIP URI campaign replies are sent to (omni/asterisk_glue.py)."""
SIPP_PORT_BASE = "CC_ROUTER_SIPP_PORT_BASE"
"""First local port SIPp is given in the live tests (cc_router.testing)."""

SANDBOX_AMI_SECRET = "ccrouter-sandbox"
"""The sandbox's AMI secret when CC_ROUTER_AMI_SECRET is not set."""


def variables() -> Mapping[str, str]:
    """The whole environment, for `${VAR}` in the config file."""
    return os.environ


@overload
def get(name: str) -> str | None: ...
@overload
def get(name: str, default: str) -> str: ...
def get(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def ami_secret() -> str | None:
    return get(AMI_SECRET)


def sandbox_ami_secret() -> str:
    return get(AMI_SECRET, SANDBOX_AMI_SECRET)


def store_url() -> str | None:
    return get(STORE_URL)


def api_token(configured: SecretStr | None = None) -> str | None:
    """The control API token: `configured` (`http.token`) when set and not empty, else
    CC_ROUTER_API_TOKEN; None when neither is."""
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    return get(API_TOKEN) or None


def config_path(default: str) -> str:
    return get(CONFIG, default)


def sms_reply_destination() -> str | None:
    return get(SMS_REPLY_DESTINATION)


def sipp_port_base(default: int) -> int:
    return int(get(SIPP_PORT_BASE, str(default)))


# ---------------------------------------------------------------------- in the config file

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute_env(data: Any, env: Mapping[str, str], issues: list[ConfigIssue], loc: Loc = ()) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; `$$` is a literal `$`."""
    if isinstance(data, str):
        if "$" not in data:
            return data

        def repl(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            issues.append(
                ConfigIssue(loc, f"environment variable {name} is not set (write ${{{name}:-default}})")
            )
            return ""

        return _ENV_REF.sub(repl, data)
    if isinstance(data, dict):
        return {k: substitute_env(v, env, issues, (*loc, str(k))) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute_env(v, env, issues, (*loc, i)) for i, v in enumerate(data)]
    return data


def apply_defaults(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """Fill in what the file leaves out from the variables above (and let the store URL
    override the file's): secrets may stay out of the file entirely (systemd credentials,
    k8s secrets)."""
    nodes = data.get("asterisk")
    if AMI_SECRET in env and isinstance(nodes, list):
        for node in nodes:
            if isinstance(node, dict) and node.get("secret") is None:
                node["secret"] = env[AMI_SECRET]
    for section, key, var in (("http", "token", API_TOKEN), ("mqtt", "password", MQTT_PASSWORD)):
        if var in env:
            sect = data.setdefault(section, {})
            if isinstance(sect, dict) and sect.get(key) is None:
                sect[key] = env[var]
    if STORE_URL in env:
        # The deployment decides where the database is, whatever the file says.
        store = data.setdefault("store", {})
        if isinstance(store, dict):
            store["url"] = env[STORE_URL]
