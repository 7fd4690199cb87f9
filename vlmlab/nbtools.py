"""Keep the committed notebooks clean, and refresh the outputs nbval checks.

Notebooks are committed without outputs, except the small text outputs of
cells marked ``# NBVAL_CHECK_OUTPUT``: those are what nbval compares against
on every test run. Two commands (also ``make clean-notebooks`` and
``make notebooks``)::

    python -m vlmlab.nbtools strip notebooks/*.ipynb    # drop every other output
    python -m vlmlab.nbtools run   notebooks/01_*.ipynb  # execute, keep the checked outputs

``problems(path)`` is what the test suite uses to refuse a notebook that
carries outputs it shouldn't; ``execute(path)`` runs a notebook headlessly,
as ``jupyter nbconvert --execute`` does, for ``run``, ``book`` and the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CHECK_MARK = "NBVAL_CHECK_OUTPUT"
# Checked cells keep text only: a PNG would make the repo heavy and the diff unreadable.
TEXT_MIMES = {"text/plain"}
MAX_CHECKED_OUTPUT_CHARS = 4000


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def is_checked(cell) -> bool:
    return cell.get("cell_type") == "code" and CHECK_MARK in _source(cell)


def _text_only(outputs):
    kept = []
    for out in outputs:
        if out.get("output_type") == "stream":
            kept.append(out)
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = {k: v for k, v in out.get("data", {}).items() if k in TEXT_MIMES}
            if data:
                kept.append({**out, "data": data, "metadata": {}})
        # errors are never kept: a checked cell must not fail
    return kept


def strip_notebook(nb: dict) -> dict:
    """Remove outputs of unchecked cells, non-text outputs of checked ones, and volatile metadata."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = _text_only(cell.get("outputs", [])) if is_checked(cell) else []
        # nbval compares only cells that were run: a checked cell keeps its count
        # (a stored output without one is an "unrun reference cell" to nbval).
        if not cell["outputs"]:
            cell["execution_count"] = None
        meta = cell.get("metadata", {})
        for key in ("execution", "collapsed", "scrolled"):
            meta.pop(key, None)
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def problems(path) -> list[str]:
    """What is wrong with a committed notebook, as sentences; empty when it is clean."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs", [])
        if not is_checked(cell) and outputs:
            found.append(f"cell {i} has outputs but is not marked {CHECK_MARK}")
        if is_checked(cell):
            if outputs != _text_only(outputs):
                found.append(f"cell {i} (checked) carries non-text or error outputs")
            size = len(json.dumps(outputs))
            if size > MAX_CHECKED_OUTPUT_CHARS:
                found.append(f"cell {i} (checked) output is {size} chars, over {MAX_CHECKED_OUTPUT_CHARS}")
        if cell.get("execution_count") is not None and not (is_checked(cell) and outputs):
            found.append(f"cell {i} has an execution_count (strip it)")
        if is_checked(cell) and outputs and cell.get("execution_count") is None:
            found.append(f"cell {i} (checked) has outputs but no execution_count: nbval would call it unrun")
    if "widgets" in nb.get("metadata", {}):
        found.append("notebook metadata carries widget state")
    return found


def _write(path: Path, nb: dict) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def strip(paths) -> None:
    for p in map(Path, paths):
        _write(p, strip_notebook(json.loads(p.read_text(encoding="utf-8"))))
        print(f"stripped {p}")


def execute(path, timeout: int = 600, env: dict | None = None):
    """Execute every cell of the notebook at ``path`` in a fresh kernel started in its folder.

    Returns the executed notebook (an ``nbformat.NotebookNode``); the file is
    not written. A cell that raises stops the run with nbclient's
    ``CellExecutionError``, a cell that runs longer than ``timeout`` seconds with
    its ``CellTimeoutError``. ``env`` replaces the kernel's environment (by
    default it inherits this process's).
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    return client.execute(**({"env": env} if env is not None else {}))


def run(paths, timeout: int = 600) -> None:
    """Execute each notebook in its own folder, then strip all but the checked outputs."""
    import nbformat

    for p in map(Path, paths):
        nb = execute(p, timeout)
        _write(p, strip_notebook(json.loads(nbformat.writes(nb))))
        print(f"ran and stripped {p}")


def book(paths, out="build/book", timeout: int = 600) -> Path:
    """Execute each notebook and render it to HTML under ``out``, with an index page."""
    import html

    from nbconvert import HTMLExporter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()
    rows = []
    for p in map(Path, paths):
        nb = execute(p, timeout)
        body, _ = exporter.from_notebook_node(nb)
        target = out / (p.stem + ".html")
        target.write_text(body, encoding="utf-8")
        title = next((_source(c).lstrip("# ").splitlines()[0] for c in nb.cells if c.cell_type == "markdown"), p.stem)
        rows.append(f'<li><a href="{target.name}">{html.escape(p.stem)}</a>: {html.escape(title)}</li>')
        print(f"rendered {target}")
    index = out / "index.html"
    index.write_text("<!doctype html><meta charset='utf-8'><title>vlmlab</title><h1>vlmlab notebooks</h1><ol>"
                     + "".join(rows) + "</ol>\n", encoding="utf-8")
    return index


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vlmlab.nbtools", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["strip", "run", "check", "book"])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--out", default="build/book", help="folder for `book`'s HTML")
    args = parser.parse_args(argv)
    if args.command == "strip":
        strip(args.notebooks)
    elif args.command == "run":
        run(args.notebooks)
    elif args.command == "book":
        book(args.notebooks, args.out)
    else:
        bad = {p: problems(p) for p in args.notebooks}
        for p, found in bad.items():
            for line in found:
                print(f"{p}: {line}")
        return 1 if any(bad.values()) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
