"""Choose the torch device a job runs on."""

import torch

from .errors import DeviceError


def available_devices():
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


def pick_device(requested):
    found = available_devices()
    if requested == "auto":
        return torch.device("cuda" if "cuda" in found else "mps" if "mps" in found else "cpu")
    if requested not in found:
        raise DeviceError(f"device {requested!r} was requested but this machine only has {', '.join(found)}; "
                          f"choose 'auto' or 'cpu' in the add-on preferences")
    return torch.device(requested)
