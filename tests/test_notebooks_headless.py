"""Every notebook executes headlessly several times in a row, each run in a fresh kernel, without hanging.

Run with ``make test-slow``. A hang shows up as a cell that exceeds
``CELL_TIMEOUT`` (nbclient's ``CellTimeoutError``), naming the run and the cell.
"""

import pytest

from notebook_runs import NOTEBOOKS, kernel_env
from vlmlab.nbtools import execute

RUNS = 3
CELL_TIMEOUT = 300  # seconds; a cell of these notebooks takes seconds on 2 CPU cores


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_headless_repeatedly(path):
    for run in range(1, RUNS + 1):
        try:
            nb = execute(path, timeout=CELL_TIMEOUT, env=kernel_env())
        except Exception as err:
            raise AssertionError(f"{path.name}, run {run} of {RUNS}: {type(err).__name__}: {err}") from err
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code), f"{path.name}, run {run}: a cell did not run"
