"""What is installed, which device runs the maths, and whether the Hugging Face Hub answers.

Notebook 00 prints this report; it is also what to paste into a question
when something does not work.

:func:`hub_offline_reason` is the one rule for "can the Hub be used now?",
shared by this report and by :func:`vlmlab.clip.load_clip`:

* the Hub is off when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is set to
  ``1``/``true``/``yes``/``on`` (the values ``huggingface_hub`` accepts); then
  nothing is even tried;
* otherwise it is reachable when a TCP connection to the endpoint
  (``HF_ENDPOINT``, default ``https://huggingface.co``) opens within
  ``timeout`` seconds. Nothing is downloaded, and nothing hangs.
"""

from __future__ import annotations

import importlib
import os
import platform
import socket
import time
from urllib.parse import urlparse

PACKAGES = ("torch", "torchvision", "transformers", "ipywidgets", "matplotlib", "PIL", "numpy", "safetensors")
DEFAULT_ENDPOINT = "https://huggingface.co"
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
TRUE_VALUES = ("1", "true", "yes", "on")
HUB_TIMEOUT_S = 3.0


def package_versions(packages=PACKAGES) -> dict[str, str]:
    """``{name: version}`` for each package, ``"missing"`` where it can't be imported."""
    versions = {}
    for name in packages:
        try:
            versions[name] = getattr(importlib.import_module(name), "__version__", "unknown")
        except ImportError:
            versions[name] = "missing"
    return versions


def hub_address() -> tuple[str, int]:
    """``(host, port)`` of the Hub endpoint: ``$HF_ENDPOINT`` or huggingface.co, port 443 (80 for http)."""
    url = urlparse(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    host = url.hostname or urlparse(DEFAULT_ENDPOINT).hostname
    return host, url.port or (80 if url.scheme == "http" else 443)


def hub_offline_reason(timeout: float = HUB_TIMEOUT_S) -> str | None:
    """Why the Hub can't be used right now, or None when it can (see the module docstring for the rule)."""
    for var in OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in TRUE_VALUES:
            return f"{var}={os.environ[var]} is set (offline mode)"
    host, port = hub_address()
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:  # DNS failure, refused, timed out: all mean "not from here"
        waited = time.monotonic() - start
        return (f"no network: connecting to {host}:{port} failed after {waited:.1f} s "
                f"({type(error).__name__}: {error})")


def hub_status(timeout: float = HUB_TIMEOUT_S) -> str:
    """``"reachable"`` or ``"not usable: <reason>"`` (from :func:`hub_offline_reason`), within ``timeout`` seconds."""
    reason = hub_offline_reason(timeout)
    return "reachable" if reason is None else f"not usable: {reason}"


def report(check_hub: bool = True, timeout: float = HUB_TIMEOUT_S) -> dict[str, str]:
    """Python, the packages, the torch device and (optionally) the Hub, as one flat dict."""
    import vlmlab

    info = {"python": platform.python_version(), "vlmlab": vlmlab.__version__}
    info.update(package_versions())
    info["device"] = str(vlmlab.device())
    info["torch threads"] = str(__import__("torch").get_num_threads())
    if check_hub:
        info["hugging face hub"] = hub_status(timeout)
    return info
