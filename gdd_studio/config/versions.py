"""Older config files: the format's versions, and how an older file reads today.

A run keeps the network and the arithmetic it was made with: a file is upgraded on
reading (a copy when anything changes), never rewritten in place.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError

# The config file's version. 1 (files without a "version" key): "resnet18" named the
# BatchNorm ResNet-18. 2: that net is "resnet18bn" and "resnet18" is the literature's
# instance-norm one (models/nets.py). Older files are upgraded on reading, so a run keeps
# the network it was made with.
CONFIG_VERSION = 2
ARCH_RENAMES_V1 = {"resnet18": "resnet18bn"}

# What a run written before the runtime setting existed ran with.
LEGACY_RUNTIME = {"precision": "fp32", "compile": "off"}

# The sections every saved config.json holds (and a hand-written partial file lacks).
_SAVED_SECTIONS = ("dataset", "ipc", "seed", "model", "gan", "distill", "evaluation", "monitor")


def rename_archs_v1(value: Any) -> Any:
    """A version-1 list of network names (or "a,b" text) in version-2 names."""
    if isinstance(value, str):
        return ",".join(ARCH_RENAMES_V1.get(v.strip(), v.strip()) for v in value.split(","))
    if isinstance(value, list):
        return [ARCH_RENAMES_V1.get(v, v) if isinstance(v, str) else v for v in value]
    return value


def upgrade_config_dict(data: Any) -> Any:
    """A config dict as the current version reads it (a copy when anything changes).

    A complete file without ``"version"`` (every config.json a run wrote before version 2
    holds every section) was written before version 2: its "resnet18" meant the BatchNorm
    net, now "resnet18bn". A partial file (a hand-written ``--config``) without a version
    is read as today's: a new user's "resnet18" means the literature's network. A complete
    file without a ``"runtime"`` section was written before that setting existed, by a run
    that trained in fp32 without compilation: it keeps doing so (LEGACY_RUNTIME), so that
    resuming it continues bit for bit.
    """
    if not isinstance(data, dict):
        return data
    complete = all(key in data for key in _SAVED_SECTIONS)
    version = data.get("version", 1 if complete else CONFIG_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(
            f"version must be a whole number from 1 to {CONFIG_VERSION}, got {version!r}"
        )
    if version > CONFIG_VERSION:
        raise ConfigError(
            f"this config file is version {version}, newer than this GDD Studio reads "
            f"({CONFIG_VERSION}): update GDD Studio"
        )
    if complete and "runtime" not in data:
        data = {**data, "runtime": dict(LEGACY_RUNTIME)}
    if version == CONFIG_VERSION:
        return data
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for section, key in (("distill", "pool"), ("evaluation", "archs")):
        if isinstance(data.get(section), dict) and key in data[section]:
            data[section][key] = rename_archs_v1(data[section][key])
    data["version"] = CONFIG_VERSION
    return data
