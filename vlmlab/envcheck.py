"""What is installed, which device runs the maths, and whether the Hugging Face Hub answers.

Notebook 00 prints this report; it is also what to paste into a question
when something does not work. The Hub check never hangs: it gives up after a
couple of seconds, and it does not even try when the Hub is switched off with
``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import importlib
import os
import platform
import socket

PACKAGES = ("torch", "torchvision", "transformers", "ipywidgets", "matplotlib", "PIL", "numpy", "safetensors")
HUB_HOST = "huggingface.co"


def package_versions(packages=PACKAGES) -> dict[str, str]:
    """``{name: version}`` for each package, ``"missing"`` where it can't be imported."""
    versions = {}
    for name in packages:
        try:
            versions[name] = getattr(importlib.import_module(name), "__version__", "unknown")
        except ImportError:
            versions[name] = "missing"
    return versions


def hub_status(timeout: float = 2.0) -> str:
    """``"reachable"``, ``"offline (HF_HUB_OFFLINE=1)"`` or ``"unreachable: <reason>"``, within ``timeout`` seconds.

    Only opens a TCP connection to the Hub's HTTPS port; downloads nothing.
    """
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return "offline (HF_HUB_OFFLINE=1)"
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return "reachable"
    except OSError as error:  # DNS failure, refused, timed out: all mean "not from here"
        return f"unreachable: {type(error).__name__}"


def report(check_hub: bool = True, timeout: float = 2.0) -> dict[str, str]:
    """Python, the packages, the torch device and (optionally) the Hub, as one flat dict."""
    import vlmlab

    info = {"python": platform.python_version(), "vlmlab": vlmlab.__version__}
    info.update(package_versions())
    info["device"] = str(vlmlab.device())
    info["torch threads"] = str(__import__("torch").get_num_threads())
    if check_hub:
        info["hugging face hub"] = hub_status(timeout)
    return info
