"""vlmlab.probes: the closed-form linear probe, by hand and on bad input."""

import numpy as np
import pytest
import torch

from vlmlab import sceneclip
from vlmlab.probes import linear_probe


def test_linear_probe_by_hand_and_on_separable_labels():
    # Two 1-D points per class, far apart: any linear reader separates them.
    fit_x, fit_y = torch.tensor([[0.0], [0.2], [5.0], [5.2]]), [0, 0, 1, 1]
    assert linear_probe(fit_x, fit_y, torch.tensor([[0.1], [5.1], [4.0]]), [0, 1, 1]) == 1.0
    assert linear_probe(fit_x, fit_y, torch.tensor([[0.1], [5.1]]), [1, 0]) == 0.0
    # XOR is not linearly separable: a linear probe scores at most 3 of 4 on it.
    xor = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    assert linear_probe(xor, [0, 1, 1, 0], xor, [0, 1, 1, 0], ridge=1e-6) <= 0.75
    # closed form: ridge regression onto one-hot labels, on features standardised by the fitting set
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.integers(0, 3, size=40)
    xs = (x[:30] - x[:30].mean(0)) / (x[:30].std(0, ddof=1) + 1e-6)
    design = np.hstack([xs, np.ones((30, 1))])
    w = np.linalg.solve(design.T @ design + 2.0 * np.eye(4), design.T @ np.eye(3)[y[:30]])
    test = np.hstack([(x[30:] - x[:30].mean(0)) / (x[:30].std(0, ddof=1) + 1e-6), np.ones((10, 1))])
    expected = float(np.mean((test @ w).argmax(1) == y[30:]))
    assert linear_probe(torch.tensor(x[:30]), y[:30], torch.tensor(x[30:]), y[30:], ridge=2.0) == expected


def test_linear_probe_refuses_bad_input():
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"fit_x must be \(n, D\) and fit_y \(n,\) with the same n > 0, got \(4, 2\) and \(3,\)"):
        linear_probe(x, [0, 1, 0], x, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="same feature width, got 2 and 3"):
        linear_probe(x, [0, 1, 0, 1], torch.zeros(4, 3), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="labels must be integers 0 .. K-1"):
        linear_probe(x, [0, -1, 0, 1], x, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="ridge must be a number > 0, got 0"):
        linear_probe(x, [0, 1, 0, 1], x, [0, 1, 0, 1], ridge=0)


def test_linear_probe_has_one_home():
    assert not hasattr(sceneclip, "linear_probe")
