"""vlmlab: how a vision-language model turns an image into the tokens its LLM reads.

Every component the notebooks use lives here, once, tested. Submodules are
imported lazily (``vlmlab.tiling`` loads on first use), so ``import vlmlab``
costs almost nothing and never pulls in ``transformers``. One concept per module:

    patches, vit, posembed          cutting an image into patch tokens; a readable ViT; position embeddings
    shapes, toyclip                 a synthetic world of coloured shapes, and the small CLIP that knows it
    scenes, grammar, glyphs         a richer world: several objects, relations, counts, digits; captions, questions
    sceneclip, probes               a second toy CLIP trained on that world, and how it is measured; linear probes
    clip, attention, encoders       loading a CLIP and its frozen vision tower; attention maps; released encoders
    preprocess, tiling, dynamic     CLIP's transform; high-resolution tiling; Qwen2-VL's dynamic resolution
    budget, families, mrope         how many visual tokens an image costs in each VLM family; the newer
                                    families' rules; Qwen2-VL's (temporal, height, width) LLM positions
    projectors, pipeline, alignment from vision features to LLM tokens; the whole path; a small alignment run
    toyvlm                          two toy VLMs (LLaVA-1.5, LLaVA-NeXT) that read those tokens and answer
    data, plotting, widgets         sample images, toy checkpoints and safe loading; figures; the notebooks' widgets
    envcheck, nbtools               checking the environment; keeping notebooks clean and running them
    training                        how the shipped checkpoints were trained (not part of the course)

``from vlmlab import *`` gives the course's modules; the tools (``envcheck``,
``nbtools``) and ``training`` stay out of it (they are slow to import and not
read by the notebooks) but load like the others: ``vlmlab.training``.

The README has the same map, with the main names of each module.

Spelling: vlmlab's own names are British, like its prose (``normalise``, ``centre``, ``colour``);
a name that mirrors or passes through another library keeps that library's spelling
(matplotlib's ``color=``, torchvision's ``CenterCrop``, transformers' ``do_normalize``).

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

# The modules listed in the docstring above, loaded on first use.
_SUBMODULES = (
    "alignment",
    "attention",
    "budget",
    "clip",
    "data",
    "dynamic",
    "encoders",
    "envcheck",
    "families",
    "glyphs",
    "grammar",
    "mrope",
    "nbtools",
    "patches",
    "pipeline",
    "plotting",
    "posembed",
    "preprocess",
    "probes",
    "projectors",
    "sceneclip",
    "scenes",
    "shapes",
    "tiling",
    "toyclip",
    "toyvlm",
    "training",
    "vit",
    "widgets",
)

# Tools and the training code load on request but stay out of `from vlmlab import *`.
_NOT_STARRED = ("envcheck", "nbtools", "training")
__all__ = ["set_seed", "device", "__version__", *(m for m in _SUBMODULES if m not in _NOT_STARRED)]


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
