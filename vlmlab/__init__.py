"""vlmlab: how a vision-language model turns an image into the tokens its LLM reads.

Every component the notebooks use lives here, once, tested. Submodules are
imported lazily (``vlmlab.tiling`` loads on first use), so ``import vlmlab``
costs almost nothing and never pulls in ``transformers``.

    >>> import vlmlab
    >>> vlmlab.set_seed(0)
    >>> vlmlab.patches.patch_grid((224, 224), 16)
    (14, 14)
"""

from __future__ import annotations

import importlib
import os
import random

__version__ = "0.1.0"

# One module per concept; see DESIGN.md for what each one holds.
_SUBMODULES = (
    "alignment",
    "attention",
    "budget",
    "clip",
    "data",
    "dynamic",
    "encoders",
    "envcheck",
    "nbtools",
    "patches",
    "pipeline",
    "plotting",
    "posembed",
    "preprocess",
    "projectors",
    "shapes",
    "tiling",
    "toyclip",
    "vit",
    "widgets",
)

__all__ = ["set_seed", "device", "__version__", *_SUBMODULES]


def __getattr__(name: str):
    # PEP 562: load a submodule the first time someone touches it.
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'vlmlab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random generators (CPU and CUDA).

    Every notebook calls this in its first cell, so that its figures and
    printed numbers are the same on every run.
    """
    import numpy as np
    import torch

    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses started from here


def device():
    """The best available ``torch.device``: CUDA, then Apple's MPS, then the CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
