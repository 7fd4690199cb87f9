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
