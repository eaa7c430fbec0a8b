"""The YAML config: models, loading with collected errors, and conversion to a `CentreSpec`."""

from cc_router.config.convert import build_centre, iter_agents, summary
from cc_router.config.issues import ConfigError, ConfigIssue
from cc_router.config.load import load_config, loads_config, parse_config
from cc_router.config.models import Config

__all__ = [
    "Config",
    "ConfigError",
    "ConfigIssue",
    "build_centre",
    "iter_agents",
    "load_config",
    "loads_config",
    "parse_config",
    "summary",
]
