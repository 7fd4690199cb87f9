"""Tests and notebooks use transformers' and torch's public behaviour only.

A private name (one starting with a single underscore) of another library can
change meaning in any release without notice. So no test module and no notebook
code cell may import one, nor read one as an attribute. Where only a private
helper can do a job, the call goes behind ``tests/hf_internals.py``, the one
module exempt here, which says which versions it is known to work with.

The check walks each file's syntax tree. An attribute ``x._name`` is flagged
when ``x`` comes from an import of a checked library, or when the project
(vlmlab/, tests/, the notebooks) defines no name ``_name`` itself: such a name
can only belong to another library's object (``processor._get_num_multimodal_tokens``).
Classes that transformers exports at its top level are imported from there, not
from the module that defines them today (``transformers.models.x.modeling_x``).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = {"transformers", "torch", "torchvision", "tokenizers"}
EXEMPT = {"hf_internals.py"}
# namedtuple's documented methods are public though they start with an underscore
PUBLIC_UNDERSCORE = {"_replace", "_asdict", "_fields", "_make", "_field_defaults"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in PUBLIC_UNDERSCORE


def notebook_code(path: Path) -> str:
    """The code cells of a notebook as one module, IPython magics and shell lines blanked (line numbers kept
    per cell in the ``# cell N`` comments)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    parts = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
        parts.append(f"# cell {i}\n" + "\n".join(lines))
    return "\n".join(parts) + "\n"


def _cell_of(code: str, lineno: int) -> str:
    """``cell N, line M`` for a line of ``notebook_code``'s output."""
    cell, start = "?", 0
    for number, line in enumerate(code.splitlines()[:lineno], start=1):
        if line.startswith("# cell "):
            cell, start = line[len("# cell "):], number
    return f"cell {cell}, line {lineno - start}"


def defined_private_names(trees) -> set[str]:
    """Every underscore name the project defines: functions, classes, variables, attributes, arguments."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return {n for n in names if _private(n)}


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def violations(tree, own_names, exported=frozenset()) -> list[tuple[int, str]]:
    """``(line, message)`` for each use of a checked library's private name in ``tree``.

    ``own_names``: the underscore names the project defines (allowed as attributes of objects whose origin
    the walk cannot see); ``exported``: names transformers exports at its top level.
    """
    found, library_names = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in LIBRARIES:
                    library_names.add(alias.asname or parts[0])
                    if any(_private(p) for p in parts):
                        found.append((node.lineno, f"imports the private module {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] not in LIBRARIES:
                continue
            if any(_private(p) for p in parts):
                found.append((node.lineno, f"imports from the private module {node.module}"))
            for alias in node.names:
                library_names.add(alias.asname or alias.name)
                if _private(alias.name):
                    found.append((node.lineno, f"imports the private name {alias.name} from {node.module}"))
                elif parts[0] == "transformers" and len(parts) > 2 and alias.name in exported:
                    found.append((node.lineno, f"imports {alias.name} from {node.module}: "
                                               f"import it from transformers"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = _root(node.value)
            if root in library_names:
                found.append((node.lineno, f"reads the private attribute {node.attr} of {root}"))
            elif node.attr not in own_names:
                found.append((node.lineno, f"reads the private attribute {node.attr}, "
                                           f"which this project does not define (another library's)"))
    return sorted(found)


def _sources():
    """``(label, code, is_notebook)`` for every checked file."""
    for path in sorted((ROOT / "tests").glob("*.py")):
        if path.name not in EXEMPT:
            yield f"tests/{path.name}", path.read_text(encoding="utf-8"), False
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        yield f"notebooks/{path.name}", notebook_code(path), True


def _own_names():
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "vlmlab").rglob("*.py"))]
    trees += [ast.parse(code) for _, code, _ in _sources()]
    return defined_private_names(trees)


def _exported():
    import transformers

    return frozenset(transformers.__all__)


def test_tests_and_notebooks_use_public_names_only():
    own, exported = _own_names(), _exported()
    problems = []
    for label, code, is_notebook in _sources():
        for line, message in violations(ast.parse(code), own, exported):
            where = f"{label}, {_cell_of(code, line)}" if is_notebook else f"{label}:{line}"
            problems.append(f"{where}: {message}")
    assert problems == [], "use the libraries' public behaviour (or tests/hf_internals.py):\n" + "\n".join(problems)


OLD_CODE = '''
from types import SimpleNamespace
import torch.nn as nn
from transformers.models.internvl.modeling_internvl import InternVLModel
from transformers.models.got_ocr2.image_processing_got_ocr2 import get_optimal_tiled_canvas
from transformers.utils import _is_package_available

counted = processor._get_num_multimodal_tokens(image_sizes=sizes)["num_image_tokens"]
hf_self = SimpleNamespace(_get_unpadded_features=lambda *a: LlavaNextProcessor._get_unpadded_features(None, *a))
source = inspect.getsource(nn.TransformerEncoderLayer._sa_block)
name = model.config._name_or_path
mine = plan._replace(grid=(1, 1))._cached_tokens
'''


@pytest.mark.parametrize("line, message", [
    (4, "imports InternVLModel from transformers.models.internvl.modeling_internvl: import it from transformers"),
    (6, "imports the private name _is_package_available from transformers.utils"),
    (8, "reads the private attribute _get_num_multimodal_tokens, which this project does not define"),
    (9, "reads the private attribute _get_unpadded_features"),
    (10, "reads the private attribute _sa_block of nn"),
    (11, "reads the private attribute _name_or_path, which this project does not define"),
])
def test_the_check_catches_private_uses(line, message):
    found = violations(ast.parse(OLD_CODE), own_names={"_cached_tokens"}, exported={"InternVLModel"})
    assert any(n == line and m.startswith(message) for n, m in found), found


def test_the_check_passes_public_uses_and_the_projects_own_names():
    code = '''
import torch
from transformers import InternVLModel
from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VisionTransformerPretrainedModel
ids = processor(images=[image], text=[prompt])["input_ids"]
name = model.config.name_or_path
plan = plan._replace(grid=(1, 1))
n = budget._rules
'''
    assert violations(ast.parse(code), own_names={"_rules"}, exported={"InternVLModel"}) == []


def test_notebook_code_keeps_cell_numbers_and_skips_magics(tmp_path):
    path = tmp_path / "nb.ipynb"
    cells = [{"cell_type": "markdown", "source": "# title", "metadata": {}},
             {"cell_type": "code", "source": ["%matplotlib inline\n", "x = 1\n", "y = obj._secret"], "metadata": {},
              "outputs": [], "execution_count": None}]
    path.write_text(json.dumps({"cells": cells}))
    code = notebook_code(path)
    (line, message), = violations(ast.parse(code), own_names=set())
    assert _cell_of(code, line) == "cell 1, line 3" and "_secret" in message
