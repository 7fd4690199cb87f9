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
    vlmlab.widgets.toyvlm       ask the toy VLM, see where its answer looks (10)

Every widget redraws through :func:`render_into`, and every explorer returns an
``ipywidgets.VBox`` whose ``info`` attribute holds what its last redraw drew
(the pure function's info), so a notebook cell or a test can move a control
and assert on the result. ``ipywidgets`` is imported
inside the functions that build widgets, so the pure functions work without
a notebook.
"""

from __future__ import annotations

__all__ = ["render_into"]


def render_into(out, draw):
    """Redraw the ``ipywidgets.Output`` ``out`` with the figure ``draw()`` returns; returns ``draw``'s info.

    ``draw`` takes no argument and returns a matplotlib Figure or
    ``(Figure, info)``; ``render_into`` returns ``info`` (``None`` for a bare
    Figure). What ``out`` shows afterwards is exactly: anything ``draw``
    printed, then the figure as a PNG.

    If ``draw`` raises, ``out`` shows what it printed and the traceback, where
    the reader is looking, and the exception is raised again, so that a
    notebook cell that redraws fails (and nbval reports it) instead of
    passing with an error hidden inside a widget.

    The outputs are written into the widget's ``outputs`` state, which
    JupyterLab renders, rather than captured with ``with out:``. Capturing
    makes the frontend send every captured output back to the kernel as a
    state update while the cell is still running; a headless runner (nbclient,
    under nbconvert and nbval) sends it on the connection on which it is
    waiting for the cell's reply, and with ipykernel 7 and nbclient 0.11 that
    reply is then sometimes never seen: the cell waits until its timeout
    while the kernel sits idle. Setting the state asks nothing of the
    frontend, and works the same from a cell, from a slider's callback, and in
    a test, where there is no frontend at all.

    Every figure that ``draw`` opens is closed, so that redrawing a hundred
    times doesn't keep a hundred figures alive (and the inline backend
    doesn't show them a second time below the cell).
    """
    import contextlib
    import io
    import traceback

    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    open_before = set(plt.get_fignums())
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            result = draw()
        fig, info = result if isinstance(result, tuple) else (result, None)
        if not isinstance(fig, Figure):
            raise TypeError(f"draw must return a matplotlib Figure or (Figure, info), got {type(result).__name__}")
        image = _png_output(fig)
    except Exception as err:
        lines = "".join(traceback.format_exception(type(err), err, err.__traceback__)).rstrip("\n").split("\n")
        error = {"output_type": "error", "ename": type(err).__name__, "evalue": str(err), "traceback": lines}
        out.outputs = (*_printed_output(printed), error)
        raise
    finally:
        for number in set(plt.get_fignums()) - open_before:
            plt.close(number)
    out.outputs = (*_printed_output(printed), image)
    return info


def _printed_output(printed) -> tuple:
    """What ``draw`` printed, as one stream output (none if nothing was printed)."""
    text = printed.getvalue()
    return ({"output_type": "stream", "name": "stdout", "text": text},) if text else ()


def _png_output(fig) -> dict:
    """``fig`` as a notebook ``display_data`` output holding a PNG, as the inline backend shows figures."""
    import base64
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")  # bbox "tight": the inline backend's default
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"output_type": "display_data", "data": {"image/png": png, "text/plain": repr(fig)}, "metadata": {}}
