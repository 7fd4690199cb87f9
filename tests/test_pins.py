"""The versions the suite last passed with are pinned, and every way of installing uses them."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
REQUIREMENTS = [Requirement(r) for r in PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["dev"]]


def pins(text: str) -> dict[str, Version]:
    """``name==version`` lines of a constraints file -> {canonical name: version}; comments and blanks skipped."""
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match is None:
            raise ValueError(f"constraints.txt: {line!r} is not an exact 'name==version' pin")
        found[canonicalize_name(match[1])] = Version(match[2])
    return found


PINS = pins((REPO / "constraints.txt").read_text(encoding="utf-8"))


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=[r.name for r in REQUIREMENTS])
def test_every_direct_dependency_is_pinned_within_its_bounds(requirement):
    pinned = PINS.get(canonicalize_name(requirement.name))
    assert pinned is not None, f"{requirement.name} is a dependency in pyproject.toml but has no pin in constraints.txt"
    assert requirement.specifier.contains(pinned, prereleases=True), (
        f"constraints.txt pins {requirement.name}=={pinned}, outside pyproject.toml's {requirement}")


@pytest.mark.parametrize("name", ["nbval", "jupyterlab", "ipykernel", "nbclient", "nbformat", "ipywidgets", "jupyter-server"])
def test_the_notebook_stack_is_pinned(name):
    assert canonicalize_name(name) in PINS, f"{name} runs or shows the notebooks, so constraints.txt must pin it"


def test_pins_parser_refuses_a_range():
    with pytest.raises(ValueError, match=r"'torch>=2' is not an exact 'name==version' pin"):
        pins("# header\n\ntorch>=2\n")


def test_make_ci_and_conda_install_from_the_pins():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "CONSTRAINTS := constraints.txt" in makefile
    install = makefile.split("$(STAMP): pyproject.toml $(CONSTRAINTS)", 1)[1].split("\n\n", 1)[0]
    assert "pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'" in install
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "- -c constraints.txt" in (REPO / "environment.yml").read_text(encoding="utf-8")
