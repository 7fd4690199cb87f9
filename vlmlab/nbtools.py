"""Keep the committed notebooks clean, refresh the outputs nbval checks, and render the book.

Notebooks are committed without outputs, except the small text outputs of
cells marked ``# NBVAL_CHECK_OUTPUT``: those are what nbval compares against
on every test run. The commands (also ``make clean-notebooks``,
``make notebooks`` and ``make book``)::

    python -m vlmlab.nbtools strip notebooks/*.ipynb    # drop every other output
    python -m vlmlab.nbtools run   notebooks/01_*.ipynb  # execute, keep the checked outputs
    python -m vlmlab.nbtools check notebooks/*.ipynb    # say what is not clean (--committed: in git's index)
    python -m vlmlab.nbtools book  notebooks/*.ipynb    # executed HTML pages that need no kernel, no network
    python -m vlmlab.nbtools refresh notebooks/*.ipynb  # unchanged notebooks: local metadata, git told (see refresh)

A student who runs a notebook leaves outputs in the file; git never sees
them. ``.gitattributes`` sends every notebook through ``clean-filter`` (the
same stripping, notebook on stdin, committed form on stdout) whenever git
reads it, and ``smudge-filter`` puts this kernel's Python version back into
the metadata on checkout, so that JupyterLab finds nothing to change when it
opens one. ``make install`` registers both in the clone's git config and runs ``refresh``.

``problems(path)`` is what the test suite uses to refuse a notebook that
carries outputs it shouldn't; ``execute(path)`` runs a notebook headlessly,
as ``jupyter nbconvert --execute`` does, for ``run``, ``book`` and the tests.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

CHECK_MARK = "NBVAL_CHECK_OUTPUT"
# Checked cells keep text only: a PNG would make the repo heavy and the diff unreadable.
TEXT_MIMES = {"text/plain"}
MAX_CHECKED_OUTPUT_CHARS = 4000

# What JupyterLab writes when it opens a notebook on the .venv kernel (ipykernel's kernel spec
# and its kernel_info reply). Committed notebooks carry exactly this, less the Python version,
# which differs from machine to machine: smudge_filter adds the local one back.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
# Cell metadata that records how a cell was viewed or run, not what it is.
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime", "heading_collapsed", "hidden")
# What a terminal would overwrite: text before a backspace, a line before a lone carriage return.
_BACKSPACE = re.compile("[^\n]\x08")
_CARRIAGE_RETURN = re.compile("[^\n]*\r(?=[^\n])")


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def is_checked(cell) -> bool:
    return cell.get("cell_type") == "code" and CHECK_MARK in _source(cell)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def _overwrite(text: str) -> str:
    """``text`` as a terminal shows it: backspaces and lone carriage returns applied (as JupyterLab does)."""
    while True:
        shorter = _BACKSPACE.sub("", text)
        if shorter == text:
            break
        text = shorter
    return _CARRIAGE_RETURN.sub("", text)


def _text_only(outputs):
    """The text outputs, as JupyterLab stores them: consecutive streams of one name merged into one."""
    kept = []
    for out in outputs:
        if out.get("output_type") == "stream":
            if kept and kept[-1]["output_type"] == "stream" and kept[-1]["name"] == out.get("name"):
                kept[-1] = {**kept[-1], "text": _text(kept[-1]["text"]) + _text(out.get("text", ""))}
            else:
                kept.append({"name": out.get("name"), "output_type": "stream", "text": _text(out.get("text", ""))})
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = {k: v for k, v in out.get("data", {}).items() if k in TEXT_MIMES}
            if data:
                kept.append({**out, "data": data, "metadata": {}})
        # errors are never kept: a checked cell must not fail
    for out in kept:
        if out["output_type"] == "stream":
            out["text"] = _overwrite(out["text"])
    return kept


def _ran(cell) -> bool:
    """Whether running the notebook runs this cell: Jupyter skips code cells that are blank."""
    return cell.get("cell_type") == "code" and _source(cell).strip() != ""


def normalise_metadata(nb: dict) -> dict:
    """Give ``nb`` the kernel metadata that JupyterLab writes for the .venv kernel, less the Python version."""
    meta = nb.setdefault("metadata", {})
    meta.pop("widgets", None)
    meta["kernelspec"] = dict(KERNELSPEC)
    meta["language_info"] = json.loads(json.dumps(LANGUAGE_INFO))
    return nb


def strip_notebook(nb: dict) -> dict:
    """``nb`` in its committed form (modified in place and returned).

    Removes the outputs of unchecked cells, the non-text outputs of checked
    ones, view state (collapsed, scrolled, timings) and widget state; merges
    consecutive streams as JupyterLab does; numbers each checked cell that
    keeps an output by its place among the cells that run (1, 2, ... as a
    fresh kernel running top to bottom counts them), so that running the
    notebook, in any order, reproduces the committed file; and normalises the
    kernel metadata (:func:`normalise_metadata`).
    """
    order = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        order += _ran(cell)
        cell["outputs"] = _text_only(cell.get("outputs", [])) if is_checked(cell) else []
        # nbval compares only cells that were run: a checked cell keeps a count
        # (a stored output without one is an "unrun reference cell" to nbval).
        cell["execution_count"] = order if cell["outputs"] else None
        for out in cell["outputs"]:
            if out["output_type"] == "execute_result":
                out["execution_count"] = order
        meta = cell.setdefault("metadata", {})
        for key in VOLATILE_CELL_METADATA:
            meta.pop(key, None)
        jupyter = meta.get("jupyter", {})
        jupyter.pop("outputs_hidden", None)  # a collapsed output; the source_hidden of a solution stays
        if "jupyter" in meta and not jupyter:
            del meta["jupyter"]
    return normalise_metadata(nb)


# nbformat's rules for writing a notebook, restated here because importing nbformat takes
# seconds (its JSON-schema validator), and git runs the filter once per notebook it looks at.
_SPLIT_MIMES = ("application/javascript", "image/svg+xml")


def _split(bundle: dict) -> None:
    for key, value in bundle.items():
        if isinstance(value, str) and (key.startswith("text/") or key in _SPLIT_MIMES):
            bundle[key] = value.splitlines(True)


def dumps(nb: dict) -> str:
    """``nb`` as nbformat writes it, and so as JupyterLab saves it: lines split, keys sorted, one-space indent.

    Ends with a newline, as nbformat's ``write`` adds. ``nb`` is not modified.
    """
    nb = json.loads(json.dumps(nb))
    meta = nb.setdefault("metadata", {})
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        meta.pop(key, None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("trusted", None)
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(True)
        for bundle in cell.get("attachments", {}).values():
            _split(bundle)
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if out.get("output_type") in ("execute_result", "display_data"):
                _split(out.get("data", {}))
            elif out.get("output_type") == "stream" and isinstance(out.get("text"), str):
                out["text"] = out["text"].splitlines(True)
    return json.dumps(nb, sort_keys=True, indent=1, separators=(",", ": "), ensure_ascii=False) + "\n"


def clean_filter(text: str) -> str:
    """What git stores for a notebook whose file holds ``text``: :func:`strip_notebook`'s form.

    Text that is not a notebook (a merge conflict, say) passes unchanged,
    so that git can still show and store it.
    """
    try:
        nb = json.loads(text)
    except ValueError:
        return text
    if not isinstance(nb, dict) or "cells" not in nb:
        return text
    return dumps(strip_notebook(nb))


def kernel_python_version() -> str:
    """The Python version that ipykernel on this interpreter reports in ``language_info``."""
    return sys.version.split()[0]


def smudge_filter(text: str) -> str:
    """The committed notebook ``text`` as this machine's JupyterLab would save it: with the local Python version."""
    try:
        nb = json.loads(text)
    except ValueError:
        return text
    info = nb.get("metadata", {}).get("language_info") if isinstance(nb, dict) else None
    if not isinstance(info, dict) or info.get("name") != "python" or info.get("version") == kernel_python_version():
        return text
    info["version"] = kernel_python_version()
    return dumps(nb)


def committed_text(path) -> str:
    """The notebook at ``path`` as git's index holds it (what is committed, or staged to be).

    Outside a git checkout, or for a file git doesn't track, the file itself.
    """
    path = Path(path).resolve()
    try:
        shown = subprocess.run(["git", "show", f":./{path.name}"], cwd=path.parent,
                               capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        shown = None
    if shown is not None and shown.returncode == 0:
        return shown.stdout.decode("utf-8")
    return path.read_text(encoding="utf-8")


def problems(path, *, committed: bool = False) -> list[str]:
    """What is wrong with the notebook at ``path``, as sentences; empty when it is clean.

    ``committed=True`` checks the version in git's index (:func:`committed_text`)
    instead of the file, which may hold a student's outputs that git never sees.
    """
    text = committed_text(path) if committed else Path(path).read_text(encoding="utf-8")
    try:
        nb = json.loads(text)
    except ValueError as err:
        return [f"not valid JSON: {err}"]
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs", [])
        if not is_checked(cell) and outputs:
            found.append(f"cell {i} has outputs but is not marked {CHECK_MARK}")
        if is_checked(cell):
            if any(out.get("output_type") not in ("stream", "execute_result", "display_data")
                   or set(out.get("data", {})) - TEXT_MIMES for out in outputs):
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
    if not found and clean_filter(text) != text:
        found.append("kernel metadata, execution counts or output layout differ from the stripped form")
    return found


def _write(path: Path, nb: dict) -> None:
    path.write_text(dumps(nb), encoding="utf-8")


def strip(paths) -> None:
    for p in map(Path, paths):
        _write(p, strip_notebook(json.loads(p.read_text(encoding="utf-8"))))
        print(f"stripped {p}")


def _git(path: Path, *args: str) -> subprocess.CompletedProcess | None:
    """``git args`` run in ``path``'s folder; None where git is missing."""
    try:
        return subprocess.run(["git", *args], cwd=path.parent, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None


def _unchanged(path: Path) -> bool:
    """Whether git, through the clean filter, finds ``path`` identical to its index entry."""
    tracked = _git(path, "ls-files", "--error-unmatch", "--", path.name)
    if tracked is None or tracked.returncode != 0:
        return False
    return _git(path, "diff", "--quiet", "--", path.name).returncode == 0


def refresh(paths) -> None:
    """Bring each notebook that git finds unchanged to what this machine's JupyterLab would save, and tell git.

    A clone's first checkout happens before the filter is registered, so its
    notebooks lack the local Python version (:func:`smudge_filter`) and JupyterLab
    would mark each one modified on opening. This adds it, then lets ``git add``
    record the file's new size: its content, through the clean filter, is the
    index's, so nothing is staged. (git takes a file whose size changed for
    modified until then, even when ``git diff`` shows nothing; the same
    ``git add`` clears that after a run.) A notebook with real changes, or
    outside git, is left alone.
    """
    for p in map(Path, paths):
        if not _unchanged(p):
            continue
        text = p.read_text(encoding="utf-8")
        new = smudge_filter(text)
        if new != text:
            p.write_text(new, encoding="utf-8")
            if not _unchanged(p):  # the filter is not registered: put the file back as it was
                p.write_text(text, encoding="utf-8")
                continue
        _git(p, "add", "--", p.name)


def post_save(model=None, os_path=None, contents_manager=None, **kwargs) -> None:
    """JupyterLab's post-save hook (``make lab`` sets it): :func:`refresh` the notebook just saved.

    After a run, JupyterLab's autosave writes the outputs; through the clean
    filter they are no change, but git, seeing a new file size, would list the
    notebook as modified until its next ``git add``. This does that ``git add``
    at once, so ``git status`` stays clean. It never stages an edited notebook
    (``refresh`` leaves those alone) and never makes a save fail.
    """
    if os_path is None or not str(os_path).endswith(".ipynb"):
        return
    try:
        refresh([os_path])
    except Exception as error:  # a save must succeed whatever git does
        log = getattr(contents_manager, "log", None)
        if log is not None:
            log.warning("vlmlab: could not refresh git's view of %s: %s", os_path, error)


def execute(path, timeout: int = 600, env: dict | None = None):
    """Execute every cell of the notebook at ``path`` in a fresh kernel started in its folder.

    Returns the executed notebook (an ``nbformat.NotebookNode``), with the
    widgets' last state in ``metadata.widgets``; the file is not written. A
    cell that raises stops the run with nbclient's ``CellExecutionError``, a
    cell that runs longer than ``timeout`` seconds with its
    ``CellTimeoutError``. ``env`` replaces the kernel's environment (by default
    it inherits this process's).
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


# ---------------------------------------------------------------- the book

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# nbconvert's JupyterLab template, with nothing loaded from the network: no require.js, no
# widget manager (each widget is replaced by what it last drew), no MathJax (formulas are
# drawn by matplotlib's mathtext beforehand), no mermaid; a bar to the index and the neighbours.
BOOK_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
nav.vlmlab-nav { font-family: var(--jp-ui-font-family); font-size: 14px; padding: 8px 0;
                 display: flex; justify-content: space-between; }
p.vlmlab-widget-state { font-family: var(--jp-ui-font-family); font-size: 13px; color: #555;
                        margin: 4px 0; border-left: 3px solid #f0a030; padding-left: 6px; }
img.vlmlab-math { vertical-align: middle; }
</style>
{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.vlmlab_nav }}
{%- endblock body_header -%}
{%- block body_footer -%}
{{ resources.vlmlab_nav }}
{{ super() }}
{%- endblock body_footer -%}
"""

INDEX_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 980px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 8px 10px; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
td.num, td.min { white-space: nowrap; font-variant-numeric: tabular-nums; }
td ul { margin: 0; padding-left: 1.2em; }
code { background: #f2f2f2; padding: 0 3px; border-radius: 3px; font-size: 90%; }
"""


def notebook_title(nb) -> str:
    """The notebook's first heading (``00 · Start here``), or '' when it has none."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in _source(cell).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def learning_objectives(nb) -> list[str]:
    """The bullets of the first cell's "You will learn" (or "In this notebook you will", or Korean "배울 내용") list."""
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "markdown"]
    lines = _source(cells[0]).splitlines() if cells else []
    start = next((i for i, line in enumerate(lines) if re.match(r"\*\*(you will|in this notebook you will|배울 내용)", line, re.I)), None)
    if start is None:
        return []
    bullets = []
    for line in lines[start + 1:]:
        if line.startswith("- "):
            bullets.append(line[2:].strip())
        elif line.startswith("  ") and bullets:  # a bullet continued on the next line
            bullets[-1] += " " + line.strip()
        elif bullets or line.strip():
            break
    return bullets


def _refs(state: dict) -> list[str]:
    """The model ids a widget's state points to (children, layout, style), in order."""
    found = []
    for value in state.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith("IPY_MODEL_"):
                found.append(item[len("IPY_MODEL_"):])
    return found


def _control_text(model: dict) -> str:
    """A control's current setting as words (``patch size 16``), or '' for containers, layouts and outputs."""
    import html

    name, state = model.get("model_name", ""), model.get("state", {})
    label = state.get("description", "")
    if name in ("FloatProgressModel", "IntProgressModel"):
        value = f"{state.get('value', 0):g}/{state.get('max', 100):g}"
    elif "_options_labels" in state and state.get("index") is not None:
        index = state["index"]
        labels = state["_options_labels"]
        value = ", ".join(labels[i] for i in index) if isinstance(index, list) else labels[index]
    elif name in ("HTMLModel", "HTMLMathModel", "LabelModel"):
        value = html.unescape(re.sub(r"<[^>]+>", " ", str(state.get("value", "")))).strip()
    elif "value" in state and name not in ("OutputModel",):
        value = state["value"]
        value = f"{value:g}" if isinstance(value, float) else str(value)
    else:
        return ""
    return " ".join(part for part in (str(label).strip(), value) if part)


def _widget_parts(model_id: str, models: dict, controls: list, outputs: list, seen: set) -> None:
    """Walk a widget and its children depth first, collecting control settings and Output widgets' outputs."""
    if model_id in seen or model_id not in models:
        return
    seen.add(model_id)
    model = models[model_id]
    if model.get("model_name") == "OutputModel":
        outputs.extend(model.get("state", {}).get("outputs", []))
    elif (text := _control_text(model)):
        controls.append(text)
    for child in _refs(model.get("state", {})):
        _widget_parts(child, models, controls, outputs, seen)


def static_widget_outputs(output: dict, models: dict) -> list[dict]:
    """Replace one widget view output by what the widget showed last: its settings, then its Output widgets' outputs.

    ``models`` is the notebook's widget state (``metadata.widgets[...]["state"]``, keyed by model id).
    A widget whose state is unknown becomes nothing.
    """
    import html

    model_id = output.get("data", {}).get(WIDGET_VIEW, {}).get("model_id")
    controls, outputs = [], []
    _widget_parts(model_id, models, controls, outputs, set())
    shown = []
    if controls:
        words = " · ".join(html.escape(c) for c in controls)
        shown.append({"output_type": "display_data", "metadata": {},
                      "data": {"text/html": f'<p class="vlmlab-widget-state">{words}</p>', "text/plain": words}})
    return shown + [dict(out) for out in outputs]


def freeze_widgets(nb) -> int:
    """Replace, in place, every widget view in the executed notebook ``nb`` by its last picture; returns how many.

    The widget state goes too, so the page needs no widget manager, no kernel and no network.
    """
    import nbformat

    models = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb.get("cells", []):
        new = []
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                new.extend(nbformat.from_dict(o) for o in static_widget_outputs(out, models))
                count += 1
            else:
                new.append(out)
        if cell.get("cell_type") == "code":
            cell["outputs"] = new
    nb.get("metadata", {}).pop("widgets", None)
    return count


def _math_image(tex: str) -> str | None:
    """``tex`` drawn by matplotlib's mathtext as an inline SVG ``<img>``; None if mathtext can't parse it."""
    import base64
    import html
    import io

    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buffer = io.BytesIO()
    try:
        mathtext.math_to_image(f"${tex}$", buffer, prop=FontProperties(size=13), format="svg")
    except ValueError:
        return None
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="vlmlab-math" alt="{html.escape(tex)}" src="data:image/svg+xml;base64,{data}">'


# Inline math as pandoc reads it: $...$ with no space just inside the dollars and no digit after
# the closing one (so "$5 and $10" stays text). Code spans and fenced blocks are left alone.
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?=\S)([^$\n]*?\S)\$(?![$\d])")


def render_math(markdown: str) -> str:
    """``markdown`` with each inline ``$...$`` formula replaced by an image, so the page needs no MathJax."""
    def draw(match):
        return _math_image(match.group(1)) or f"<code>{match.group(1)}</code>"

    parts = _CODE.split(markdown)
    return "".join(part if i % 2 else _INLINE_MATH.sub(draw, part) for i, part in enumerate(parts))


# The book's own words in each edition (the Korean pages live in ko/, beside their English counterparts).
BOOK_WORDS = {
    "en": {"map": "Course map", "other": "한국어", "title": "vlmlab: the course map",
           "heading": "vlmlab: how a vision-language model turns an image into tokens",
           "intro": "Each page is a notebook, executed when this book was built; every widget shows the picture it "
                    "last drew. To move the sliders, open the notebook in JupyterLab (<code>make lab</code>).",
           "columns": ("#", "notebook", "what you learn", "minutes"),
           "total": "{n} notebooks, about {minutes} minutes in all."},
    "ko": {"map": "코스 지도", "other": "English", "title": "vlmlab: 코스 지도",
           "heading": "vlmlab: 비전-언어 모델은 이미지를 어떻게 토큰으로 바꾸는가",
           "intro": "각 페이지는 이 책을 만들 때 실행한 노트북입니다. 위젯은 마지막으로 그린 그림을 보여 줍니다. "
                    "슬라이더를 움직이려면 JupyterLab에서 노트북을 여세요(<code>make lab-ko</code>).",
           "columns": ("#", "노트북", "배우는 것", "분"),
           "total": "노트북 {n}개, 모두 합쳐 약 {minutes}분."},
}


def _nav(pages: list[tuple[str, str]], i: int, words: dict = BOOK_WORDS["en"], other: str | None = None) -> str:
    """The bar at the top and bottom of page ``i``: previous, the course map, the other edition's page, next."""
    import html

    def link(j, arrow):
        if 0 <= j < len(pages):
            href, title = pages[j]
            return f'<a href="{href}">{arrow} {html.escape(title)}</a>' if arrow == "←" else \
                f'<a href="{href}">{html.escape(title)} {arrow}</a>'
        return "<span></span>"
    middle = f'<a href="index.html">{words["map"]}</a>'
    if other:
        middle = f'<span>{middle} · <a class="vlmlab-edition" href="{other}">{words["other"]}</a></span>'
    return f'<nav class="vlmlab-nav">{link(i - 1, "←")}{middle}{link(i + 1, "→")}</nav>'


def _index_html(entries: list[dict], edition: str = "en", other: str | None = None) -> str:
    """The course map: number, title (a link), what you learn, minutes, for each page; a link to the other edition."""
    import html

    from nbconvert.filters.markdown import markdown2html

    words = BOOK_WORDS[edition]
    rows = []
    for e in entries:
        learn = markdown2html("\n".join(f"- {b}" for b in e["learn"])) if e["learn"] else ""
        minutes = f"{e['minutes']}" if e["minutes"] is not None else ""
        rows.append(f'<tr><td class="num">{html.escape(e["number"])}</td>'
                    f'<td><a href="{e["href"]}">{html.escape(e["title"])}</a></td>'
                    f"<td>{learn}</td><td class=\"min\">{minutes}</td></tr>")
    total = sum(e["minutes"] or 0 for e in entries)
    head = "".join(f"<th>{c}</th>" for c in words["columns"])
    switch = f'<p><a class="vlmlab-edition" href="{other}">{words["other"]}</a></p>' if other else ""
    return (f"<!doctype html>\n<html lang=\"{edition}\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">"
            f"<title>{words['title']}</title><style>{INDEX_STYLE}</style></head><body>"
            f"{switch}<h1>{words['heading']}</h1><p>{words['intro']}</p>"
            f"<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f"<p>{words['total'].format(n=len(entries), minutes=total)}</p></body></html>\n")


def book(paths, out="build/book", timeout: int = 600) -> Path:
    """Execute each notebook and render it to an HTML page under ``out``, with the course map as ``index.html``.

    The pages load nothing from the network: each widget is replaced by the
    picture it last drew (:func:`freeze_widgets`), formulas are images, and
    nbconvert's scripts are left out. Notebooks run with matplotlib's inline
    backend whatever ``MPLBACKEND`` says, so that figures appear.

    The Korean edition (notebooks in a ``ko`` folder) is rendered with Korean
    navigation, and is meant to go into ``<out>/ko/``: each page links to its
    counterpart in the other edition (``ko/x.html`` <-> ``../x.html``), when that notebook exists.
    """
    import os

    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"vlmlab_book.html.j2": BOOK_TEMPLATE})],
                            template_file="vlmlab_book.html.j2")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    executed = []
    for p in map(Path, paths):
        nb = execute(p, timeout, env=env)
        freeze_widgets(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = render_math(cell.source)
        executed.append((p, nb))
        print(f"executed {p}")
    pages = [(p.stem + ".html", notebook_title(nb) or p.stem) for p, nb in executed]
    from vlmlab import translation  # here, not at the top: translation imports this module

    edition = translation.edition_of(executed[0][0]) if executed else "en"
    words, up = BOOK_WORDS[edition], ("../" if edition == "ko" else "ko/")
    exporter.language_code = edition  # <html lang=...>: how browsers and screen readers treat the page's text
    entries = []
    for i, (p, nb) in enumerate(executed):
        title = pages[i][1]
        other = up + pages[i][0] if translation.counterpart(p) else None
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"{title} · vlmlab"},
                                                              "vlmlab_nav": _nav(pages, i, words, other)})
        target = out / pages[i][0]
        target.write_text(body, encoding="utf-8")
        number, _, short = title.partition(" · ")
        if not short:
            number, short = p.stem.split("_")[0], title
        entries.append({"number": number, "title": short, "href": target.name, "learn": learning_objectives(nb),
                        "minutes": nb.metadata.get("vlmlab", {}).get("minutes")})
        print(f"rendered {target}")
    index = out / "index.html"
    has_other = any(translation.counterpart(p) for p, _ in executed)
    index.write_text(_index_html(entries, edition, up + "index.html" if has_other else None), encoding="utf-8")
    return index


def _filter(transform) -> int:
    """Run a git filter: the notebook on stdin, the transformed notebook on stdout, bytes in UTF-8."""
    text = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(transform(text).encode("utf-8"))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vlmlab.nbtools", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["strip", "run", "check", "book", "refresh", "clean-filter", "smudge-filter"],
                        help="clean-filter and smudge-filter read one notebook on stdin (git runs them, see .gitattributes)")
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--out", default="build/book", help="folder for `book`'s HTML")
    parser.add_argument("--committed", action="store_true", help="`check` the version in git's index, not the file")
    args = parser.parse_intermixed_args(argv)  # options may come before the notebooks
    if args.command == "clean-filter":
        return _filter(clean_filter)
    if args.command == "smudge-filter":
        return _filter(smudge_filter)
    if not args.notebooks:
        parser.error(f"{args.command} needs at least one notebook")
    if args.command == "strip":
        strip(args.notebooks)
    elif args.command == "refresh":
        refresh(args.notebooks)
    elif args.command == "run":
        run(args.notebooks)
    elif args.command == "book":
        print(f"open {book(args.notebooks, args.out)}")
    else:
        bad = {p: problems(p, committed=args.committed) for p in args.notebooks}
        for p, found in bad.items():
            for line in found:
                print(f"{p}: {line}")
        return 1 if any(bad.values()) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
