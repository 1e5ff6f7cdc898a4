"""`python -m backend.probe`: what this Python can run, as one line of JSON on stdout.

Only the standard library is imported at the top, so the probe answers even where torch, numpy or opencv are
missing; the add-on turns the answer into a message that says what to install.
"""

import importlib
import json
import platform
import sys

MIN_PYTHON = (3, 10)


def free_memory_bytes():
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def probe():
    report = {"python": platform.python_version(), "executable": sys.executable,
              "python_ok": sys.version_info[:2] >= MIN_PYTHON, "min_python": ".".join(map(str, MIN_PYTHON)),
              "packages": {}, "devices": [], "free_memory": free_memory_bytes()}
    for module, name in (("numpy", "numpy"), ("cv2.ximgproc", "opencv-contrib-python-headless"), ("torch", "torch")):
        try:  # cv2.ximgproc: the plain opencv wheel has cv2 without the edge-aware filters the backend uses
            importlib.import_module(module)
            report["packages"][name] = getattr(importlib.import_module(module.split(".")[0]), "__version__", "?")
        except Exception as exc:  # any import failure means: not usable
            report["packages"][name] = None
            report.setdefault("import_errors", {})[name] = f"{type(exc).__name__}: {exc}"
    if report["packages"]["torch"]:
        import torch

        from .device import available_devices  # imports torch: only once it is known to import
        report["devices"] = available_devices()
        if "cuda" in report["devices"]:
            report["cuda_name"] = torch.cuda.get_device_name(0)
            report["cuda_free_memory"] = torch.cuda.mem_get_info()[0]
    return report


if __name__ == "__main__":
    print(json.dumps(probe()))
