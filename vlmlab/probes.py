"""Linear probes: what a layer's features hold, read by the simplest trained reader.

A probe is a linear classifier fitted on the features of some examples and
scored on others (Alain & Bengio 2016, "Understanding intermediate layers
using linear classifier probes", https://arxiv.org/abs/1610.01644). It can
only draw straight lines, so it says what a layer holds *linearly*, which is
how a VLM's projector (one linear layer or a small MLP) reads it. Notebook 04
probes each layer of toy CLIP 2; ``vlmlab.toyvlm.tower_probe`` probes a toy
VLM's vision tower.

    >>> import torch
    >>> x = torch.tensor([[0.0], [1.0], [5.0], [6.0]])
    >>> linear_probe(x, [0, 0, 1, 1], torch.tensor([[0.5], [5.5]]), [0, 1])
    1.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear_probe"]


def linear_probe(fit_x, fit_y, test_x, test_y, ridge: float = 10.0) -> float:
    """Accuracy of a linear classifier fitted on ``(fit_x, fit_y)`` and scored on ``(test_x, test_y)``.

    Args:
        fit_x: ``(n_fit, D)`` features (e.g. one token per example from one layer).
        fit_y: ``(n_fit,)`` integer labels ``0 .. K-1``.
        test_x, test_y: ``(n_test, D)`` and ``(n_test,)``, the same kinds.
        ridge: weight of the L2 penalty on the map (on standardised features).

    The classifier is ridge regression onto one-hot labels, solved in closed
    form: ``W = (XᵀX + ridge·I)⁻¹ XᵀY`` with ``X`` the features standardised
    by the fitting set's mean and standard deviation (plus a bias column),
    and the prediction is the largest of ``X_test W``. No randomness and no
    iterations, so the same features always give the same accuracy; a probe
    that can only draw straight lines says what a layer holds *linearly*,
    which is how a VLM's projector (one linear layer or a small MLP) reads it.
    """
    import torch

    fit_x, test_x = torch.as_tensor(fit_x).double(), torch.as_tensor(test_x).double()
    fit_y, test_y = torch.as_tensor(np.asarray(fit_y)).long(), torch.as_tensor(np.asarray(test_y)).long()
    for name, x, y in (("fit", fit_x, fit_y), ("test", test_x, test_y)):
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(f"{name}_x must be (n, D) and {name}_y (n,) with the same n > 0, got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
    if fit_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"fit_x and test_x must have the same feature width, got {fit_x.shape[1]} and {test_x.shape[1]}")
    if min(fit_y.min(), test_y.min()) < 0:
        raise ValueError("labels must be integers 0 .. K-1, got a negative label")
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or not ridge > 0:
        raise ValueError(f"ridge must be a number > 0, got {ridge!r}")
    mean, std = fit_x.mean(0), fit_x.std(0) + 1e-6

    def design(x):  # standardised, with a bias column
        return torch.cat([(x - mean) / std, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)

    x = design(fit_x)  # (n_fit, D + 1)
    targets = torch.nn.functional.one_hot(fit_y, int(max(fit_y.max(), test_y.max())) + 1).double()  # (n_fit, K)
    weights = torch.linalg.solve(x.T @ x + ridge * torch.eye(x.shape[1], dtype=x.dtype), x.T @ targets)  # (D+1, K)
    predicted = (design(test_x) @ weights).argmax(1)
    return float((predicted == test_y).double().mean())
