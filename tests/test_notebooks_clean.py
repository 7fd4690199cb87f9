"""Committed notebooks carry no outputs except the small text of NBVAL_CHECK_OUTPUT cells.

What is checked is the version in git's index, which is what a commit holds:
a student who ran the notebooks has outputs in the files, and git's clean
filter (.gitattributes, ``nbtools clean-filter``) keeps them out of every
commit, so they must not fail the suite either. On a fresh clone (CI) the
index equals HEAD, and a notebook committed with outputs fails here.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vlmlab import nbtools

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "notebooks" / "ko").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(REPO / "notebooks").as_posix() for p in NOTEBOOKS])
def test_committed_notebook_is_stripped(path):
    assert nbtools.problems(path, committed=True) == [], "run `make clean-notebooks` (python -m vlmlab.nbtools strip ...)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(REPO / "notebooks").as_posix() for p in NOTEBOOKS])
def test_checked_cells_have_their_expected_output(path):
    # A NBVAL_CHECK_OUTPUT cell with no stored output would compare against nothing.
    nb = json.loads(nbtools.committed_text(path))
    empty = [i for i, c in enumerate(nb["cells"]) if nbtools.is_checked(c) and not c.get("outputs")]
    assert empty == [], f"checked cells {empty} have no stored output: run `python -m vlmlab.nbtools run {path.name}`"


def test_gitattributes_sends_every_notebook_through_the_filter():
    if shutil.which("git") is None:
        pytest.skip("needs git")
    for path in NOTEBOOKS:
        out = subprocess.run(["git", "check-attr", "filter", "--", str(path.relative_to(REPO))],
                             cwd=REPO, capture_output=True, text=True, check=True)
        assert out.stdout.strip().endswith("filter: vlmlab-notebook"), out.stdout


def _code(source, count=None, outputs=()):
    return {"cell_type": "code", "source": source, "execution_count": count, "metadata": {}, "outputs": list(outputs)}


def _stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def test_strip_keeps_checked_text_and_drops_the_rest():
    nb = {
        "metadata": {"widgets": {"state": {}}},
        "cells": [
            _code("x = 1\nx", 3, [{"output_type": "execute_result", "data": {"text/plain": "1"}, "metadata": {},
                                  "execution_count": 3}]),
            _code(["# NBVAL_CHECK_OUTPUT\n", "print(2)"], 9,
                  [_stream("2\n"), {"output_type": "display_data", "data": {"image/png": "AAA", "text/plain": "<Figure>"},
                                    "metadata": {}}]),
        ],
    }
    out = nbtools.strip_notebook(nb)
    assert out["cells"][0]["outputs"] == [] and out["cells"][0]["execution_count"] is None
    kept = out["cells"][1]["outputs"]
    # nbval skips checked cells without a count; the count is the cell's place among the cells that run
    assert out["cells"][1]["execution_count"] == 2
    assert kept[0]["text"] == "2\n"
    assert kept[1]["data"] == {"text/plain": "<Figure>"}  # the PNG is gone
    assert "widgets" not in out["metadata"]


def test_strip_makes_what_any_run_leaves_identical():
    """Two runs that differ in order, stream chunks, view state and Python version strip to the same bytes."""
    def notebook(counts, streams, version, cell_meta):
        return {"nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                             "language_info": {**nbtools.LANGUAGE_INFO, "version": version}},
                "cells": [
                    {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# T"},
                    {**_code("a = 1", counts[0]), "id": "a"},
                    {**_code("", None), "id": "e"},  # blank: never run, never counted
                    {**_code("# NBVAL_CHECK_OUTPUT\nprint('x'); print('y')", counts[1], streams), "id": "b",
                     "metadata": cell_meta},
                ]}

    first = notebook((1, 2), [_stream("x\ny\n")], "3.11.7", {})
    second = notebook((7, 5), [_stream("x\n"), _stream("y\n")], "3.12.3",
                      {"scrolled": True, "collapsed": False, "jupyter": {"outputs_hidden": False},
                       "execution": {"iopub.status.idle": "2026-01-01T00:00:00Z"}})
    a, b = nbtools.dumps(nbtools.strip_notebook(first)), nbtools.dumps(nbtools.strip_notebook(second))
    assert a == b
    cell = json.loads(a)["cells"][3]
    assert cell["execution_count"] == 2 and cell["outputs"] == [{"name": "stdout", "output_type": "stream",
                                                                 "text": ["x\n", "y\n"]}]
    assert cell["metadata"] == {}
    meta = json.loads(a)["metadata"]
    assert meta["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    assert "version" not in meta["language_info"]


def test_strip_applies_backspaces_and_carriage_returns_as_a_terminal_does():
    nb = {"metadata": {}, "cells": [_code("# NBVAL_CHECK_OUTPUT", 1, [_stream("10%\r50%\r100%\n"), _stream("ab\x08c\n")])]}
    assert nbtools.strip_notebook(nb)["cells"][0]["outputs"][0]["text"] == "100%\nac\n"


def _tiny_notebook(path, kernel_display_name="Python 3"):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · A tiny notebook"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(6 * 7)"),
        new_code_cell("x = list(range(3))\nx"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nimport sys\nprint('a'); sys.stdout.flush(); print('b')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": kernel_display_name, "language": "python"}
    nbformat.write(nb, path)


def test_run_keeps_only_the_checked_output(tmp_path):
    path = tmp_path / "99_tiny.ipynb"
    _tiny_notebook(path)
    nbtools.run([path])
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[1]["outputs"][0]["text"]) == "42\n" and cells[1]["execution_count"] == 1
    assert cells[2]["outputs"] == [] and cells[2]["execution_count"] is None
    assert "".join(cells[3]["outputs"][0]["text"]) == "a\nb\n" and cells[3]["execution_count"] == 3
    assert nbtools.problems(path) == []


def test_strip_writes_the_metadata_the_kernel_reports(tmp_path):
    """JupyterLab copies the kernel's spec and language_info into the notebook when it opens it:
    an executed notebook carries the same, and strip keeps all of it but the Python version."""
    path = tmp_path / "99_tiny.ipynb"
    _tiny_notebook(path, kernel_display_name="Python 3")
    executed = nbtools.execute(path, timeout=120)
    assert executed.metadata["language_info"] == {**nbtools.LANGUAGE_INFO, "version": nbtools.kernel_python_version()}
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert nbtools.KERNELSPEC == {"display_name": spec.display_name, "language": spec.language, "name": "python3"}
    stripped = nbtools.strip_notebook(json.loads(nbtools.dumps(executed)))
    assert stripped["metadata"]["language_info"] == nbtools.LANGUAGE_INFO
    # On checkout the version comes back: the file then matches what JupyterLab would write.
    smudged = json.loads(nbtools.smudge_filter(nbtools.dumps(stripped)))
    assert smudged["metadata"]["language_info"] == executed.metadata["language_info"]
    assert smudged["metadata"]["kernelspec"] == nbtools.KERNELSPEC


@pytest.mark.parametrize("path", NOTEBOOKS[:3], ids=[p.name for p in NOTEBOOKS[:3]])
def test_dumps_writes_what_nbformat_writes(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "A string source\nsplit into lines"
    assert nbtools.dumps(nb) == nbformat.writes(nb) + "\n"


def _filter_cli(command, data: bytes) -> bytes:
    out = subprocess.run([sys.executable, "-m", "vlmlab.nbtools", command], input=data,
                         capture_output=True, timeout=60, check=True)
    return out.stdout


@pytest.mark.parametrize("path", NOTEBOOKS[:2], ids=[p.name for p in NOTEBOOKS[:2]])
def test_clean_filter_passes_a_stripped_notebook_through_unchanged(path):
    stripped = nbtools.dumps(nbtools.strip_notebook(json.loads(path.read_text(encoding="utf-8"))))
    assert _filter_cli("clean-filter", stripped.encode("utf-8")) == stripped.encode("utf-8")
    smudged = _filter_cli("smudge-filter", stripped.encode("utf-8"))
    assert json.loads(smudged)["metadata"]["language_info"]["version"] == nbtools.kernel_python_version()
    assert _filter_cli("clean-filter", smudged) == stripped.encode("utf-8")


def test_filters_pass_what_is_not_a_notebook_through():
    conflict = b"<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> theirs\n"
    assert _filter_cli("clean-filter", conflict) == conflict
    assert _filter_cli("smudge-filter", conflict) == conflict


def _git(repo, *args, **kw):
    return subprocess.run(["git", "-c", "user.name=vlmlab test", "-c", "user.email=test@vlmlab.invalid",
                           "-c", "init.defaultBranch=main", "-c", "core.autocrlf=false", *args],
                          cwd=repo, capture_output=True, text=True, timeout=60, check=True, **kw)


def _repo_with_filter(tmp_path):
    """A git repository configured as `make install` configures a clone (python given by absolute path)."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    _git(repo, "init", "-q")
    shutil.copy(REPO / ".gitattributes", repo / ".gitattributes")
    python = f"'{sys.executable}' -m vlmlab.nbtools"
    _git(repo, "config", "filter.vlmlab-notebook.clean", f"{python} clean-filter")
    _git(repo, "config", "filter.vlmlab-notebook.smudge", f"{python} smudge-filter")
    return repo


def _committed_tiny_notebook(tmp_path):
    """A repository with the filter and one tiny notebook committed as the course's are (checked outputs stored)."""
    repo = _repo_with_filter(tmp_path)
    path = repo / "notebooks" / "99_tiny.ipynb"
    _tiny_notebook(path)
    nbtools.run([path])
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "stripped notebook")
    return repo, path


def test_a_students_run_leaves_git_status_clean(tmp_path):
    """Commit a stripped notebook, run it as a student would (outputs saved, counts out of order,
    view state, widget state), and git sees no change; the committed check still passes."""
    import nbformat

    repo, path = _committed_tiny_notebook(tmp_path)
    committed = _git(repo, "show", "HEAD:notebooks/99_tiny.ipynb").stdout
    assert committed == path.read_text(encoding="utf-8")  # the filter passed the stripped file through as it was

    executed = nbtools.execute(path, timeout=120)
    assert executed.cells[2].outputs  # the unchecked cell's result is in the file now
    executed.cells[1].execution_count += 10  # the student ran the first cells again
    executed.cells[2].metadata["scrolled"] = True
    nbformat.write(executed, path)
    assert nbtools.problems(path)  # the file itself has outputs ...

    assert _git(repo, "diff").stdout == ""  # ... git sees none of them
    assert subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=repo).returncode == 0
    assert nbtools.problems(path, committed=True) == []  # and the suite's check reads what is committed
    # git runs the filter from the top of the working tree, wherever the command is typed
    assert _git(repo / "notebooks", "diff").stdout == ""
    # The file's size changed, and git status lists it until git has looked again; JupyterLab's
    # post-save hook (set by `make lab`) runs `refresh`, whose `git add` records the new size and
    # stages nothing, since the content is the committed one.
    nbtools.post_save(model={"type": "notebook"}, os_path=str(path), contents_manager=None)
    assert _git(repo, "status", "--porcelain").stdout == ""
    assert subprocess.run(["git", "diff", "--quiet", "--cached"], cwd=repo).returncode == 0
    assert nbtools.problems(path)  # the student's outputs are still in the file


def test_refresh_gives_a_fresh_clone_the_local_python_version(tmp_path):
    """The first checkout precedes `make install`: its notebooks lack the version JupyterLab adds on opening."""
    repo, path = _committed_tiny_notebook(tmp_path)
    assert "version" not in json.loads(path.read_text())["metadata"]["language_info"]
    nbtools.refresh([path])
    assert json.loads(path.read_text())["metadata"]["language_info"]["version"] == nbtools.kernel_python_version()
    assert _git(repo, "status", "--porcelain").stdout == ""
    assert subprocess.run(["git", "diff", "--quiet", "--cached"], cwd=repo).returncode == 0
    # a later checkout writes the version through the smudge filter
    path.unlink()
    _git(repo, "checkout", "--", "notebooks/99_tiny.ipynb")
    assert json.loads(path.read_text())["metadata"]["language_info"]["version"] == nbtools.kernel_python_version()
    assert _git(repo, "status", "--porcelain").stdout == ""


def test_refresh_leaves_edited_notebooks_and_unfiltered_clones_alone(tmp_path):
    repo, path = _committed_tiny_notebook(tmp_path)
    edited = path.read_text().replace("print(6 * 7)", "print(6 * 8)")
    path.write_text(edited)
    nbtools.refresh([path])
    assert path.read_text() == edited and _git(repo, "status", "--porcelain").stdout.split() == ["M", "notebooks/99_tiny.ipynb"]

    _git(repo, "config", "--unset", "filter.vlmlab-notebook.clean")  # a clone without `make install`
    _git(repo, "config", "--unset", "filter.vlmlab-notebook.smudge")
    _git(repo, "checkout", "--", "notebooks/99_tiny.ipynb")
    before = path.read_text()
    nbtools.refresh([path])
    assert path.read_text() == before and _git(repo, "status", "--porcelain").stdout == ""


def test_a_changed_notebook_is_committed_stripped(tmp_path):
    import nbformat
    from nbformat.v4 import new_markdown_cell

    repo, path = _committed_tiny_notebook(tmp_path)

    executed = nbtools.execute(path, timeout=120)
    executed.cells.append(new_markdown_cell("An edit the student keeps."))
    nbformat.write(executed, path)
    assert _git(repo, "status", "--porcelain").stdout.split() == ["M", "notebooks/99_tiny.ipynb"]
    _git(repo, "add", ".")
    staged = json.loads(_git(repo, "show", ":notebooks/99_tiny.ipynb").stdout)
    assert "".join(staged["cells"][-1]["source"]) == "An edit the student keeps."
    assert staged["cells"][2]["outputs"] == []  # the unchecked output stayed out
    assert nbtools.problems(path, committed=True) == []


def test_a_notebook_committed_with_outputs_fails_the_check(tmp_path):
    """No filter (a contributor who never ran `make install`): the outputs reach the commit, and CI refuses them."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    path = repo / "99_tiny.ipynb"
    _tiny_notebook(path)
    import nbformat

    nbformat.write(nbtools.execute(path, timeout=120), path)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "notebook with outputs")
    found = nbtools.problems(path, committed=True)
    assert "cell 2 has outputs but is not marked NBVAL_CHECK_OUTPUT" in found
    # stripping the file alone does not fix what is committed
    nbtools.strip([path])
    assert nbtools.problems(path) == [] and nbtools.problems(path, committed=True) == found


def test_post_save_ignores_other_files_and_never_raises(tmp_path, monkeypatch):
    other = tmp_path / "notes.txt"
    other.write_text("x", encoding="utf-8")
    nbtools.post_save(os_path=str(other))  # not a notebook: nothing to do
    assert other.read_text(encoding="utf-8") == "x"

    def broken(paths):
        raise OSError("git exploded")

    warnings = []
    monkeypatch.setattr(nbtools, "refresh", broken)
    manager = type("Manager", (), {"log": type("Log", (), {"warning": lambda self, *a: warnings.append(a)})()})()
    nbtools.post_save(os_path=str(tmp_path / "a.ipynb"), contents_manager=manager)  # the save still succeeds
    assert warnings and "git exploded" in str(warnings[0][-1])


def test_make_lab_sets_the_post_save_hook():
    assert "--FileContentsManager.post_save_hook=vlmlab.nbtools.post_save" in (REPO / "Makefile").read_text(encoding="utf-8")
