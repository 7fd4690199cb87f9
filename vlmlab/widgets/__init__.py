"""Interactive widgets for the notebooks, one module per topic.

Every widget is a thin ipywidgets shell around a pure function that returns
a matplotlib figure or plain data; the tests and each notebook's last cell
call those functions directly, so CI runs the same code that a click runs.

    vlmlab.widgets.patches      patch-grid explorer (notebooks 00, 01)
    vlmlab.widgets.vit          attention viewer (02)
    vlmlab.widgets.posembed     position-embedding similarity explorer (03)
    vlmlab.widgets.clip         attention explorer on CLIP (04)
    vlmlab.widgets.tiling       tile planner (06)
    vlmlab.widgets.budget       token-budget explorer (07)
    vlmlab.widgets.projectors   projector explorer (08)

``ipywidgets`` is imported inside the functions that build widgets, so the
pure functions work without a notebook.
"""


def render_into(out, draw) -> None:
    """Replace what the ``ipywidgets.Output`` ``out`` shows with the figure ``draw()`` returns.

    ``draw`` returns a Figure or ``(Figure, info)``. It runs inside ``out``, so
    an error or a printed note appears under the widget, where the reader looks,
    rather than in the server's log. The figure is shown once as a PNG and then
    closed, so redrawing a hundred times doesn't keep a hundred figures alive.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    with out:
        out.clear_output(wait=True)
        result = draw()
        fig = result[0] if isinstance(result, tuple) else result
        display(fig)
        plt.close(fig)
