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


def test_pool_patches_by_hand_and_against_a_loop():
    from vlmlab.probes import pool_patches

    # one image of 3 patches (D = 2): the mean of patches 0 and 2, and patch 1 alone
    tokens = torch.tensor([[[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]])
    pooled = pool_patches(tokens, [0, 0], torch.tensor([[1.0, 0.0, 1.0], [0.0, 5.0, 0.0]]))
    torch.testing.assert_close(pooled, torch.tensor([[2.0, 20.0], [2.0, 20.0]]))
    # awkward sizes (B=3 images, N=5 patches, D=7, R=11 rows), gathered in chunks of 4: equal to a plain loop
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(3, 5, 7, generator=g)
    index = torch.randint(0, 3, (11,), generator=g)
    weights = torch.rand(11, 5, generator=g)
    expected = torch.stack([(w[:, None] * tokens[i]).sum(0) / w.sum() for i, w in zip(index, weights)])
    torch.testing.assert_close(pool_patches(tokens, index, weights, chunk=4), expected)


def test_pool_patches_refuses_bad_input():
    from vlmlab.probes import pool_patches

    tokens = torch.zeros(2, 4, 3)
    with pytest.raises(ValueError, match=r"tokens must be \(B, N, D\)"):
        pool_patches(torch.zeros(4, 3), [0], torch.ones(1, 4))
    with pytest.raises(ValueError, match=r"weights \(R, N\) with N = 4 patches, got \(1,\) and \(1, 3\)"):
        pool_patches(tokens, [0], torch.ones(1, 3))
    with pytest.raises(ValueError, match=r"image_index must lie in 0 .. 1"):
        pool_patches(tokens, [2], torch.ones(1, 4))
    with pytest.raises(ValueError, match="positive sum in every row"):
        pool_patches(tokens, [0], torch.zeros(1, 4))


def test_standard_error_is_the_binomial_one():
    from vlmlab.probes import standard_error

    assert standard_error(0.5, 100) == pytest.approx(0.05)
    assert standard_error(0.4, 120) == pytest.approx((0.4 * 0.6 / 120) ** 0.5)
    assert standard_error(1.0, 32) == 0.0
    assert standard_error(np.float32(0.25), np.int64(12)) == pytest.approx(0.125)
    # the spread of simulated accuracies matches it
    rng = np.random.default_rng(0)
    simulated = rng.binomial(200, 0.3, size=20_000) / 200
    assert simulated.std() == pytest.approx(standard_error(0.3, 200), rel=0.03)
    with pytest.raises(ValueError, match="accuracy must be a number in"):
        standard_error(1.2, 10)
    with pytest.raises(ValueError, match="n must be a whole number of examples >= 1, got 0"):
        standard_error(0.5, 0)
