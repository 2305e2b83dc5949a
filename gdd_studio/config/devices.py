"""The devices a run can use on this machine, and what ``auto`` means here."""

from __future__ import annotations

from ..errors import ConfigError


def check_device_name(name: str) -> None:
    """Reject a device that is not on this machine, with the ones that are."""
    resolve_device(name)


def available_devices() -> list[tuple[str, str]]:
    """(id, description) of every device a run can use here, best first."""
    import torch

    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append((f"cuda:{i}", f"{p.name}, {p.total_memory / 2**30:.0f} GiB"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("mps", "Apple GPU (Metal)"))
    threads = torch.get_num_threads()
    out.append(("cpu", f"CPU, {threads} thread{'s' if threads != 1 else ''}"))
    return out


def resolve_device(name: str) -> str:
    """Turn ``auto`` into the best device here; check that a named one exists."""
    ids = [d for d, _ in available_devices()]
    if name == "auto":
        return ids[0]
    if name == "cuda" and any(d.startswith("cuda:") for d in ids):
        return "cuda:0"
    if name in ids:
        return name
    raise ConfigError(f"device '{name}' is not available here (available: auto, {', '.join(ids)})")
