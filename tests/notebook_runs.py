"""The notebooks, and the environment their kernel gets in the slow tests (importable as ``notebook_runs``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def kernel_env(**extra: str) -> dict[str, str]:
    """The kernel's environment: this checkout's vlmlab first, offline, matplotlib's own inline backend.

    ``MPLBACKEND`` is removed: the tests set it to Agg, which would replace the
    inline backend that a student's notebook (and its figure display) runs with.
    """
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    return env
