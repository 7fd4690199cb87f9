"""vlmlab.widgets.render_into: what an Output widget shows after a redraw, and a failing redraw that is not hidden."""

import base64

import ipywidgets
import matplotlib.pyplot as plt
import pytest

from vlmlab.widgets import render_into

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def out():
    plt.close("all")  # other test modules may leave figures open; these tests count them
    yield ipywidgets.Output()
    plt.close("all")


def small_figure():
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [1, 0])
    return fig


def test_shows_the_figure_as_png_and_returns_the_info(out):
    info = render_into(out, lambda: (small_figure(), {"tokens": 196}))
    assert info == {"tokens": 196}
    (shown,) = out.outputs
    assert shown["output_type"] == "display_data"
    assert base64.b64decode(shown["data"]["image/png"]).startswith(PNG_SIGNATURE)
    assert plt.get_fignums() == []  # the figure was closed after rendering


def test_a_bare_figure_gives_no_info_and_a_redraw_replaces_the_old_output(out):
    render_into(out, lambda: (small_figure(), 1))
    assert render_into(out, small_figure) is None
    assert len(out.outputs) == 1


def test_printed_notes_come_before_the_figure(out):
    def draw():
        print("LLaVA-NeXT needs 2 tiles; using 2")
        return small_figure()

    render_into(out, draw)
    note, figure = out.outputs
    assert note == {"output_type": "stream", "name": "stdout", "text": "LLaVA-NeXT needs 2 tiles; using 2\n"}
    assert figure["output_type"] == "display_data"


def test_a_failing_redraw_shows_its_traceback_and_raises(out):
    render_into(out, small_figure)

    def broken():
        plt.figure()  # opened before the failure: must still be closed
        print("drawing patch 5")
        raise ValueError("patch_size must divide image_size 224, got 15")

    with pytest.raises(ValueError, match="patch_size must divide image_size 224, got 15"):
        render_into(out, broken)
    note, error = out.outputs  # the old figure is gone: the widget shows the failure
    assert note["text"] == "drawing patch 5\n"
    assert error["output_type"] == "error" and error["ename"] == "ValueError"
    assert error["evalue"] == "patch_size must divide image_size 224, got 15"
    assert error["traceback"][0] == "Traceback (most recent call last):"
    assert any("in broken" in line for line in error["traceback"])
    assert plt.get_fignums() == []


def test_draw_must_return_a_figure(out):
    with pytest.raises(TypeError, match=r"draw must return a matplotlib Figure or \(Figure, info\), got dict"):
        render_into(out, lambda: {"tokens": 196})
    assert out.outputs[-1]["ename"] == "TypeError"


def test_figures_opened_before_the_redraw_are_left_open(out):
    mine = plt.figure()
    render_into(out, small_figure)
    assert plt.get_fignums() == [mine.number]
    plt.close(mine)


def test_in_a_kernel_a_failing_redraw_fails_its_cell(tmp_path):
    """Executed headlessly (as nbval and nbconvert do), redraws complete and a broken one fails the cell."""
    import nbformat
    from nbclient.exceptions import CellExecutionError
    from nbformat.v4 import new_code_cell, new_notebook

    from vlmlab import nbtools

    path = tmp_path / "redraw.ipynb"
    nb = new_notebook(cells=[
        new_code_cell("import ipywidgets, matplotlib.pyplot as plt\n"
                      "from vlmlab.widgets import render_into\n"
                      "%matplotlib inline\n"
                      "out = ipywidgets.Output()\n"
                      "display(out)\n"
                      "for k in range(20):\n"
                      "    render_into(out, lambda: plt.subplots(figsize=(2, 1))[0])\n"
                      "assert len(out.outputs) == 1 and plt.get_fignums() == []"),
        new_code_cell("def broken():\n"
                      "    raise ValueError('grid (5, 5) is not divisible by scale 2')\n"
                      "render_into(out, broken)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    with pytest.raises(CellExecutionError) as failure:
        nbtools.execute(path, timeout=120)
    assert (failure.value.ename, failure.value.evalue) == ("ValueError", "grid (5, 5) is not divisible by scale 2")
    assert "render_into(out, broken)" in str(failure.value)  # the failing cell, not the 20 redraws before it
