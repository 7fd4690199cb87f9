"""The attention viewer of notebook 02 draws raw weights: scale from 0, uniform level marked, no min-max stretch."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch


def _attentions():
    # one layer, one head, CLS + 6 patches (grid 2x3); the CLS row is spelled out
    row = torch.tensor([0.1, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1])
    att = torch.full((1, 1, 7, 7), 1 / 7)
    att[0, 0, 0] = row
    return (att,)


def test_attention_figure_draws_raw_weights_from_zero_with_the_uniform_level():
    import matplotlib.pyplot as plt

    from vlmlab.widgets.vit import attention_figure

    image = np.zeros((4, 6, 3))
    fig, info = attention_figure(image, _attentions(), 0, 0, "cls", (2, 3))
    heat_image = fig.axes[1].images[-1]
    assert heat_image.get_clim() == (0.0, pytest.approx(0.3))        # 0 .. the largest weight, not min .. max
    np.testing.assert_allclose(heat_image.get_array(), [[0.3, 0.2, 0.1], [0.1, 0.1, 0.1]], rtol=1e-6)
    assert info["uniform"] == pytest.approx(1 / 7) and info["cls_weight"] == pytest.approx(0.1)
    bar = fig.axes[-1]
    assert [line.get_ydata()[0] for line in bar.lines] == [pytest.approx(1 / 7)]  # the cyan uniform line
    plt.close(fig)
    # a shared scale across figures: vmax given
    fig, info = attention_figure(image, _attentions(), 0, 0, "cls", (2, 3), vmax=0.5)
    assert fig.axes[1].images[-1].get_clim() == (0.0, 0.5) and info["vmax"] == 0.5
    plt.close(fig)
    # a map below the uniform level everywhere still shows the uniform line on its bar
    flat = torch.full((1, 1, 7, 7), 1 / 7)
    flat[0, 0, 0] = torch.tensor([0.7, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])
    fig, info = attention_figure(image, (flat,), 0, 0, "cls", (2, 3))
    assert info["vmax"] == pytest.approx(1 / 7)
    plt.close(fig)
    with pytest.raises(ValueError, match="vmax must be a finite number > 0"):
        attention_figure(image, _attentions(), 0, 0, "cls", (2, 3), vmax=0)
