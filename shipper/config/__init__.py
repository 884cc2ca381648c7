"""Configuration: typed objects loaded strictly from YAML (see `loader`), overridden by CLI flags."""

from shipper.config.model import Config, load_config

__all__ = ["Config", "load_config"]
