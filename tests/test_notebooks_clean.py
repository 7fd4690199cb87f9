"""Committed notebooks carry no outputs except the small text of NBVAL_CHECK_OUTPUT cells."""

import json
from pathlib import Path

import pytest

from vlmlab import nbtools

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stripped(path):
    assert nbtools.problems(path) == [], "run `make clean-notebooks` (python -m vlmlab.nbtools strip ...)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_checked_cells_have_their_expected_output(path):
    # A NBVAL_CHECK_OUTPUT cell with no stored output would compare against nothing.
    nb = json.loads(path.read_text(encoding="utf-8"))
    empty = [i for i, c in enumerate(nb["cells"]) if nbtools.is_checked(c) and not c.get("outputs")]
    assert empty == [], f"checked cells {empty} have no stored output: run `python -m vlmlab.nbtools run {path.name}`"


def test_strip_keeps_checked_text_and_drops_the_rest():
    nb = {
        "metadata": {"widgets": {"state": {}}},
        "cells": [
            {"cell_type": "code", "source": "x = 1\nx", "execution_count": 3, "metadata": {},
             "outputs": [{"output_type": "execute_result", "data": {"text/plain": "1"}, "metadata": {}, "execution_count": 3}]},
            {"cell_type": "code", "source": ["# NBVAL_CHECK_OUTPUT\n", "print(2)"], "execution_count": 4, "metadata": {},
             "outputs": [{"output_type": "stream", "name": "stdout", "text": "2\n"},
                         {"output_type": "display_data", "data": {"image/png": "AAA", "text/plain": "<Figure>"}, "metadata": {}}]},
        ],
    }
    out = nbtools.strip_notebook(nb)
    assert out["cells"][0]["outputs"] == [] and out["cells"][0]["execution_count"] is None
    kept = out["cells"][1]["outputs"]
    assert out["cells"][1]["execution_count"] == 4  # nbval skips checked cells without a count
    assert kept[0]["text"] == "2\n"
    assert kept[1]["data"] == {"text/plain": "<Figure>"}  # the PNG is gone
    assert "widgets" not in out["metadata"]


def _tiny_notebook(path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · A tiny notebook"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(6 * 7)"),
        new_code_cell("x = list(range(3))\nx"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_run_keeps_only_the_checked_output(tmp_path):
    path = tmp_path / "99_tiny.ipynb"
    _tiny_notebook(path)
    nbtools.run([path])
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[1]["outputs"][0]["text"]) == "42\n" and cells[1]["execution_count"] == 1
    assert cells[2]["outputs"] == [] and cells[2]["execution_count"] is None
    assert nbtools.problems(path) == []


def test_book_renders_each_notebook_and_an_index(tmp_path):
    path = tmp_path / "99_tiny.ipynb"
    _tiny_notebook(path)
    index = nbtools.book([path], out=tmp_path / "book")
    page = (tmp_path / "book" / "99_tiny.html").read_text()
    assert "42" in page and "[0, 1, 2]" in page  # executed: every output is in the HTML
    assert '<a href="99_tiny.html">99_tiny</a>: 99 · A tiny notebook' in index.read_text()
