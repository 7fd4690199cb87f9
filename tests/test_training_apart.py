"""The modules a student reads never load the training code, and `from vlmlab import *` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import vlmlab

PACKAGE = Path(vlmlab.__file__).resolve().parent
TRAINING = PACKAGE / "training"


def module_name(path: Path) -> str:
    """``vlmlab/toyvlm.py`` -> ``"vlmlab.toyvlm"``; ``vlmlab/widgets/__init__.py`` -> ``"vlmlab.widgets"``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(text: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` for every import in ``text``, the source of ``module``.

    Imports anywhere count, inside functions too, and ``importlib.import_module("...")``
    with a literal name. Relative imports are resolved against ``module``'s package;
    for ``from P import a`` both ``P`` and ``P.a`` are listed (``a`` may be a submodule).
    """
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def _is_training(name: str) -> bool:
    return name == "vlmlab.training" or name.startswith("vlmlab.training.")


def test_the_scan_sees_every_way_of_importing_training():
    text = ("import vlmlab.training\n"
            "from vlmlab import training\n"
            "def f():\n"
            "    from .training.toyclip import train\n"
            "    from . import training as t\n"
            "import importlib\n"
            "importlib.import_module('vlmlab.training')\n"
            "from .sceneclip import training_free\n")
    flagged = {line for line, name in imported_modules(text, "vlmlab.toyvlm") if _is_training(name)}
    assert flagged == {1, 2, 4, 5, 7}
    names = {name for _, name in imported_modules("from ..training import cards", "vlmlab.widgets.tiling")}
    assert names == {"vlmlab.training", "vlmlab.training.cards"}
    init = {name for _, name in imported_modules("from .training import cards", "vlmlab", is_package=True)}
    assert init == {"vlmlab.training", "vlmlab.training.cards"}


def test_nothing_outside_vlmlab_training_imports_it():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if TRAINING in path.parents:
            continue
        names = imported_modules(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")
        offenders += [f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}" for line, name in names
                      if _is_training(name)]
    assert not offenders, "modules outside vlmlab/training/ must not import it:\n" + "\n".join(offenders)


def test_star_import_loads_neither_transformers_nor_the_training_code(tmp_path):
    code = ("import sys\nfrom vlmlab import *\n"
            "print(sorted(m for m in ('transformers', 'vlmlab.training', 'vlmlab.nbtools') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_tools_and_training_stay_out_of_all_but_load_on_request():
    assert not {"training", "nbtools", "envcheck"} & set(vlmlab.__all__)
    assert {"clip", "data", "probes", "toyvlm"} <= set(vlmlab.__all__)
    assert vlmlab.training is sys.modules["vlmlab.training"]  # the lazy attribute loads it
    from vlmlab.training import commands

    assert commands.MODELS == ("toy-clip", "toy-clip-2", "toy-vlm")


@pytest.mark.parametrize("module", ["vlmlab.toyclip", "vlmlab.sceneclip", "vlmlab.toyvlm", "vlmlab.clip"])
def test_reading_modules_import_without_the_training_code(module, tmp_path):
    code = f"import sys, {module}\nprint('vlmlab.training' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
