"""Linear probes: what a layer's features hold, read by the simplest trained reader.

A probe is a linear classifier fitted on the features of some examples and
scored on others (Alain & Bengio 2016, "Understanding intermediate layers
using linear classifier probes", https://arxiv.org/abs/1610.01644). It can
only draw straight lines, so it says what a layer holds *linearly*: a lower
bound on what a trained reader gets out of it. A linear projector can pass on
what the probe reads; an MLP projector (LLaVA-1.5's) may read more, and a
probe near chance does not prove that the information is absent. Notebook 04
probes each layer of toy CLIP 2; ``vlmlab.toyvlm.tower_probe`` probes a toy
VLM's vision tower.

:func:`pool_patches` averages an image's patch tokens over the patches a box
touches (what the probes read for one object or one digit), and
:func:`standard_error` says how far an accuracy measured on ``n`` examples
may lie from the true rate.

    >>> import torch
    >>> x = torch.tensor([[0.0], [1.0], [5.0], [6.0]])
    >>> linear_probe(x, [0, 0, 1, 1], torch.tensor([[0.5], [5.5]]), [0, 1])
    1.0
    >>> tokens = torch.arange(8.0).reshape(1, 4, 2)  # one image, 4 patches, D = 2
    >>> pool_patches(tokens, [0], torch.tensor([[1.0, 0.0, 0.0, 1.0]]))  # the mean of patches 0 and 3
    tensor([[3., 4.]])
    >>> round(standard_error(0.5, 100), 3)
    0.05
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["linear_probe", "pool_patches", "standard_error"]


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
    iterations, so the same features always give the same accuracy. A probe
    that can only draw straight lines says what a layer holds *linearly*: a
    lower bound on what a non-linear reader (an MLP projector) could get.
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


def pool_patches(tokens, image_index, weights, chunk: int = 256):
    """Each row's weighted mean of one image's patch tokens: ``(R, D)``.

    Args:
        tokens: ``(B, N, D)`` patch tokens (CLS dropped) of ``B`` images.
        image_index: ``(R,)`` which image each row reads (0 .. B-1).
        weights: ``(R, N)`` non-negative weights over that image's patches,
            each row with a positive sum; e.g. 1 on the patches an object's box
            touches and 0 elsewhere (``vlmlab.attention.box_coverage(...) > 0``),
            which gives the plain mean over them, as ``vlmlab.toyvlm.tower_probe``
            and toy CLIP 2's local objective read an object.
        chunk: rows gathered at a time (memory: ``chunk × N × D`` numbers).

    Row ``r`` is ``sum_n weights[r, n] * tokens[image_index[r], n] / sum_n weights[r, n]``.
    """
    import torch

    tokens = torch.as_tensor(tokens)
    index = torch.as_tensor(np.asarray(image_index)).long()
    weights = torch.as_tensor(weights).to(tokens.dtype)
    if tokens.ndim != 3:
        raise ValueError(f"tokens must be (B, N, D) patch tokens, got shape {tuple(tokens.shape)}")
    if index.ndim != 1 or weights.ndim != 2 or len(index) != len(weights) or weights.shape[1] != tokens.shape[1]:
        raise ValueError(f"image_index must be (R,) and weights (R, N) with N = {tokens.shape[1]} patches, got "
                         f"{tuple(index.shape)} and {tuple(weights.shape)}")
    if len(index) and (index.min() < 0 or index.max() >= len(tokens)):
        raise ValueError(f"image_index must lie in 0 .. {len(tokens) - 1} (one entry per image), got "
                         f"{int(index.min())} .. {int(index.max())}")
    total = weights.sum(1, keepdim=True)  # (R, 1)
    if (weights < 0).any() or (total <= 0).any():
        raise ValueError("weights must be non-negative with a positive sum in every row (a box that touches no patch?)")
    pooled = [torch.einsum("rn,rnd->rd", weights[k:k + chunk], tokens[index[k:k + chunk]])
              for k in range(0, len(index), chunk)]
    return (torch.cat(pooled) if pooled else tokens.new_zeros(0, tokens.shape[2])) / total


def standard_error(accuracy: float, n: int) -> float:
    """The binomial standard error of an accuracy measured on ``n`` independent examples: ``sqrt(p (1 - p) / n)``.

    About 95 % of such measurements fall within two standard errors of the
    true rate; two accuracies whose gap is under about twice
    ``sqrt(se_1² + se_2²)`` are not told apart by this many examples.
    """
    if isinstance(accuracy, bool) or not isinstance(accuracy, numbers.Real) or not 0 <= accuracy <= 1:
        raise ValueError(f"accuracy must be a number in [0, 1], got {accuracy!r}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a whole number of examples >= 1, got {n!r}")
    return float(np.sqrt(accuracy * (1 - accuracy) / n))
